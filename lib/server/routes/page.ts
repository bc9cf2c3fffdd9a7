/** GET /, the page. (Stub.) */
import type { Route } from '../handler';
import { HttpError } from '../openai-errors';

export const pageRoute: Route = () => {
  throw new HttpError(501, 'not yet');
};
