/**
 * loadAudio: any AudioInput (PCM, an audio file's path or bytes, a stream of bytes) made into
 * 16 kHz mono float32 PCM, whole.
 */
import { resolveAudioOptions } from './audio-options';
import { openAudioSource } from './open-source';
import type { AudioInput, AudioOptions } from './pcm';
import { readRemainingPcm } from './pcm-source';

/**
 * Turns any AudioInput into 16 kHz mono float32 PCM.
 * - Float32Array: checked (non-empty, finite) and returned as is, without a copy.
 * - string: an audio file, read asynchronously and decoded (errors mention the path).
 * - Buffer / Uint8Array: audio file bytes, decoded.
 * - a Readable, ReadableStream or AsyncIterable of byte chunks: decoded as the bytes arrive.
 * The format is found from the content: WAV, FLAC, MP3 and Ogg Vorbis are decoded here,
 * anything else by ffmpeg (see AudioOptions.ffmpegPath).
 */
export async function loadAudio(input: AudioInput, options?: AudioOptions & { signal?: AbortSignal }): Promise<Float32Array> {
  // Anything but a plain object is left for resolveAudioOptions to refuse.
  const isObject = options !== null && typeof options === 'object' && !Array.isArray(options);
  const { signal, ...audioOptions } = isObject ? options : {};
  const source = await openAudioSource(input, resolveAudioOptions(isObject ? audioOptions : options), signal);
  // PCM given as a Float32Array comes back as it is, without a copy.
  if (input instanceof Float32Array) return input;
  try {
    return await readRemainingPcm(source);
  } finally {
    await source.close();
  }
}
