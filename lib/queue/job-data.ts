/**
 * What a transcription job carries through Redis, and the checks on it. BullMQ stores job data
 * as JSON, so everything here is plain data: the audio as a path or URL the workers read
 * themselves (within what each worker allows: audio-fetch.ts), or as a few bytes inline
 * (base64); the decoding and result options a job may set (job-options.ts); the output format.
 * Producers may be untrusted: parseJobData builds fresh objects from checked values only, and
 * failure reasons carry messages written here, never the audio's bytes or a server's words.
 * Pure: no Redis, no model.
 */
import path from 'node:path';
import { invalidArgument, WhisperError, WHISPER_ERROR_CODES, type WhisperErrorCode } from '../errors/whisper-error';
import { integerIn, oneOf, optionsObject } from '../errors/validate';
import { TRANSCRIPT_FORMATS, type FormatOptions, type TranscriptFormat } from '../transcription/formats';
import { checkedTable, checkJobOptions, type QueueTranscribeOptions } from './job-options';
import { describeKey } from './safe-text';

export type { QueueTranscribeOptions, QueueVadOptions, QueueAudioOptions } from './job-options';

/**
 * The most audio bytes a job may carry inline: 1 MiB, about 32 s of 16 kHz 16-bit mono WAV or
 * several minutes of MP3. Redis keeps every job's data until the job is removed, and each
 * worker reads it whole, so larger audio goes by path or URL.
 */
export const MAX_INLINE_AUDIO_BYTES = 1024 * 1024;

/** The longest path a job may name (Linux's PATH_MAX). */
export const MAX_JOB_PATH_CHARS = 4096;
/** The longest URL a job may name. */
export const MAX_JOB_URL_CHARS = 8192;
/** The longest model name a job may name. */
const MAX_MODEL_NAME_CHARS = 128;

/** The audio of a job as it travels: exactly one of the three. */
export type JobAudio = { path: string } | { url: string } | { inline: string };

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
  return { path: checkedPath('audio', path.resolve(audio)) };
}

/** An http: or https: URL, as its href; anything else INVALID_ARGUMENT naming `name`. */
function checkedUrl(name: string, value: string): string {
  if (value.length > MAX_JOB_URL_CHARS) throw invalidArgument(name, `a URL of at most ${MAX_JOB_URL_CHARS} characters`, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(name, 'an http(s) URL', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(name, `an http(s) URL (workers fetch only http and https)`, value);
  if (url.href.length > MAX_JOB_URL_CHARS) throw invalidArgument(name, `a URL of at most ${MAX_JOB_URL_CHARS} characters`, value);
  return url.href;
}

/** An absolute path without NUL bytes, of at most MAX_JOB_PATH_CHARS. */
function checkedPath(name: string, value: string): string {
  if (value.length > MAX_JOB_PATH_CHARS) throw invalidArgument(name, `a path of at most ${MAX_JOB_PATH_CHARS} characters`, value);
  if (value.includes('\0')) throw invalidArgument(name, 'a path without NUL characters', value);
  if (!path.isAbsolute(value)) throw invalidArgument(name, 'an absolute path', value);
  return value;
}

/** formatTranscript's options, bounded as it bounds them. */
const FORMAT_OPTION_CHECKS = {
  maxLineLength: integerIn(1, 1000),
  maxLineCount: integerIn(1, 1000),
  task: oneOf(['transcribe', 'translate']),
};

/** A job's format options: only formatTranscript's, within its bounds. */
export function checkFormatOptions(name: string, value: unknown): FormatOptions {
  return checkedTable(name, value, FORMAT_OPTION_CHECKS, 'formatOptions');
}

/**
 * A job's data as a worker reads it from Redis, checked: another producer (or another version)
 * may have written it. INVALID_ARGUMENT names the field as `job.data.<field>`.
 */
export function parseJobData(data: unknown): TranscriptionJobData {
  const o = optionsObject('job.data', data);
  rejectUnknown('job.data', o, JOB_DATA_KEYS);
  const audio = parseJobAudio(o.audio);
  const options = o.options === undefined ? undefined : checkJobOptions('job.data.options', o.options);
  const format = o.format === undefined ? 'json' : oneOf(TRANSCRIPT_FORMATS)('job.data.format', o.format);
  const formatOptions = o.formatOptions === undefined ? undefined : checkFormatOptions('job.data.formatOptions', o.formatOptions);
  const model = o.model === undefined ? undefined : checkedModelName('job.data.model', o.model);
  return { audio, options, format, formatOptions, model };
}

/** A model name as a job may give it: a short string; which names a worker serves is the worker's to say. */
export function checkedModelName(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_MODEL_NAME_CHARS) {
    throw invalidArgument(name, `a model name (a string of 1 to ${MAX_MODEL_NAME_CHARS} characters)`, value);
  }
  return value;
}

/** Refuses a key that is not known, quoting it only when it is a short name. */
function rejectUnknown(name: string, o: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(o)) {
    if (!known.has(key) && o[key] !== undefined) throw new WhisperError('INVALID_ARGUMENT', `${name}: expected only ${[...known].join(', ')}, got ${describeKey(key)}`);
  }
}

function parseJobAudio(value: unknown): JobAudio {
  const expected = 'an object with exactly one of path, url or inline (base64)';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('job.data.audio', expected, value);
  const o = value as Record<string, unknown>;
  rejectUnknown('job.data.audio', o, AUDIO_KEYS);
  const given = [...AUDIO_KEYS].filter((key) => o[key] !== undefined);
  if (given.length !== 1) throw invalidArgument('job.data.audio', expected, value);
  const key = given[0]!;
  const text = o[key];
  if (typeof text !== 'string' || text.length === 0) throw invalidArgument(`job.data.audio.${key}`, 'a non-empty string', text);
  if (key === 'url') return { url: checkedUrl('job.data.audio.url', text) };
  if (key === 'path') return { path: checkedPath('job.data.audio.path', text) };
  return { inline: checkedBase64(text) };
}

/** Base64 of at most MAX_INLINE_AUDIO_BYTES bytes. */
function checkedBase64(text: string): string {
  const most = Math.ceil(MAX_INLINE_AUDIO_BYTES / 3) * 4;
  if (text.length > most) throw invalidArgument('job.data.audio.inline', `at most ${MAX_INLINE_AUDIO_BYTES} bytes of audio`, `${text.length} characters of base64`);
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
  'AUDIO_TOO_LONG',
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

/** Errors whose messages the queue wrote itself (job data, paths, URLs): reported as they are. */
const OWN_MESSAGES = new WeakSet<WhisperError>();

/** Marks `error` as one whose message the queue wrote (it names only what the producer sent, briefly). */
export function queueMessage<T extends WhisperError>(error: T): T {
  OWN_MESSAGES.add(error);
  return error;
}

/**
 * Codes whose messages are written from checked values only (an option's name, what it
 * expected and a short description of what it got; a cancellation; a deadline; the pool).
 */
const QUOTED_CODES: ReadonlySet<WhisperErrorCode> = new Set(['INVALID_ARGUMENT', 'AUDIO_TOO_LONG', 'ABORTED', 'TIMEOUT', 'QUEUE_FULL', 'DISPOSED', 'STATE_INIT_FAILED']);

/**
 * What the failure reason says for the other codes: their messages can quote the audio (the
 * first bytes of an unknown format), ffmpeg's or whisper.cpp's output or the worker's files,
 * none of which a producer may read. The worker keeps the original as the error's cause.
 */
const REASON_WORDS: Partial<Record<WhisperErrorCode, string>> = {
  INVALID_AUDIO: 'the audio could not be decoded',
  UNSUPPORTED_AUDIO: 'the audio is in a format this worker cannot decode',
  AUDIO_NOT_FOUND: 'the audio file was not found',
  FILE_UNREADABLE: 'the audio could not be read',
  TRANSCRIPTION_FAILED: 'the transcription failed',
  DOWNLOAD_FAILED: 'a download failed',
  MODEL_NOT_FOUND: "the worker's model was not found",
  INVALID_MODEL: "the worker's model is not usable",
  MODEL_LOAD_FAILED: "the worker's model could not be loaded",
};

/** The longest failure reason written. */
const MAX_REASON_CHARS = 1000;

/**
 * How a failure is written into the job's failedReason: `CODE: message` on one line, so any
 * client can read the code back; the message only when the queue wrote it or its code's
 * messages quote nothing but checked values (see QUOTED_CODES), else the code's own words.
 */
export function failureReason(error: unknown): string {
  if (!(error instanceof WhisperError)) return 'TRANSCRIPTION_FAILED: the worker failed unexpectedly';
  const message = OWN_MESSAGES.has(error) || QUOTED_CODES.has(error.code) ? error.message : (REASON_WORDS[error.code] ?? `the job failed (${error.code})`);
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return `${error.code}: ${line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}...` : line}`;
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
