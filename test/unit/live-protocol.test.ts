/** The live protocol's messages and close codes, and the inbox's backpressure, without a socket or a model. */
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { unavailable } from '../../lib/server/context';
import { AudioInbox } from '../../lib/server/live-inbox';
import { closeCodeFor, closeReason, doneMessage, failureOf, parseClientMessage, segmentMessage } from '../../lib/server/live-protocol';
import { HttpError } from '../../lib/server/openai-errors';
import type { Segment } from '../../lib/transcription/transcript';

function refusal(text: string): string {
  try {
    parseClientMessage(text);
  } catch (error) {
    expect(error).toBeInstanceOf(WhisperError);
    expect((error as WhisperError).code).toBe('INVALID_ARGUMENT');
    return (error as WhisperError).message;
  }
  throw new Error(`accepted ${text}`);
}

describe('parseClientMessage', () => {
  it('reads a start with only a format, and one with every field', () => {
    expect(parseClientMessage('{"type":"start","format":"s16"}')).toEqual({ type: 'start', format: 's16' });
    expect(
      parseClientMessage(JSON.stringify({ type: 'start', format: 'webm', language: 'auto', model: 'base', prompt: 'Kennedy.', wordTimestamps: true, windowMs: 10_000 })),
    ).toEqual({ type: 'start', format: 'webm', language: 'auto', model: 'base', prompt: 'Kennedy.', wordTimestamps: true, windowMs: 10_000 });
    expect(parseClientMessage('{"type":"start","format":"f32","language":"de"}')).toEqual({ type: 'start', format: 'f32', language: 'de' });
  });

  it('reads a stop', () => {
    expect(parseClientMessage(' {"type":"stop"} ')).toEqual({ type: 'stop' });
  });

  it.each([
    ['not JSON', 'hello', 'message: expected JSON text, got "hello"'],
    ['long text that is not JSON, cut', 'x'.repeat(100), `message: expected JSON text, got "${'x'.repeat(40)}"…`],
    ['a JSON array', '[1]', 'message: expected a JSON object with a "type", got an array of length 1'],
    ['JSON null', 'null', 'message: expected a JSON object with a "type", got null'],
    ['no type', '{"format":"s16"}', "message.type: expected 'start' or 'stop', got undefined"],
    ['an unknown type', '{"type":"audio"}', `message.type: expected 'start' or 'stop', got "audio"`],
    ['no format', '{"type":"start"}', "start.format: expected one of 's16', 'f32', 'webm', got undefined"],
    ['a bad format', '{"type":"start","format":"S16"}', `start.format: expected one of 's16', 'f32', 'webm', got "S16"`],
    [
      'an unknown language',
      '{"type":"start","format":"s16","language":"english"}',
      `start.language: expected a whisper language code such as 'en', or 'auto', got "english"`,
    ],
    ['a language of the wrong type', '{"type":"start","format":"s16","language":1}', `start.language: expected a whisper language code such as 'en', or 'auto', got 1`],
    ['an inherited name as a language', '{"type":"start","format":"s16","language":"constructor"}', 'start.language: expected'],
    ['a null model', '{"type":"start","format":"s16","model":null}', 'start.model: expected the name of a served model, got null'],
    ['an empty model', '{"type":"start","format":"s16","model":""}', 'start.model: expected the name of a served model, got ""'],
    ['a prompt that is not text', '{"type":"start","format":"s16","prompt":5}', 'start.prompt: expected a string, got 5'],
    ['wordTimestamps as a string', '{"type":"start","format":"s16","wordTimestamps":"yes"}', 'start.wordTimestamps: expected a boolean, got "yes"'],
    ['windowMs too small', '{"type":"start","format":"s16","windowMs":1999}', 'start.windowMs: expected an integer from 2000 to 30000, got 1999'],
    ['windowMs too large', '{"type":"start","format":"s16","windowMs":30001}', 'start.windowMs: expected an integer from 2000 to 30000, got 30001'],
    ['a misspelt start field', '{"type":"start","format":"s16","langauge":"en"}', 'start.langauge: expected one of the known options'],
    ['a field on stop', '{"type":"stop","now":true}', 'stop.now: expected one of the known options (type)'],
  ])('refuses %s', (_what, text, message) => {
    expect(refusal(text).startsWith(message)).toBe(true);
  });
});

describe('server messages', () => {
  const segment: Segment = {
    index: 0,
    startMs: 1234.4,
    endMs: 5000,
    text: ' Ask not.',
    noSpeechProbability: 0,
    speakerTurnNext: false,
    temperature: 0,
    windowStartMs: 0,
    tokens: [],
  };

  it('a segment in seconds to the millisecond, with its text as whisper wrote it', () => {
    expect(segmentMessage(segment)).toEqual({ type: 'segment', start: 1.234, end: 5, text: ' Ask not.' });
  });

  it('words, when the segment has them', () => {
    const words = [{ text: ' Ask', startMs: 1234, endMs: 1500.6, probability: 0.9 }];
    expect(segmentMessage({ ...segment, words })).toEqual({ ...segmentMessage(segment), words: [{ word: ' Ask', start: 1.234, end: 1.501, probability: 0.9 }] });
  });

  it('done trims the joined text', () => {
    expect(doneMessage(' Ask not. Ask what.', 11_000.4)).toEqual({ type: 'done', text: 'Ask not. Ask what.', duration: 11 });
  });
});

describe('close codes and failures', () => {
  it.each([
    [400, 1008],
    [401, 1008],
    [408, 1008],
    [415, 1008],
    [429, 1013],
    [503, 1013],
    [500, 1011],
    [504, 1011],
  ])('status %i closes with %i', (status, code) => {
    expect(closeCodeFor(status)).toBe(code);
  });

  it('a WhisperError: its message and code, the client’s fault', () => {
    expect(failureOf(new WhisperError('INVALID_AUDIO', 'audio: not decodable'))).toEqual({
      message: { type: 'error', error: { message: 'audio: not decodable', type: 'invalid_request_error', code: 'invalid_audio' } },
      closeCode: 1008,
      reason: 'audio: not decodable',
    });
  });

  it('a full queue and a shutdown: try again later', () => {
    expect(failureOf(new WhisperError('QUEUE_FULL', 'the queue is full')).closeCode).toBe(1013);
    expect(failureOf(unavailable('the server is shutting down', 'shutting_down'))).toMatchObject({
      message: { error: { type: 'server_error', code: 'shutting_down' } },
      closeCode: 1013,
    });
  });

  it('anything else is internal, and says nothing of itself', () => {
    expect(failureOf(new TypeError('secret /home/path'))).toEqual({
      message: { type: 'error', error: { message: 'internal error', type: 'server_error', code: 'internal_error' } },
      closeCode: 1011,
      reason: 'internal error',
    });
    expect(failureOf(new HttpError(500, 'boom')).message).toEqual({ type: 'error', error: { message: 'boom', type: 'server_error', code: null } });
  });

  it('close reasons fit a close frame (123 bytes), cut on a character', () => {
    expect(closeReason('short')).toBe('short');
    const exact = 'a'.repeat(123);
    expect(closeReason(exact)).toBe(exact);
    const cut = closeReason('é'.repeat(100));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).toBe(`${'é'.repeat(60)}…`);
  });
});

describe('AudioInbox', () => {
  function inbox(limit: number) {
    const flow = { calls: [] as string[], pause: () => flow.calls.push('pause'), resume: () => flow.calls.push('resume') };
    const sizes: number[] = [];
    return { box: new AudioInbox(limit, flow, (bytes) => sizes.push(bytes)), flow, sizes };
  }

  it('delivers chunks in order, then the end once ended', async () => {
    const { box } = inbox(100);
    box.push(Buffer.from([1]));
    box.push(Buffer.from([2, 3]));
    box.end();
    const got: number[][] = [];
    for await (const chunk of box) got.push([...chunk]);
    expect(got).toEqual([[1], [2, 3]]);
  });

  it('a waiting reader gets the next chunk directly, or the end', async () => {
    const { box, sizes } = inbox(100);
    const first = box.next();
    box.push(Buffer.from([7]));
    expect(await first).toEqual({ done: false, value: Buffer.from([7]) });
    expect(sizes).toEqual([]);
    const second = box.next();
    box.end();
    expect(await second).toEqual({ done: true, value: undefined });
  });

  it('pauses once above the limit, once, and resumes at half of it', async () => {
    const { box, flow, sizes } = inbox(10);
    for (let i = 0; i < 4; i++) box.push(Buffer.alloc(4));
    expect(flow.calls).toEqual(['pause']);
    expect(box.paused).toBe(true);
    expect(sizes).toEqual([4, 8, 12, 16]);
    await box.next();
    await box.next();
    expect(flow.calls).toEqual(['pause']);
    await box.next();
    expect(flow.calls).toEqual(['pause', 'resume']);
    expect(box.queuedBytes).toBe(4);
    expect(box.paused).toBe(false);
  });

  it('end() resumes a paused socket, so the close handshake can be read', () => {
    const { box, flow } = inbox(1);
    box.push(Buffer.alloc(2));
    box.end();
    expect(flow.calls).toEqual(['pause', 'resume']);
  });

  it('discard() drops what is queued; later chunks and empty ones are ignored', async () => {
    const { box } = inbox(100);
    box.push(Buffer.alloc(0));
    expect(box.queuedBytes).toBe(0);
    box.push(Buffer.alloc(5));
    box.discard();
    box.push(Buffer.alloc(5));
    expect(box.queuedBytes).toBe(0);
    expect(box.ended).toBe(true);
    expect(await box.next()).toEqual({ done: true, value: undefined });
  });

  it('return() (a transcriber that stopped early) ends it', async () => {
    const { box } = inbox(100);
    box.push(Buffer.alloc(5));
    expect(await box.return()).toEqual({ done: true, value: undefined });
    expect(await box.next()).toEqual({ done: true, value: undefined });
  });
});
