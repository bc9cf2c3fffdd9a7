/**
 * Model files opened and read through the library's one mapping of file-system failures
 * (lib/errors/file-errors.ts), with the model file's role in the messages.
 */
import type { FileHandle } from 'node:fs/promises';
import { readFully, type FileRole } from '../errors/file-errors';
import { WhisperError } from '../errors/whisper-error';

/** The role of a Whisper model file named by `parameter`. */
export function modelFileRole(parameter: string): FileRole {
  return { parameter, what: 'model file', notFound: 'MODEL_NOT_FOUND' };
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
