/**
 * Word error rate for English transcripts, for judging a model or a quantization against reference
 * text. Both sides are normalised first, so that only word choices count, not the formatting Whisper
 * picks:
 *  - case, Unicode compatibility forms and accents (NFKD without combining marks);
 *  - punctuation, with hyphens, slashes and dashes splitting words ("cold-hearted" = "cold hearted");
 *  - apostrophes: possessive/contraction apostrophes are kept inside a word ("don't"), quotes dropped;
 *  - spoken numbers: "twenty one" and "21" are the same word, as are "ten" and "10" (number words
 *    are rewritten as digits, "one hundred and five" included);
 *  - common title abbreviations ("Mr." = "mister", "Mrs." = "missus", "Dr." = "doctor", ...).
 * It is not Whisper's full EnglishTextNormalizer (no spelling variants, no currency or ordinals).
 */

const ABBREVIATIONS: Readonly<Record<string, string>> = Object.freeze({
  mr: 'mister',
  mrs: 'missus',
  ms: 'miss',
  dr: 'doctor',
  st: 'saint',
  prof: 'professor',
  jr: 'junior',
  sr: 'senior',
  vs: 'versus',
});

const UNITS: Readonly<Record<string, number>> = Object.freeze({
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
});

const TENS: Readonly<Record<string, number>> = Object.freeze({
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
});

const SCALES: Readonly<Record<string, number>> = Object.freeze({
  thousand: 1e3,
  million: 1e6,
  billion: 1e9,
});

const has = (table: Readonly<Record<string, number>>, word: string): boolean => Object.prototype.hasOwnProperty.call(table, word);

function isNumberWord(word: string): boolean {
  return has(UNITS, word) || has(TENS, word) || has(SCALES, word) || word === 'hundred';
}

/**
 * Rewrites runs of number words as digits: "twenty one" -> "21", "one hundred and five" -> "105",
 * "two thousand twenty" -> "2020". A run that does not read as one number ("five five") is split
 * where a new number starts, so each number becomes its own token ("5 5").
 */
function numberWordsToDigits(words: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < words.length) {
    if (!isNumberWord(words[i])) {
      out.push(words[i]);
      i++;
      continue;
    }
    let total = 0; // completed scale groups
    let current = 0; // the group being built (< 1000)
    let lastKind: 'unit' | 'teen' | 'tens' | 'hundred' | 'scale' | undefined;
    let j = i;
    for (; j < words.length; j++) {
      const w = words[j];
      // "and" continues a number only between "hundred"/a scale and what follows it
      if (w === 'and' && (lastKind === 'hundred' || lastKind === 'scale') && j + 1 < words.length && (has(UNITS, words[j + 1]) || has(TENS, words[j + 1]))) {
        continue;
      }
      if (has(UNITS, w)) {
        const v = UNITS[w];
        // a unit after a unit/teen, or a teen after tens, starts a new number
        if (lastKind === 'unit' || lastKind === 'teen' || (lastKind === 'tens' && v >= 10)) break;
        current += v;
        lastKind = v >= 10 ? 'teen' : 'unit';
      } else if (has(TENS, w)) {
        if (lastKind === 'unit' || lastKind === 'teen' || lastKind === 'tens') break;
        current += TENS[w];
        lastKind = 'tens';
      } else if (w === 'hundred') {
        if (lastKind === 'hundred' || lastKind === 'tens' || (current % 100 === 0 && current !== 0)) break;
        current = (current === 0 ? 1 : current) * 100;
        lastKind = 'hundred';
      } else if (has(SCALES, w)) {
        if (lastKind === 'scale' && current === 0) break;
        total += (current === 0 ? 1 : current) * SCALES[w];
        current = 0;
        lastKind = 'scale';
      } else {
        break;
      }
    }
    out.push(String(total + current));
    i = j;
  }
  return out;
}

/** The normalised words of a transcript (see the module comment for the rules). */
export function normalizeWords(text: string): string[] {
  if (typeof text !== 'string') throw new TypeError(`normalizeWords: text must be a string, got ${typeof text}`);
  let s = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  s = s.replace(/[\u2018\u2019\u02bc]/g, "'");
  // an apostrophe between letters belongs to the word; any other is a quote mark
  s = s.replace(/(?<!\p{L})'|'(?!\p{L})/gu, ' ');
  // digits grouped with commas ("1,000") are one number
  s = s.replace(/(\d),(?=\d{3}\b)/g, '$1');
  // a decimal point between digits stays; every other non-word character separates words
  s = s.replace(/(\d)\.(?=\d)/g, '$1\u0000');
  s = s.replace(/[^\p{L}\p{N}'\u0000]+/gu, ' ').replace(/\u0000/g, '.');
  const words = s
    .split(' ')
    .filter((w) => w.length > 0)
    .map((w) => (Object.prototype.hasOwnProperty.call(ABBREVIATIONS, w) ? ABBREVIATIONS[w] : w));
  return numberWordsToDigits(words);
}

export interface WordErrorRate {
  /** (substitutions + deletions + insertions) / referenceWords; 0 when both are empty, Infinity for any word against an empty reference. */
  wer: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  /** Normalised reference words. */
  referenceWords: number;
  /** Normalised hypothesis words. */
  hypothesisWords: number;
}

/** Counts of the minimum word edit (Levenshtein over words) turning `reference` into `hypothesis`. */
export function wordEdits(reference: readonly string[], hypothesis: readonly string[]): Omit<WordErrorRate, 'wer'> {
  const n = reference.length;
  const m = hypothesis.length;
  // dp over the hypothesis, one row per reference word; ties prefer substitution, then deletion
  type Cell = { cost: number; s: number; d: number; i: number };
  let prev: Cell[] = Array.from({ length: m + 1 }, (_, j) => ({ cost: j, s: 0, d: 0, i: j }));
  for (let r = 1; r <= n; r++) {
    const row: Cell[] = [{ cost: r, s: 0, d: r, i: 0 }];
    for (let h = 1; h <= m; h++) {
      const diag = prev[h - 1];
      const same = reference[r - 1] === hypothesis[h - 1];
      let best: Cell = { cost: diag.cost + (same ? 0 : 1), s: diag.s + (same ? 0 : 1), d: diag.d, i: diag.i };
      const up = prev[h];
      if (up.cost + 1 < best.cost) best = { cost: up.cost + 1, s: up.s, d: up.d + 1, i: up.i };
      const left = row[h - 1];
      if (left.cost + 1 < best.cost) best = { cost: left.cost + 1, s: left.s, d: left.d, i: left.i + 1 };
      row.push(best);
    }
    prev = row;
  }
  const end = prev[m];
  return { substitutions: end.s, deletions: end.d, insertions: end.i, referenceWords: n, hypothesisWords: m };
}

/** Word error rate of `hypothesis` against `reference`, both normalised with `normalizeWords`. */
export function wordErrorRate(reference: string, hypothesis: string): WordErrorRate {
  const edits = wordEdits(normalizeWords(reference), normalizeWords(hypothesis));
  const errors = edits.substitutions + edits.deletions + edits.insertions;
  const wer = edits.referenceWords === 0 ? (errors === 0 ? 0 : Infinity) : errors / edits.referenceWords;
  return { wer, ...edits };
}

/**
 * Corpus word error rate: the sum of all edits over the sum of all reference words (not the mean
 * of per-utterance rates, which would overweight short clips).
 */
export function corpusWordErrorRate(pairs: ReadonlyArray<{ reference: string; hypothesis: string }>): WordErrorRate {
  const total = { substitutions: 0, deletions: 0, insertions: 0, referenceWords: 0, hypothesisWords: 0 };
  for (const { reference, hypothesis } of pairs) {
    const e = wordEdits(normalizeWords(reference), normalizeWords(hypothesis));
    total.substitutions += e.substitutions;
    total.deletions += e.deletions;
    total.insertions += e.insertions;
    total.referenceWords += e.referenceWords;
    total.hypothesisWords += e.hypothesisWords;
  }
  const errors = total.substitutions + total.deletions + total.insertions;
  const wer = total.referenceWords === 0 ? (errors === 0 ? 0 : Infinity) : errors / total.referenceWords;
  return { wer, ...total };
}

/**
 * Parses a CMU Sphinx style transcription file (one utterance per line:
 * `<s> the words </s> (utterance-id)`) into utterance id -> text, in file order. Lines without the
 * markers are rejected with their line number rather than skipped, so a wrong file is noticed.
 */
export function parseSphinxTranscription(contents: string): Map<string, string> {
  if (typeof contents !== 'string') throw new TypeError(`parseSphinxTranscription: contents must be a string, got ${typeof contents}`);
  const out = new Map<string, string>();
  contents.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const m = /^\s*<s>(.*)<\/s>\s*\(([^()]+)\)\s*$/.exec(line);
    if (!m) throw new SyntaxError(`line ${index + 1}: expected "<s> words </s> (id)", got ${JSON.stringify(line.slice(0, 80))}`);
    const id = m[2].trim();
    if (out.has(id)) throw new SyntaxError(`line ${index + 1}: utterance id ${JSON.stringify(id)} appears twice`);
    out.set(id, m[1].trim().replace(/\s+/g, ' '));
  });
  return out;
}
