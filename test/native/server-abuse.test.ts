/**
 * What a hostile or broken client gets from POST /v1/audio/transcriptions: each case a 4xx in
 * OpenAI's error shape with no stack, the oversize upload refused while it is still being sent,
 * a stalled one timed out and its connection closed, memory bounded by the file limit and not
 * by what clients send, and the model still transcribing correctly afterwards.
 */
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type WhisperModel } from '../../lib';
import { JFK_WAV } from '../support/paths';
import { realModels } from '../support/real-models';
import { startServer, type StartedServer } from '../support/server-fixture';

const MODEL = realModels().models.base.files.q8_0.path;
const API_KEY = 'sk-abuse';
const MAX_FILE_SIZE = 512 * 1024;
const BODY_TIMEOUT_MS = 400;
const BOUNDARY = 'abuse-boundary-7d1f';
const DEFAULTS = { threads: 1 };

let model: WhisperModel;
let server: StartedServer;
let jfk: Buffer;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Body bytes the client had written when the answer's headers arrived. */
  writtenWhenAnswered: number;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
}

interface RawRequest {
  headers?: http.OutgoingHttpHeaders;
  /** Written in order, `pauseMs` apart; writing stops once the answer arrives. */
  parts: Buffer[];
  pauseMs?: number;
  /** Leave the body unfinished (a stalled client). */
  stall?: boolean;
  path?: string;
}

function part(name: string, value: string): Buffer {
  return Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
}

function fileHead(name = 'file', filename = 'audio.wav', type = 'audio/wav'): Buffer {
  return Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`);
}

function filePart(bytes: Buffer, name = 'file', filename = 'audio.wav', type = 'audio/wav'): Buffer {
  return Buffer.concat([fileHead(name, filename, type), bytes, Buffer.from('\r\n')]);
}

const END = Buffer.from(`--${BOUNDARY}--\r\n`);
const MULTIPART = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, Authorization: `Bearer ${API_KEY}` };

function send(target: StartedServer, request: RawRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    const req = http.request(`${target.url}${request.path ?? '/v1/audio/transcriptions'}`, {
      method: 'POST',
      headers: { ...MULTIPART, ...request.headers },
      agent: false,
    });
    let wake: () => void = () => {};
    req.on('socket', (socket) => socket.once('close', closedResolve));
    req.on('drain', () => wake());
    req.on('close', () => wake());
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.on('response', (res) => {
      answered = true;
      wake();
      const writtenWhenAnswered = written;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), writtenWhenAnswered, closed }));
      res.on('error', reject);
    });
    void (async () => {
      for (const piece of request.parts) {
        if (answered || req.destroyed) return;
        written += piece.length;
        // The client's own memory stays small too: it waits for the socket to take each piece.
        if (!req.write(piece)) await new Promise<void>((r) => (wake = r));
        if (request.pauseMs) await new Promise((r) => setTimeout(r, request.pauseMs));
      }
      if (!request.stall && !answered) req.end();
    })();
  });
}

/** The answer is OpenAI's error body, nothing more, and no stack. */
function expectErrorBody(answer: Answer, status: number, expected: { param?: string | null; code?: string | null; message?: RegExp }): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  const body = JSON.parse(answer.body) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.type).toBe('invalid_request_error');
  if (expected.param !== undefined) expect(body.error.param).toBe(expected.param);
  if (expected.code !== undefined) expect(body.error.code).toBe(expected.code);
  if (expected.message) expect(body.error.message).toMatch(expected.message);
  expect(answer.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d/);
}

/** `count` pieces of `size` bytes of filler: one buffer, sent again and again. */
function pieces(count: number, size: number): Buffer[] {
  const piece = Buffer.alloc(size, 7);
  return Array.from({ length: count }, () => piece);
}

beforeAll(async () => {
  jfk = fs.readFileSync(JFK_WAV);
  model = await loadModel(MODEL, { concurrency: 1 });
  server = await startServer({ models: model, apiKey: API_KEY, maxFileSize: MAX_FILE_SIZE, bodyTimeoutMs: BODY_TIMEOUT_MS, transcribeDefaults: DEFAULTS });
});

afterAll(async () => {
  await server?.close();
  await model?.dispose();
});

describe('refused with 4xx and OpenAI’s error body', () => {
  it('a body that is not multipart', async () => {
    const answer = await send(server, { headers: { 'Content-Type': 'application/json' }, parts: [Buffer.from('{"file":"x"}')] });
    expectErrorBody(answer, 400, { code: 'invalid_content_type', message: /multipart\/form-data/ });
  });

  it('multipart without a boundary', async () => {
    const answer = await send(server, { headers: { 'Content-Type': 'multipart/form-data' }, parts: [part('model', 'whisper-1'), END] });
    expectErrorBody(answer, 400, { code: 'invalid_multipart', message: /^the multipart body is malformed/ });
  });

  it('a form cut off before its end', async () => {
    const answer = await send(server, { parts: [part('model', 'whisper-1'), fileHead(), jfk.subarray(0, 1000)] });
    expectErrorBody(answer, 400, { code: 'invalid_multipart', message: /unexpected end of form/ });
  });

  it('garbage where the parts should be', async () => {
    const answer = await send(server, { parts: [Buffer.from('this is not a form at all\r\n\r\n'.repeat(10))] });
    expectErrorBody(answer, 400, { code: 'invalid_multipart' });
  });

  it('a missing file field', async () => {
    const answer = await send(server, { parts: [part('model', 'whisper-1'), part('response_format', 'json'), END] });
    expectErrorBody(answer, 400, { param: 'file', code: 'missing_required_parameter', message: /^file: missing/ });
  });

  it('an empty file', async () => {
    const answer = await send(server, { parts: [filePart(Buffer.alloc(0)), part('model', 'whisper-1'), END] });
    expectErrorBody(answer, 400, { param: 'file', message: /^file: empty/ });
  });

  it('the audio in a field not named file', async () => {
    const answer = await send(server, { parts: [filePart(jfk.subarray(0, 2000), 'audio'), part('model', 'whisper-1'), END] });
    expectErrorBody(answer, 400, { param: 'file', message: /field `file`, not `audio`/ });
  });

  it('two files', async () => {
    const answer = await send(server, { parts: [filePart(jfk.subarray(0, 2000)), filePart(jfk.subarray(0, 2000)), part('model', 'whisper-1'), END] });
    expectErrorBody(answer, 400, { param: 'file', code: 'too_many_files', message: /only one file/ });
  });

  it('too many fields, and a field too long', async () => {
    const many = Array.from({ length: 80 }, (_, i) => part(`extra${i}`, 'x'));
    expectErrorBody(await send(server, { parts: [...many, END] }), 400, { code: 'invalid_multipart', message: /more than 64 fields/ });
    const long = await send(server, { parts: [part('prompt', 'y'.repeat(70 * 1024)), END] });
    expectErrorBody(long, 400, { code: 'invalid_multipart', message: /`prompt` is longer than 65536 bytes/ });
  });

  it('a bad field, named', async () => {
    const answer = await send(server, { parts: [filePart(jfk.subarray(0, 2000)), part('response_format', 'mp3'), END] });
    expectErrorBody(answer, 400, { param: 'response_format', code: 'invalid_value' });
  });

  it('a wrong or missing API key, before the body is read', async () => {
    const wrong = await send(server, { headers: { Authorization: 'Bearer sk-nope' }, parts: [filePart(jfk.subarray(0, 2000)), END] });
    expectErrorBody(wrong, 401, { code: 'invalid_api_key' });
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    const missing = await send(server, { headers: { Authorization: '' }, parts: [filePart(jfk.subarray(0, 2000)), END] });
    expectErrorBody(missing, 401, { code: 'invalid_api_key' });
  });

  it('a file that is not audio: 415 or 400 with the reason', async () => {
    for (const bytes of [Buffer.from('%PDF-1.7\n'.repeat(500)), Buffer.from('just some text, no audio here\n'.repeat(200))]) {
      const answer = await send(server, { parts: [filePart(bytes, 'file', 'notes.txt', 'text/plain'), part('model', 'whisper-1'), END] });
      expect([400, 415]).toContain(answer.status);
      expectErrorBody(answer, answer.status, {});
      expect((JSON.parse(answer.body) as { error: { message: string } }).error.message.length).toBeGreaterThan(10);
    }
  });
});

describe('uploads over the limit, and stalled ones', () => {
  it('an oversize upload is refused while it is still being sent, and its connection closed', async () => {
    const planned = pieces(40, 64 * 1024);
    const total = planned.reduce((n, p) => n + p.length, 0);
    const answer = await send(server, { parts: [fileHead(), ...planned, Buffer.from('\r\n'), END], pauseMs: 15 });
    expectErrorBody(answer, 413, { param: 'file', code: 'file_too_large', message: new RegExp(`limit of ${MAX_FILE_SIZE} bytes`) });
    expect(answer.headers.connection).toBe('close');
    // Answered after about maxFileSize, well before the 2.5 MiB were sent.
    expect(answer.writtenWhenAnswered).toBeGreaterThan(MAX_FILE_SIZE);
    expect(answer.writtenWhenAnswered).toBeLessThan(MAX_FILE_SIZE + 6 * 64 * 1024);
    expect(answer.writtenWhenAnswered).toBeLessThan(total);
    await answer.closed;
  });

  it('a Content-Length over the limit is refused before anything is read', async () => {
    const answer = await send(server, {
      headers: { 'Content-Length': String(50 * 1024 * 1024) },
      parts: [fileHead(), ...pieces(20, 64 * 1024)],
      pauseMs: 20,
      stall: true,
    });
    expectErrorBody(answer, 413, { param: 'file' });
    expect(answer.writtenWhenAnswered).toBeLessThan(3 * 64 * 1024);
    await answer.closed;
  });

  it('a file of exactly maxFileSize is read whole (and then refused as no audio, not as too large)', async () => {
    const answer = await send(server, { parts: [filePart(Buffer.alloc(MAX_FILE_SIZE, 1)), part('model', 'whisper-1'), END] });
    expect([400, 415]).toContain(answer.status);
  });

  it('a stalled upload is answered 408 after bodyTimeoutMs and its connection closed', async () => {
    const started = performance.now();
    const answer = await send(server, { parts: [part('model', 'whisper-1'), fileHead(), jfk.subarray(0, 10_000)], stall: true });
    expectErrorBody(answer, 408, { code: 'request_timeout' });
    expect(answer.headers.connection).toBe('close');
    expect(performance.now() - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    await answer.closed;
  });

  it('a slow upload that keeps sending is not timed out', async () => {
    const slices = Array.from({ length: 6 }, (_, i) => jfk.subarray(i * 1000, (i + 1) * 1000));
    const started = performance.now();
    const answer = await send(server, { parts: [fileHead(), ...slices], pauseMs: BODY_TIMEOUT_MS / 2, stall: true });
    expect(answer.status).toBe(408);
    // Each piece restarted the timer: it ran out only once the bytes stopped, after the six pauses.
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 * (BODY_TIMEOUT_MS / 2) + BODY_TIMEOUT_MS - 50);
    expect(answer.writtenWhenAnswered).toBe(fileHead().length + 6000);
  }, 20_000);

  it('ten concurrent oversize uploads grow the RSS by a few times maxFileSize, not by what was sent', async () => {
    const memory = await startServer({ models: model, maxFileSize: 1024 * 1024 });
    try {
      const before = process.memoryUsage().rss;
      const offered = 16 * 1024 * 1024;
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          send(memory, { headers: { Authorization: '' }, parts: [fileHead(), ...pieces(offered / (256 * 1024), 256 * 1024)], pauseMs: 1 }),
        ),
      );
      const grown = process.memoryUsage().rss - before;
      for (const answer of answers) expect(answer.status).toBe(413);
      expect(grown).toBeLessThan(40 * 1024 * 1024);
      await Promise.all(answers.map((a) => a.closed));
    } finally {
      await memory.close();
    }
  });
});

describe('afterwards', () => {
  it('a client that disconnects mid-job aborts it (stats().aborted)', async () => {
    const abortedBefore = model.stats().aborted;
    const req = http.request(`${server.url}/v1/audio/transcriptions`, { method: 'POST', headers: MULTIPART, agent: false });
    req.on('error', () => {});
    req.end(Buffer.concat([filePart(jfk), part('model', 'whisper-1'), END]));
    await expect.poll(() => model.stats().running, { timeout: 20_000, interval: 20 }).toBe(1);
    req.destroy();
    await expect.poll(() => model.stats().aborted, { timeout: 20_000, interval: 50 }).toBe(abortedBefore + 1);
    expect(model.stats().running).toBe(0);
  });

  it('the model still transcribes jfk correctly, and nothing is left running', async () => {
    const answer = await send(server, { parts: [filePart(jfk), part('model', 'whisper-1'), part('response_format', 'text'), END] });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/ask not what your country can do for you/i);
    expect(model.stats()).toMatchObject({ running: 0, queued: 0 });
  });
});
