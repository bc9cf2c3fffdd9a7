/** A job's audio made into what model.transcribe() takes: a path as it is, inline bytes decoded, a URL fetched as a stream. */
import type { AudioInput } from '../audio/pcm';
import { WhisperError } from '../errors/whisper-error';
import type { JobAudio } from './job-data';

/** Statuses that mean the audio is not there: the same on every retry. */
const MISSING_STATUSES: ReadonlySet<number> = new Set([404, 410]);

export async function jobAudioInput(audio: JobAudio, signal: AbortSignal): Promise<AudioInput> {
  if ('path' in audio) return audio.path;
  if ('inline' in audio) return Buffer.from(audio.inline, 'base64');
  return fetchAudio(audio.url, signal);
}

/**
 * The body of an http(s) GET as a byte stream. A missing file is AUDIO_NOT_FOUND and any other
 * client error FILE_UNREADABLE (both final); a server error or a broken connection is
 * DOWNLOAD_FAILED, which the queue retries.
 */
async function fetchAudio(url: string, signal: AbortSignal): Promise<AudioInput> {
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (error) {
    if (signal.aborted) throw new WhisperError('ABORTED', 'the job was cancelled while its audio was fetched', { cause: error });
    throw new WhisperError('DOWNLOAD_FAILED', `audio ${url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (response.ok && response.body) return response.body;
  await response.body?.cancel();
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (MISSING_STATUSES.has(response.status)) throw new WhisperError('AUDIO_NOT_FOUND', `audio ${url}: ${status}`);
  if (response.status < 500) throw new WhisperError('FILE_UNREADABLE', `audio ${url}: ${status}`);
  throw new WhisperError('DOWNLOAD_FAILED', `audio ${url}: ${status}`);
}
