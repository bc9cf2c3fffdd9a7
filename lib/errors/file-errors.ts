import { WhisperError, type WhisperErrorCode } from './whisper-error';

/** What a file is for, in messages and in the code a missing one gets. */
export interface FileRole {
  /** The parameter that named the file, e.g. 'audio' or 'options.vad.modelPath'. */
  parameter: string;
  /** What the file should be, e.g. 'audio file' or 'VAD model'. */
  what: string;
  /** The code for a path that does not exist. */
  notFound: Extract<WhisperErrorCode, 'AUDIO_NOT_FOUND' | 'MODEL_NOT_FOUND'>;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP']);
const DENIED = new Set(['EACCES', 'EPERM']);

function errnoCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
}

/**
 * One mapping of a failed stat/open/read to a WhisperError, for every file the library reads:
 * a path that does not exist is `role.notFound`; a file that exists but can't be read
 * (permissions, I/O) is FILE_UNREADABLE; a directory is INVALID_ARGUMENT.
 */
export function fileError(error: unknown, path: string, role: FileRole): WhisperError {
  const code = errnoCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (MISSING.has(code)) {
    return new WhisperError(role.notFound, `${role.parameter}: ${role.what} not found: ${path}`, { cause: error });
  }
  if (code === 'EISDIR') return notAFile(path, role, 'a directory');
  if (DENIED.has(code)) {
    return new WhisperError('FILE_UNREADABLE', `${role.parameter}: permission denied reading ${role.what} ${path}`, { cause: error });
  }
  return new WhisperError('FILE_UNREADABLE', `${role.parameter}: cannot read ${role.what} ${path}: ${reason}`, { cause: error });
}

/** INVALID_ARGUMENT for a path that names a directory, FIFO or device instead of a file. */
export function notAFile(path: string, role: FileRole, actually: string): WhisperError {
  return new WhisperError('INVALID_ARGUMENT', `${role.parameter}: expected a file (${role.what}), got ${actually}: ${path}`);
}
