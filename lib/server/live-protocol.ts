/**
 * The live transcription protocol of `GET /v1/audio/stream` (WebSocket), as pure functions:
 * what a client may send, what the server answers, and which close code ends a connection.
 *
 * Authentication, when the handler has API keys: `Authorization: Bearer <key>` on the upgrade
 * request, or (a browser cannot set headers on a WebSocket) the subprotocol
 * `openai-insecure-api-key.<key>` as OpenAI's Realtime API takes it, or `?api_key=<key>` in
 * the URL (which ends up in access logs: prefer the others). A missing or wrong key refuses
 * the upgrade with HTTP 401 and OpenAI's error body. A browser page may connect only from the
 * server's own origin or one of the handler's `allowedOrigins` (else HTTP 403).
 *
 * Client to server:
 * Text messages are at most MAX_TEXT_MESSAGE_BYTES (16 KiB), `prompt` at most MAX_PROMPT_BYTES
 * (4 KiB of UTF-8), `model` at most 256 characters.
 *
 * 1. One JSON text message first:
 *    `{"type":"start","format":"s16"|"f32"|"webm","language"?,"model"?,"prompt"?,"wordTimestamps"?,"windowMs"?}`.
 *    `format` is how the binary messages are read: 16 kHz mono PCM as little-endian signed
 *    16-bit (`s16`) or float32 (`f32`), or `webm`: the bytes of an encoded stream as a
 *    browser's MediaRecorder gives them (WebM/Opus; anything the audio path decodes, through
 *    ffmpeg). `language` is a whisper code or `auto` (default: the handler's default, else
 *    whisper's), `model` a served name (default: the default model), `prompt` primes the
 *    start of the stream, `wordTimestamps` asks for words (the model must be loaded with
 *    them), `windowMs` (2000 to 30000, default 30000) is the longest audio transcribed at once:
 *    smaller windows give segments sooner and a little less accuracy.
 * 2. Binary messages of audio, any size up to MAX_MESSAGE_BYTES (a PCM sample may be split
 *    across two messages).
 * 3. `{"type":"stop"}`: the audio has ended. Nothing may follow it.
 *
 * Server to client, all JSON text:
 * - `{"type":"ready","model","format"}` once the start is accepted: audio may come.
 * - `{"type":"segment","start","end","text","words"?}` for each segment as soon as it is
 *   stable: seconds from the stream's start; `words` (with word timestamps) are
 *   `{"word","start","end","probability"}`.
 * - `{"type":"done","text","duration"}` after the stop, once everything is transcribed: all
 *   segment texts joined, and the seconds of audio received. The server then closes with 1000.
 * - `{"type":"error","error":{"message","type","code"}}`, then the server closes with
 *   1008 (the client's fault: a bad message, bad audio, an unknown model), 1013 (try again
 *   later: too many live connections, the model still loading, the server shutting down, a
 *   full queue) or 1011 (an internal failure). The close reason repeats the message, cut to
 *   what a close frame holds.
 *
 * A binary message over MAX_MESSAGE_BYTES is closed with 1009 by the WebSocket layer. A client
 * that sends nothing for the handler's bodyTimeoutMs (before its start, or while the server is
 * reading) gets an error and 1008. Closing the socket aborts the transcription.
 */
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { integerIn, isBoolean, oneOf, rejectUnknownKeys } from '../errors/validate';
import type { Segment } from '../transcription/transcript';
import { LANGUAGE_NAMES } from '../transcription/languages';
import { toHttpError, type HttpError } from './openai-errors';

export const LIVE_PATH = '/v1/audio/stream';

/** The largest binary message, in bytes: 1 MiB is 32 s of s16 audio. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The largest text message (start, stop), in bytes: far more than a start message needs. */
export const MAX_TEXT_MESSAGE_BYTES = 16 * 1024;
/** The longest `prompt`, in UTF-8 bytes: whisper keeps at most 224 tokens of it, far fewer bytes than this in any script. */
export const MAX_PROMPT_BYTES = 4096;
/** The longest `model` name, in characters. */
export const MAX_MODEL_NAME_LENGTH = 256;
/** The WebSocket subprotocol that carries an API key, as OpenAI's Realtime API takes it: `openai-insecure-api-key.<key>`. */
export const API_KEY_PROTOCOL_PREFIX = 'openai-insecure-api-key.';

export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

export const LIVE_FORMATS = ['s16', 'f32', 'webm'] as const;
export type LiveFormat = (typeof LIVE_FORMATS)[number];

export interface StartMessage {
  type: 'start';
  format: LiveFormat;
  language?: string;
  model?: string;
  prompt?: string;
  wordTimestamps?: boolean;
  windowMs?: number;
}

export interface StopMessage {
  type: 'stop';
}

export type ClientMessage = StartMessage | StopMessage;

export interface WordMessage {
  word: string;
  start: number;
  end: number;
  probability: number;
}

export type ServerMessage =
  | { type: 'ready'; model: string; format: LiveFormat }
  | { type: 'segment'; start: number; end: number; text: string; words?: WordMessage[] }
  | { type: 'done'; text: string; duration: number }
  | { type: 'error'; error: { message: string; type: string; code: string | null } };

const START_KEYS = new Set(['type', 'format', 'language', 'model', 'prompt', 'wordTimestamps', 'windowMs']);
const STOP_KEYS = new Set(['type']);
/** A close frame's reason is at most 123 bytes of UTF-8. */
const MAX_REASON_BYTES = 123;

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WhisperError('INVALID_ARGUMENT', `message: expected JSON text, got ${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? '…' : ''}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('message', 'a JSON object with a "type"', value);
  return value as Record<string, unknown>;
}

function optional<T>(message: Record<string, unknown>, key: string, check: (name: string, value: unknown) => T): T | undefined {
  return message[key] === undefined ? undefined : check(`start.${key}`, message[key]);
}

const isLanguage = (name: string, value: unknown): string => {
  if (typeof value !== 'string' || (value !== 'auto' && !Object.hasOwn(LANGUAGE_NAMES, value))) {
    throw invalidArgument(name, "a whisper language code such as 'en', or 'auto'", value);
  }
  return value;
};

const isModelName = (name: string, value: unknown): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_MODEL_NAME_LENGTH) throw invalidArgument(name, 'the name of a served model', value);
  return value;
};

const isPrompt = (name: string, value: unknown): string => {
  if (typeof value !== 'string') throw invalidArgument(name, 'a string', value);
  if (Buffer.byteLength(value) > MAX_PROMPT_BYTES) throw invalidArgument(name, `a string of at most ${MAX_PROMPT_BYTES} bytes`, value);
  return value;
};

function parseStart(message: Record<string, unknown>): StartMessage {
  rejectUnknownKeys('start', message, START_KEYS);
  const start: StartMessage = { type: 'start', format: oneOf(LIVE_FORMATS)('start.format', message.format) };
  const language = optional(message, 'language', isLanguage);
  const model = optional(message, 'model', isModelName);
  const prompt = optional(message, 'prompt', isPrompt);
  const wordTimestamps = optional(message, 'wordTimestamps', isBoolean);
  const windowMs = optional(message, 'windowMs', integerIn(2000, 30_000));
  if (language !== undefined) start.language = language;
  if (model !== undefined) start.model = model;
  if (prompt !== undefined) start.prompt = prompt;
  if (wordTimestamps !== undefined) start.wordTimestamps = wordTimestamps;
  if (windowMs !== undefined) start.windowMs = windowMs;
  return start;
}

/** A client's text message, checked: INVALID_ARGUMENT naming what was wrong. */
export function parseClientMessage(text: string): ClientMessage {
  if (Buffer.byteLength(text) > MAX_TEXT_MESSAGE_BYTES) {
    throw new WhisperError('INVALID_ARGUMENT', `message: a text message is at most ${MAX_TEXT_MESSAGE_BYTES} bytes`);
  }
  const message = parseJsonObject(text);
  if (message.type === 'start') return parseStart(message);
  if (message.type === 'stop') {
    rejectUnknownKeys('stop', message, STOP_KEYS);
    return { type: 'stop' };
  }
  throw invalidArgument('message.type', "'start' or 'stop'", message.type);
}

/** Seconds, to the millisecond. */
function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

export function segmentMessage(segment: Segment): ServerMessage {
  const message: ServerMessage = { type: 'segment', start: seconds(segment.startMs), end: seconds(segment.endMs), text: segment.text };
  if (segment.words) {
    message.words = segment.words.map((w) => ({ word: w.text, start: seconds(w.startMs), end: seconds(w.endMs), probability: w.probability }));
  }
  return message;
}

export function doneMessage(text: string, receivedMs: number): ServerMessage {
  return { type: 'done', text: text.trim(), duration: seconds(receivedMs) };
}

/** The close code for an error answered with `status`: 1013 for a wait-and-retry, 1008 for the client's fault, else 1011. */
export function closeCodeFor(status: number): number {
  if (status === 429 || status === 503) return CLOSE_CODES.tryAgainLater;
  if (status >= 400 && status < 500) return CLOSE_CODES.policyViolation;
  return CLOSE_CODES.internalError;
}

/** `reason` cut to fit a close frame, on a character boundary. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  let cut = '';
  for (const character of reason) {
    if (Buffer.byteLength(cut + character + '…') > MAX_REASON_BYTES) break;
    cut += character;
  }
  return cut + '…';
}

/** What any failure sends and how it closes: the error message and its close code. */
export function failureOf(error: unknown): { message: ServerMessage; closeCode: number; reason: string } {
  const http: HttpError = toHttpError(error);
  const type = http.details.type ?? (http.status >= 500 ? 'server_error' : 'invalid_request_error');
  return {
    message: { type: 'error', error: { message: http.message, type, code: http.details.code ?? null } },
    closeCode: closeCodeFor(http.status),
    reason: closeReason(http.message),
  };
}
