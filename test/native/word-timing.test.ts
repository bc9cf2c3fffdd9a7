/**
 * Word timestamps against speech with known timings (scripts/make-timed-speech.mjs: espeak-ng
 * sentences joined by sox with known silences), on the real converted base model loaded with
 * `wordTimestamps: true` (whisper.cpp's DTW with base's alignment heads).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Transcript, type WhisperModel } from '../../lib';
import { wordsFromTokens, type Word } from '../../lib/transcription/words';
import { realModels } from '../support/real-models';
import { timedSpeech, type TimedSentence } from '../support/timed-speech';

const THREADS = 2;
/** The bound: each sentence's first word starts within 0.3 s of its known start. */
const MAX_START_ERROR_MS = 300;

/** A word's first four letters, lower case: enough to find it when the model got its ending wrong ("Mountain" for "Mountains"). */
const stem = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '')
    .slice(0, 4);

/** Each sentence's first word among the words in order: the first not yet used that starts as it. */
function firstWordsOf(words: readonly Word[], sentences: readonly TimedSentence[]): (Word | undefined)[] {
  let from = 0;
  return sentences.map((sentence) => {
    const wanted = stem(sentence.firstWord);
    const index = words.findIndex((word, i) => i >= from && stem(word.text) === wanted);
    if (index < 0) return undefined;
    from = index + 1;
    return words[index];
  });
}

describe('word timestamps on speech with known timings (real base f16, DTW)', () => {
  const speech = timedSpeech();
  let model: WhisperModel;
  let transcript: Transcript;

  beforeAll(async () => {
    model = await loadModel(realModels().models.base.files.f16.path, { gpu: false, wordTimestamps: true });
    transcript = await model.transcribe(speech.wav, { language: 'en', threads: THREADS, wordTimestamps: true });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('times every text token with DTW, and gives every segment its words', () => {
    expect(transcript.segments.length).toBeGreaterThan(0);
    for (const segment of transcript.segments) {
      for (const token of segment.tokens) if (!token.special) expect(token.dtwMs, `${JSON.stringify(token.text)} in ${segment.text}`).toBeTypeOf('number');
      expect(segment.words, segment.text).toBeDefined();
      expect(segment.words).toEqual(wordsFromTokens(segment.tokens, segment));
      // nothing of the text is lost or added
      expect(segment.words?.map((word) => word.text).join('')).toBe(segment.text);
    }
  });

  it(`starts each sentence's first word within ${MAX_START_ERROR_MS} ms of its known start`, () => {
    const words = transcript.segments.flatMap((segment) => segment.words ?? []);
    const found = firstWordsOf(words, speech.sentences);
    const report = speech.sentences.map((sentence, i) => {
      const word = found[i];
      return {
        sentence: sentence.text,
        knownStartMs: sentence.startMs,
        word: word?.text,
        startMs: word?.startMs,
        errorMs: word === undefined ? undefined : word.startMs - sentence.startMs,
      };
    });
    const detail = `${JSON.stringify(report, null, 1)}\ntranscript: ${transcript.text}`;
    for (const row of report) {
      expect(row.word, `the first word of "${row.sentence}" was not found\n${detail}`).toBeDefined();
      expect(Math.abs(row.errorMs ?? Infinity), detail).toBeLessThanOrEqual(MAX_START_ERROR_MS);
    }
  });

  it('keeps words in order, inside their segment, not overlapping, each ending no earlier than it starts', () => {
    let previousStart = -Infinity;
    for (const segment of transcript.segments) {
      const words = segment.words ?? [];
      words.slice(1).forEach((word, i) => expect(word.startMs, word.text).toBeGreaterThanOrEqual(words[i]?.endMs ?? Infinity));
      expect(words.length, segment.text).toBeGreaterThan(0);
      for (const word of words) {
        expect(word.startMs, `${word.text} in ${segment.text}`).toBeGreaterThanOrEqual(segment.startMs);
        expect(word.endMs, `${word.text} in ${segment.text}`).toBeLessThanOrEqual(segment.endMs);
        expect(word.endMs).toBeGreaterThanOrEqual(word.startMs);
        expect(word.startMs).toBeGreaterThanOrEqual(previousStart);
        expect(word.probability).toBeGreaterThan(0);
        expect(word.probability).toBeLessThanOrEqual(1);
        previousStart = word.startMs;
      }
    }
  });

  it('gives Chinese words whole characters where whisper split them over tokens', async () => {
    // espeak-ng's Mandarin is far from what whisper heard in training, so the text is not the
    // sentence said; what matters is that base writes Han characters split over tokens for it.
    // No temperature fallback: on this clip the ladder would decode window after window at random.
    const chinese = await model.transcribe(speech.mandarin.wav, { language: 'zh', threads: THREADS, wordTimestamps: true, temperatureIncrement: 0 });
    const tokens = chinese.segments.flatMap((segment) => segment.tokens);
    expect(
      tokens.some((token) => token.text.includes('\uFFFD')),
      'no token holds part of a character: the check below would test nothing',
    ).toBe(true);
    for (const segment of chinese.segments) {
      const words = segment.words ?? [];
      expect(words.map((word) => word.text).join('')).toBe(segment.text);
      if (!segment.text.includes('\uFFFD')) for (const word of words) expect(word.text, segment.text).not.toContain('\uFFFD');
    }
    expect(chinese.segments.flatMap((segment) => segment.words ?? []).some((word) => /\p{Script=Han}/u.test(word.text))).toBe(true);
  });
});
