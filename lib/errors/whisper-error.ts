/**
 * Every failure the library reports is a WhisperError with a stable `code`.
 * Callers branch on `code`; `message` is for people and may change between versions.
 */
export const WHISPER_ERROR_CODES = [
  'INVALID_ARGUMENT',
  'MODEL_NOT_FOUND',
  'INVALID_MODEL',
  'MODEL_LOAD_FAILED',
  'STATE_INIT_FAILED',
  'INVALID_AUDIO',
  'UNSUPPORTED_AUDIO',
  'AUDIO_TOO_LONG',
  'AUDIO_NOT_FOUND',
  'FILE_UNREADABLE',
  'TRANSCRIPTION_FAILED',
  'ABORTED',
  'DISPOSED',
  'NATIVE_ERROR',
  'QUEUE_FULL',
  'TIMEOUT',
  'BACKEND_UNAVAILABLE',
  'STATE_BUSY',
  'DOWNLOAD_FAILED',
  'CHECKSUM_MISMATCH',
  'OFFLINE',
] as const;

export type WhisperErrorCode = (typeof WHISPER_ERROR_CODES)[number];

export class WhisperError extends Error {
  readonly code: WhisperErrorCode;

  constructor(code: WhisperErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WhisperError';
    this.code = code;
  }
}

/** True for any WhisperError, optionally of one code. */
export function isWhisperError(value: unknown, code?: WhisperErrorCode): value is WhisperError {
  return value instanceof WhisperError && (code === undefined || value.code === code);
}

/** Describes a value for "expected X, got Y" messages without dumping large inputs. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 60 ? `a string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength}`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** An INVALID_ARGUMENT error that names the parameter, what was expected and what was given. */
export function invalidArgument(parameter: string, expected: string, given: unknown): WhisperError {
  return new WhisperError('INVALID_ARGUMENT', `${parameter}: expected ${expected}, got ${describeValue(given)}`);
}
