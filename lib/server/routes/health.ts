/** GET /health. (Stub.) */
import type { Route } from '../handler';
import { HttpError } from '../openai-errors';

export const healthRoute: Route = () => {
  throw new HttpError(501, 'not yet');
};
