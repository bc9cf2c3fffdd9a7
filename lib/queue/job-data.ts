/**
 * What a transcription job carries through Redis, and the checks on it. BullMQ stores job data
 * as JSON, so everything here is plain data: the audio as a path or URL the workers read
 * themselves, or as a few bytes inline (base64); the transcribe options without callbacks or
 * signals; the output format. Pure: no Redis, no model.
 */
import path from 'node:path';
import { invalidArgument, WhisperError, WHISPER_ERROR_CODES, type WhisperErrorCode } from '../errors/whisper-error';
import { isNonEmptyString, oneOf, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { TRANSCRIPT_FORMATS, type FormatOptions, type TranscriptFormat } from '../transcription/formats';
import type { TranscribeOptions } from '../transcription/options';

/**
 * The most audio bytes a job may carry inline: 1 MiB, about 32 s of 16 kHz 16-bit mono WAV or
 * several minutes of MP3. Redis keeps every job's data until the job is removed, and each
 * worker reads it whole, so larger audio goes by path or URL.
 */
export const MAX_INLINE_AUDIO_BYTES = 1024 * 1024;

/** The audio of a job as it travels: exactly one of the three. */
export type JobAudio = { path: string } | { url: string } | { inline: string };

/** The transcribe options a job can carry: everything but what cannot travel as JSON or is the queue's to decide. */
export type QueueTranscribeOptions = Omit<TranscribeOptions, 'signal' | 'onProgress' | 'onSegment' | 'priority'>;

/** One job's data in Redis. */
export interface TranscriptionJobData {
  audio: JobAudio;
  options?: QueueTranscribeOptions;
  /** The result's format (formatTranscript). Default 'json'. */
  format?: TranscriptFormat;
  formatOptions?: FormatOptions;
  /** Which of a worker's `models` runs it; default its first. */
  model?: string;
}

/** A job's result (its BullMQ return value). */
export interface TranscriptionResult {
  format: TranscriptFormat;
  /** formatTranscript's output: for 'json', the Transcript as JSON. */
  output: string;
  /** The name of the worker that completed the job. */
  worker: string;
}

/** What enqueueTranscription accepts as audio. */
export type QueueAudio = string | URL | Uint8Array;

/** Options a job cannot carry, and why, for the message. */
const LOCAL_ONLY_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['signal', 'cancel the job instead (cancelTranscription)'],
  ['onProgress', "the worker reports progress with job.updateProgress (the queue's 'progress' event)"],
  ['onSegment', 'the segments are in the result'],
  ['priority', "pass the job's priority to enqueueTranscription"],
]);

const JOB_DATA_KEYS: ReadonlySet<string> = new Set(['audio', 'options', 'format', 'formatOptions', 'model']);
const AUDIO_KEYS: ReadonlySet<string> = new Set(['path', 'url', 'inline']);

const AUDIO_EXPECTED = `a path, an http(s) URL, or audio bytes (a Buffer or Uint8Array of at most ${MAX_INLINE_AUDIO_BYTES} bytes; put larger audio at a path or URL the workers can read)`;

/** The job's audio from what a producer passed: a relative path is made absolute against the producer's working directory. */
export function toJobAudio(audio: unknown): JobAudio {
  if (audio instanceof Uint8Array) {
    if (audio.byteLength === 0 || audio.byteLength > MAX_INLINE_AUDIO_BYTES) throw invalidArgument('audio', AUDIO_EXPECTED, audio);
    return { inline: Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64') };
  }
  if (audio instanceof URL) return { url: checkedUrl('audio', audio.href) };
  if (typeof audio !== 'string' || audio.length === 0) throw invalidArgument('audio', AUDIO_EXPECTED, audio);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(audio)) return { url: checkedUrl('audio', audio) };
  return { path: path.resolve(audio) };
}

/** An http: or https: URL, as its href; anything else INVALID_ARGUMENT naming `name`. */
function checkedUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(name, 'an http(s) URL', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(name, `an http(s) URL (workers fetch only http and https)`, value);
  return url.href;
}

/**
 * The options checked for the trip: a plain object of JSON values, without the options only a
 * local call can have. Everything else (ranges, languages, the model's limits) is checked by
 * the worker's model, and a job it refuses fails at once with INVALID_ARGUMENT.
 */
export function checkQueueOptions(name: string, options: unknown): QueueTranscribeOptions {
  const o = optionsObject(name, options);
  for (const [key, instead] of LOCAL_ONLY_OPTIONS) {
    if (o[key] !== undefined) throw invalidArgument(`${name}.${key}`, `no ${key} in a queued job (${instead})`, o[key]);
  }
  assertJsonValue(name, o);
  return o as QueueTranscribeOptions;
}

/** Throws INVALID_ARGUMENT naming the first value JSON would lose or change (a function, a NaN, a Date, ...). */
function assertJsonValue(name: string, value: unknown): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidArgument(name, 'a finite number (job data travels as JSON)', value);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => assertJsonValue(`${name}[${index}]`, item));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) if (item !== undefined) assertJsonValue(`${name}.${key}`, item);
    return;
  }
  throw invalidArgument(name, 'a JSON value: a string, number, boolean, null, array or plain object (job data travels as JSON)', value);
}

/**
 * A job's data as a worker reads it from Redis, checked: another producer (or another version)
 * may have written it. INVALID_ARGUMENT names the field as `job.data.<field>`.
 */
export function parseJobData(data: unknown): TranscriptionJobData {
  const o = optionsObject('job.data', data);
  rejectUnknownKeys('job.data', o, JOB_DATA_KEYS);
  const audio = parseJobAudio(o.audio);
  const options = o.options === undefined ? undefined : checkQueueOptions('job.data.options', o.options);
  const format = pick(o, 'format', oneOf(TRANSCRIPT_FORMATS), 'json', 'job.data.');
  const formatOptions = o.formatOptions === undefined ? undefined : (optionsObject('job.data.formatOptions', o.formatOptions) as FormatOptions);
  const model = o.model === undefined ? undefined : isNonEmptyString('job.data.model', o.model);
  return { audio, options, format, formatOptions, model };
}

function parseJobAudio(value: unknown): JobAudio {
  const expected = 'an object with exactly one of path, url or inline (base64)';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('job.data.audio', expected, value);
  const o = value as Record<string, unknown>;
  rejectUnknownKeys('job.data.audio', o, AUDIO_KEYS);
  const given = [...AUDIO_KEYS].filter((key) => o[key] !== undefined);
  if (given.length !== 1) throw invalidArgument('job.data.audio', expected, value);
  const key = given[0];
  const text = isNonEmptyString(`job.data.audio.${key}`, o[key]);
  if (key === 'url') return { url: checkedUrl('job.data.audio.url', text) };
  if (key === 'path') return { path: text };
  return { inline: checkedBase64(text) };
}

/** Base64 of at most MAX_INLINE_AUDIO_BYTES bytes. */
function checkedBase64(text: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw invalidArgument('job.data.audio.inline', 'base64 audio bytes', text);
  const bytes = (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
  if (bytes > MAX_INLINE_AUDIO_BYTES) throw invalidArgument('job.data.audio.inline', `at most ${MAX_INLINE_AUDIO_BYTES} bytes of audio`, `${bytes} bytes`);
  return text;
}

/**
 * Codes that fail a job for good: the same job would fail the same way on any worker (bad
 * audio, a bad option or model, a job cancelled or past its deadline). Anything else (a state
 * that could not be created, a download that broke, Redis, an unexpected error) is retried
 * with the job's attempts and backoff.
 */
const PERMANENT_CODES: ReadonlySet<WhisperErrorCode> = new Set([
  'INVALID_ARGUMENT',
  'INVALID_AUDIO',
  'UNSUPPORTED_AUDIO',
  'AUDIO_NOT_FOUND',
  'FILE_UNREADABLE',
  'INVALID_MODEL',
  'MODEL_NOT_FOUND',
  'MODEL_LOAD_FAILED',
  'ABORTED',
  'TIMEOUT',
]);

export function isPermanentFailure(error: unknown): boolean {
  return error instanceof WhisperError && PERMANENT_CODES.has(error.code);
}

/** How a failure is written into the job's failedReason: `CODE: message`, so any client can read the code back. */
export function failureReason(error: unknown): string {
  if (error instanceof WhisperError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A job's failedReason read back as the WhisperError it was. A reason without a code (BullMQ's
 * own, such as a job stalled too many times) becomes TRANSCRIPTION_FAILED with the reason as
 * its message.
 */
export function errorFromFailure(failedReason: string | undefined): WhisperError {
  const reason = failedReason ?? 'the job failed without a reason';
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  const code = match?.[1] as WhisperErrorCode | undefined;
  if (match && code && (WHISPER_ERROR_CODES as readonly string[]).includes(code)) return new WhisperError(code, match[2]);
  return new WhisperError('TRANSCRIPTION_FAILED', `the job failed: ${reason}`);
}
