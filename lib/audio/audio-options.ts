/** AudioOptions checked once, with their defaults, for every audio path. */
import { integerIn, isNonEmptyString, pick, rejectUnknownKeys } from '../errors/validate';
import { resolveChannel, type AudioOptions } from './pcm';

/** @internal */
export interface ResolvedAudioOptions {
  channel: 'mix' | number;
  /** As given; found on first use (findFfmpeg), since most audio never needs it. */
  ffmpegPath: string | undefined;
  ffmpegTimeoutMs: number;
  maxInputBytes: number;
}

const KNOWN = new Set(['channel', 'ffmpegPath', 'ffmpegTimeoutMs', 'maxInputBytes']);
const DEFAULT_FFMPEG_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_INPUT_BYTES = 2 ** 30;
/** The largest Buffer is 2^32 bytes on 64-bit Node; a held stream must fit in one. */
const MAX_INPUT_BYTES = 2 ** 32 - 1;

/** @internal */
export function resolveAudioOptions(options: AudioOptions | undefined): ResolvedAudioOptions {
  const channel = resolveChannel(options);
  const o = (options ?? {}) as Record<string, unknown>;
  rejectUnknownKeys('options.audio', o, KNOWN);
  return {
    channel,
    ffmpegPath: pick(o, 'ffmpegPath', isNonEmptyString, undefined, 'options.audio.'),
    ffmpegTimeoutMs: pick(o, 'ffmpegTimeoutMs', integerIn(1, 24 * 3600 * 1000), DEFAULT_FFMPEG_TIMEOUT_MS, 'options.audio.'),
    maxInputBytes: pick(o, 'maxInputBytes', integerIn(1, MAX_INPUT_BYTES), DEFAULT_MAX_INPUT_BYTES, 'options.audio.'),
  };
}
