import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
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

/** What a path that is not a regular file is instead, for notAFile. */
export function nonFileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'something that is not a regular file';
}

/**
 * Opens `path` for reading and returns the handle with the file's size. The path is stat'ed first,
 * because opening a FIFO for reading would block until a writer appears.
 */
export async function openForReading(path: string, role: FileRole): Promise<{ fh: FileHandle; size: number }> {
  let before: Stats;
  try {
    before = await fsp.stat(path);
  } catch (error) {
    throw fileError(error, path, role);
  }
  if (!before.isFile()) throw notAFile(path, role, nonFileKind(before));
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (error) {
    throw fileError(error, path, role);
  }
  try {
    // the path may have been replaced between the stat and the open
    const stats = await fh.stat();
    if (!stats.isFile()) throw notAFile(path, role, nonFileKind(stats));
    return { fh, size: stats.size };
  } catch (error) {
    await fh.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Fills `buf[bufOffset, bufOffset + length)` from `position`. Resolves to the bytes actually read
 * (fewer only when the file ends first); a failed read is FILE_UNREADABLE via fileError.
 */
export async function readFully(fh: FileHandle, path: string, role: FileRole, buf: Uint8Array, bufOffset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, bufOffset + done, length - done, position + done));
    } catch (error) {
      throw fileError(error, path, role);
    }
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
