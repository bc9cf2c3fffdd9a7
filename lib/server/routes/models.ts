/** GET /v1/models. (Stub.) */
import type { Route } from '../handler';
import { HttpError } from '../openai-errors';

export const modelsRoute: Route = () => {
  throw new HttpError(501, 'not yet');
};
