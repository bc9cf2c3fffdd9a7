/** Words from a segment's tokens, timed by DTW. */
import type { Token } from './transcript';

export interface Word {
  /** The word as whisper wrote it, with its leading space and punctuation. */
  text: string;
  startMs: number;
  endMs: number;
  /** The mean probability of the word's tokens. */
  probability: number;
}

/**
 * How long a word after a pause is taken to last, as a share of the time its letters take at the
 * segment's speaking rate. whisper.cpp times a token where its DTW path moves on to the next one,
 * its end, so a word after a pause has no start of its own: the token before it ends somewhere in
 * the silence. 0.75 was chosen on scripts/make-timed-speech.mjs's sentences (espeak-ng at 150
 * words a minute): a word's measured span includes the move to the next word, so the letters of a
 * word alone take less than the rate says. BENCHMARKS.md has the errors.
 */
export const PAUSED_WORD_RATE_SHARE = 0.75;
/** Milliseconds per letter when a segment has no other word to measure its rate by: about 150 words a minute. */
export const DEFAULT_MS_PER_LETTER = 80;

/** Said after a word without a space before it in most languages; merged into the word before (" ?" in French too). */
const CLOSING_PUNCTUATION = new Set([...'.,!?:;)]}"\'”’»…。，、！？：；」』）】〉》']);
/** Said before a word; a piece of only these after a space is merged into the word after. */
const OPENING_PUNCTUATION = new Set([...'"\'“‘¿¡([{«「『（【〈《-']);
/** Openers that cannot be closers either, so they open a word even without a space before them (Chinese quotes). */
const UNAMBIGUOUS_OPENERS = new Set([...'¿¡([{«「『（【〈《']);
/**
 * Scripts written without spaces between words: each token that starts or follows such a character
 * is a word of its own, as OpenAI's Whisper splits Chinese, Japanese, Thai, Lao and Burmese.
 */
const UNSPACED_SCRIPT = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Khmer}]/u;
/** The same, or CJK punctuation and full-width forms (after "。" a number starts a word too). */
const UNSPACED_SCRIPT_AT_END =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Khmer}\u3000-\u303F\uFF00-\uFFEF]$/u;
/** Ends a sentence, so the next word follows a pause; closing quotes or brackets may follow the mark. */
const SENTENCE_END = /[.!?…。！？]["'”’»)\]」』）]*$/u;
const PUNCTUATION_ONLY = /^[\s\p{P}]*$/u;
const SPECIAL_TEXT = /^(\[_[A-Z0-9_]*\]|<\|[^|]*\|>)$/;
/** What a token's text holds where whisper split a multi-byte UTF-8 character over tokens (the addon decodes each token's bytes alone). */
const REPLACEMENT = '\uFFFD';

/** Tokens whose texts together are whole characters. */
interface Piece {
  text: string;
  tokens: Token[];
}

interface WordInProgress {
  text: string;
  tokens: Token[];
  /** Only leading punctuation or space so far: the next piece belongs to it whatever it is. */
  open: boolean;
}

/**
 * A segment's words, from its tokens as whisper.cpp wrote them:
 * - **Text:** a token whose text starts with whitespace starts a word; one without joins the word
 *   before (" don" + "'t", " 19" + "84", " 3" + "." + "14"). A piece of only closing punctuation
 *   joins the word before even after a space (French " ?"); a piece of only opening punctuation
 *   after a space (an opening quote, " ¿", " (") joins the word after. In Chinese, Japanese, Thai,
 *   Lao, Burmese and Khmer, written without spaces, every token that starts or follows such a
 *   character starts a word. Special tokens (`special`, `[_BEG_]`, `[_TT_150]`, `<|en|>`) are
 *   dropped. Tokens holding part of a multi-byte character (U+FFFD, as the addon decodes each
 *   token alone) stay with their neighbours, and when `segment.text` is given the word's text is
 *   taken from it, so the characters are whole again. The words' texts joined are the tokens'
 *   (and so the segment's text).
 * - **Times:** with DTW (`dtwMs` on every text token, a model loaded with `wordTimestamps`),
 *   where whisper.cpp puts a token's `dtwMs` at its end (its DTW path moving on to the next
 *   token): a word ends at the `dtwMs` of its last token that is not punctuation, and starts where
 *   the token before it ends. A word after a pause (the segment's first word, or one after a
 *   sentence's end) starts no earlier than its end less `PAUSED_WORD_RATE_SHARE` of the
 *   time its letters take at the segment's rate (the median of its other words' milliseconds per
 *   letter, or `DEFAULT_MS_PER_LETTER`). Without DTW but with token timestamps (`startMs`
 *   on every text token, `tokenTimestamps: true`) a word starts at its first token's `startMs`
 *   and ends at its last token's `endMs`. With neither: no words (`[]`). Every time is clamped
 *   into the segment and rounded to whole milliseconds, each word starts no earlier than the one
 *   before and ends no later than the next one starts, and no word ends before it starts.
 * - **Probability:** the mean of the word's tokens' probabilities.
 */
export function wordsFromTokens(tokens: readonly Token[], segment: { startMs: number; endMs: number; text?: string }): Word[] {
  const textTokens = tokens.filter((token) => !token.special && !SPECIAL_TEXT.test(token.text));
  if (textTokens.length === 0) return [];
  const timing = textTokens.every((token) => token.dtwMs !== undefined) ? 'dtw' : textTokens.every((token) => token.startMs !== undefined) ? 'tokens' : undefined;
  if (timing === undefined) return [];

  const pieces = wholeCharacters(textTokens, segment.text);
  const grouped = groupIntoWords(pieces);
  return timeWords(grouped, timing, segment);
}

/** Tokens grouped so that no multi-byte character is split between groups, the characters restored from the segment's text when it matches. */
function wholeCharacters(tokens: readonly Token[], segmentText: string | undefined): Piece[] {
  if (segmentText !== undefined && tokens.some((token) => token.text.includes(REPLACEMENT))) {
    const restored = restoreCharacters(tokens, segmentText);
    if (restored !== undefined) return restored;
  }
  // Without the bytes, a token ending or starting in U+FFFD is taken to share a character with its neighbour.
  const pieces: Piece[] = [];
  for (const token of tokens) {
    const last = pieces.at(-1);
    if (last !== undefined && (last.text.endsWith(REPLACEMENT) || token.text.startsWith(REPLACEMENT))) {
      last.text += token.text;
      last.tokens.push(token);
    } else {
      pieces.push({ text: token.text, tokens: [token] });
    }
  }
  return pieces;
}

const isContinuation = (byte: number) => byte >= 0x80 && byte <= 0xbf;

/**
 * Where each token's bytes lie in the segment text's UTF-8, found by matching the tokens' texts
 * against it: a known character matches its own bytes, and a U+FFFD the bytes a UTF-8 decoder
 * replaces with one: a lone continuation byte, or a multi-byte character's lead cut short. Tokens
 * are then grouped wherever a boundary falls inside a character, and each group's text decoded
 * from its bytes. Undefined when the texts do not match the segment's.
 */
function restoreCharacters(tokens: readonly Token[], segmentText: string): Piece[] | undefined {
  const bytes = new TextEncoder().encode(segmentText);
  const encoder = new TextEncoder();
  // One unit per byte of a known character, -1 for each U+FFFD; `last`: the token's last unit.
  const units: { byte: number; last: boolean }[] = [];
  const firstUnit: number[] = [];
  for (const token of tokens) {
    firstUnit.push(units.length);
    for (const char of token.text) {
      if (char === REPLACEMENT) units.push({ byte: -1, last: false });
      else for (const byte of encoder.encode(char)) units.push({ byte, last: false });
    }
    const lastUnit = units.at(-1);
    if (lastUnit !== undefined && units.length > (firstUnit.at(-1) ?? 0)) lastUnit.last = true;
  }
  // reached[u] maps each byte offset the first u units can end at to the offset unit u-1 started at.
  const reached: Map<number, number>[] = [new Map([[0, -1]])];
  for (const unit of units) {
    const next = new Map<number, number>();
    for (const from of (reached.at(-1) ?? new Map<number, number>()).keys()) {
      for (const to of unitEnds(unit, bytes, from)) if (!next.has(to)) next.set(to, from);
    }
    if (next.size === 0) return undefined;
    reached.push(next);
  }
  if (!(reached.at(-1)?.has(bytes.length) ?? false)) return undefined;
  const offsets: number[] = new Array<number>(units.length + 1);
  let at = bytes.length;
  for (let u = units.length; u >= 0; u--) {
    offsets[u] = at;
    at = reached[u]?.get(at) ?? 0;
  }
  const starts = firstUnit.map((u) => offsets[u] ?? 0);

  const decoder = new TextDecoder();
  const groups: { from: number; tokens: Token[] }[] = [];
  tokens.forEach((token, i) => {
    const from = starts[i] ?? 0;
    const last = groups.at(-1);
    if (last !== undefined && from < bytes.length && isContinuation(bytes[from] ?? 0)) last.tokens.push(token);
    else groups.push({ from, tokens: [token] });
  });
  return groups.map((group, i) => ({ text: decoder.decode(bytes.subarray(group.from, groups[i + 1]?.from ?? bytes.length)), tokens: group.tokens }));
}

/**
 * The offsets one unit can end at when it starts at `from`. A U+FFFD is a lone continuation byte
 * (only ever at a token's start, as a token is a run of the text's bytes) or a character cut short
 * (only ever at a token's end).
 */
function unitEnds(unit: { byte: number; last: boolean }, bytes: Uint8Array, from: number): number[] {
  const byte = bytes[from];
  if (byte === undefined) return [];
  if (unit.byte >= 0) return byte === unit.byte ? [from + 1] : [];
  if (isContinuation(byte)) return [from + 1];
  if (!unit.last || byte < 0xc2 || byte > 0xf4) return [];
  const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
  const ends = [from + 1];
  // A cut-short character: its lead and fewer than all of its continuation bytes.
  for (let k = 2; k < length && isContinuation(bytes[from + k - 1] ?? 0); k++) ends.push(from + k);
  return ends;
}

function isAll(text: string, set: ReadonlySet<string>): boolean {
  return text.length > 0 && [...text].every((char) => set.has(char));
}

function groupIntoWords(pieces: readonly Piece[]): WordInProgress[] {
  const words: WordInProgress[] = [];
  const startWord = (piece: Piece, open: boolean) => words.push({ text: piece.text, tokens: [...piece.tokens], open });
  for (const piece of pieces) {
    const current = words.at(-1);
    const core = piece.text.trimStart();
    const spaced = core.length < piece.text.length;
    const opening = core === '' || isAll(core, OPENING_PUNCTUATION);
    if (current?.open === true) {
      current.text += piece.text;
      current.tokens.push(...piece.tokens);
      current.open = opening;
    } else if (spaced && opening) {
      startWord(piece, true);
    } else if (current !== undefined && isAll(core, CLOSING_PUNCTUATION)) {
      current.text += piece.text;
      current.tokens.push(...piece.tokens);
    } else if (current === undefined || spaced) {
      startWord(piece, opening);
    } else if (isAll(core, UNAMBIGUOUS_OPENERS)) {
      startWord(piece, true);
    } else if (UNSPACED_SCRIPT.test(core) || UNSPACED_SCRIPT_AT_END.test(current.text)) {
      startWord(piece, false);
    } else {
      current.text += piece.text;
      current.tokens.push(...piece.tokens);
    }
  }
  // Leading punctuation with no word after it (a quote opened at the segment's end) stays with the word before.
  const last = words.at(-1);
  const beforeLast = words.at(-2);
  if (last?.open === true && beforeLast !== undefined) {
    beforeLast.text += last.text;
    beforeLast.tokens.push(...last.tokens);
    words.pop();
  }
  return words;
}

function timeWords(words: readonly WordInProgress[], timing: 'dtw' | 'tokens', segment: { startMs: number; endMs: number }): Word[] {
  const segmentEnd = Math.max(segment.startMs, segment.endMs);
  const clamp = (ms: number) => Math.min(segmentEnd, Math.max(segment.startMs, ms));
  const spans = timing === 'dtw' ? dtwSpans(words) : tokenSpans(words);
  const starts: number[] = [];
  for (const span of spans) starts.push(Math.max(clamp(span.startMs), starts.at(-1) ?? segment.startMs));
  return words.map((word, i) => {
    const startMs = starts[i] ?? segment.startMs;
    const endMs = Math.min(clamp(spans[i]?.endMs ?? startMs), starts[i + 1] ?? segmentEnd);
    const probability = word.tokens.reduce((sum, token) => sum + token.probability, 0) / word.tokens.length;
    // Whole milliseconds, as every other time in a transcript (DTW's own are multiples of 10).
    return { text: word.text, startMs: Math.round(startMs), endMs: Math.round(Math.max(startMs, endMs)), probability };
  });
}

function tokenSpans(words: readonly WordInProgress[]): { startMs: number; endMs: number }[] {
  return words.map((word) => {
    const startMs = word.tokens[0]?.startMs ?? 0;
    return { startMs, endMs: word.tokens.at(-1)?.endMs ?? startMs };
  });
}

const lettersIn = (text: string) => text.match(/[\p{L}\p{N}]/gu)?.length ?? 0;

function dtwSpans(words: readonly WordInProgress[]): { startMs: number; endMs: number }[] {
  const ends = words.map((word) => {
    const spoken = word.tokens.filter((token) => !PUNCTUATION_ONLY.test(token.text));
    return (spoken.at(-1) ?? word.tokens.at(-1))?.dtwMs ?? 0;
  });
  // The end of the token before each word: the last token of the word before.
  const before = words.map((_, i) => (i === 0 ? undefined : words[i - 1]?.tokens.at(-1)?.dtwMs));
  const afterPause = words.map((_, i) => i === 0 || SENTENCE_END.test(words[i - 1]?.text ?? ''));
  const rates = words
    .flatMap((word, i) => {
      const from = before[i];
      const letters = lettersIn(word.text);
      return afterPause[i] || from === undefined || letters === 0 ? [] : [((ends[i] ?? 0) - from) / letters];
    })
    .filter((rate) => rate > 0)
    .sort((a, b) => a - b);
  const msPerLetter = rates.length > 0 ? (rates[Math.floor(rates.length / 2)] ?? DEFAULT_MS_PER_LETTER) : DEFAULT_MS_PER_LETTER;
  return words.map((word, i) => {
    const endMs = ends[i] ?? 0;
    const from = before[i];
    if (!afterPause[i] && from !== undefined) return { startMs: from, endMs };
    const estimate = endMs - PAUSED_WORD_RATE_SHARE * msPerLetter * Math.max(1, lettersIn(word.text));
    return { startMs: from === undefined ? estimate : Math.max(from, estimate), endMs };
  });
}
