/**
 * loadAudio: everything the library accepts as audio (a Float32Array, a WAV path, WAV bytes)
 * made into 16 kHz mono float32 PCM.
 */
import { fileError } from '../errors/file-errors';
import { invalidArgument } from '../errors/whisper-error';
import { AUDIO_FILE, openAudioFile, withFileName } from './audio-file';
import { assertFinitePcm, resolveChannel, type AudioInput, type AudioOptions } from './pcm';
import { decodeWav } from './wav';

const INPUT_EXPECTED = 'a Float32Array of 16 kHz mono PCM, a WAV file path (string), or WAV file bytes (Buffer or Uint8Array)';

async function readAudioFile(path: string): Promise<Buffer> {
  const handle = await openAudioFile(path);
  try {
    return await handle.readFile();
  } catch (error) {
    throw fileError(error, path, AUDIO_FILE);
  } finally {
    await handle.close();
  }
}

/**
 * Turns any AudioInput into 16 kHz mono float32 PCM.
 * - Float32Array: checked (non-empty, finite) and returned as is, without a copy.
 * - string: a WAV file, read asynchronously and decoded (errors mention the path).
 * - Buffer / Uint8Array: WAV file bytes, decoded.
 */
export async function loadAudio(input: AudioInput, options?: AudioOptions): Promise<Float32Array> {
  const channel = resolveChannel(options);
  if (input instanceof Float32Array) {
    if (input.length === 0) throw invalidArgument('audio', 'a non-empty Float32Array of 16 kHz mono PCM', input);
    if (channel !== 'mix' && channel !== 0) {
      throw invalidArgument('channel', "'mix' or 0 (a Float32Array is mono)", channel);
    }
    assertFinitePcm(input);
    return input;
  }
  if (typeof input === 'string') {
    if (input.length === 0) throw invalidArgument('audio', 'a non-empty WAV file path', input);
    const bytes = await readAudioFile(input);
    try {
      return decodeWav(bytes, options);
    } catch (error) {
      throw withFileName(error, input);
    }
  }
  if (input instanceof Uint8Array) {
    return decodeWav(input, options);
  }
  throw invalidArgument('audio', INPUT_EXPECTED, input);
}
