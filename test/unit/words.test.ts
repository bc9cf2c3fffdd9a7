import { describe, expect, it } from 'vitest';
import type { Token } from '../../lib/transcription/transcript';
import { DEFAULT_MS_PER_LETTER, PAUSED_WORD_RATE_SHARE, wordsFromTokens, type Word } from '../../lib/transcription/words';

interface TokenTimes {
  dtwMs?: number;
  startMs?: number;
  endMs?: number;
  probability?: number;
  special?: boolean;
}

function tok(text: string, times: TokenTimes = {}): Token {
  const { probability = 0.9, special = false, ...rest } = times;
  return { id: 1, text, probability, logProbability: Math.log(probability), timestampProbability: 0, timestampProbabilitySum: 0, special, ...rest };
}

/** Tokens with DTW times 100 ms apart from `fromMs`, as a model loaded with wordTimestamps gives them. */
function dtwTokens(texts: readonly string[], fromMs = 0, stepMs = 100): Token[] {
  return texts.map((text, i) => tok(text, { dtwMs: fromMs + i * stepMs }));
}

/**
 * The token texts the addon reports for `text` cut into tokens at the given UTF-8 byte offsets:
 * each token's bytes decoded alone, so a split multi-byte character becomes U+FFFD on both sides.
 */
function byteSplit(text: string, cuts: readonly number[]): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const bounds = [0, ...cuts, bytes.length];
  return bounds.slice(0, -1).map((from, i) => new TextDecoder('utf-8').decode(bytes.subarray(from, bounds[i + 1])));
}

const SEGMENT = { startMs: 0, endMs: 10_000 };
const texts = (words: readonly Word[]) => words.map((word) => word.text);

describe('wordsFromTokens: text', () => {
  it('starts a word at each leading space and keeps trailing punctuation with the word before', () => {
    const tokens = dtwTokens([' And', ' so', ',', ' my', ' fellow', ' Americans', ',', ' ask', ' not', '.']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([' And', ' so,', ' my', ' fellow', ' Americans,', ' ask', ' not.']);
  });

  it('joins sub-word pieces and apostrophes into one word', () => {
    const tokens = dtwTokens([' don', "'t", ' I', "'m", ' un', 'believ', 'able', ' rock', "'n", "'", 'roll', ' well', '-', 'known']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([" don't", " I'm", ' unbelievable', " rock'n'roll", ' well-known']);
  });

  it('keeps numbers whole: digits, decimal points, thousands separators, currency and percent', () => {
    const tokens = dtwTokens([' In', ' 1', '9', '8', '4', ',', ' $', '5', ' is', ' 3', '.', '14', ' or', ' 1', ',', '000', ' or', ' 50', '%', '.']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([' In', ' 1984,', ' $5', ' is', ' 3.14', ' or', ' 1,000', ' or', ' 50%.']);
  });

  it('sticks an opening quote or bracket after a space to the word after, and the closing one to the word before', () => {
    const tokens = dtwTokens([' He', ' said', ' "', 'Hello', '."', ' (', 'yes', ')', ' and', " '", 'no', "'."]);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([' He', ' said', ' "Hello."', ' (yes)', ' and', " 'no'."]);
  });

  it('keeps French spaced punctuation with the word before, and elisions with the word', () => {
    const tokens = dtwTokens([' Qu', "'", 'est', '-', 'ce', ' que', ' c', "'est", ' ?', ' L', "'", 'homme', ' !', ' «', ' Oui', ' »']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([" Qu'est-ce", ' que', " c'est ?", " L'homme !", ' « Oui »']);
  });

  it('opens Spanish questions with ¿ on the word after', () => {
    const tokens = dtwTokens([' ¿', 'Qué', ' hora', ' es', '?', ' ¡', 'Vamos', '!']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([' ¿Qué', ' hora', ' es?', ' ¡Vamos!']);
  });

  it('makes each token a word in Chinese and Japanese, which have no spaces, with their punctuation', () => {
    const chinese = dtwTokens(['我们', '今天', '去', '北京', '，', '好', '吗', '？', '「', '是', '的', '」', '。']);
    expect(texts(wordsFromTokens(chinese, SEGMENT))).toEqual(['我们', '今天', '去', '北京，', '好', '吗？', '「是', '的」。']);
    const japanese = dtwTokens(['東京', 'タワー', 'に', '行き', 'ました', '。', '2', '0', '2', '4', '年']);
    expect(texts(wordsFromTokens(japanese, SEGMENT))).toEqual(['東京', 'タワー', 'に', '行き', 'ました。', '2024', '年']);
  });

  it('makes each Thai token a word', () => {
    const tokens = dtwTokens(['สวัสดี', 'ครับ', ' ผม', 'ชื่อ']);
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual(['สวัสดี', 'ครับ', ' ผม', 'ชื่อ']);
  });

  it('restores characters split over tokens from the segment text (German, Russian, Chinese, an emoji)', () => {
    const cases: { text: string; cuts: number[]; words: string[] }[] = [
      // ß is C3 9F: cut between its two bytes
      { text: ' Die Straße ist lang.', cuts: [4, 10, 12, 16], words: [' Die', ' Straße', ' ist', ' lang.'] },
      // Cyrillic letters are two bytes each: two cuts inside letters
      { text: ' Привет, мир!', cuts: [4, 13, 14, 16], words: [' Привет,', ' мир!'] },
      // 你 E4 BD A0, 好 E5 A5 BD: cuts inside both, one token holding the end of one and the start of the other
      { text: '你好世界。', cuts: [2, 4, 6, 12], words: ['你好', '世界。'] },
      // a four-byte emoji cut in the middle
      { text: ' I love 😀 so', cuts: [2, 7, 10, 12], words: [' I', ' love', ' 😀', ' so'] },
      // the same emoji over three tokens, the middle one a single continuation byte
      { text: ' I love 😀 so', cuts: [2, 7, 9, 10, 12], words: [' I', ' love', ' 😀', ' so'] },
      // ü (C3 BC) cut, then a token starting with a whole character
      { text: ' Müller über', cuts: [2, 3, 8], words: [' Müller', ' über'] },
    ];
    for (const { text, cuts, words } of cases) {
      const pieces = byteSplit(text, cuts);
      expect(pieces.join(''), 'the split leaves replacement characters to restore').toContain('\uFFFD');
      const tokens = dtwTokens(pieces);
      expect(texts(wordsFromTokens(tokens, { ...SEGMENT, text })), text).toEqual(words);
    }
  });

  it('without the segment text keeps the split character with its neighbours, as U+FFFD', () => {
    const pieces = byteSplit(' Die Straße ist', [4, 10, 12]);
    expect(texts(wordsFromTokens(dtwTokens(pieces), SEGMENT))).toEqual([' Die', ' Stra\uFFFD\uFFFDe', ' ist']);
  });

  it('keeps the tokens texts when the segment text does not match them', () => {
    const pieces = byteSplit(' Die Straße ist', [4, 10, 12]);
    const words = wordsFromTokens(dtwTokens(pieces), { ...SEGMENT, text: ' Something else entirely' });
    expect(texts(words)).toEqual([' Die', ' Stra\uFFFD\uFFFDe', ' ist']);
  });

  it('drops special tokens: flagged ones, [_BEG_], [_TT_…] and <|…|>', () => {
    const tokens = [
      tok('[_BEG_]', { dtwMs: 0 }),
      tok(' Hello', { dtwMs: 100 }),
      tok('<|endoftext|>', { dtwMs: 150 }),
      tok(' world', { dtwMs: 200 }),
      tok('[_SOT_]', { special: true }),
      tok('.', { dtwMs: 300 }),
      tok('[_TT_150]'),
    ];
    expect(texts(wordsFromTokens(tokens, SEGMENT))).toEqual([' Hello', ' world.']);
  });

  it('has no words for a segment of special tokens only, or no tokens', () => {
    expect(wordsFromTokens([], SEGMENT)).toEqual([]);
    expect(wordsFromTokens([tok('[_BEG_]'), tok('[_TT_500]')], SEGMENT)).toEqual([]);
  });

  it('keeps an opening quote at the very end, and a lone space, with the word before', () => {
    expect(texts(wordsFromTokens(dtwTokens([' Hello', ' "']), SEGMENT))).toEqual([' Hello "']);
    expect(texts(wordsFromTokens(dtwTokens([' Hello', ' ', ' world']), SEGMENT))).toEqual([' Hello', '  world']);
    expect(texts(wordsFromTokens(dtwTokens([' "']), SEGMENT))).toEqual([' "']);
  });

  it("joins back into the segment's text", () => {
    const text = ' He said "Hello." In 1984, don\'t you? ¿Qué?';
    const pieces = [' He', ' said', ' "', 'Hello', '."', ' In', ' 1', '9', '8', '4', ',', ' don', "'t", ' you', '?', ' ¿', 'Qué', '?'];
    expect(pieces.join('')).toBe(text);
    expect(texts(wordsFromTokens(dtwTokens(pieces), { ...SEGMENT, text })).join('')).toBe(text);
  });
});

describe('wordsFromTokens: times', () => {
  const spans = (words: readonly Word[]) => words.map(({ text, startMs, endMs }) => [text, startMs, endMs]);

  it("ends each word at its last spoken token's DTW time, which whisper.cpp puts at the token's end, and starts it where the token before ends", () => {
    const tokens = [
      tok(' Ask', { dtwMs: 1300 }),
      tok(' not', { dtwMs: 1500 }),
      tok(' un', { dtwMs: 1800 }),
      tok('wise', { dtwMs: 2000 }),
      tok('ly', { dtwMs: 2300 }),
      tok(',', { dtwMs: 2400 }),
      tok(' now', { dtwMs: 2700 }),
      tok('.', { dtwMs: 3900 }),
    ];
    // the segment's rate: the median of " not" (200 ms / 3 letters), " unwisely," (800 / 8) and " now." (300 / 3): 100 ms a letter
    expect(spans(wordsFromTokens(tokens, { startMs: 1000, endMs: 5000 }))).toEqual([
      [' Ask', 1300 - PAUSED_WORD_RATE_SHARE * 100 * 3, 1300],
      [' not', 1300, 1500],
      [' unwisely,', 1500, 2300],
      [' now.', 2400, 2700],
    ]);
  });

  it("starts a word after a sentence's end from its own length at the segment's rate, not in the silence before it", () => {
    const tokens = [tok(' Hi', { dtwMs: 500 }), tok('.', { dtwMs: 2000 }), tok(' Then', { dtwMs: 2600 }), tok(' go', { dtwMs: 2800 }), tok(' now', { dtwMs: 3000 })];
    // rate: the median of " go" (200 ms / 2) and " now" (200 ms / 3), taking the upper one: 100 ms a letter
    expect(spans(wordsFromTokens(tokens, { startMs: 0, endMs: 4000 }))).toEqual([
      [' Hi.', 500 - PAUSED_WORD_RATE_SHARE * 100 * 2, 500],
      [' Then', 2600 - PAUSED_WORD_RATE_SHARE * 100 * 4, 2600],
      [' go', 2600, 2800],
      [' now', 2800, 3000],
    ]);
    // but never before the token before it ends
    const close = [tok(' Hi', { dtwMs: 500 }), tok('.', { dtwMs: 2500 }), tok(' Then', { dtwMs: 2600 }), tok(' go', { dtwMs: 2800 }), tok(' now', { dtwMs: 3000 })];
    expect(wordsFromTokens(close, { startMs: 0, endMs: 4000 })[1]).toMatchObject({ text: ' Then', startMs: 2500, endMs: 2600 });
  });

  it(`takes ${DEFAULT_MS_PER_LETTER} ms a letter for a segment with no other word to measure`, () => {
    expect(spans(wordsFromTokens([tok(' Yes', { dtwMs: 1500 }), tok('.', { dtwMs: 2500 })], { startMs: 1000, endMs: 3000 }))).toEqual([
      [' Yes.', 1500 - PAUSED_WORD_RATE_SHARE * DEFAULT_MS_PER_LETTER * 3, 1500],
    ]);
  });

  it('clamps times into the segment and keeps words in order, none overlapping the next', () => {
    // DTW placed the first word before the segment, one token back in time, and the last past its end
    const tokens = [tok(' a', { dtwMs: 900 }), tok(' b', { dtwMs: 1600 }), tok(' c', { dtwMs: 1300 }), tok(' d', { dtwMs: 2500 })];
    const words = wordsFromTokens(tokens, { startMs: 1000, endMs: 2000 });
    expect(spans(words)).toEqual([
      [' a', 1000, 1000],
      [' b', 1000, 1600],
      [' c', 1600, 1600],
      [' d', 1600, 2000],
    ]);
    for (const word of words) expect(word.startMs).toBeLessThanOrEqual(word.endMs);
  });

  it('ends a word with a closing quote at its last spoken token, and starts the quoted word where the word before ends', () => {
    const words = wordsFromTokens([tok(' said', { dtwMs: 300 }), tok(' "', { dtwMs: 400 }), tok('Hi', { dtwMs: 480 }), tok('"', { dtwMs: 700 })], SEGMENT);
    // " said" is first: its end less its 4 letters at the rate of ' "Hi"' ((480 - 300) ms / 2 letters)
    expect(spans(words)).toEqual([
      [' said', 300 - PAUSED_WORD_RATE_SHARE * 90 * 4, 300],
      [' "Hi"', 300, 480],
    ]);
  });

  it('falls back to token timestamps without DTW: first token start, last token end, no later than the next word', () => {
    const tokens = [
      tok(' Hello', { startMs: 100, endMs: 450 }),
      tok(',', { startMs: 450, endMs: 520 }),
      tok(' wor', { startMs: 500, endMs: 700 }),
      tok('ld', { startMs: 700, endMs: 1100 }),
      tok(' again', { startMs: 1000, endMs: 3000 }),
    ];
    const words = wordsFromTokens(tokens, { startMs: 0, endMs: 2000 });
    expect(spans(words)).toEqual([
      [' Hello,', 100, 500],
      [' world', 500, 1000],
      [' again', 1000, 2000],
    ]);
  });

  it('prefers DTW times when tokens have both', () => {
    const tokens = [tok(' one', { dtwMs: 300, startMs: 0, endMs: 200 }), tok(' two', { dtwMs: 800, startMs: 200, endMs: 900 })];
    expect(wordsFromTokens(tokens, SEGMENT).map((word) => word.endMs)).toEqual([300, 800]);
  });

  it('has no words when the tokens carry no times (a model loaded without DTW, no token timestamps)', () => {
    expect(wordsFromTokens([tok(' Hello'), tok(' world')], SEGMENT)).toEqual([]);
    // one token without a DTW time: DTW was not run for this segment, and no token timestamps either
    expect(wordsFromTokens([tok(' Hello', { dtwMs: 100 }), tok(' world')], SEGMENT)).toEqual([]);
  });
});

describe('wordsFromTokens: probability', () => {
  it("is the mean of the word's tokens' probabilities, special tokens not counted", () => {
    const tokens = [
      tok('[_BEG_]', { probability: 0.01, special: true }),
      tok(' un', { dtwMs: 0, probability: 0.9 }),
      tok('believ', { dtwMs: 100, probability: 0.6 }),
      tok('able', { dtwMs: 200, probability: 0.3 }),
      tok('.', { dtwMs: 300, probability: 0.8 }),
      tok(' Yes', { dtwMs: 400, probability: 0.5 }),
    ];
    const words = wordsFromTokens(tokens, SEGMENT);
    expect(words).toHaveLength(2);
    expect(words[0].probability).toBeCloseTo((0.9 + 0.6 + 0.3 + 0.8) / 4, 10);
    expect(words[1].probability).toBeCloseTo(0.5, 10);
  });
});
