/** The public result types, and their shaping from what the addon returns. */
import type { NativeSegment, NativeTranscript } from '../native/native-api';
import type { ResultShaping } from './options';
import { dropNonSpeech } from './silence';
import { wordsFromTokens, type Word } from './words';

export interface Token {
  id: number;
  /** The token's text; special tokens look like `[_BEG_]` or `[_TT_150]`. */
  text: string;
  probability: number;
  logProbability: number;
  /**
   * whisper.cpp's timestamp probabilities at this step, from which token timestamps are derived:
   * `timestampProbabilitySum` (its `ptsum`) is the probability mass on all timestamp tokens, and
   * `timestampProbability` (`pt`) is the most likely timestamp's share of that mass, or for a
   * timestamp token its own probability.
   */
  timestampProbability: number;
  timestampProbabilitySum: number;
  /** Present when `tokenTimestamps` (or `maxSegmentLength`) was set. */
  startMs?: number;
  endMs?: number;
  /** Where DTW aligned this token; present when the model was loaded with `wordTimestamps`. */
  dtwMs?: number;
  /** End-of-text, timestamp and other control tokens. */
  special: boolean;
}

export interface Segment {
  index: number;
  /** Absolute position in the input audio. */
  startMs: number;
  endMs: number;
  text: string;
  noSpeechProbability: number;
  /** tinydiarize: the speaker changes after this segment. */
  speakerTurnNext: boolean;
  /** The sampling temperature that produced this segment: 0, or higher after whisper's fallback. */
  temperature: number;
  /** Start of the 30 s window this segment was decoded in (OpenAI's `seek`, in ms). */
  windowStartMs: number;
  tokens: Token[];
  /** Present with `wordTimestamps: true`. */
  words?: Word[];
}

export interface Transcript {
  /** All segment texts joined, trimmed. */
  text: string;
  segments: Segment[];
  /** The language decoded in: as given, or as detected. */
  language: string;
  /** Present when the language was detected. */
  languageProbability?: number;
  /** Length of the input audio. */
  audioDurationMs: number;
  timings: {
    /** Decoding the input (WAV parsing, resampling). */
    audioMs: number;
    /** Waiting for a free state. */
    queueMs: number;
    /** whisper.cpp's work, language detection included. */
    inferenceMs: number;
    languageDetectionMs: number;
    /** How many 30 s encoder windows ran. */
    encoderRuns: number;
  };
}

export function toSegment(native: NativeSegment, shaping: ResultShaping): Segment {
  const segment: Segment = {
    index: native.index,
    startMs: native.startMs,
    endMs: native.endMs,
    text: native.text,
    noSpeechProbability: native.noSpeechProbability,
    speakerTurnNext: native.speakerTurnNext,
    temperature: native.temperature,
    windowStartMs: native.windowStartMs,
    tokens: native.tokens.map((t) => ({
      id: t.id,
      text: t.text,
      probability: t.probability,
      logProbability: t.logProbability,
      timestampProbability: t.timestampProbability,
      timestampProbabilitySum: t.timestampProbabilitySum,
      ...(t.startMs >= 0 && t.endMs >= 0 ? { startMs: t.startMs, endMs: t.endMs } : {}),
      ...(t.dtwMs >= 0 ? { dtwMs: t.dtwMs } : {}),
      special: t.special,
    })),
  };
  if (shaping.wordTimestamps) segment.words = wordsFromTokens(segment.tokens, segment);
  return segment;
}

/** A transcript's text: its segments' texts joined, trimmed. */
export function transcriptText(segments: readonly Segment[]): string {
  return segments
    .map((s) => s.text)
    .join('')
    .trim();
}

export function toTranscript(
  native: NativeTranscript,
  context: { audioSamples: number; sampleRate: number; audioMs: number; queueMs: number },
  shaping: ResultShaping,
): Transcript {
  const all = native.segments.map((segment) => toSegment(segment, shaping));
  const segments = shaping.keepNonSpeech ? all : dropNonSpeech(all);
  return {
    text: transcriptText(segments),
    segments,
    language: native.language,
    ...(native.languageProbability >= 0 ? { languageProbability: native.languageProbability } : {}),
    audioDurationMs: Math.round((context.audioSamples / context.sampleRate) * 1000),
    timings: {
      audioMs: context.audioMs,
      queueMs: context.queueMs,
      inferenceMs: native.timings.totalMs,
      languageDetectionMs: native.timings.languageDetectionMs,
      encoderRuns: native.timings.encoderRuns,
    },
  };
}
