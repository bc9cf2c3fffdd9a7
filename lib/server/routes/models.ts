/**
 * GET /v1/models and /v1/models/{id} in OpenAI's shapes. Every served name is listed, ready or
 * not (a request for one still loading is answered 503 by the transcription route), with
 * `whisper-1` first: the name OpenAI's clients send, which reaches the default model.
 */
import type { ServerResponse } from 'node:http';
import type { ModelRegistry } from '../context';
import type { Route } from '../handler';
import { HttpError } from '../openai-errors';
import { OPENAI_MODEL_ALIAS } from '../options';

export interface OpenAIModel {
  id: string;
  object: 'model';
  /** Unix seconds: when this process started (a model file's date says nothing about the model). */
  created: number;
  owned_by: 'whisper-napi';
}

const LIST_PATH = '/v1/models';

function servedIds(models: ModelRegistry): string[] {
  return [...new Set([OPENAI_MODEL_ALIAS, ...models.names()])];
}

function describe(id: string, created: number): OpenAIModel {
  return { id, object: 'model', created, owned_by: 'whisper-napi' };
}

function notFound(id: string): HttpError {
  return new HttpError(404, `The model '${id}' does not exist`, { type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
}

/** The id after /v1/models/, percent-decoded; undefined for the list itself. */
function requestedId(url: string | undefined): string | undefined {
  const path = (url ?? LIST_PATH).split('?', 1)[0]!;
  if (path === LIST_PATH) return undefined;
  const encoded = path.slice(LIST_PATH.length + 1);
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw notFound(encoded);
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export const modelsRoute: Route = (req, res, context) => {
  const created = Math.floor(performance.timeOrigin / 1000);
  const ids = servedIds(context.models);
  const id = requestedId(req.url);
  if (id === undefined) return sendJson(res, { object: 'list', data: ids.map((served) => describe(served, created)) });
  if (!ids.includes(id)) throw notFound(id);
  sendJson(res, describe(id, created));
};
