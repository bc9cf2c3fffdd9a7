import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { corpusWordErrorRate, normalizeWords, parseSphinxTranscription, wordEdits, wordErrorRate } from '../../lib/tools/wer';
import { SHARED } from '../support/paths';

describe('normalizeWords', () => {
  test('case, punctuation and quote marks go; apostrophes inside words stay', () => {
    expect(normalizeWords('"Ask not," he said — don\'t ask!')).toEqual(['ask', 'not', 'he', 'said', "don't", 'ask']);
    expect(normalizeWords('‘Twas the night’s end')).toEqual(['twas', 'the', "night's", 'end']);
  });

  test('hyphens and slashes split words', () => {
    expect(normalizeWords('cold-hearted and ill-disposed')).toEqual(normalizeWords('cold hearted and ill disposed'));
    expect(normalizeWords('and/or')).toEqual(['and', 'or']);
  });

  test('accents and compatibility forms', () => {
    expect(normalizeWords('Café ＮＡÏVE')).toEqual(['cafe', 'naive']);
  });

  test('title abbreviations read as words', () => {
    expect(normalizeWords('Mr. John Dashwood and Mrs. Dashwood')).toEqual(['mister', 'john', 'dashwood', 'and', 'missus', 'dashwood']);
  });

  test('number words become digits', () => {
    expect(normalizeWords('ten of clubs')).toEqual(['10', 'of', 'clubs']);
    expect(normalizeWords('twenty one')).toEqual(['21']);
    expect(normalizeWords('one hundred and five')).toEqual(['105']);
    expect(normalizeWords('two thousand twenty four')).toEqual(['2024']);
    expect(normalizeWords('nineteen hundred')).toEqual(['1900']);
    expect(normalizeWords('three million two hundred thousand')).toEqual(['3200000']);
  });

  test('a run that is not one number splits into numbers', () => {
    expect(normalizeWords('five five')).toEqual(['5', '5']);
    expect(normalizeWords('twenty thirty')).toEqual(['20', '30']);
    expect(normalizeWords('four queen of clubs')).toEqual(['4', 'queen', 'of', 'clubs']);
    expect(normalizeWords('bread and five')).toEqual(['bread', 'and', '5']);
  });

  test('digit formatting', () => {
    expect(normalizeWords('1,000 people paid 3.50')).toEqual(['1000', 'people', 'paid', '3.50']);
    expect(normalizeWords('one thousand people')).toEqual(['1000', 'people']);
  });

  test('empty and whitespace-only text', () => {
    expect(normalizeWords('')).toEqual([]);
    expect(normalizeWords(' ... ')).toEqual([]);
  });

  test('rejects a non-string', () => {
    expect(() => normalizeWords(42 as unknown as string)).toThrow(/text must be a string, got number/);
  });
});

describe('wordEdits', () => {
  test('counts substitutions, deletions and insertions of the minimum edit', () => {
    expect(wordEdits(['a', 'b', 'c'], ['a', 'b', 'c'])).toMatchObject({ substitutions: 0, deletions: 0, insertions: 0 });
    expect(wordEdits(['a', 'b', 'c'], ['a', 'x', 'c'])).toMatchObject({ substitutions: 1, deletions: 0, insertions: 0 });
    expect(wordEdits(['a', 'b', 'c'], ['a', 'c'])).toMatchObject({ substitutions: 0, deletions: 1, insertions: 0 });
    expect(wordEdits(['a', 'c'], ['a', 'b', 'c'])).toMatchObject({ substitutions: 0, deletions: 0, insertions: 1 });
    expect(wordEdits([], ['x', 'y'])).toMatchObject({ insertions: 2, referenceWords: 0, hypothesisWords: 2 });
    expect(wordEdits(['x', 'y'], [])).toMatchObject({ deletions: 2, referenceWords: 2, hypothesisWords: 0 });
  });

  test('the total is the Levenshtein distance over words', () => {
    const e = wordEdits('the cat sat on the mat'.split(' '), 'a cat sat the mat today'.split(' '));
    expect(e.substitutions + e.deletions + e.insertions).toBe(3);
  });
});

describe('wordErrorRate', () => {
  test('formatting differences cost nothing', () => {
    const r = wordErrorRate('and mister john dashwood had then leisure to consider', 'And Mr. John Dashwood had then leisure to consider,');
    expect(r.wer).toBe(0);
    expect(r.referenceWords).toBe(9);
  });

  test('real word errors count against the reference length', () => {
    const r = wordErrorRate('he was not an ill disposed young man', 'He was not an ill-disposed old man.');
    expect(r).toMatchObject({ substitutions: 1, deletions: 0, insertions: 0, referenceWords: 8 });
    expect(r.wer).toBeCloseTo(1 / 8, 12);
  });

  test('empty reference', () => {
    expect(wordErrorRate('', '').wer).toBe(0);
    expect(wordErrorRate('', 'hello').wer).toBe(Infinity);
  });
});

describe('corpusWordErrorRate', () => {
  test('sums edits and reference words over utterances', () => {
    const r = corpusWordErrorRate([
      { reference: 'ten of clubs', hypothesis: '10 of clubs.' },
      { reference: 'five five', hypothesis: 'Five.' },
      { reference: 'seven of clubs', hypothesis: 'Seven of hearts' },
    ]);
    expect(r).toMatchObject({ substitutions: 1, deletions: 1, insertions: 0, referenceWords: 8 });
    expect(r.wer).toBeCloseTo(2 / 8, 12);
  });
});

describe('parseSphinxTranscription', () => {
  test('reads ids and texts in order', () => {
    const parsed = parseSphinxTranscription('<s> ten of clubs  </s> (001)\n\n<s> five five </s> (clip-0870)\r\n');
    expect([...parsed]).toEqual([
      ['001', 'ten of clubs'],
      ['clip-0870', 'five five'],
    ]);
  });

  test('the shared corpora parse', () => {
    const cards = parseSphinxTranscription(fs.readFileSync(path.join(SHARED, 'audio', 'cards', 'cards.transcription'), 'utf8'));
    expect([...cards.keys()]).toEqual(['001', '002', '003', '004', '005']);
    const librivox = parseSphinxTranscription(fs.readFileSync(path.join(SHARED, 'audio', 'librivox', 'transcription'), 'utf8'));
    expect(librivox.size).toBe(5);
    expect(librivox.get('sense_and_sensibility_01_austen_64kb-0880')).toBe('he was not an ill disposed young man');
  });

  test('rejects malformed lines and duplicate ids with the line number', () => {
    expect(() => parseSphinxTranscription('<s> a </s> (1)\nhello world')).toThrow(/line 2: expected "<s> words <\/s> \(id\)", got "hello world"/);
    expect(() => parseSphinxTranscription('<s> a </s> (1)\n<s> b </s> (1)')).toThrow(/line 2: utterance id "1" appears twice/);
  });
});
