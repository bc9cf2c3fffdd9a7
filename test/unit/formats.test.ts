import { describe, expect, it } from 'vitest';
import { formatTranscript, TRANSCRIPT_FORMATS, type SubtitleOptions, type TranscriptFormat } from '../../lib/transcription/formats';
import type { Segment, Token, Transcript } from '../../lib/transcription/transcript';
import { itRefusesEach } from '../support/errors';

function segment(index: number, startMs: number, endMs: number, text: string, tokens: Token[] = []): Segment {
  return { index, startMs, endMs, text, noSpeechProbability: 0.01, speakerTurnNext: false, temperature: 0, windowStartMs: 0, tokens };
}

function transcriptOf(segments: Segment[]): Transcript {
  return {
    text: segments
      .map((s) => s.text)
      .join('')
      .trim(),
    segments,
    language: 'en',
    audioDurationMs: segments.length > 0 ? segments[segments.length - 1].endMs : 0,
    timings: { audioMs: 1, queueMs: 0, inferenceMs: 10, languageDetectionMs: 0, encoderRuns: 1 },
  };
}

function token(text: string, startMs: number | undefined, endMs: number | undefined, special = false): Token {
  return {
    id: 1,
    text,
    probability: 0.9,
    logProbability: -0.1,
    timestampProbability: 0,
    timestampProbabilitySum: 0,
    ...(startMs !== undefined && endMs !== undefined ? { startMs, endMs } : {}),
    special,
  };
}

// Whisper's texts start with a space; the second segment is past an hour, its end not on a
// whole millisecond; the third is empty.
const SAMPLE = transcriptOf([
  segment(0, 0, 7600, ' And so my fellow Americans,'),
  segment(1, 3_723_450, 3_725_004.6, ' ask not --> what'),
  segment(2, 3_725_010, 3_725_010, ''),
]);

interface Cue {
  startMs: number;
  endMs: number;
  text: string;
}

function parseSrt(srt: string): Cue[] {
  const blocks = srt.split('\n\n').filter((block) => block.length > 0);
  return blocks.map((block, i) => {
    const [number, timing, ...text] = block.split('\n');
    expect(number).toBe(String(i + 1));
    const match = /^(\d+):(\d\d):(\d\d),(\d\d\d) --> (\d+):(\d\d):(\d\d),(\d\d\d)$/.exec(timing);
    expect(match, timing).not.toBeNull();
    const [h0, m0, s0, ms0, h1, m1, s1, ms1] = match!.slice(1).map(Number);
    return { startMs: ((h0 * 60 + m0) * 60 + s0) * 1000 + ms0, endMs: ((h1 * 60 + m1) * 60 + s1) * 1000 + ms1, text: text.join('\n') };
  });
}

describe('formatTranscript without options (as whisper-cli writes)', () => {
  it('srt: numbered cues, HH:MM:SS,mmm, the text untouched', () => {
    expect(formatTranscript(SAMPLE, 'srt')).toBe(
      '1\n00:00:00,000 --> 00:00:07,600\n And so my fellow Americans,\n\n' +
        '2\n01:02:03,450 --> 01:02:05,005\n ask not --> what\n\n' +
        '3\n01:02:05,010 --> 01:02:05,010\n\n\n',
    );
  });

  it('vtt: the WEBVTT header, HH:MM:SS.mmm, and an arrow inside a text escaped', () => {
    expect(formatTranscript(SAMPLE, 'vtt')).toBe(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:07.600\n And so my fellow Americans,\n\n' +
        '01:02:03.450 --> 01:02:05.005\n ask not --&gt; what\n\n' +
        '01:02:05.010 --> 01:02:05.010\n\n\n',
    );
  });

  it('lrc: the [by:whisper.cpp] tag and [MM:SS.cc] start times, minutes past 59 not wrapped', () => {
    expect(formatTranscript(SAMPLE, 'lrc')).toBe('[by:whisper.cpp]\n[00:00.00] And so my fellow Americans,\n[62:03.45] ask not --> what\n[62:05.01]\n');
  });

  it('txt: each segment text on its own line, as whisper gives it', () => {
    expect(formatTranscript(SAMPLE, 'txt')).toBe(' And so my fellow Americans,\n ask not --> what\n\n');
  });

  it('tsv: OpenAI whisper rows, integer ms and the text trimmed', () => {
    expect(formatTranscript(SAMPLE, 'tsv')).toBe('start\tend\ttext\n0\t7600\tAnd so my fellow Americans,\n3723450\t3725005\task not --> what\n3725010\t3725010\t\n');
  });

  it('tsv: tabs and line breaks inside a text become spaces, so a row stays one row of three columns', () => {
    const tsv = formatTranscript(transcriptOf([segment(0, 10, 20, ' a\tb\nc\r\nd ')]), 'tsv');
    expect(tsv).toBe('start\tend\ttext\n10\t20\ta b c  d\n');
    expect(tsv.trimEnd().split('\n')[1].split('\t')).toHaveLength(3);
  });

  it('json: the transcript itself, indented by two, with a final newline', () => {
    const json = formatTranscript(SAMPLE, 'json');
    expect(json.endsWith('}\n')).toBe(true);
    expect(json.split('\n')[1]).toBe('  "text": "And so my fellow Americans, ask not --> what",');
    expect(JSON.parse(json)).toEqual(SAMPLE);
  });

  it('rounds times to the nearest millisecond (srt, vtt) or centisecond (lrc), carrying into the next unit', () => {
    const t = transcriptOf([segment(0, 59_999.6, 3_599_999.5, ' x'), segment(1, 360_000_000, 360_000_001, ' y')]);
    expect(formatTranscript(t, 'srt')).toBe('1\n00:01:00,000 --> 01:00:00,000\n x\n\n2\n100:00:00,000 --> 100:00:00,001\n y\n\n');
    expect(formatTranscript(t, 'lrc')).toBe('[by:whisper.cpp]\n[01:00.00] x\n[6000:00.00] y\n');
    expect(formatTranscript(transcriptOf([segment(0, 59_994, 60_000, ' z')]), 'lrc')).toBe('[by:whisper.cpp]\n[00:59.99] z\n');
  });

  it('an empty transcript is the format frame alone', () => {
    const empty = transcriptOf([]);
    expect(TRANSCRIPT_FORMATS.filter((f) => f !== 'json' && f !== 'verbose_json').map((f) => formatTranscript(empty, f))).toEqual([
      '',
      '',
      'WEBVTT\n\n',
      'start\tend\ttext\n',
      '[by:whisper.cpp]\n',
    ]);
  });

  it('lists exactly the seven formats, and no csv', () => {
    expect([...TRANSCRIPT_FORMATS]).toEqual(['txt', 'srt', 'vtt', 'json', 'verbose_json', 'tsv', 'lrc']);
    expect(Object.isFrozen(TRANSCRIPT_FORMATS)).toBe(true);
  });
});

describe('formatTranscript with subtitle options', () => {
  const FOX = transcriptOf([segment(0, 1000, 5000, ' the quick brown fox jumps over the lazy dog')]);

  it('wraps on words at maxLineLength, a segment still one cue with its own times', () => {
    expect(formatTranscript(FOX, 'srt', { maxLineLength: 10 })).toBe('1\n00:00:01,000 --> 00:00:05,000\nthe quick\nbrown fox\njumps over\nthe lazy\ndog\n\n');
    expect(formatTranscript(FOX, 'vtt', { maxLineLength: 10 })).toBe('WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nthe quick\nbrown fox\njumps over\nthe lazy\ndog\n\n');
  });

  it('splits a segment into cues of maxLineCount lines, its time shared out by characters', () => {
    // 19, 19 and 3 characters (a line break counts as one) of 41, over 4000 ms.
    expect(formatTranscript(FOX, 'srt', { maxLineLength: 10, maxLineCount: 2 })).toBe(
      '1\n00:00:01,000 --> 00:00:02,854\nthe quick\nbrown fox\n\n' +
        '2\n00:00:02,854 --> 00:00:04,707\njumps over\nthe lazy\n\n' +
        '3\n00:00:04,707 --> 00:00:05,000\ndog\n\n',
    );
  });

  it('keeps a word longer than maxLineLength whole, on a line of its own', () => {
    const t = transcriptOf([segment(0, 0, 3000, ' a incomprehensibilities b')]);
    expect(formatTranscript(t, 'srt', { maxLineLength: 5 })).toBe('1\n00:00:00,000 --> 00:00:03,000\na\nincomprehensibilities\nb\n\n');
  });

  it('counts characters, not UTF-16 units', () => {
    const t = transcriptOf([segment(0, 0, 1000, ' 🙂🙂🙂 ab')]);
    expect(formatTranscript(t, 'srt', { maxLineLength: 6 })).toBe('1\n00:00:00,000 --> 00:00:01,000\n🙂🙂🙂 ab\n\n');
    expect(formatTranscript(t, 'srt', { maxLineLength: 5 })).toBe('1\n00:00:00,000 --> 00:00:01,000\n🙂🙂🙂\nab\n\n');
  });

  it('takes cue times from the tokens when they carry times and spell the text', () => {
    const tokens = [
      token('[_BEG_]', 0, 0, true),
      token(' hello', 0, 500),
      token(' there', 500, 1200),
      token(' general', 1500, 2500),
      token(' ken', 2600, 3000),
      token('obi', 3000, 3800),
      token('[_TT_200]', 4000, 4000, true),
    ];
    const t = transcriptOf([segment(0, 0, 4000, ' hello there general kenobi', tokens)]);
    expect(formatTranscript(t, 'vtt', { maxLineLength: 12, maxLineCount: 1 })).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nhello there\n\n00:00:01.500 --> 00:00:02.600\ngeneral\n\n00:00:02.600 --> 00:00:04.000\nkenobi\n\n',
    );
    // Tokens without times, or whose text is not the segment's, fall back to characters: 11, 7, 6 of 24.
    const untimed = transcriptOf([
      segment(
        0,
        0,
        4000,
        ' hello there general kenobi',
        tokens.map((tk) => token(tk.text, undefined, undefined, tk.special)),
      ),
    ]);
    const misspelt = transcriptOf([segment(0, 0, 4000, ' hello there general kenobi', [token(' hallo there general kenobi', 0, 100)])]);
    const proportional = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.833\nhello there\n\n00:00:01.833 --> 00:00:03.000\ngeneral\n\n00:00:03.000 --> 00:00:04.000\nkenobi\n\n';
    expect(formatTranscript(untimed, 'vtt', { maxLineLength: 12, maxLineCount: 1 })).toBe(proportional);
    expect(formatTranscript(misspelt, 'vtt', { maxLineLength: 12, maxLineCount: 1 })).toBe(proportional);
  });

  it('keeps token-derived times inside the segment and never decreasing', () => {
    // Token times out of order and past the segment's end, as a random-weight model may give.
    const tokens = [token(' one', 900, 1000), token(' two', 100, 200), token(' three', 9000, 9100)];
    const t = transcriptOf([segment(0, 500, 2000, ' one two three', tokens)]);
    expect(parseSrt(formatTranscript(t, 'srt', { maxLineLength: 1, maxLineCount: 1 }))).toEqual([
      { startMs: 500, endMs: 500, text: 'one' },
      { startMs: 500, endMs: 2000, text: 'two' },
      { startMs: 2000, endMs: 2000, text: 'three' },
    ]);
  });

  it('split cues cover each segment exactly, in order, over many random segments', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const words = ['a', 'to', 'the', 'word', 'speech', 'whisper', 'transcript', 'incomprehensibilities'];
    const segments: Segment[] = [];
    let at = 0;
    for (let i = 0; i < 200; i++) {
      const count = 1 + Math.floor(random() * 30);
      const text = Array.from({ length: count }, () => ' ' + words[Math.floor(random() * words.length)]).join('');
      const span = Math.floor(random() * 20) * 10 + (i % 7 === 0 ? 0 : 1000);
      segments.push(segment(i, at, at + span, text));
      at += span + Math.floor(random() * 3) * 10;
    }
    const options: SubtitleOptions = { maxLineLength: 12, maxLineCount: 2 };
    const cues = parseSrt(formatTranscript(transcriptOf(segments), 'srt', options));
    let cue = 0;
    for (const s of segments) {
      const first = cue;
      const ownWords: string[] = [];
      while (cue < cues.length && ownWords.length < s.text.trim().split(' ').length) {
        ownWords.push(...cues[cue].text.split(/\s+/));
        expect(cues[cue].text.split('\n').length).toBeLessThanOrEqual(2);
        if (cue > first) expect(cues[cue].startMs).toBe(cues[cue - 1].endMs);
        expect(cues[cue].endMs).toBeGreaterThanOrEqual(cues[cue].startMs);
        cue++;
      }
      expect(ownWords.join(' ')).toBe(s.text.trim());
      expect(cues[first].startMs).toBe(s.startMs);
      expect(cues[cue - 1].endMs).toBe(s.endMs);
    }
    expect(cue).toBe(cues.length);
    expect(cues.length).toBeGreaterThan(segments.length * 2);
  });

  it('an empty segment stays one empty cue; options leave txt, lrc, tsv and json as they were', () => {
    const options = { maxLineLength: 3, maxLineCount: 1 };
    expect(formatTranscript(SAMPLE, 'srt', options).endsWith('10\n01:02:05,010 --> 01:02:05,010\n\n\n')).toBe(true);
    for (const format of ['txt', 'lrc', 'tsv', 'json'] as const) expect(formatTranscript(SAMPLE, format, options)).toBe(formatTranscript(SAMPLE, format));
  });

  it('maxLineCount alone leaves a one-line text whole, as a single cue', () => {
    expect(formatTranscript(FOX, 'srt', { maxLineCount: 1 })).toBe('1\n00:00:01,000 --> 00:00:05,000\nthe quick brown fox jumps over the lazy dog\n\n');
  });
});

describe('formatTranscript refuses bad input with INVALID_ARGUMENT', () => {
  const cases: [string, () => unknown, string][] = [
    ['an unknown format', () => formatTranscript(SAMPLE, 'csv' as TranscriptFormat), 'format: expected one of txt, srt, vtt, json, verbose_json, tsv, lrc, got "csv"'],
    [
      'a format of another type',
      () => formatTranscript(SAMPLE, 3 as unknown as TranscriptFormat),
      'format: expected one of txt, srt, vtt, json, verbose_json, tsv, lrc, got 3',
    ],
    [
      'no transcript',
      () => formatTranscript(undefined as unknown as Transcript, 'srt'),
      'transcript: expected a Transcript (an object with a segments array), got undefined',
    ],
    [
      'a string for a transcript',
      () => formatTranscript('hello' as unknown as Transcript, 'txt'),
      'transcript: expected a Transcript (an object with a segments array), got "hello"',
    ],
    [
      'a transcript without segments',
      () => formatTranscript({ text: 'x' } as unknown as Transcript, 'txt'),
      'transcript.segments: expected an array of segments, got undefined',
    ],
    ['a null segment', () => formatTranscript({ segments: [null] } as unknown as Transcript, 'srt'), 'transcript.segments[0]: expected a segment object, got null'],
    [
      'a negative start',
      () => formatTranscript(transcriptOf([segment(0, 0, 1, ' a'), segment(1, -10, 0, ' b')]), 'srt'),
      'transcript.segments[1].startMs: expected a finite number of milliseconds, 0 or more, got -10',
    ],
    [
      'a NaN end',
      () => formatTranscript(transcriptOf([segment(0, 0, NaN, ' a')]), 'vtt'),
      'transcript.segments[0].endMs: expected a finite number of milliseconds, 0 or more, got NaN',
    ],
    [
      'a missing text',
      () => formatTranscript({ segments: [{ startMs: 0, endMs: 1 }] } as unknown as Transcript, 'txt'),
      'transcript.segments[0].text: expected a string, got undefined',
    ],
    ['options that are not an object', () => formatTranscript(SAMPLE, 'srt', 5 as unknown as SubtitleOptions), 'options: expected an object, got 5'],
    ['maxLineLength 0', () => formatTranscript(SAMPLE, 'srt', { maxLineLength: 0 }), 'options.maxLineLength: expected an integer from 1 to 1000, got 0'],
    ['a fractional maxLineCount', () => formatTranscript(SAMPLE, 'vtt', { maxLineCount: 1.5 }), 'options.maxLineCount: expected an integer from 1 to 1000, got 1.5'],
    ['maxLineCount past 1000', () => formatTranscript(SAMPLE, 'txt', { maxLineCount: 1001 }), 'options.maxLineCount: expected an integer from 1 to 1000, got 1001'],
    [
      'a misspelt option',
      () => formatTranscript(SAMPLE, 'srt', { maxLineLenght: 40 } as SubtitleOptions),
      'options.maxLineLenght: expected one of the known options (maxLineLength, maxLineCount, task), got "maxLineLenght"',
    ],
    [
      'an unknown task',
      () => formatTranscript(SAMPLE, 'verbose_json', { task: 'translation' as 'translate' }),
      "options.task: expected one of 'transcribe', 'translate', got \"translation\"",
    ],
    // every format reads every option, so a bad task is refused even where it would be ignored
    [
      'a task of another type',
      () => formatTranscript(SAMPLE, 'srt', { task: true as unknown as 'translate' }),
      "options.task: expected one of 'transcribe', 'translate', got true",
    ],
  ];
  itRefusesEach(cases);
});
