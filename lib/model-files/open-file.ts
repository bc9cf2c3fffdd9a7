/**
 * Opening a model file for positioned reads, with the library's one mapping of file-system failures
 * (lib/errors/file-errors.ts): a missing path is the role's not-found code, a directory, FIFO or device
 * is INVALID_ARGUMENT, a file that cannot be read is FILE_UNREADABLE.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { fileError, notAFile, type FileRole } from '../errors/file-errors';
import { WhisperError } from '../errors/whisper-error';

/** The role of a Whisper model file named by `parameter`. */
export function modelFileRole(parameter: string): FileRole {
  return { parameter, what: 'model file', notFound: 'MODEL_NOT_FOUND' };
}

/** What a path that is not a regular file is instead, for notAFile. */
function nonFileKind(stats: Stats): string {
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

/**
 * Exactly `length` bytes of a model file that was inspected before; a file that ends first changed
 * since (INVALID_MODEL). `what` says what was being read, for the message.
 */
export async function readModelBytes(fh: FileHandle, path: string, role: FileRole, length: number, position: number, what: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const got = await readFully(fh, path, role, buf, 0, length, position);
  if (got < length) {
    throw new WhisperError('INVALID_MODEL', `invalid model file ${JSON.stringify(path)}: it ended at byte ${position + got} while ${what} was read (did it change?)`);
  }
  return buf;
}
