/** GET /metrics in Prometheus format (prom-client). (Stub: filled in by the metrics work.) */
import type { JobObserver, ModelRegistry } from './context';
import type { Route } from './handler';
import { HttpError } from './openai-errors';

export interface HandlerMetrics {
  observer: JobObserver;
  route: Route;
}

export function createMetrics(_models: ModelRegistry): HandlerMetrics {
  return {
    observer: { jobSettled() {} },
    route() {
      throw new HttpError(501, 'not yet');
    },
  };
}
