/** The options of transcribeStream, checked once and resolved to what the windowing needs. */
import { SAMPLES_PER_MS } from '../audio/pcm';
import { integerIn, isBoolean, oneOf } from '../errors/validate';
import { invalidArgument } from '../errors/whisper-error';
import type { TranscribeOptions } from '../transcription/options';

export interface StreamCutVadOptions {
  /** Silero VAD model (ggml) used to find pauses. */
  modelPath: string;
  /** Frames below this speech probability count as silence. Default 0.35. */
  threshold?: number;
}

export interface StreamOptions extends Omit<TranscribeOptions, 'offsetMs' | 'durationMs' | 'onProgress' | 'onSegment' | 'audio' | 'detectLanguage'> {
  /**
   * How Buffer / Uint8Array chunks are read: 'f32' (default) little-endian float32, or 's16'
   * little-endian signed 16-bit (as `arecord -f S16_LE -r 16000 -c 1` or ffmpeg's s16le give).
   * A sample split across two chunks is joined. Float32Array chunks are always float PCM.
   */
  format?: 'f32' | 's16';
  /** Longest audio transcribed at once, in ms: 2000 to 30000. Default 30000. */
  windowMs?: number;
  /** The cut point is searched for in this last part of a full window, in ms. Default: a third of windowMs. */
  cutSearchMs?: number;
  /**
   * Where to find the cut points. Default: the `vad` model when one is given, else energy.
   * false: always energy. The `vad` option itself still applies to each window as in transcribe().
   */
  cutVad?: StreamCutVadOptions | false;
  /**
   * Prompt each window with the end of the text emitted so far. Default false: measured on the
   * shared clips (scripts/bench-stream.mjs), the prompt made base continue the earlier text over
   * short utterances and silence (10 words made up, temperature fallback, 3x slower), while
   * without it seams lost or repeated nothing.
   */
  promptWithPrevious?: boolean;
  /** Windows whose RMS level is below this are silence and not transcribed. Default 0.001 (-60 dBFS). */
  silenceRms?: number;
  /** Instrumentation: called with the number of PCM samples held whenever it changes. */
  onBuffer?: (samples: number) => void;
}

/** @internal The VAD used for cut points, and the option that named its model (for errors). */
export interface CutVad {
  modelPath: string;
  threshold: number;
  parameter: 'options.cutVad.modelPath' | 'options.vad.modelPath';
}

/** @internal */
export interface ResolvedStreamOptions {
  format: 'f32' | 's16';
  windowSamples: number;
  searchSamples: number;
  cutVad: CutVad | undefined;
  promptWithPrevious: boolean;
  silenceRms: number;
  onBuffer: ((samples: number) => void) | undefined;
  transcribe: TranscribeOptions;
}

/** transcribe() options a stream has no use for: it has no fixed length. */
const NOT_FOR_STREAMS = ['offsetMs', 'durationMs', 'onProgress', 'onSegment', 'audio', 'detectLanguage'] as const;
const DEFAULT_VAD_THRESHOLD = 0.35;
const FORMATS = ['f32', 's16'] as const;

function resolveCutVad(cutVad: StreamOptions['cutVad'], transcribe: TranscribeOptions): CutVad | undefined {
  if (cutVad === undefined) {
    const modelPath = transcribe.vad?.modelPath;
    return modelPath === undefined ? undefined : { modelPath, threshold: DEFAULT_VAD_THRESHOLD, parameter: 'options.vad.modelPath' };
  }
  if (cutVad === false) return undefined;
  if (cutVad === null || typeof cutVad !== 'object') throw invalidArgument('options.cutVad', 'false or { modelPath, threshold? }', cutVad);
  if (typeof cutVad.modelPath !== 'string' || cutVad.modelPath.length === 0) {
    throw invalidArgument('options.cutVad.modelPath', 'a path to a Silero VAD model', cutVad.modelPath);
  }
  const threshold = cutVad.threshold ?? DEFAULT_VAD_THRESHOLD;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) {
    throw invalidArgument('options.cutVad.threshold', 'a number between 0 and 1', cutVad.threshold);
  }
  return { modelPath: cutVad.modelPath, threshold, parameter: 'options.cutVad.modelPath' };
}

/** @internal */
export function resolveStreamOptions(options: StreamOptions): ResolvedStreamOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object of stream options', options);
  }
  const { format = 'f32', windowMs = 30_000, cutSearchMs, cutVad, promptWithPrevious = false, silenceRms = 0.001, onBuffer, ...transcribe } = options;
  for (const key of NOT_FOR_STREAMS) {
    if ((options as Record<string, unknown>)[key] !== undefined) {
      throw invalidArgument(
        `options.${key}`,
        'nothing: a stream has no fixed length; this option is not used by transcribeStream',
        (options as Record<string, unknown>)[key],
      );
    }
  }
  oneOf(FORMATS)('options.format', format);
  integerIn(2000, 30_000)('options.windowMs', windowMs);
  // The cut lies in the last cutSearchMs: at most half of the window, so a cut never falls in its first half.
  const search = integerIn(200, windowMs / 2)('options.cutSearchMs', cutSearchMs ?? Math.round(windowMs / 3));
  const resolvedVad = resolveCutVad(cutVad, transcribe);
  isBoolean('options.promptWithPrevious', promptWithPrevious);
  if (typeof silenceRms !== 'number' || !(silenceRms >= 0 && silenceRms < 1)) {
    throw invalidArgument('options.silenceRms', 'a number from 0 to 1', silenceRms);
  }
  if (onBuffer !== undefined && typeof onBuffer !== 'function') throw invalidArgument('options.onBuffer', 'a function', onBuffer);
  return {
    format,
    windowSamples: windowMs * SAMPLES_PER_MS,
    searchSamples: search * SAMPLES_PER_MS,
    cutVad: resolvedVad,
    promptWithPrevious,
    silenceRms,
    onBuffer,
    transcribe,
  };
}
