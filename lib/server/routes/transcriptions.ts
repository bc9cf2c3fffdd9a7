/** POST /v1/audio/transcriptions and /v1/audio/translations. (Stub.) */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerContext } from '../context';
import { HttpError } from '../openai-errors';

export function transcriptionRoute(_req: IncomingMessage, _res: ServerResponse, _context: ServerContext, _task: 'transcriptions' | 'translations'): Promise<void> {
  return Promise.reject(new HttpError(501, 'not yet'));
}
