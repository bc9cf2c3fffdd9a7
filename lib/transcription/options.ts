/**
 * Public options, their defaults, and validation. The native layer receives a fully
 * resolved NativeTranscribeParams and never decides anything itself.
 */
import os from 'node:os';
import { invalidArgument } from '../errors/whisper-error';
import { INT32_MAX, integerIn, isBoolean, isString, numberIn, oneOf, optionsObject, pick, rejectUnknownKeys, type Check } from '../errors/validate';
import { fromNativeError, native } from '../native/addon';
import type { NativeTranscribeParams } from '../native/native-api';
import type { DownloadProgress } from '../model-files/download';
import { WHISPER_SAMPLE_RATE, type AudioOptions } from '../audio/pcm';
import { ALIGNMENT_HEADS_PRESETS, type AlignmentHeadsPreset } from '../model-files/architectures';
import type { Segment } from './transcript';

/** whisper.cpp's WHISPER_MAX_DECODERS: beam size and best-of above it fail inside whisper_full. */
export const MAX_DECODERS = 8;

export interface VadOptions {
  /**
   * Path to a Silero VAD model in whisper.cpp's ggml format, or a catalogue name such as
   * 'silero-v6.2.0' already in the model cache (`downloadModel` or `whisper-napi models download`).
   */
  modelPath: string;
  /** Speech probability threshold, 0..1. Default 0.5. */
  threshold?: number;
  /** Shorter speech is dropped. Default 250. */
  minSpeechDurationMs?: number;
  /** Silence at least this long ends a speech segment. Default 100. */
  minSilenceDurationMs?: number;
  /** Longer speech is split. Default: no limit. */
  maxSpeechDurationS?: number;
  /** Padding around each speech segment. Default 30. */
  speechPadMs?: number;
  /** Overlap between speech segments when they are joined, in seconds. Default 0.1. */
  samplesOverlap?: number;
}

export interface TranscribeOptions {
  /** ISO 639-1 code such as 'en' or 'de', or 'auto' (the default) to detect it. */
  language?: string;
  /** Translate to English instead of transcribing. Default false. */
  translate?: boolean;
  /** Only detect the language; the transcript has no segments. Default false. */
  detectLanguage?: boolean;
  /** 'greedy' (default) or 'beam'. */
  strategy?: 'greedy' | 'beam';
  /** Candidates sampled at temperature > 0 (greedy fallback). Default 5, at most 8. */
  bestOf?: number;
  /** Beams for strategy 'beam'. Default 5, at most 8. */
  beamSize?: number;
  /** CPU threads for this job. Default: the available cores divided by the model's concurrency, at most 4. */
  threads?: number;
  /** Start of the audio to transcribe, in ms. Default 0. */
  offsetMs?: number;
  /** Length of audio to transcribe from offsetMs, in ms; 0 (default) means to the end. */
  durationMs?: number;
  /**
   * true (default): every job starts without earlier text as prompt. false keeps the text
   * of the previous job that ran on the same internal state; only meaningful when the
   * model runs one job at a time (concurrency 1).
   */
  noContext?: boolean;
  /** Maximum number of tokens of past text used as prompt. Default 16384 (whisper.cpp caps it at n_text_ctx/2). */
  maxTextContext?: number;
  /** Decode without timestamp tokens. Default false. */
  noTimestamps?: boolean;
  /** Put everything in one segment. Default false. */
  singleSegment?: boolean;
  /** Per-token start/end times. Default false. */
  tokenTimestamps?: boolean;
  tokenTimestampThreshold?: number;
  tokenTimestampSumThreshold?: number;
  /** Maximum segment length in characters; 0 (default) = no limit. Enables token timestamps. */
  maxSegmentLength?: number;
  /** With maxSegmentLength, split on words rather than tokens. */
  splitOnWord?: boolean;
  /** Maximum tokens per segment; 0 (default) = no limit. */
  maxTokensPerSegment?: number;
  /**
   * Encoder context in frames of 20 ms: 0 (default) = the model's (1500, 30 s); a smaller
   * number encodes less padding (faster, but whisper may then repeat itself or stop early).
   * With flash attention (the default) use a multiple of 256: whisper.cpp then reads the cross
   * cache padded to 256 without a mask, so other values depend on the state's previous job.
   * 'auto' fits it to each call's audio: the audio and 2 s more, rounded up to 256; a result
   * that shows trimming went wrong (text past the end of the audio, or none) is decoded
   * again with the model's context. A model loaded with word timestamps always uses its own.
   */
  audioContext?: number | 'auto';
  /**
   * Text to prime the decoder with (names, spelling, style). whisper keeps its last 223 tokens,
   * and the addon tokenizes only the end of a long prompt: as much as any natural text's last 223
   * tokens take (binding/params.cpp).
   */
  initialPrompt?: string;
  /** Prepend initialPrompt to every 30 s window, not only the first. Default false. */
  carryInitialPrompt?: boolean;
  suppressBlank?: boolean;
  suppressNonSpeechTokens?: boolean;
  /**
   * Regular expression (ECMAScript syntax, as std::regex reads it) of tokens never to emit: a token
   * whose whole text matches is suppressed. The addon refuses, before the job is queued, a pattern
   * std::regex does not accept, one with back-references, and one too long or too complex to run
   * in bounded time (INVALID_ARGUMENT).
   */
  suppressRegex?: string;
  /** Initial sampling temperature, 0..1. Default 0. */
  temperature?: number;
  /** Temperature step for fallback when a window fails the thresholds; 0 disables fallback. Default 0.2. */
  temperatureIncrement?: number;
  entropyThreshold?: number;
  logprobThreshold?: number;
  noSpeechThreshold?: number;
  maxInitialTimestamp?: number;
  lengthPenalty?: number;
  /** tinydiarize speaker-turn detection (needs a tdrz model). */
  tinydiarize?: boolean;
  /** Voice activity detection before transcription. */
  vad?: VadOptions;
  /** Aborts the job; the promise rejects with code ABORTED. */
  signal?: AbortSignal;
  /** Called with 0..100 as decoding advances. */
  onProgress?: (percent: number) => void;
  /** Called for each segment as soon as whisper.cpp finalizes it. */
  onSegment?: (segment: Segment) => void;
  /**
   * Every segment gets `words[]` (text, startMs, endMs, probability) from whisper.cpp's DTW
   * token alignment. Needs a model loaded with `wordTimestamps: true`. Default false.
   */
  wordTimestamps?: boolean;
  /**
   * Keep what whisper writes for audio without speech: segments that are only a non-speech
   * marker (`[BLANK_AUDIO]`, `(music)`, `[ Silence ]` ...). Default false: they are dropped,
   * so silence gives an empty transcript.
   */
  keepNonSpeech?: boolean;
  /** How audio input is decoded. */
  audio?: AudioOptions;
  /**
   * Queue priority: when all of the model's states are busy, higher priorities start first;
   * equal priorities keep call order. Any finite number. Default 0.
   */
  priority?: number;
  /**
   * Deadline for the whole job, waiting included, in ms. When it passes the promise rejects
   * with code TIMEOUT: a waiting job leaves the queue, a running one is aborted at whisper's
   * next graph boundary and its state goes back to the pool. Default: none.
   */
  timeoutMs?: number;
  /**
   * How audio longer than one 30 s window is split (audio read whole, a Float32Array or WAV
   * bytes, is never windowed). 'sequential' (default): windows cut in pauses, each transcribed
   * after the one before; when a cut falls inside speech, the audio after the last finished
   * segment is carried into the next window. 'parallel', like faster-whisper's batched mode:
   * speech is found by Silero VAD (`vad` is required), the silence between speech is left out,
   * the speech is packed into windows of up to 30 s cut between speech, and the windows run at
   * once on the pool's free states (up to the model's `concurrency`, never one another job is
   * waiting for); timestamps are mapped back to the original audio. No window is prompted with
   * an earlier one's text: each is decoded with `noContext`.
   */
  windowing?: Windowing;
}

/** See TranscribeOptions.windowing. */
export type Windowing = 'sequential' | 'parallel';

export interface LoadModelOptions {
  /** Use a GPU (CUDA, Metal, ...: any ggml device of kind gpu or igpu) when there is one. Default true. */
  gpu?: boolean;
  /**
   * Which GPU, counted as whisper.cpp counts them: the GPUs of getDevices() in order, other
   * kinds skipped. Default 0, which runs on the CPU when there is no GPU; a larger index that
   * names no GPU is INVALID_ARGUMENT. Not consulted with `gpu: false`.
   */
  gpuDevice?: number;
  /** Flash attention. Default true (as whisper.cpp). */
  flashAttention?: boolean;
  /**
   * Transcriptions that run at once, each with its own whisper state and its own native
   * thread. Default 1. 'auto' derives it from memory through the planner: the free memory
   * of the device the model runs on (or `memoryBudget`), less the weights and a safety
   * margin, divided by the memory of one state; on the CPU at most the number of cores.
   */
  concurrency?: number | 'auto';
  /**
   * The most jobs that may wait for a state; one more rejects at once with QUEUE_FULL.
   * Default: no limit.
   */
  maxQueue?: number;
  /** Bytes that concurrency 'auto' may plan for, instead of the device's free memory. */
  memoryBudget?: number;
  /**
   * Prepare the model for `transcribe(..., { wordTimestamps: true })`: whisper.cpp's DTW
   * token alignment with the alignment heads of the model's architecture (true), or of the
   * named preset. true picks the preset from the model's shape: tiny … medium (.en or not),
   * large-v3, large-v3-turbo, and 'large.v2' for every 80-mel large model (large-v1 has the
   * same shape: pass 'large.v1' for it). A shape no preset was made for (distilled or custom
   * models) aligns with every head of the last half of its text layers, as OpenAI's reference
   * decoder does. A preset naming heads the model does not have is INVALID_ARGUMENT.
   * Each state then needs more memory (the planner counts it), flash attention is off
   * (whisper.cpp cannot align with it), and `audioContext` cannot be changed. Default false.
   */
  wordTimestamps?: boolean | AlignmentHeadsPreset;
  /**
   * When `loadModel` is given a model name (see MODEL_CATALOGUE) that is not in the model
   * cache: false (default) fails with MODEL_NOT_FOUND, 'auto' downloads it, true downloads
   * it and checks a file already cached against its SHA-256 first. Ignored for a path.
   */
  download?: boolean | 'auto';
  /** The model cache for names. Default: WHISPER_NAPI_MODELS, or ~/.cache/whisper-napi/models. */
  modelsDir?: string;
  /** Called as a download advances. */
  onDownloadProgress?: (progress: DownloadProgress) => void;
  /** Aborts a download (ABORTED); loading itself is not interrupted. */
  signal?: AbortSignal;
}

export { ALIGNMENT_HEADS_PRESETS, type AlignmentHeadsPreset };

export interface ResolvedLoadOptions {
  gpu: boolean;
  gpuDevice: number;
  flashAttention: boolean;
  /** 'auto' until WhisperModel.load has planned it. */
  concurrency: number | 'auto';
  /** Infinity when unlimited. */
  maxQueue: number;
  /** 0: use the device's free memory. */
  memoryBudget: number;
  /** '' when off; 'auto' picks the preset from the model's architecture at load. */
  alignmentHeads: AlignmentHeadsPreset | 'auto' | '';
  download: boolean | 'auto';
  /** '' for the default cache. */
  modelsDir: string;
  onDownloadProgress: ((progress: DownloadProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Threads per job when the caller gives none: the cores shared among the jobs that may run
 * at once, at most 4. ggml's worker threads spin while they wait, so oversubscribed cores
 * slow every job down by far more than the ratio.
 */
export function defaultThreads(concurrency = 1): number {
  return Math.max(1, Math.min(4, Math.floor(os.availableParallelism() / Math.max(1, concurrency))));
}

/**
 * whisper_vad_segments_from_probs turns VAD milliseconds into samples as 16000 * ms in an int,
 * so larger values overflow.
 */
const MAX_VAD_MS = Math.floor(INT32_MAX / WHISPER_SAMPLE_RATE);
/**
 * whisper_full_with_state lists every temperature of the fallback ladder up front; an increment
 * too small to move a float past 0.5 would make that list endless.
 */
const MAX_TEMPERATURE_STEPS = 1000;

/** The rungs of whisper.cpp's temperature ladder: its own float loop, stopped past the limit. */
function temperatureSteps(temperature: number, increment: number): number {
  if (increment <= 0) return 1;
  const step = Math.fround(increment);
  let steps = 0;
  for (let t = Math.fround(temperature); t < Math.fround(1 + 1e-6) && steps <= MAX_TEMPERATURE_STEPS; t = Math.fround(t + step)) steps++;
  return steps;
}

/** whisper.cpp uses FLT_MAX as "no limit" for the VAD speech duration. */
const FLT_MAX = 3.4028234663852886e38;

const TRANSCRIBE_KEYS = new Set([
  'language',
  'translate',
  'detectLanguage',
  'strategy',
  'bestOf',
  'beamSize',
  'threads',
  'offsetMs',
  'durationMs',
  'noContext',
  'maxTextContext',
  'noTimestamps',
  'singleSegment',
  'tokenTimestamps',
  'tokenTimestampThreshold',
  'tokenTimestampSumThreshold',
  'maxSegmentLength',
  'splitOnWord',
  'maxTokensPerSegment',
  'audioContext',
  'initialPrompt',
  'carryInitialPrompt',
  'suppressBlank',
  'suppressNonSpeechTokens',
  'suppressRegex',
  'temperature',
  'temperatureIncrement',
  'entropyThreshold',
  'logprobThreshold',
  'noSpeechThreshold',
  'maxInitialTimestamp',
  'lengthPenalty',
  'tinydiarize',
  'vad',
  'signal',
  'onProgress',
  'onSegment',
  'wordTimestamps',
  'keepNonSpeech',
  'audio',
  'priority',
  'timeoutMs',
  'windowing',
]);

export interface ModelLimits {
  multilingual: boolean;
  nAudioCtx: number;
  /** Codes whisper.cpp knows, e.g. 'en'. */
  languages: ReadonlySet<string>;
  /** Threads for a job that names none. */
  defaultThreads: number;
  /** The model was loaded with word timestamps (whisper.cpp's DTW alignment heads). */
  wordTimestamps: boolean;
}

/** How the addon's result becomes the public Transcript: decided here, not by whisper.cpp. */
export interface ResultShaping {
  wordTimestamps: boolean;
  keepNonSpeech: boolean;
}

/**
 * Whether each native call's encoder context is fitted to its audio (`audioContext: 'auto'`):
 * not on a model with word timestamps, whose DTW needs the model's whole context.
 */
export function fitsAudioContext(input: unknown, limits: ModelLimits): boolean {
  return input !== null && typeof input === 'object' && (input as TranscribeOptions).audioContext === 'auto' && !limits.wordTimestamps;
}

/** The options that shape the result rather than the decoding (checked with the rest by resolveTranscribeOptions). */
export function resolveResultShaping(input: unknown, limits: ModelLimits): ResultShaping {
  const o = optionsObject('options', input);
  const wordTimestamps = pick(o, 'wordTimestamps', isBoolean, false);
  if (wordTimestamps && !limits.wordTimestamps) {
    throw invalidArgument('options.wordTimestamps', 'false, or a model loaded with loadModel(path, { wordTimestamps: true })', wordTimestamps);
  }
  return { wordTimestamps, keepNonSpeech: pick(o, 'keepNonSpeech', isBoolean, false) };
}

/**
 * The addon judges a suppressRegex (std::regex is what runs it, and JS RegExp disagrees with it:
 * lookbehind passes one and not the other), here before the job is counted or queued.
 */
function checkSuppressRegex(pattern: string): void {
  try {
    native().checkSuppressRegex(pattern);
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** Validates options against the model and fills every default. */
export function resolveTranscribeOptions(input: unknown, limits: ModelLimits): NativeTranscribeParams {
  const o = optionsObject('options', input);
  rejectUnknownKeys('options', o, TRANSCRIBE_KEYS);

  const language = pick(o, 'language', isString, 'auto').toLowerCase();
  if (language !== 'auto' && !limits.languages.has(language)) {
    throw invalidArgument('options.language', `'auto' or a language code whisper knows (e.g. 'en', 'de', 'ja')`, o.language);
  }
  if (!limits.multilingual && language !== 'auto' && language !== 'en') {
    throw invalidArgument('options.language', `'en' or 'auto' for this English-only model`, o.language);
  }
  const strategy = pick(
    o,
    'strategy',
    (name, v) => {
      if (v !== 'greedy' && v !== 'beam') throw invalidArgument(name, `'greedy' or 'beam'`, v);
      return v;
    },
    'greedy' as 'greedy' | 'beam',
  );
  const translate = pick(o, 'translate', isBoolean, false);
  if (translate && !limits.multilingual) {
    throw invalidArgument('options.translate', 'false for this English-only model (it cannot translate)', translate);
  }

  const vad = o.vad === undefined || o.vad === false ? undefined : optionsObject('options.vad', o.vad);
  let vadModelPath = '';
  if (vad) {
    rejectUnknownKeys(
      'options.vad',
      vad,
      new Set(['modelPath', 'threshold', 'minSpeechDurationMs', 'minSilenceDurationMs', 'maxSpeechDurationS', 'speechPadMs', 'samplesOverlap']),
    );
    vadModelPath = isString('options.vad.modelPath', vad.modelPath);
    if (vadModelPath.length === 0) throw invalidArgument('options.vad.modelPath', 'a path to a Silero VAD ggml model', vadModelPath);
  }
  const vadPick = <T>(key: string, check: Check<T>, fallback: T) => (vad ? pick(vad, key, check, fallback, 'options.vad.') : fallback);

  const audioContext = o.audioContext === 'auto' ? 0 : pick(o, 'audioContext', integerIn(0, limits.nAudioCtx), 0);
  if (audioContext !== 0 && audioContext < 64) {
    // Tiny encoder contexts break the conv/attention graph shapes.
    throw invalidArgument('options.audioContext', `0 (the model's ${limits.nAudioCtx}) or from 64 to ${limits.nAudioCtx}`, audioContext);
  }
  if (limits.wordTimestamps && audioContext !== 0 && audioContext !== limits.nAudioCtx) {
    // With alignment heads whisper_full runs DTW on every window, and it aborts the process when a
    // window has more frames than twice the encoder context.
    throw invalidArgument(
      'options.audioContext',
      `0 (the model's ${limits.nAudioCtx}) for a model loaded with wordTimestamps (whisper.cpp's DTW needs the whole context)`,
      audioContext,
    );
  }
  const suppressRegex = pick(o, 'suppressRegex', isString, '');
  if (suppressRegex) checkSuppressRegex(suppressRegex);
  for (const callback of ['onProgress', 'onSegment'] as const) {
    if (o[callback] !== undefined && typeof o[callback] !== 'function') {
      throw invalidArgument(`options.${callback}`, 'a function', o[callback]);
    }
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidArgument('options.signal', 'an AbortSignal', o.signal);
  }

  const temperature = pick(o, 'temperature', numberIn(0, 1), 0);
  const temperatureIncrement = pick(o, 'temperatureIncrement', numberIn(0, 1), 0.2);
  if (temperatureSteps(temperature, temperatureIncrement) > MAX_TEMPERATURE_STEPS) {
    throw invalidArgument(
      'options.temperatureIncrement',
      `0 or a step that reaches 1 from options.temperature in at most ${MAX_TEMPERATURE_STEPS} steps`,
      temperatureIncrement,
    );
  }
  const maxTextContext = pick(o, 'maxTextContext', integerIn(0, INT32_MAX), 16384);
  const initialPrompt = pick(o, 'initialPrompt', isString, '');
  const carryInitialPrompt = pick(o, 'carryInitialPrompt', isBoolean, false);
  if (carryInitialPrompt && initialPrompt !== '' && maxTextContext === 1) {
    // A budget of one token leaves the carried prompt -1 tokens: whisper_full then inserts a reversed range.
    throw invalidArgument('options.maxTextContext', '0 or at least 2 with options.carryInitialPrompt', maxTextContext);
  }

  return {
    strategy,
    bestOf: pick(o, 'bestOf', integerIn(1, MAX_DECODERS), 5),
    beamSize: pick(o, 'beamSize', integerIn(1, MAX_DECODERS), 5),
    threads: pick(o, 'threads', integerIn(1, 256), limits.defaultThreads),
    maxTextContext,
    offsetMs: pick(o, 'offsetMs', integerIn(0, INT32_MAX), 0),
    durationMs: pick(o, 'durationMs', integerIn(0, INT32_MAX), 0),
    translate,
    noContext: pick(o, 'noContext', isBoolean, true),
    noTimestamps: pick(o, 'noTimestamps', isBoolean, false),
    singleSegment: pick(o, 'singleSegment', isBoolean, false),
    tokenTimestamps: pick(o, 'tokenTimestamps', isBoolean, false),
    tokenTimestampThreshold: pick(o, 'tokenTimestampThreshold', numberIn(0, 1), 0.01),
    tokenTimestampSumThreshold: pick(o, 'tokenTimestampSumThreshold', numberIn(0, 1), 0.01),
    maxSegmentLength: pick(o, 'maxSegmentLength', integerIn(0, INT32_MAX), 0),
    splitOnWord: pick(o, 'splitOnWord', isBoolean, false),
    maxTokensPerSegment: pick(o, 'maxTokensPerSegment', integerIn(0, INT32_MAX), 0),
    audioContext,
    tinydiarize: pick(o, 'tinydiarize', isBoolean, false),
    suppressRegex,
    initialPrompt,
    carryInitialPrompt,
    language,
    detectLanguage: pick(o, 'detectLanguage', isBoolean, false),
    suppressBlank: pick(o, 'suppressBlank', isBoolean, true),
    suppressNonSpeechTokens: pick(o, 'suppressNonSpeechTokens', isBoolean, false),
    temperature,
    maxInitialTimestamp: pick(o, 'maxInitialTimestamp', numberIn(0, 30), 1),
    lengthPenalty: pick(o, 'lengthPenalty', numberIn(-1, 1), -1),
    temperatureIncrement,
    entropyThreshold: pick(o, 'entropyThreshold', numberIn(0, 100), 2.4),
    logprobThreshold: pick(o, 'logprobThreshold', numberIn(-100, 0), -1),
    noSpeechThreshold: pick(o, 'noSpeechThreshold', numberIn(0, 1), 0.6),
    vad: vad !== undefined,
    vadModelPath,
    vadThreshold: vadPick('threshold', numberIn(0, 1), 0.5),
    vadMinSpeechDurationMs: vadPick('minSpeechDurationMs', integerIn(0, MAX_VAD_MS), 250),
    vadMinSilenceDurationMs: vadPick('minSilenceDurationMs', integerIn(0, MAX_VAD_MS), 100),
    vadMaxSpeechDurationS: vadPick('maxSpeechDurationS', numberIn(0.1, FLT_MAX), FLT_MAX),
    vadSpeechPadMs: vadPick('speechPadMs', integerIn(0, MAX_VAD_MS), 30),
    vadSamplesOverlap: vadPick('samplesOverlap', numberIn(0, 10), 0.1),
  };
}

/** The most states one model may run at once. */
export const MAX_CONCURRENCY = 64;

export function resolveLoadOptions(input: unknown): ResolvedLoadOptions {
  const o = optionsObject('options', input);
  rejectUnknownKeys(
    'options',
    o,
    new Set(['gpu', 'gpuDevice', 'flashAttention', 'concurrency', 'maxQueue', 'memoryBudget', 'wordTimestamps', 'download', 'modelsDir', 'onDownloadProgress', 'signal']),
  );
  const concurrency = pick<number | 'auto'>(
    o,
    'concurrency',
    (name, v) => {
      if (v === 'auto') return v;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CONCURRENCY) {
        throw invalidArgument(name, `'auto' or an integer from 1 to ${MAX_CONCURRENCY}`, v);
      }
      return v;
    },
    1,
  );
  const memoryBudget = pick(o, 'memoryBudget', integerIn(1, Number.MAX_SAFE_INTEGER), 0);
  if (memoryBudget > 0 && concurrency !== 'auto') {
    throw invalidArgument('options.memoryBudget', `to be given only with concurrency 'auto' (concurrency is ${concurrency})`, memoryBudget);
  }
  const alignmentHeads = pick<AlignmentHeadsPreset | 'auto' | ''>(
    o,
    'wordTimestamps',
    (name, v) => {
      if (v === true) return 'auto';
      if (v === false) return '';
      if (typeof v === 'string' && (ALIGNMENT_HEADS_PRESETS as readonly string[]).includes(v)) return v as AlignmentHeadsPreset;
      throw invalidArgument(name, `a boolean or an alignment-heads preset (${ALIGNMENT_HEADS_PRESETS.map((p) => `'${p}'`).join(', ')})`, v);
    },
    '',
  );
  if (alignmentHeads !== '' && o.flashAttention === true) {
    throw invalidArgument(
      'options.flashAttention',
      'false or unset with options.wordTimestamps (whisper.cpp cannot align tokens with flash attention)',
      o.flashAttention,
    );
  }
  const modelsDir = pick(o, 'modelsDir', isString, '');
  if (o.modelsDir !== undefined && modelsDir === '') throw invalidArgument('options.modelsDir', 'a directory path', o.modelsDir);
  if (o.onDownloadProgress !== undefined && typeof o.onDownloadProgress !== 'function') {
    throw invalidArgument('options.onDownloadProgress', 'a function', o.onDownloadProgress);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgument('options.signal', 'an AbortSignal', o.signal);
  return {
    gpu: pick(o, 'gpu', isBoolean, true),
    gpuDevice: pick(o, 'gpuDevice', integerIn(0, 64), 0),
    flashAttention: alignmentHeads === '' && pick(o, 'flashAttention', isBoolean, true),
    alignmentHeads,
    download: pick<boolean | 'auto'>(
      o,
      'download',
      (name, v) => {
        if (v === true || v === false || v === 'auto') return v;
        throw invalidArgument(name, `true, false or 'auto'`, v);
      },
      false,
    ),
    modelsDir,
    onDownloadProgress: o.onDownloadProgress as ((progress: DownloadProgress) => void) | undefined,
    signal: o.signal as AbortSignal | undefined,
    concurrency,
    maxQueue: pick(
      o,
      'maxQueue',
      (name, v) => {
        if (v === Number.POSITIVE_INFINITY) return v;
        return integerIn(0, Number.MAX_SAFE_INTEGER)(name, v);
      },
      Number.POSITIVE_INFINITY,
    ),
    memoryBudget,
  };
}

export interface JobOptions {
  priority: number;
  /** Infinity when the job has no deadline. */
  timeoutMs: number;
  windowing: Windowing;
}

/** The options that steer a job through the model's queue rather than through whisper. */
export function resolveJobOptions(input: unknown): JobOptions {
  const o = optionsObject('options', input);
  return {
    priority: pick(
      o,
      'priority',
      (name, v) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(name, 'a finite number', v);
        return v;
      },
      0,
    ),
    // setTimeout's own ceiling (2^31-1 ms) ends the range: beyond it Node fires at once.
    timeoutMs: pick(o, 'timeoutMs', integerIn(1, INT32_MAX), Number.POSITIVE_INFINITY),
    windowing: resolveWindowing(o),
  };
}

function resolveWindowing(o: Record<string, unknown>): Windowing {
  const windowing = pick(o, 'windowing', oneOf<Windowing>(['sequential', 'parallel']), 'sequential');
  if (windowing === 'parallel' && (o.vad === undefined || o.vad === false)) {
    throw invalidArgument('options.windowing', "'sequential', or 'parallel' together with options.vad (parallel windows are cut by Silero VAD)", windowing);
  }
  return windowing;
}
