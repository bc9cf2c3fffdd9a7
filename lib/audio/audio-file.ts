/**
 * Opening an audio file by path, shared by loadAudio and openWavWindows, so a missing,
 * unreadable or not-a-file path gives the same code and message on both.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { fileError, notAFile, type FileRole } from '../errors/file-errors';
import { WhisperError } from '../errors/whisper-error';

/** @internal How file-system errors name an audio path. */
export const AUDIO_FILE: FileRole = { parameter: 'audio', what: 'audio file', notFound: 'AUDIO_NOT_FOUND' };

function whatItIs(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * @internal Opens `path` for reading. It is checked with stat() first: opening a FIFO would
 * wait for a writer, and reading a directory fails only later with a less helpful error.
 */
export async function openAudioFile(path: string): Promise<fsp.FileHandle> {
  let stat: Stats;
  try {
    stat = await fsp.stat(path);
  } catch (error) {
    throw fileError(error, path, AUDIO_FILE);
  }
  if (!stat.isFile()) throw notAFile(path, AUDIO_FILE, whatItIs(stat));
  try {
    return await fsp.open(path, 'r');
  } catch (error) {
    throw fileError(error, path, AUDIO_FILE);
  }
}

/** @internal Adds the file's path to an INVALID_AUDIO message (once), so decode errors say which file. */
export function withFileName(error: unknown, path: string): unknown {
  if (error instanceof WhisperError && error.code === 'INVALID_AUDIO' && !error.message.endsWith(`(file: ${path})`)) {
    return new WhisperError('INVALID_AUDIO', `${error.message} (file: ${path})`, { cause: error.cause });
  }
  return error;
}
