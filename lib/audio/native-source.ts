/** The addon's miniaudio decoders (FLAC, MP3, Ogg Vorbis) as an AudioSource. */
import { fromNativeError, native } from '../native/addon';
import type { NativeAudioDecoder, NativeAudioFormat } from '../native/native-api';
import { assertFinitePcm } from './pcm';
import type { AudioSource } from './source';

/** The most a decoder is asked for at once (its limit is 60 s); pieces stay small next to a window. */
const MAX_READ_FRAMES = 10 * 16000;

/** @internal Opens `input` (a path or bytes) with the addon's decoder for `format`. */
export async function openNativeSource(input: string | Uint8Array, format: NativeAudioFormat, channel: 'mix' | number): Promise<AudioSource> {
  let decoder: NativeAudioDecoder;
  try {
    decoder = await native().openAudioDecoder(input, { format, channel: channel === 'mix' ? -1 : channel });
  } catch (error) {
    throw fromNativeError(error);
  }
  const stated = decoder.info().statedFrames;
  let position = 0;
  let closed = false;
  return {
    format,
    statedSamples: stated >= 0 ? stated : undefined,
    read: async (maxSamples) => {
      if (closed) return new Float32Array(0);
      let piece: Float32Array;
      try {
        piece = await decoder.read(Math.min(maxSamples, MAX_READ_FRAMES));
      } catch (error) {
        throw fromNativeError(error);
      }
      assertFinitePcm(piece, 'audio', position);
      position += piece.length;
      return piece;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      decoder.close();
    },
  };
}
