/**
 * OpenAI's transcription form fields made transcribe() options (openai-fields.ts), and the
 * answers built from a transcript (responses.ts), without a server or a model.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { APIError } from 'openai';
import { Stream } from 'openai/streaming';
import { describe, expect, it } from 'vitest';
import { invalidArgument, WhisperError } from '../../lib/errors/whisper-error';
import { HttpError } from '../../lib/server/openai-errors';
import { fieldError, parseTranscriptionFields, transcribeOptionsFor, type TranscriptionFields } from '../../lib/server/openai-fields';
import { renderTranscript, verboseAnswer } from '../../lib/server/responses';
import { transcriptEvents, type TranscriptEvents } from '../../lib/server/sse';
import { formatTranscript } from '../../lib/transcription/formats';
import type { Segment, Transcript } from '../../lib/transcription/transcript';
import { toVerboseJson } from '../../lib/transcription/verbose-json';

function form(entries: Record<string, string | string[]>): Map<string, string[]> {
  return new Map(Object.entries(entries).map(([name, value]) => [name, Array.isArray(value) ? value : [value]]));
}

function parse(entries: Record<string, string | string[]>, endpoint: 'transcriptions' | 'translations' = 'transcriptions'): TranscriptionFields {
  return parseTranscriptionFields(form(entries), endpoint);
}

/** The HttpError `run` throws. */
function refusal(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  return expect.unreachable('expected a refusal');
}

/** What OpenAI's client reads from a response written by `write`: its events, then its error if it ends with one. */
async function readByTheClient(write: (events: TranscriptEvents) => void): Promise<{ status: number; events: unknown[]; error?: unknown }> {
  const server = http.createServer((_req, res) => write(transcriptEvents(res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const events: unknown[] = [];
    try {
      for await (const event of Stream.fromSSEResponse(response, new AbortController())) events.push(event);
    } catch (error) {
      return { status: response.status, events, error };
    }
    return { status: response.status, events };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('transcriptEvents (stream=true)', () => {
  it('deltas then done, as the official client reads them; the first delta loses its leading space', async () => {
    const read = await readByTheClient((events) => {
      events.delta(' Ten of clubs.');
      events.delta('');
      events.delta(' Five of hearts.');
      events.done(TRANSCRIPT);
    });
    expect(read).toEqual({
      status: 200,
      events: [
        { type: 'transcript.text.delta', delta: 'Ten of clubs.' },
        { type: 'transcript.text.delta', delta: ' Five of hearts.' },
        { type: 'transcript.text.done', text: TRANSCRIPT.text, usage: USAGE },
      ],
    });
  });

  it('a failure after the first event is an error event the client raises as an APIError', async () => {
    const read = await readByTheClient((events) => {
      events.delta(' Ten of clubs.');
      expect(events.fail(new WhisperError('TRANSCRIPTION_FAILED', 'whisper_full failed with -6'))).toBe(true);
    });
    expect(read.events).toEqual([{ type: 'transcript.text.delta', delta: 'Ten of clubs.' }]);
    expect(read.error).toBeInstanceOf(APIError);
    expect((read.error as APIError).message).toMatch(/whisper_full failed with -6/);
    expect((read.error as APIError).code).toBe('transcription_failed');
    expect((read.error as APIError).type).toBe('server_error');
  });

  it('a failure before any event is left to the caller, with no headers sent', async () => {
    const read = await readByTheClient((events) => {
      expect(events.fail(new WhisperError('QUEUE_FULL', 'full'))).toBe(false);
      expect(events.started).toBe(false);
      events.delta('x');
      expect(events.started).toBe(true);
      events.done(TRANSCRIPT);
    });
    expect(read.events).toHaveLength(2);
  });
});

describe('parseTranscriptionFields', () => {
  it('defaults: json, no granularities, no stream, no options, the default model', () => {
    expect(parse({})).toEqual({ model: undefined, responseFormat: 'json', granularities: new Set(), stream: false, options: {} });
  });

  it('reads every OpenAI field into its option', () => {
    const fields = parse({
      model: 'whisper-1',
      language: ' DE ',
      prompt: 'Names: Ødegaard.',
      temperature: '0.4',
      response_format: 'verbose_json',
      'timestamp_granularities[]': ['word', 'segment'],
      stream: 'false',
    });
    expect(fields).toEqual({
      model: 'whisper-1',
      responseFormat: 'verbose_json',
      granularities: new Set(['word', 'segment']),
      stream: false,
      options: { language: 'de', initialPrompt: 'Names: Ødegaard.', temperature: 0.4, wordTimestamps: true },
    });
  });

  it('translations set translate; only segment granularity asks no word timestamps', () => {
    expect(parse({ response_format: 'verbose_json', 'timestamp_granularities[]': 'segment' }, 'translations').options).toEqual({ translate: true });
  });

  it('accepts timestamp_granularities without brackets, and empty optional fields as absent', () => {
    const fields = parse({ response_format: 'verbose_json', timestamp_granularities: 'word', language: '', prompt: '', temperature: ' ', model: '' });
    expect(fields.granularities).toEqual(new Set(['word']));
    expect(fields.options).toEqual({ wordTimestamps: true });
    expect(fields.model).toBeUndefined();
  });

  it('stream=true with json or text', () => {
    expect(parse({ stream: 'true' }).stream).toBe(true);
    expect(parse({ stream: 'TRUE', response_format: 'text' }).stream).toBe(true);
  });

  it('ignores fields it does not know (clients send extras)', () => {
    expect(parse({ 'include[]': 'logprobs', chunking_strategy: 'auto', anything: 'x' })).toEqual(parse({}));
  });

  const bad: [string, Record<string, string | string[]>, string, RegExp][] = [
    [
      'an unknown response_format',
      { response_format: 'diarized_json' },
      'response_format',
      /^response_format: expected one of json, text, srt, verbose_json, vtt, got "diarized_json"/,
    ],
    ['a temperature above 1', { temperature: '1.5' }, 'temperature', /^temperature: expected a number from 0 to 1, got "1.5"/],
    ['a negative temperature', { temperature: '-0.1' }, 'temperature', /^temperature:/],
    ['a temperature that is not a number', { temperature: 'warm' }, 'temperature', /^temperature:/],
    ['a language that is no code', { language: 'English' }, 'language', /^language: expected an ISO-639-1 code/],
    ['stream that is not a boolean', { stream: 'yes' }, 'stream', /^stream: expected true or false, got "yes"/],
    ['an unknown granularity', { response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'char'] }, 'timestamp_granularities[]', /got "char"/],
    ['granularities without verbose_json', { 'timestamp_granularities[]': 'word' }, 'timestamp_granularities[]', /needs response_format verbose_json, got json/],
    ['stream with srt', { stream: 'true', response_format: 'srt' }, 'stream', /must be json or text, got srt/],
    ['stream with verbose_json', { stream: 'true', response_format: 'verbose_json' }, 'stream', /got verbose_json/],
    ['a field given twice', { model: ['a', 'b'] }, 'model', /^model: expected one value, got 2/],
  ];
  it.each(bad)('refuses %s with a 400 naming the field', (_what, entries, param, message) => {
    const error = refusal(() => parse(entries));
    expect(error.status).toBe(400);
    expect(error.details.param).toBe(param);
    expect(error.message).toMatch(message);
  });
});

describe('transcribeOptionsFor', () => {
  it('starts from the defaults, the fields override them, the route adds signal and onSegment', () => {
    const signal = new AbortController().signal;
    const onSegment = () => {};
    const options = transcribeOptionsFor(parse({ language: 'fr', temperature: '0.2' }), { threads: 2, language: 'en', beamSize: 3 }, { signal, onSegment });
    expect(options).toEqual({ threads: 2, language: 'fr', beamSize: 3, temperature: 0.2, signal, onSegment });
  });

  it("keeps the defaults' signal and onSegment working beside the route's", () => {
    const server = new AbortController();
    const client = new AbortController();
    const seen: string[] = [];
    const options = transcribeOptionsFor(
      parse({}),
      { signal: server.signal, onSegment: (segment) => seen.push(`defaults ${segment.text}`) },
      { signal: client.signal, onSegment: (segment) => seen.push(`route ${segment.text}`) },
    );
    options.onSegment!(SEGMENTS[0]!);
    expect(seen).toEqual(['defaults  Ten of clubs.', 'route  Ten of clubs.']);
    expect(options.signal!.aborted).toBe(false);
    server.abort(new Error('shutting down'));
    expect(options.signal!.aborted).toBe(true);
    const onlyDefaults = transcribeOptionsFor(parse({}), { onSegment: () => seen.push('only') }, { signal: client.signal });
    onlyDefaults.onSegment!(SEGMENTS[0]!);
    expect(seen.at(-1)).toBe('only');
  });
});

describe('fieldError', () => {
  it('names the field an option came from', () => {
    const fields = parse({ language: 'xx' });
    const error = fieldError(invalidArgument('options.language', "'auto' or a language code whisper knows", 'xx'), fields)!;
    expect(error.status).toBe(400);
    expect(error.details.param).toBe('language');
    expect(error.message).toBe(`language: expected 'auto' or a language code whisper knows, got "xx"`);
  });

  it('word timestamps from a model loaded without them: the field and how to enable them', () => {
    const fields = parse({ response_format: 'verbose_json', 'timestamp_granularities[]': 'word' });
    const error = fieldError(invalidArgument('options.wordTimestamps', 'false, or a model loaded with …', true), fields)!;
    expect(error.details.param).toBe('timestamp_granularities[]');
    expect(error.message).toMatch(/loadModel\(path, \{ wordTimestamps: true \}\)/);
  });

  it('translations on an English-only model name the model', () => {
    const error = fieldError(invalidArgument('options.translate', 'false for this English-only model', true), parse({}, 'translations'))!;
    expect(error.details.param).toBe('model');
    expect(error.message).toMatch(/^model: an English-only model cannot translate/);
  });

  it('leaves alone what no field asked for, and anything but INVALID_ARGUMENT', () => {
    const fields = parse({});
    expect(fieldError(invalidArgument('options.language', 'x', 'de'), fields)).toBeUndefined();
    expect(fieldError(invalidArgument('options.threads', 'x', 99), parse({ language: 'de' }))).toBeUndefined();
    expect(fieldError(new WhisperError('INVALID_AUDIO', 'options.language: no'), parse({ language: 'de' }))).toBeUndefined();
    expect(fieldError(new Error('options.language: no'), parse({ language: 'de' }))).toBeUndefined();
  });
});

const SEGMENTS: Segment[] = [
  {
    index: 0,
    startMs: 0,
    endMs: 1500,
    text: ' Ten of clubs.',
    noSpeechProbability: 0.01,
    speakerTurnNext: false,
    temperature: 0,
    windowStartMs: 0,
    tokens: [{ id: 50364, text: '[_BEG_]', probability: 0.9, logProbability: -0.1, timestampProbability: 0, timestampProbabilitySum: 0, special: true }],
    words: [
      { text: ' Ten', startMs: 0, endMs: 400, probability: 0.9 },
      { text: ' of', startMs: 400, endMs: 700, probability: 0.9 },
      { text: ' clubs.', startMs: 700, endMs: 1500, probability: 0.9 },
    ],
  },
  {
    index: 1,
    startMs: 1500,
    endMs: 3000,
    text: ' Five of hearts.',
    noSpeechProbability: 0.01,
    speakerTurnNext: false,
    temperature: 0,
    windowStartMs: 0,
    tokens: [],
    words: [
      { text: ' Five', startMs: 1500, endMs: 1900, probability: 0.9 },
      { text: ' of', startMs: 1900, endMs: 2100, probability: 0.9 },
      { text: ' hearts.', startMs: 2100, endMs: 3000, probability: 0.9 },
    ],
  },
];
const TRANSCRIPT: Transcript = {
  text: 'Ten of clubs. Five of hearts.',
  segments: SEGMENTS,
  language: 'en',
  audioDurationMs: 3250,
  timings: { audioMs: 1, queueMs: 0, inferenceMs: 10, languageDetectionMs: 0, encoderRuns: 1 },
};
const USAGE = { type: 'duration', seconds: 3.25 };

function shape(responseFormat: TranscriptionFields['responseFormat'], granularities: string[] = [], endpoint: 'transcriptions' | 'translations' = 'transcriptions') {
  return { endpoint, responseFormat, granularities: new Set(granularities as ('word' | 'segment')[]) };
}

describe('renderTranscript', () => {
  it('json: the text and the duration usage', () => {
    const { contentType, body } = renderTranscript(TRANSCRIPT, shape('json'));
    expect(contentType).toBe('application/json; charset=utf-8');
    expect(JSON.parse(body)).toEqual({ text: TRANSCRIPT.text, usage: USAGE });
  });

  it('text: the whole text on one line, text/plain', () => {
    expect(renderTranscript(TRANSCRIPT, shape('text'))).toEqual({ contentType: 'text/plain; charset=utf-8', body: 'Ten of clubs. Five of hearts.\n' });
  });

  it('srt as text/plain, vtt as text/vtt, both formatTranscript', () => {
    expect(renderTranscript(TRANSCRIPT, shape('srt'))).toEqual({ contentType: 'text/plain; charset=utf-8', body: formatTranscript(TRANSCRIPT, 'srt') });
    expect(renderTranscript(TRANSCRIPT, shape('vtt'))).toEqual({ contentType: 'text/vtt; charset=utf-8', body: formatTranscript(TRANSCRIPT, 'vtt') });
  });

  it('verbose_json without granularities: segments, no words, even when the transcript has them', () => {
    const { words, ...rest } = toVerboseJson(TRANSCRIPT);
    expect(words).toHaveLength(6);
    const body = JSON.parse(renderTranscript(TRANSCRIPT, shape('verbose_json')).body) as Record<string, unknown>;
    expect(body).toEqual({ ...rest, usage: USAGE });
    expect(body).not.toHaveProperty('words');
  });

  it("verbose_json with ['word']: words, no segments; with both: both", () => {
    const verbose = toVerboseJson(TRANSCRIPT);
    const words = verboseAnswer(TRANSCRIPT, shape('verbose_json', ['word']));
    expect(words.words).toEqual(verbose.words);
    expect(words.words!.map((w) => w.word)).toEqual(['Ten', 'of', 'clubs.', 'Five', 'of', 'hearts.']);
    expect(words).not.toHaveProperty('segments');
    const both = verboseAnswer(TRANSCRIPT, shape('verbose_json', ['segment', 'word']));
    expect(both.segments).toEqual(verbose.segments);
    expect(both.words).toEqual(verbose.words);
  });

  it('verbose_json of a translation says task translate', () => {
    expect(verboseAnswer(TRANSCRIPT, shape('verbose_json', [], 'translations')).task).toBe('translate');
    expect(verboseAnswer(TRANSCRIPT, shape('verbose_json')).task).toBe('transcribe');
  });
});
