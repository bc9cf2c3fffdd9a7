import { describe, expect, it } from 'vitest';
import { formatTranscript } from '../../lib/transcription/formats';
import { LANGUAGE_NAMES, languageName } from '../../lib/transcription/languages';
import { averageLogProbability, compressionRatio } from '../../lib/transcription/segment-measures';
import type { Segment, Token, Transcript } from '../../lib/transcription/transcript';
import { toVerboseJson, TRANSCRIPTION_TASKS, type VerboseJson } from '../../lib/transcription/verbose-json';
import type { Word } from '../../lib/transcription/words';
import { itRefusesEach } from '../support/errors';

function token(id: number, text: string, logProbability: number, special = false): Token {
  return { id, text, probability: Math.exp(logProbability), logProbability, timestampProbability: 0, timestampProbabilitySum: 0, special };
}

const ts = (id: number, logProbability: number) => token(id, id === 50364 ? '[_BEG_]' : `[_TT_${id - 50364}]`, logProbability, true);

// Two 30 s windows as whisper.cpp cuts them: the first with two segments (its [_BEG_] in the
// first, the timestamp between them in neither, as whisper.cpp skips it), the second with one,
// decoded at temperature 0.2 after a fallback.
const FIRST = {
  index: 0,
  startMs: 0,
  endMs: 2000,
  text: ' And so,',
  noSpeechProbability: 0.02,
  speakerTurnNext: false,
  temperature: 0,
  windowStartMs: 0,
  tokens: [ts(50364, -0.5), token(400, ' And', -1.5), token(370, ' so', -0.1), token(11, ',', -0.3), ts(50464, -1.6)],
} satisfies Segment;
const SECOND = {
  ...FIRST,
  index: 1,
  startMs: 2000,
  endMs: 4500,
  text: ' my fellow Americans.',
  tokens: [token(452, ' my', -0.4), token(7177, ' fellow', -0.01), token(6280, ' Americans', -0.12), token(13, '.', -0.2), ts(50589, -0.9)],
} satisfies Segment;
const THIRD = {
  index: 2,
  startMs: 30000,
  endMs: 33250,
  text: ' Ask not.',
  noSpeechProbability: 0.1,
  speakerTurnNext: false,
  temperature: 0.2,
  windowStartMs: 30000,
  tokens: [ts(50364, -0.2), token(1029, ' Ask', -0.3), token(406, ' not', -0.25), token(13, '.', -0.05), ts(50526, -0.7)],
} satisfies Segment;

function transcriptOf(segments: Segment[], language = 'en'): Transcript {
  return {
    text: segments
      .map((s) => s.text)
      .join('')
      .trim(),
    segments,
    language,
    audioDurationMs: 34120,
    timings: { audioMs: 1, queueMs: 0, inferenceMs: 10, languageDetectionMs: 0, encoderRuns: 2 },
  };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('toVerboseJson', () => {
  const result = toVerboseJson(transcriptOf([FIRST, SECOND, THIRD]));

  it("has OpenAI's top-level fields, in its order, and no words without word timestamps", () => {
    expect(Object.keys(result)).toEqual(['task', 'language', 'duration', 'text', 'segments']);
    expect(result.task).toBe('transcribe');
    expect(result.language).toBe('english');
    expect(result.duration).toBe(34.12);
    expect(result.text).toBe('And so, my fellow Americans. Ask not.');
  });

  it("gives each segment OpenAI's fields in its order, times in seconds and seek in 10 ms frames", () => {
    expect(result.segments.map((s) => Object.keys(s))).toEqual(
      Array(3).fill(['id', 'seek', 'start', 'end', 'text', 'tokens', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob']),
    );
    expect(result.segments.map(({ id, seek, start, end, text, temperature, no_speech_prob }) => ({ id, seek, start, end, text, temperature, no_speech_prob }))).toEqual([
      { id: 0, seek: 0, start: 0, end: 2, text: ' And so,', temperature: 0, no_speech_prob: 0.02 },
      { id: 1, seek: 0, start: 2, end: 4.5, text: ' my fellow Americans.', temperature: 0, no_speech_prob: 0.02 },
      { id: 2, seek: 3000, start: 30, end: 33.25, text: ' Ask not.', temperature: 0.2, no_speech_prob: 0.1 },
    ]);
  });

  it('lists every token id of a segment, timestamp tokens included', () => {
    expect(result.segments[0].tokens).toEqual([50364, 400, 370, 11, 50464]);
    expect(result.segments[2].tokens).toEqual([50364, 1029, 406, 13, 50526]);
  });

  it("gives every segment its window's avg_logprob and compression_ratio, as OpenAI's transcribe()", () => {
    const firstWindow = mean([...FIRST.tokens, ...SECOND.tokens].map((t) => t.logProbability));
    expect(result.segments[0].avg_logprob).toBeCloseTo(firstWindow, 12);
    expect(result.segments[1].avg_logprob).toBe(result.segments[0].avg_logprob);
    expect(result.segments[2].avg_logprob).toBeCloseTo(mean(THIRD.tokens.map((t) => t.logProbability)), 12);
    expect(result.segments[0].compression_ratio).toBe(compressionRatio(' And so, my fellow Americans.'));
    expect(result.segments[1].compression_ratio).toBe(result.segments[0].compression_ratio);
    expect(result.segments[2].compression_ratio).toBe(compressionRatio(' Ask not.'));
  });

  it("names the task it is given, and the language by whisper's full name", () => {
    expect(toVerboseJson(transcriptOf([THIRD], 'de'), { task: 'translate' })).toMatchObject({ task: 'translate', language: 'german' });
    expect(toVerboseJson(transcriptOf([THIRD], 'yue')).language).toBe('cantonese');
    expect(toVerboseJson(transcriptOf([THIRD], 'haw')).language).toBe('hawaiian');
    expect([...TRANSCRIPTION_TASKS]).toEqual(['transcribe', 'translate']);
  });

  it('writes top-level words from the segments that have them, without the leading space', () => {
    const words = (list: [string, number, number][]): Word[] => list.map(([text, startMs, endMs]) => ({ text, startMs, endMs, probability: 0.9 }));
    const withWords = transcriptOf([
      {
        ...FIRST,
        words: words([
          [' And', 120, 480],
          [' so,', 480, 1900],
        ]),
      },
      {
        ...SECOND,
        words: words([
          [' my', 2000, 2210],
          [' fellow', 2210, 2600],
          [' Americans.', 2600, 4400],
        ]),
      },
      { ...THIRD, words: [] },
    ]);
    const json = toVerboseJson(withWords);
    expect(Object.keys(json)).toEqual(['task', 'language', 'duration', 'text', 'segments', 'words']);
    expect(json.words).toEqual([
      { word: 'And', start: 0.12, end: 0.48 },
      { word: 'so,', start: 0.48, end: 1.9 },
      { word: 'my', start: 2, end: 2.21 },
      { word: 'fellow', start: 2.21, end: 2.6 },
      { word: 'Americans.', start: 2.6, end: 4.4 },
    ]);
    // segments stay as they were: OpenAI's segments carry no words
    expect(json.segments[0]).not.toHaveProperty('words');
  });

  it('has an empty segment list and no words for an empty transcript', () => {
    const empty = toVerboseJson({ ...transcriptOf([]), audioDurationMs: 20000 });
    expect(empty).toEqual({ task: 'transcribe', language: 'english', duration: 20, text: '', segments: [] });
  });

  it('leaves the end-of-text token out of tokens but counts it in avg_logprob, as OpenAI (no-timestamps mode)', () => {
    const single = { ...THIRD, tokens: [token(1029, ' Ask', -0.3), token(406, ' not', -0.25), token(13, '.', -0.05), token(50257, '[_EOT_]', -0.4, true)] };
    const json = toVerboseJson(transcriptOf([single]));
    expect(json.segments[0].tokens).toEqual([1029, 406, 13]);
    expect(json.segments[0].avg_logprob).toBeCloseTo(mean([-0.3, -0.25, -0.05, -0.4]), 12);
  });

  it('reads a segment without temperature or windowStartMs (a transcript saved before them) as temperature 0 in a window of its own', () => {
    const old = [FIRST, SECOND].map(({ temperature: _t, windowStartMs: _w, ...rest }) => rest) as unknown as Segment[];
    const json = toVerboseJson(transcriptOf(old));
    expect(json.segments.map((s) => [s.seek, s.temperature])).toEqual([
      [0, 0],
      [200, 0],
    ]);
    expect(json.segments[0].avg_logprob).toBeCloseTo(mean(FIRST.tokens.map((t) => t.logProbability)), 12);
    expect(json.segments[1].avg_logprob).toBeCloseTo(mean(SECOND.tokens.map((t) => t.logProbability)), 12);
  });

  it('is what formatTranscript writes for verbose_json, indented by two with a final newline', () => {
    const transcript = transcriptOf([FIRST, SECOND, THIRD]);
    const text = formatTranscript(transcript, 'verbose_json', { task: 'translate', maxLineLength: 10 });
    expect(text).toBe(`${JSON.stringify(toVerboseJson(transcript, { task: 'translate' }), null, 2)}\n`);
    const parsed = JSON.parse(text) as VerboseJson;
    expect(parsed.task).toBe('translate');
    expect(parsed.segments).toHaveLength(3);
    expect((JSON.parse(formatTranscript(transcript, 'verbose_json')) as VerboseJson).task).toBe('transcribe');
  });
});

describe('toVerboseJson refuses a malformed transcript or options with INVALID_ARGUMENT', () => {
  const good = transcriptOf([FIRST]);
  const withSegment = (changes: Record<string, unknown>) => ({ ...good, segments: [{ ...FIRST, ...changes }] }) as unknown as Transcript;
  const cases: [string, () => unknown, string][] = [
    ['no transcript', () => toVerboseJson(null as unknown as Transcript), 'transcript: expected a Transcript (an object with a segments array), got null'],
    [
      'a transcript without segments',
      () => toVerboseJson({ ...good, segments: 'x' } as unknown as Transcript),
      'transcript.segments: expected an array of segments, got "x"',
    ],
    ['a language that is not a string', () => toVerboseJson({ ...good, language: 7 } as unknown as Transcript), 'transcript.language: expected a string, got 7'],
    [
      'a negative duration',
      () => toVerboseJson({ ...good, audioDurationMs: -1 }),
      'transcript.audioDurationMs: expected a finite number of milliseconds, 0 or more, got -1',
    ],
    ['a text that is not a string', () => toVerboseJson({ ...good, text: null } as unknown as Transcript), 'transcript.text: expected a string, got null'],
    ['a segment without tokens', () => toVerboseJson(withSegment({ tokens: undefined })), 'transcript.segments[0].tokens: expected an array of tokens, got undefined'],
    [
      'a token without an id',
      () => toVerboseJson(withSegment({ tokens: [{ ...FIRST.tokens[0], id: 'a' }] })),
      'transcript.segments[0].tokens[0].id: expected a token id (an integer, 0 or more), got "a"',
    ],
    [
      'a positive log-probability',
      () => toVerboseJson(withSegment({ tokens: [{ ...FIRST.tokens[0], logProbability: 0.5 }] })),
      'transcript.segments[0].tokens[0].logProbability: expected a log-probability (a number, 0 or less), got 0.5',
    ],
    [
      'a no-speech probability above 1',
      () => toVerboseJson(withSegment({ noSpeechProbability: 2 })),
      'transcript.segments[0].noSpeechProbability: expected a probability from 0 to 1, got 2',
    ],
    [
      'a negative temperature',
      () => toVerboseJson(withSegment({ temperature: -0.2 })),
      'transcript.segments[0].temperature: expected a finite number, 0 or more, or unset, got -0.2',
    ],
    [
      'a window start that is not a time',
      () => toVerboseJson(withSegment({ windowStartMs: '0' })),
      'transcript.segments[0].windowStartMs: expected a finite number of milliseconds, 0 or more, or unset, got "0"',
    ],
    [
      'words that are not an array',
      () => toVerboseJson(withSegment({ words: {} })),
      'transcript.segments[0].words: expected an array of words, or unset, got an object (Object)',
    ],
    [
      'a word without an end',
      () => toVerboseJson(withSegment({ words: [{ text: ' And', startMs: 0 }] })),
      'transcript.segments[0].words[0].endMs: expected a finite number of milliseconds, 0 or more, got undefined',
    ],
    ['an unknown task', () => toVerboseJson(good, { task: 'summarize' as 'translate' }), "options.task: expected one of 'transcribe', 'translate', got \"summarize\""],
    [
      'a misspelt option',
      () => toVerboseJson(good, { tsak: 'translate' } as unknown as { task: 'translate' }),
      'options.tsak: expected one of the known options (task), got "tsak"',
    ],
  ];
  itRefusesEach(cases);
});

describe('averageLogProbability', () => {
  it('is the mean over all of a segment’s tokens, timestamp tokens included', () => {
    expect(averageLogProbability(FIRST)).toBeCloseTo(mean([-0.5, -1.5, -0.1, -0.3, -1.6]), 12);
    expect(averageLogProbability({ tokens: [token(1, 'a', -2)] })).toBe(-2);
  });

  it('is -Infinity without tokens, as whisper.cpp’s empty sequence', () => {
    expect(averageLogProbability({ tokens: [] })).toBe(-Infinity);
  });
});

describe('compressionRatio', () => {
  // UTF-8 bytes and the length of Python's zlib.compress (zlib 1.2.13) for each text.
  const PYTHON: [string, number, number][] = [
    [' And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.', 108, 79],
    [' Thank you.'.repeat(20), 220, 22],
    [' [BLANK_AUDIO]', 14, 22],
    [' héllo wörld ♪ 日本語のテキスト', 43, 54],
    [
      ' She was sitting in the window seat, looking out at the rain, and thinking of nothing in particular, when the door opened and her sister came in with a letter in her hand.',
      171,
      117,
    ],
  ];

  for (const [text, bytes, compressed] of PYTHON) {
    it(`is within 2 % of OpenAI's (Python zlib) value for ${JSON.stringify(text.slice(0, 24))}`, () => {
      expect(Buffer.byteLength(text, 'utf8')).toBe(bytes);
      const ratio = compressionRatio(text);
      expect(Math.abs(ratio - bytes / compressed) / (bytes / compressed)).toBeLessThan(0.02);
    });
  }

  it('flags a decoding loop above 2.4, and not ordinary speech', () => {
    expect(compressionRatio(' Thank you.'.repeat(20))).toBeGreaterThan(2.4);
    expect(compressionRatio(PYTHON[0][0])).toBeLessThan(2.4);
  });

  it('is 0 for the empty text, as zlib.compress(b"") is 8 bytes', () => {
    expect(compressionRatio('')).toBe(0);
  });
});

describe('languageName', () => {
  it('names every one of whisper.cpp 1.9.1’s 100 languages, lowercase', () => {
    expect(Object.keys(LANGUAGE_NAMES)).toHaveLength(100);
    for (const name of Object.values(LANGUAGE_NAMES)) expect(name).toMatch(/^[a-z]+( [a-z]+)?$/);
    expect(new Set(Object.values(LANGUAGE_NAMES)).size).toBe(100);
    expect(languageName('en')).toBe('english');
    expect(languageName('EN')).toBe('english');
    expect(languageName('ht')).toBe('haitian creole');
    expect(languageName('jw')).toBe('javanese');
  });

  it('returns a code it does not know as given, lowercased, and never reads the prototype', () => {
    expect(languageName('xx')).toBe('xx');
    expect(languageName('toString')).toBe('tostring');
    expect(languageName('constructor')).toBe('constructor');
  });
});
