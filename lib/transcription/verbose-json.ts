/**
 * A Transcript in the shape of OpenAI's `verbose_json` transcription response (the openai
 * package's TranscriptionVerbose, with the `task` the service also returns), so code written
 * against OpenAI's API or its whisper package reads ours unchanged.
 */
import { isString, oneOf, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { invalidArgument } from '../errors/whisper-error';
import { languageName } from './languages';
import { averageLogProbability, compressionRatio } from './segment-measures';
import type { Segment, Token, Transcript } from './transcript';
import { checkedSegments, isTime } from './transcript-checks';

export type TranscriptionTask = 'transcribe' | 'translate';

export const TRANSCRIPTION_TASKS: readonly TranscriptionTask[] = Object.freeze(['transcribe', 'translate'] as const);

export interface VerboseJsonOptions {
  /** What the transcript was made with, which it does not record itself: 'translate' for `translate: true`. Default 'transcribe'. */
  task?: TranscriptionTask;
}

export interface VerboseJsonSegment {
  id: number;
  /** Start of the 30 s window the segment was decoded in, in 10 ms mel frames. */
  seek: number;
  /** Seconds. */
  start: number;
  end: number;
  /** As whisper wrote it, leading space included. */
  text: string;
  /** The ids of the segment's tokens, timestamp tokens included, end-of-text left out. */
  tokens: number[];
  temperature: number;
  /** The window's: every segment decoded in one window carries that window's value, as OpenAI's. */
  avg_logprob: number;
  /** The window's, as avg_logprob. */
  compression_ratio: number;
  no_speech_prob: number;
}

export interface VerboseJsonWord {
  /** The word without its leading space, punctuation kept. */
  word: string;
  start: number;
  end: number;
}

export interface VerboseJson {
  task: TranscriptionTask;
  /** The full English name, lowercase: "english". */
  language: string;
  /** Seconds of input audio. */
  duration: number;
  text: string;
  segments: VerboseJsonSegment[];
  /** Present when the segments carry words (`wordTimestamps: true`). */
  words?: VerboseJsonWord[];
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['task']);
const END_OF_TEXT = '[_EOT_]';

/** @internal Reads `task` from formatTranscript's options (which also hold the subtitle options). */
export function resolveTask(options: Record<string, unknown>): TranscriptionTask {
  return pick(options, 'task', oneOf(TRANSCRIPTION_TASKS), 'transcribe');
}

/**
 * The transcript as OpenAI's verbose_json object. Times become seconds, `seek` the window's
 * start in 10 ms frames; `avg_logprob` (averageLogProbability) and `compression_ratio`
 * (compressionRatio) are computed per 30 s window over the segments decoded in it, found by
 * their `windowStartMs`, and given to each of them, as OpenAI's transcribe() does. `words` is
 * there only when some segment has `words`. A segment without `temperature` or
 * `windowStartMs` (a transcript saved before they existed) reads as temperature 0 and a
 * window of its own starting where it starts.
 */
export function toVerboseJson(transcript: Transcript, options?: VerboseJsonOptions): VerboseJson {
  const o = optionsObject('options', options);
  rejectUnknownKeys('options', o, OPTION_KEYS);
  return verboseJson(transcript, resolveTask(o));
}

/** @internal toVerboseJson with the task already checked; the transcript is checked here. */
export function verboseJson(transcript: Transcript, task: TranscriptionTask): VerboseJson {
  const segments = checkedVerboseSegments(transcript);
  const { language, audioDurationMs, text } = transcript;
  isString('transcript.language', language);
  if (typeof audioDurationMs !== 'number' || !Number.isFinite(audioDurationMs) || audioDurationMs < 0) {
    throw invalidArgument('transcript.audioDurationMs', 'a finite number of milliseconds, 0 or more', audioDurationMs);
  }
  isString('transcript.text', text);

  const windows = windowMeasures(segments);
  const result: VerboseJson = {
    task,
    language: languageName(language),
    duration: seconds(audioDurationMs),
    text,
    segments: segments.map((segment, i) => ({
      id: i,
      seek: Math.round(windowStart(segment) / 10),
      start: seconds(segment.startMs),
      end: seconds(segment.endMs),
      text: segment.text,
      tokens: segment.tokens.filter((token) => token.text !== END_OF_TEXT).map((token) => token.id),
      temperature: segment.temperature ?? 0,
      avg_logprob: windows[i].averageLogProbability,
      compression_ratio: windows[i].compressionRatio,
      no_speech_prob: segment.noSpeechProbability,
    })),
  };
  if (segments.some((segment) => segment.words !== undefined)) {
    result.words = segments.flatMap((segment) =>
      (segment.words ?? []).map((word) => ({ word: word.text.trim(), start: seconds(word.startMs), end: seconds(word.endMs) })),
    );
  }
  return result;
}

function seconds(ms: number): number {
  return ms / 1000;
}

function windowStart(segment: Segment): number {
  return segment.windowStartMs ?? segment.startMs;
}

interface WindowMeasures {
  averageLogProbability: number;
  compressionRatio: number;
}

/** Each segment's window measures: consecutive segments with one windowStartMs were decoded together. */
function windowMeasures(segments: readonly Segment[]): WindowMeasures[] {
  const measures: WindowMeasures[] = [];
  let first = 0;
  while (first < segments.length) {
    let end = first + 1;
    if (segments[first].windowStartMs !== undefined) {
      while (end < segments.length && segments[end].windowStartMs === segments[first].windowStartMs) end++;
    }
    const window = segments.slice(first, end);
    const value: WindowMeasures = {
      averageLogProbability: averageLogProbability({ tokens: window.flatMap((segment) => segment.tokens) }),
      compressionRatio: compressionRatio(window.map((segment) => segment.text).join('')),
    };
    for (let i = first; i < end; i++) measures.push(value);
    first = end;
  }
  return measures;
}

/** The transcript's segments with every field verbose_json reads checked. */
function checkedVerboseSegments(transcript: unknown): Segment[] {
  return checkedSegments(transcript, (name, s) => {
    if (s.windowStartMs !== undefined && !isTime(s.windowStartMs)) {
      throw invalidArgument(`${name}.windowStartMs`, 'a finite number of milliseconds, 0 or more, or unset', s.windowStartMs);
    }
    if (!isProbability(s.noSpeechProbability)) throw invalidArgument(`${name}.noSpeechProbability`, 'a probability from 0 to 1', s.noSpeechProbability);
    if (s.temperature !== undefined && !(typeof s.temperature === 'number' && Number.isFinite(s.temperature) && s.temperature >= 0)) {
      throw invalidArgument(`${name}.temperature`, 'a finite number, 0 or more, or unset', s.temperature);
    }
    if (!Array.isArray(s.tokens)) throw invalidArgument(`${name}.tokens`, 'an array of tokens', s.tokens);
    (s.tokens as unknown[]).forEach((token, j) => checkToken(`${name}.tokens[${j}]`, token));
    if (s.words !== undefined) {
      if (!Array.isArray(s.words)) throw invalidArgument(`${name}.words`, 'an array of words, or unset', s.words);
      (s.words as unknown[]).forEach((word, j) => checkWord(`${name}.words[${j}]`, word));
    }
  });
}

function checkToken(name: string, token: unknown): void {
  if (token === null || typeof token !== 'object') throw invalidArgument(name, 'a token object', token);
  const { id, text, logProbability } = token as Partial<Token>;
  if (!Number.isInteger(id) || (id as number) < 0) throw invalidArgument(`${name}.id`, 'a token id (an integer, 0 or more)', id);
  if (typeof text !== 'string') throw invalidArgument(`${name}.text`, 'a string', text);
  if (typeof logProbability !== 'number' || Number.isNaN(logProbability) || logProbability > 0) {
    throw invalidArgument(`${name}.logProbability`, 'a log-probability (a number, 0 or less)', logProbability);
  }
}

function checkWord(name: string, word: unknown): void {
  if (word === null || typeof word !== 'object') throw invalidArgument(name, 'a word object', word);
  const w = word as Record<string, unknown>;
  if (typeof w.text !== 'string') throw invalidArgument(`${name}.text`, 'a string', w.text);
  for (const key of ['startMs', 'endMs']) {
    if (!isTime(w[key])) throw invalidArgument(`${name}.${key}`, 'a finite number of milliseconds, 0 or more', w[key]);
  }
}

function isProbability(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= 1;
}
