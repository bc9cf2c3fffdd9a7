/**
 * GET /health: liveness and readiness in one. 200 `{"status":"ok"}` once every model is ready;
 * 503 while any still loads ("loading"), once any failed to load ("failed", with why) and once
 * the handler is closing ("shutting_down"), so a load balancer sends nothing new meanwhile.
 */
import type { ServerResponse } from 'node:http';
import { isWhisperError } from '../../errors/whisper-error';
import type { ModelState, ServerContext } from '../context';
import type { Route } from '../handler';
import { RETRY_AFTER_SECONDS } from '../openai-errors';

export type HealthStatus = 'ok' | 'loading' | 'failed' | 'shutting_down';

export interface ModelHealth {
  name: string;
  status: ModelState['status'];
  /** Why it failed to load: a WhisperError's code and message (anything else is not described, as in API errors). */
  error?: { code: string; message: string };
}

export interface HealthBody {
  status: HealthStatus;
  models: ModelHealth[];
}

function loadFailure(error: unknown): { code: string; message: string } {
  return isWhisperError(error) ? { code: error.code, message: error.message } : { code: 'INTERNAL_ERROR', message: 'internal error' };
}

function modelHealth(context: ServerContext): ModelHealth[] {
  return context.models.names().map((name) => {
    const state = context.models.state(name)!;
    return state.status === 'failed' ? { name, status: state.status, error: loadFailure(state.error) } : { name, status: state.status };
  });
}

/** The worst state wins: closing, then a failed model, then one loading. */
function overall(context: ServerContext, models: readonly ModelHealth[]): HealthStatus {
  if (context.work.closing) return 'shutting_down';
  if (models.some((model) => model.status === 'failed')) return 'failed';
  if (models.some((model) => model.status === 'loading')) return 'loading';
  return 'ok';
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

export const healthRoute: Route = (_req, res, context) => {
  const models = modelHealth(context);
  const status = overall(context, models);
  const body: HealthBody = { status, models };
  if (status === 'ok') return sendJson(res, 200, body);
  // A failed model does not recover by waiting: no Retry-After for it.
  sendJson(res, 503, body, status === 'failed' ? {} : { 'Retry-After': String(RETRY_AFTER_SECONDS) });
};
