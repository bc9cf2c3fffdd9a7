/**
 * Errors as OpenAI's API sends them: a status and `{"error":{"message","type","param","code"}}`,
 * never a stack. `code` is OpenAI's own where it has one (invalid_api_key,
 * rate_limit_exceeded, model_not_found), else the WhisperError code in lower case.
 */
import type { ServerResponse } from 'node:http';
import { isWhisperError, type WhisperErrorCode } from '../errors/whisper-error';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A refusal the handler decides itself: what to answer, with any headers (Retry-After, WWW-Authenticate). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly details: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

/** Seconds a client is told to wait after a 429 or a 503. */
export const RETRY_AFTER_SECONDS = 1;

const WHISPER_STATUS: Partial<Record<WhisperErrorCode, { status: number; type: string; code?: string }>> = {
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error' },
  INVALID_AUDIO: { status: 400, type: 'invalid_request_error' },
  AUDIO_NOT_FOUND: { status: 400, type: 'invalid_request_error' },
  UNSUPPORTED_AUDIO: { status: 415, type: 'invalid_request_error' },
  AUDIO_TOO_LONG: { status: 413, type: 'invalid_request_error', code: 'audio_too_long' },
  QUEUE_FULL: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  DISPOSED: { status: 503, type: 'server_error' },
  TIMEOUT: { status: 504, type: 'server_error' },
};

/** Any failure as an HttpError: WhisperErrors by their code (unknown ones 500), HttpErrors as they are. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isWhisperError(error)) {
    const mapped = WHISPER_STATUS[error.code] ?? { status: 500, type: 'server_error' };
    const headers: Record<string, string> = mapped.status === 429 || mapped.status === 503 ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
    return new HttpError(mapped.status, error.message, { type: mapped.type, code: mapped.code ?? error.code.toLowerCase(), headers });
  }
  // Not ours: a bug. Say so without its message or stack, which may hold paths or data.
  return new HttpError(500, 'internal error', { type: 'server_error', code: 'internal_error' });
}

export function errorBody(error: HttpError): OpenAIErrorBody {
  const type = error.details.type ?? (error.status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message: error.message, type, param: error.details.param ?? null, code: error.details.code ?? null } };
}

/**
 * Answers with the error, unless headers are already out (a stream that failed midway: the
 * stream's owner ends it its own way). The request's unread body is not waited for.
 */
export function sendError(res: ServerResponse, failure: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const error = toHttpError(failure);
  const body = JSON.stringify(errorBody(error));
  res.writeHead(error.status, {
    ...error.details.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A 400 naming the field, as OpenAI names it. */
export function badField(param: string, message: string, code: string | null = 'invalid_value'): HttpError {
  return new HttpError(400, message, { type: 'invalid_request_error', param, code });
}

/** 413 for audio longer than the handler's maxAudioDurationMs. */
export function audioTooLong(maxMs: number): HttpError {
  return new HttpError(413, `file: the audio is longer than the limit of ${maxMs / 1000} s`, { param: 'file', code: 'audio_too_long' });
}
