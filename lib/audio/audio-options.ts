/** AudioOptions checked once, with their defaults, for every audio path. */
import { integerIn, isNonEmptyString, pick, rejectUnknownKeys } from '../errors/validate';
import { resolveChannel, SAMPLES_PER_MS, type AudioOptions } from './pcm';
import { MAX_PCM_SAMPLES } from './pcm-source';

/** @internal */
export interface ResolvedAudioOptions {
  channel: 'mix' | number;
  /** As given; found on first use (findFfmpeg), since most audio never needs it. */
  ffmpegPath: string | undefined;
  ffmpegTimeoutMs: number;
  maxInputBytes: number;
  /** In 16 kHz samples; undefined: no limit. */
  maxSamples: number | undefined;
}

const KNOWN = new Set(['channel', 'ffmpegPath', 'ffmpegTimeoutMs', 'maxInputBytes', 'maxDurationMs']);
const DEFAULT_FFMPEG_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_INPUT_BYTES = 2 ** 30;
/** whisper's own limit: INT32_MAX samples a call, about 37 hours. */
const MAX_DURATION_MS = Math.floor(MAX_PCM_SAMPLES / SAMPLES_PER_MS);
/** The largest Buffer is 2^32 bytes on 64-bit Node; a held stream must fit in one. */
const MAX_INPUT_BYTES = 2 ** 32 - 1;

/** @internal */
export function resolveAudioOptions(options: AudioOptions | undefined): ResolvedAudioOptions {
  const channel = resolveChannel(options);
  const o = (options ?? {}) as Record<string, unknown>;
  rejectUnknownKeys('options.audio', o, KNOWN);
  const maxDurationMs = pick<number | undefined>(o, 'maxDurationMs', integerIn(1, MAX_DURATION_MS), undefined, 'options.audio.');
  return {
    channel,
    ffmpegPath: pick(o, 'ffmpegPath', isNonEmptyString, undefined, 'options.audio.'),
    ffmpegTimeoutMs: pick(o, 'ffmpegTimeoutMs', integerIn(1, 24 * 3600 * 1000), DEFAULT_FFMPEG_TIMEOUT_MS, 'options.audio.'),
    maxInputBytes: pick(o, 'maxInputBytes', integerIn(1, MAX_INPUT_BYTES), DEFAULT_MAX_INPUT_BYTES, 'options.audio.'),
    maxSamples: maxDurationMs === undefined ? undefined : Math.ceil(maxDurationMs * SAMPLES_PER_MS),
  };
}
