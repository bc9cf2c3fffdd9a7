/**
 * The PCM the library works in, and the checks every audio path shares: whisper.cpp's
 * whisper_full() takes 16 kHz mono float32 samples in [-1, 1], and nothing else.
 */
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { WhisperError, invalidArgument } from '../errors/whisper-error';

/** The one sample rate whisper.cpp accepts. */
export const WHISPER_SAMPLE_RATE = 16000;

/** Samples per millisecond at WHISPER_SAMPLE_RATE, for converting segment times. */
export const SAMPLES_PER_MS = WHISPER_SAMPLE_RATE / 1000;

/**
 * Bytes arriving over time: a Node `Readable`, a web `ReadableStream`, or any async iterable
 * of `Buffer` / `Uint8Array` chunks (an upload still arriving).
 */
export type AudioByteStream = AsyncIterable<Uint8Array> | WebReadableStream<Uint8Array>;

/**
 * What transcribe() and loadAudio() take:
 * - `Float32Array`: 16 kHz mono PCM, used as is;
 * - `string`: the path of an audio file;
 * - `Buffer` / `Uint8Array`: the bytes of an audio file;
 * - an `AudioByteStream`: the bytes of an audio file as they arrive.
 *
 * The format is found from the content, never from a file name: WAV, FLAC, MP3 and Ogg Vorbis
 * are decoded here; anything else (Opus, AAC/M4A, WebM, video files, ...) through ffmpeg.
 */
export type AudioInput = Float32Array | string | Buffer | Uint8Array | AudioByteStream;

export interface AudioOptions {
  /** Which channel to use: 'mix' (average all channels, the default) or a 0-based index. */
  channel?: 'mix' | number;
  /**
   * The ffmpeg executable for formats not decoded here. Default: $WHISPER_NAPI_FFMPEG, else
   * `ffmpeg` on PATH. ffmpeg is never needed for WAV, FLAC, MP3 or Ogg Vorbis.
   */
  ffmpegPath?: string;
  /** ffmpeg is stopped when it gives no audio for this long once it has all the input, in ms. Default 30000. */
  ffmpegTimeoutMs?: number;
  /**
   * A stream of WAV, FLAC, MP3 or Ogg Vorbis bytes is held in memory (compressed) while it is
   * decoded; a longer stream is refused with INVALID_AUDIO. Default 1 GiB. Paths and ffmpeg
   * input are never held whole.
   */
  maxInputBytes?: number;
  /**
   * The longest audio accepted, in ms of decoded audio: longer audio is refused with
   * AUDIO_TOO_LONG, at once when its container states its length, else when decoding reaches
   * the limit. Default: no limit (whisper's own is about 37 hours a call). A server facing the
   * public sets one, since a few compressed megabytes can decode to hours.
   */
  maxDurationMs?: number;
}

/** @internal AudioOptions.channel checked: 'mix' or a non-negative channel index. */
export function resolveChannel(options: AudioOptions | undefined): 'mix' | number {
  if (options === undefined) return 'mix';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object such as { channel: "mix" }', options);
  }
  const channel = options.channel;
  if (channel === undefined || channel === 'mix') return 'mix';
  if (typeof channel === 'number' && Number.isSafeInteger(channel) && channel >= 0) return channel;
  throw invalidArgument('channel', "'mix' or a 0-based channel index (a non-negative integer)", channel);
}

/** @internal */
export function invalidAudio(message: string, cause?: unknown): WhisperError {
  return new WhisperError('INVALID_AUDIO', `audio: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Throws INVALID_AUDIO naming the first sample that is NaN or +-Infinity.
 * whisper.cpp would turn such a sample into NaNs across the whole mel spectrogram.
 * `firstIndex` is the place of samples[0] in the whole input, for a part of a longer one.
 */
export function assertFinitePcm(samples: Float32Array, parameter = 'audio', firstIndex = 0): void {
  if (!(samples instanceof Float32Array)) {
    throw invalidArgument(parameter, 'a Float32Array', samples);
  }
  const n = samples.length;
  for (let i = 0; i < n; i++) {
    const v = samples[i]!;
    // v - v is 0 for finite v and NaN for NaN and +-Infinity: one comparison per sample.
    if (v - v !== 0) {
      const what = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
      throw new WhisperError('INVALID_AUDIO', `${parameter}: sample ${firstIndex + i} is ${what} (PCM samples must be finite numbers)`);
    }
  }
}
