/**
 * The transcribe options a queued job may carry: an allow-list of decoding and result options,
 * each with its own bounds. Job data comes from Redis, written by producers the worker need
 * not trust, so nothing here names a file, a program or an amount of the worker's resources:
 * the ffmpeg path, the VAD model, audio limits and threads come only from the worker's own
 * configuration. Every key of TranscribeOptions is either checked here or refused with a
 * reason (both tables are typed against TranscribeOptions, so a new option cannot slip
 * through unnoticed). Pure: no Redis, no model.
 */
import { INT32_MAX, integerIn, isBoolean, numberIn, oneOf, type Check } from '../errors/validate';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import type { AudioOptions } from '../audio/pcm';
import type { TranscribeOptions, VadOptions } from '../transcription/options';
import { describeKey } from './safe-text';

/** The longest initialPrompt a job may carry, in characters. Whisper keeps at most 224 tokens of it (about 1000 characters) anyway. */
export const MAX_JOB_PROMPT_CHARS = 4096;

/** Decoding and result options a job may set, as TranscribeOptions has them. */
export type JobDecodingKey =
  | 'language'
  | 'translate'
  | 'detectLanguage'
  | 'strategy'
  | 'bestOf'
  | 'beamSize'
  | 'offsetMs'
  | 'durationMs'
  | 'maxTextContext'
  | 'noTimestamps'
  | 'singleSegment'
  | 'tokenTimestamps'
  | 'tokenTimestampThreshold'
  | 'tokenTimestampSumThreshold'
  | 'maxSegmentLength'
  | 'splitOnWord'
  | 'maxTokensPerSegment'
  | 'audioContext'
  | 'initialPrompt'
  | 'carryInitialPrompt'
  | 'suppressBlank'
  | 'suppressNonSpeechTokens'
  | 'temperature'
  | 'temperatureIncrement'
  | 'entropyThreshold'
  | 'logprobThreshold'
  | 'noSpeechThreshold'
  | 'maxInitialTimestamp'
  | 'lengthPenalty'
  | 'tinydiarize'
  | 'wordTimestamps'
  | 'keepNonSpeech'
  | 'timeoutMs'
  | 'windowing';

/** A job's VAD settings: the worker's VAD model (its `vadModel`), tuned. No model path: that is the worker's. */
export type QueueVadOptions = Omit<VadOptions, 'modelPath'>;

/** A job's audio options: only which channel. The ffmpeg path and its timeout, and the input limit, are the worker's. */
export type QueueAudioOptions = Pick<AudioOptions, 'channel'>;

/** The transcribe options a job can carry (see the file comment for what is left out and why). */
export type QueueTranscribeOptions = Pick<TranscribeOptions, JobDecodingKey> & {
  /** true: the worker's VAD model with its settings; an object: those settings changed; false: no VAD. Needs a worker with `vadModel`. */
  vad?: boolean | QueueVadOptions;
  audio?: QueueAudioOptions;
};

type Checks<T> = { [K in keyof T]-?: Check<Exclude<T[K], undefined>> };

function stringUpTo(max: number, what: string): Check<string> {
  return (name, value) => {
    if (typeof value !== 'string' || value.length > max) throw invalidArgument(name, `${what} (a string of at most ${max} characters)`, value);
    return value;
  };
}

/** VAD settings, bounded as resolveTranscribeOptions bounds them. */
const VAD_CHECKS = {
  threshold: numberIn(0, 1),
  minSpeechDurationMs: integerIn(0, 134_217),
  minSilenceDurationMs: integerIn(0, 134_217),
  maxSpeechDurationS: numberIn(0.1, 86_400),
  speechPadMs: integerIn(0, 134_217),
  samplesOverlap: numberIn(0, 10),
} satisfies Checks<QueueVadOptions>;

const AUDIO_CHECKS = {
  channel: (name: string, value: unknown) => (value === 'mix' ? value : integerIn(0, 65_535)(name, value)),
} satisfies Checks<QueueAudioOptions>;

/**
 * Options a queued job may not carry, each with what to do instead. Typed so that every key of
 * TranscribeOptions is either here or allowed.
 */
const REFUSED_OPTIONS: Record<Exclude<keyof TranscribeOptions, keyof QueueTranscribeOptions>, string> = {
  signal: 'cancel the job instead (cancelTranscription)',
  onProgress: "the worker reports progress with job.updateProgress (the queue's 'progress' event)",
  onSegment: 'the segments are in the result',
  priority: "pass the job's priority to enqueueTranscription",
  threads: "the worker's --threads (transcribeDefaults.threads) decides the threads",
  noContext: "every job starts without another job's text (noContext false would prompt it with the text of whichever job ran before on the same state)",
  suppressRegex: "set by the worker's transcribeDefaults only (a pattern std::regex compiles and runs can stall or crash the worker)",
};

/** What `vad` and `audio` may not carry, with what to do instead. */
const REFUSED_NESTED: Readonly<Record<string, string>> = {
  'vad.modelPath': "the worker's VAD model is its own (--vad, vadModel); send vad: true or the VAD settings",
  'audio.ffmpegPath': "ffmpeg is the worker's own (transcribeDefaults.audio.ffmpegPath, $WHISPER_NAPI_FFMPEG)",
  'audio.ffmpegTimeoutMs': "set by the worker's transcribeDefaults only",
  'audio.maxInputBytes': "the worker's limits apply (transcribeDefaults.audio.maxInputBytes, maxUrlBytes)",
};

const OPTION_CHECKS = {
  language: stringUpTo(16, "'auto' or a language code"),
  translate: isBoolean,
  detectLanguage: isBoolean,
  strategy: oneOf(['greedy', 'beam']),
  bestOf: integerIn(1, 8),
  beamSize: integerIn(1, 8),
  offsetMs: integerIn(0, INT32_MAX),
  durationMs: integerIn(0, INT32_MAX),
  maxTextContext: integerIn(0, INT32_MAX),
  noTimestamps: isBoolean,
  singleSegment: isBoolean,
  tokenTimestamps: isBoolean,
  tokenTimestampThreshold: numberIn(0, 1),
  tokenTimestampSumThreshold: numberIn(0, 1),
  maxSegmentLength: integerIn(0, INT32_MAX),
  splitOnWord: isBoolean,
  maxTokensPerSegment: integerIn(0, INT32_MAX),
  audioContext: (name, value) => (value === 'auto' ? value : integerIn(0, 65_536)(name, value)),
  initialPrompt: stringUpTo(MAX_JOB_PROMPT_CHARS, 'a prompt'),
  carryInitialPrompt: isBoolean,
  suppressBlank: isBoolean,
  suppressNonSpeechTokens: isBoolean,
  temperature: numberIn(0, 1),
  temperatureIncrement: numberIn(0, 1),
  entropyThreshold: numberIn(0, 100),
  logprobThreshold: numberIn(-100, 0),
  noSpeechThreshold: numberIn(0, 1),
  maxInitialTimestamp: numberIn(0, 30),
  lengthPenalty: numberIn(-1, 1),
  tinydiarize: isBoolean,
  wordTimestamps: isBoolean,
  keepNonSpeech: isBoolean,
  timeoutMs: integerIn(1, INT32_MAX),
  windowing: oneOf(['sequential', 'parallel']),
  vad: (name, value) => (typeof value === 'boolean' ? value : checkedTable(name, value, VAD_CHECKS, 'vad')),
  audio: (name, value) => checkedTable(name, value, AUDIO_CHECKS, 'audio'),
} satisfies Checks<QueueTranscribeOptions>;

/** @internal Every key of TranscribeOptions the allow-list decides on, allowed or refused (for the hostile-input suite). */
export const JOB_OPTION_KEYS: readonly string[] = [...Object.keys(OPTION_CHECKS), ...Object.keys(REFUSED_OPTIONS)];

/**
 * A job's options checked against the allow-list: a new plain object holding only the allowed
 * keys, each within its bounds. INVALID_ARGUMENT names the first key that is refused or out of
 * bounds (`name.key`); a key that is not a short name is described, not quoted.
 */
export function checkJobOptions(name: string, value: unknown): QueueTranscribeOptions {
  const options = checkedTable(name, value, OPTION_CHECKS, '');
  // windowing 'parallel' is planned by Silero: say so here rather than on the worker.
  if (options.windowing === 'parallel' && (options.vad === undefined || options.vad === false)) {
    throw invalidArgument(`${name}.windowing`, "'sequential', or 'parallel' together with vad (parallel windows are cut by Silero VAD)", options.windowing);
  }
  return options;
}

type Checked<T extends Record<string, Check<unknown>>> = { [K in keyof T]?: ReturnType<T[K]> };

/** `value` as a plain object whose own keys are all in `checks`, each checked; a fresh object is returned. */
export function checkedTable<T extends Record<string, Check<unknown>>>(name: string, value: unknown, checks: T, nested: string): Checked<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(name, 'an object', value);
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (!Object.hasOwn(checks, key)) throw refusedKey(name, key, nested, item);
    result[key] = checks[key]!(`${name}.${key}`, item);
  }
  return result as Checked<T>;
}

function refusedKey(name: string, key: string, nested: string, given: unknown): Error {
  const table: Readonly<Record<string, string>> = nested === '' ? REFUSED_OPTIONS : REFUSED_NESTED;
  const entry = nested === '' ? key : `${nested}.${key}`;
  if (Object.hasOwn(table, entry)) return invalidArgument(`${name}.${key}`, `no ${key} in a queued job (${table[entry]})`, given);
  return new WhisperError('INVALID_ARGUMENT', `${name}: expected only the options a queued job may carry, got ${describeKey(key)}`);
}
