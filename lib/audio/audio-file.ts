/**
 * Opening an audio file by path (to find its format before a decoder opens it), so a missing,
 * unreadable or not-a-file path gives the same code and message whichever decoder reads it.
 */
import type { FileHandle } from 'node:fs/promises';
import { openForReading, type FileRole } from '../errors/file-errors';
import { WhisperError } from '../errors/whisper-error';

/** @internal How file-system errors name an audio path. */
export const AUDIO_FILE: FileRole = { parameter: 'audio', what: 'audio file', notFound: 'AUDIO_NOT_FOUND' };

/**
 * @internal Opens `path` for reading. It is checked with stat() first: opening a FIFO would
 * wait for a writer, and reading a directory fails only later with a less helpful error.
 */
export async function openAudioFile(path: string): Promise<FileHandle> {
  const { fh } = await openForReading(path, AUDIO_FILE);
  return fh;
}

/** @internal Adds the file's path to an INVALID_AUDIO or UNSUPPORTED_AUDIO message (once), so decode errors say which file. */
export function withFileName(error: unknown, path: string): unknown {
  if (error instanceof WhisperError && (error.code === 'INVALID_AUDIO' || error.code === 'UNSUPPORTED_AUDIO') && !error.message.endsWith(`(file: ${path})`)) {
    return new WhisperError(error.code, `${error.message} (file: ${path})`, { cause: error.cause });
  }
  return error;
}
