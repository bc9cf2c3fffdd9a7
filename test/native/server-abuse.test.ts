/**
 * What a hostile or broken client gets from POST /v1/audio/transcriptions: each case a 4xx in
 * OpenAI's error shape with no stack, the oversize upload refused while it is still being sent,
 * a stalled one timed out and its connection closed, memory bounded by the file limit and not
 * by what clients send, and the model still transcribing correctly afterwards.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { createTranscriptionServer, shutdown } from '../../lib/server/server';
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
    // Every field is bounded at 8 KiB as it is read (it was 64 KiB; no OpenAI field needs more).
    const long = await send(server, { parts: [part('prompt', 'y'.repeat(70 * 1024)), END] });
    expectErrorBody(long, 400, { code: 'invalid_multipart', message: /`prompt` is longer than 8192 bytes/ });
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
      // Each refused while still sending: 413 at the limit, or (since uploads are bounded before
      // their bodies are read: concurrency + queue, 5 here) 429 at once.
      for (const answer of answers) expect([413, 429]).toContain(answer.status);
      expect(answers.filter((answer) => answer.status === 413).length).toBeGreaterThanOrEqual(5);
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

/** A 16 kHz mono s16 WAV header claiming `channels` and `dataBytes`, followed by `body`. */
function wav(body: Buffer, channels = 1, rate = 16000): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + body.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE((rate * channels * 2) >>> 0, 28);
  header.writeUInt16LE((channels * 2) & 0xffff, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(body.length, 40);
  return Buffer.concat([header, body]);
}

/** The first 600 bytes of an MP3: one frame header and a little data. */
function tinyMp3(): Buffer {
  const bytes = Buffer.alloc(600, 0);
  bytes.set([0xff, 0xfb, 0x90, 0x64], 0);
  return bytes;
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

describe('the server’s bounds (each found by a hostile client)', () => {
  it('audio that decodes to nothing is a 400 invalid_audio, not a 500 (OpenAI’s client retries a 5xx)', async () => {
    for (const [name, bytes] of [
      ['600 bytes of MP3', tinyMp3()],
      ['a WAV declaring 65,535 channels', wav(Buffer.alloc(4000, 1), 65535)],
    ] as const) {
      const answer = await send(server, { parts: [filePart(bytes, 'file', 'a.bin', 'application/octet-stream'), part('model', 'whisper-1'), END] });
      expect(answer.status, `${name}: ${answer.body}`).toBe(400);
      expectErrorBody(answer, 400, { code: 'invalid_audio' });
    }
  });

  it('audio longer than maxAudioDurationMs is a 413 audio_too_long; shorter audio still transcribes', async () => {
    const capped = await startServer({ models: model, maxAudioDurationMs: 5000, transcribeDefaults: DEFAULTS });
    try {
      const answer = await send(capped, { headers: { Authorization: '' }, parts: [filePart(jfk), part('model', 'whisper-1'), END] });
      expectErrorBody(answer, 413, { param: 'file', code: 'audio_too_long', message: /longer than the limit of 5 s/ });
      const short = wav(Buffer.alloc(3 * 16000 * 2));
      const ok = await send(capped, { headers: { Authorization: '' }, parts: [filePart(short), part('model', 'whisper-1'), END] });
      expect(ok.status, ok.body).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it('uploads that never finish are bounded before their bodies are read, and their memory returns when they go', async () => {
    // concurrency 1 and maxQueue 1: two uploads held; the third is refused at once with Retry-After.
    const bounded = await startServer({ models: model, maxQueue: 1, maxFileSize: 8 * 2 ** 20, bodyTimeoutMs: 20_000 });
    const sockets: net.Socket[] = [];
    try {
      const baseline = rssMiB();
      const head = Buffer.concat([
        Buffer.from(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n`),
      ]);
      const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) {
        const socket = net.connect(bounded.port, '127.0.0.1');
        socket.on('error', () => {});
        let answer = '';
        socket.on('data', (data: Buffer) => (answer += data.toString()));
        socket.on('close', () => answers.push(answer));
        socket.write(head);
        socket.write(chunk(fileHead()));
        // 7 MiB each, never finished.
        for (let j = 0; j < 7; j++) socket.write(chunk(Buffer.alloc(2 ** 20, j + 1)));
        sockets.push(socket);
      }
      await expect.poll(() => answers.length, { timeout: 10_000 }).toBe(4);
      for (const answer of answers) {
        expect(answer).toMatch(/^HTTP\/1\.1 429 /);
        expect(answer).toMatch(/retry-after: 1/i);
        expect(answer).toMatch(/"code":"rate_limit_exceeded"/);
      }
      expect(bounded.handler).toBeDefined();
      // Two held uploads of 7 MiB at most, not six.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(rssMiB() - baseline).toBeLessThan(60);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 300));
      global.gc?.();
      // The clients are gone: their slots are free again, and a real upload is answered.
      const answer = await send(bounded, { headers: { Authorization: '' }, parts: [filePart(jfk.subarray(0, 64_000)), part('model', 'whisper-1'), END] });
      expect(answer.status, answer.body).toBe(200);
      expect(rssMiB() - baseline).toBeLessThan(60);
    } finally {
      for (const socket of sockets) socket.destroy();
      await bounded.close();
    }
  }, 60_000);

  it('a flood of silent sockets cannot keep /health out: idle connections make room (maxConnections)', async () => {
    const http1 = createTranscriptionServer({ models: model, maxConnections: 50 });
    await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
    const port = (http1.address() as net.AddressInfo).port;
    const silent: net.Socket[] = [];
    try {
      for (let i = 0; i < 80; i++) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        silent.push(socket);
      }
      // Silent for longer than the 0.5 s grace: the next client's arrival closes them.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const connections = await new Promise<number>((resolve) => http1.getConnections((_error, count) => resolve(count)));
      expect(connections).toBeLessThanOrEqual(50);
      const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect(silent.filter((socket) => !socket.destroyed && socket.readyState === 'open').length).toBeLessThan(50);
    } finally {
      for (const socket of silent) socket.destroy();
      await shutdown(http1);
    }
  });

  it('live: an unknown model (a 256 KiB name, 300 times) adds no metrics series; /metrics stays small', async () => {
    const live = await startServer({ models: model, maxLiveConnections: 8, transcribeDefaults: DEFAULTS });
    try {
      const url = `${live.url.replace('http', 'ws')}/v1/audio/stream`;
      const before = (await (await fetch(`${live.url}/metrics`)).text()).length;
      const name = 'x'.repeat(256 * 1024);
      for (let i = 0; i < 30; i++) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, j) => {
            const ws = new WebSocket(url, { maxPayload: 2 ** 20 });
            ws.on('error', () => {});
            await new Promise((resolve) => ws.once('open', resolve));
            ws.send(JSON.stringify({ type: 'start', format: 's16', model: `${i}-${j}-${name}` }));
            await new Promise((resolve) => ws.once('close', resolve));
          }),
        );
      }
      const after = await (await fetch(`${live.url}/metrics`)).text();
      expect(after.length - before).toBeLessThan(4000);
      expect(after).not.toMatch(/xxxxxxxx/);
    } finally {
      await live.close();
    }
  }, 60_000);

  it('live: a page of another origin is refused (403); the same origin, a listed one and no Origin are let in', async () => {
    const live = await startServer({ models: model, maxLiveConnections: 4, allowedOrigins: ['https://app.example'], transcribeDefaults: DEFAULTS });
    try {
      const url = `${live.url.replace('http', 'ws')}/v1/audio/stream`;
      const status = (origin: string | undefined) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url, origin === undefined ? {} : { origin });
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
          });
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
          ws.on('error', () => {});
        });
      expect(await status('https://evil.example')).toBe(403);
      expect(await status('null')).toBe(403);
      expect(await status(live.url)).toBe(101);
      expect(await status('https://app.example')).toBe(101);
      expect(await status(undefined)).toBe(101);
    } finally {
      await live.close();
    }
  });

  it('live: the key as the subprotocol openai-insecure-api-key.<key> (never echoed when another is offered); a wrong one is 401', async () => {
    const live = await startServer({ models: model, apiKey: 'sk-live', maxLiveConnections: 4, transcribeDefaults: DEFAULTS });
    try {
      const url = `${live.url.replace('http', 'ws')}/v1/audio/stream`;
      const ws = new WebSocket(url, ['realtime', 'openai-insecure-api-key.sk-live']);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      expect(ws.protocol).toBe('realtime');
      ws.close();
      const refused = await new Promise<number>((resolve) => {
        const wrong = new WebSocket(url, ['openai-insecure-api-key.sk-nope']);
        wrong.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        wrong.on('error', () => {});
      });
      expect(refused).toBe(401);
    } finally {
      await live.close();
    }
  });

  it('/metrics asks for the key with metricsAuth', async () => {
    const keyed = await startServer({ models: model, apiKey: 'sk-m', metricsAuth: true });
    try {
      expect((await fetch(`${keyed.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${keyed.url}/metrics`, { headers: { Authorization: 'Bearer sk-m' } })).status).toBe(200);
      expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });

  it('live: a fast sender that disconnects while its socket is paused frees its slot at once', async () => {
    const live = await startServer({ models: model, maxLiveConnections: 1, transcribeDefaults: { ...DEFAULTS, language: 'en' } });
    try {
      const url = `${live.url.replace('http', 'ws')}/v1/audio/stream`;
      const ws = new WebSocket(url);
      ws.on('error', () => {});
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(JSON.stringify({ type: 'start', format: 's16' }));
      // 60 s of noise at once: the inbox pauses the socket while the first window is transcribed.
      const noise = Buffer.alloc(16000 * 2);
      for (let i = 0; i < noise.length; i += 2) noise.writeInt16LE(Math.round((Math.random() - 0.5) * 2000), i);
      for (let i = 0; i < 60; i++) ws.send(noise);
      await expect.poll(() => model.stats().running, { timeout: 20_000, interval: 20 }).toBe(1);
      const gone = performance.now();
      ws.terminate();
      await expect.poll(() => model.stats().running, { timeout: 20_000, interval: 20 }).toBe(0);
      // Noticed by a ping within about a second, not when the window ends (12–60 s before).
      expect(performance.now() - gone).toBeLessThan(5000);
      const next = new WebSocket(url);
      next.on('error', () => {});
      await new Promise((resolve) => next.once('open', resolve));
      next.send(JSON.stringify({ type: 'start', format: 's16' }));
      const first = await new Promise<string>((resolve) => next.once('message', (data: Buffer) => resolve(data.toString())));
      expect(JSON.parse(first)).toMatchObject({ type: 'ready' });
      next.close();
    } finally {
      await live.close();
    }
  }, 60_000);
});
