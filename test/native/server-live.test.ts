/**
 * Live transcription over WebSocket (/v1/audio/stream) on real base weights: jfk as s16, f32
 * and WebM/Opus gives its text; API keys by header and query; the connection limit; closing
 * mid-stream aborts; bad messages close with 1008; a client sending 60 s at once is held back
 * while every segment still comes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadAudio, loadModel, type WhisperModel } from '../../lib';
import { normalizeWords } from '../../lib/tools/wer';
import { createServerContext, type JobReport } from '../../lib/server/context';
import { createLiveEndpoint, type LiveEndpoint } from '../../lib/server/live';
import { resolveHandlerOptions, type TranscriptionHandlerOptions } from '../../lib/server/options';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { startServer, type StartedServer } from '../support/server-fixture';

const RATE = 16000;
const JFK_WORDS = 'and so my fellow americans ask not what your country can do for you ask what you can do for your country';
const LIBRIVOX = path.join(SHARED, 'audio', 'librivox');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-live-'));

let model: WhisperModel;
let jfk: Float32Array;
let jfkWebm: Buffer;
const servers: StartedServer[] = [];

beforeAll(async () => {
  model = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 2 });
  jfk = await loadAudio(JFK_WAV);
  const webm = path.join(dir, 'jfk.webm');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', JFK_WAV, '-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', webm]);
  jfkWebm = fs.readFileSync(webm);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await model?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(options: Partial<TranscriptionHandlerOptions> = {}): Promise<StartedServer> {
  const server = await startServer({ models: model, transcribeDefaults: { threads: 1, language: 'en' }, ...options });
  servers.push(server);
  return server;
}

function toS16(pcm: Float32Array): Buffer {
  const out = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i]! * 32767))), i * 2);
  return out;
}

function toF32(pcm: Float32Array): Buffer {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** `bytes` in messages of `size` bytes (deliberately not a multiple of a sample, so samples are split). */
function messages(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

interface Session {
  ws: WebSocket;
  received: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first received message of this type. */
  next(type: string): Promise<Record<string, unknown>>;
}

function connect(url: string, headers: Record<string, string> = {}): Promise<Session> {
  const ws = new WebSocket(url, { headers });
  const received: Array<Record<string, unknown>> = [];
  const waiters: Array<{ type: string; resolve: (m: Record<string, unknown>) => void }> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    const message = JSON.parse((data as Buffer).toString()) as Record<string, unknown>;
    received.push(message);
    for (const waiter of waiters.filter((w) => w.type === message.type)) waiter.resolve(message);
  });
  const next = (type: string) => {
    const already = received.find((m) => m.type === type);
    if (already) return Promise.resolve(already);
    return new Promise<Record<string, unknown>>((resolve) => waiters.push({ type, resolve }));
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, received, closed, next }));
    ws.once('error', reject);
  });
}

/** The whole exchange: start, the audio, stop; resolves once the server has closed. */
async function stream(url: string, start: Record<string, unknown>, audio: Buffer[]) {
  const session = await connect(url);
  session.ws.send(JSON.stringify({ type: 'start', ...start }));
  await session.next('ready');
  for (const message of audio) session.ws.send(message);
  session.ws.send(JSON.stringify({ type: 'stop' }));
  const close = await session.closed;
  return { ...close, received: session.received };
}

function liveUrl(server: StartedServer, query = ''): string {
  return `${server.url.replace('http', 'ws')}/v1/audio/stream${query}`;
}

function textOf(received: Array<Record<string, unknown>>): string {
  return normalizeWords(
    received
      .filter((m) => m.type === 'segment')
      .map((m) => m.text as string)
      .join(' '),
  ).join(' ');
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('live transcription of jfk', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await serve();
  });

  it.each([
    ['s16', () => messages(toS16(jfk), 8001)],
    ['f32', () => messages(toF32(jfk), 16_003)],
    ['webm', () => messages(jfkWebm, 4096)],
  ])('%s audio gives its text, segments in stream time, then done and 1000', async (format, audio) => {
    const { code, received } = await stream(liveUrl(server), { format }, audio());
    expect(code).toBe(1000);
    expect(received[0]).toEqual({ type: 'ready', model: 'whisper-1', format });
    const segments = received.filter((m) => m.type === 'segment');
    expect(segments.length).toBeGreaterThan(0);
    expect(textOf(received)).toBe(JFK_WORDS);
    for (const segment of segments) {
      expect(segment.start as number).toBeGreaterThanOrEqual(0);
      expect(segment.end as number).toBeGreaterThan(segment.start as number);
      expect(segment.end as number).toBeLessThanOrEqual(11.1);
    }
    const done = received.at(-1)!;
    expect(done.type).toBe('done');
    expect(normalizeWords(done.text as string).join(' ')).toBe(JFK_WORDS);
    expect(done.duration as number).toBeCloseTo(11, 1);
  });

  it('gives words with wordTimestamps on a model loaded with them, and refuses them (1008) on one without', async () => {
    const words = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 1, wordTimestamps: true });
    try {
      const withWords = await serve({ models: { 'whisper-1': model, words } });
      const { code, received } = await stream(liveUrl(withWords), { format: 's16', model: 'words', wordTimestamps: true }, messages(toS16(jfk), 32_000));
      expect(code).toBe(1000);
      expect(received[0]).toEqual({ type: 'ready', model: 'words', format: 's16' });
      const timed = received.filter((m) => m.type === 'segment').flatMap((m) => m.words as Array<{ word: string; start: number; end: number; probability: number }>);
      expect(normalizeWords(timed.map((w) => w.word).join('')).join(' ')).toBe(JFK_WORDS);
      for (const word of timed) {
        expect(word.end).toBeGreaterThanOrEqual(word.start);
        expect(word.probability).toBeGreaterThan(0);
      }
      const country = timed.find((w) => w.word.trim().startsWith('country'))!;
      expect(country.start).toBeGreaterThan(3);
      expect(country.end).toBeLessThan(7.5);
    } finally {
      await servers.at(-1)!.close();
      await words.dispose();
    }

    const refused = await stream(liveUrl(server), { format: 's16', wordTimestamps: true }, messages(toS16(jfk.subarray(0, 3 * RATE)), 32_000));
    expect(refused.code).toBe(1008);
    const error = refused.received.find((m) => m.type === 'error') as { error: { message: string; code: string } };
    expect(error.error.code).toBe('invalid_argument');
    expect(error.error.message).toMatch(/^options\.wordTimestamps: /);
    expect(refused.received.some((m) => m.type === 'done')).toBe(false);
  });
});

describe('authentication', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await serve({ apiKey: 'sesame' });
  });

  it('accepts the key as a Bearer header or as ?api_key=', async () => {
    for (const [query, headers] of [
      ['?api_key=sesame', {}],
      ['', { Authorization: 'Bearer sesame' }],
    ] as const) {
      const session = await connect(liveUrl(server, query), headers);
      session.ws.send(JSON.stringify({ type: 'start', format: 's16' }));
      expect(await session.next('ready')).toMatchObject({ type: 'ready' });
      session.ws.close();
      await session.closed;
    }
  });

  it.each([
    ['no key', '', {}],
    ['a wrong query key', '?api_key=open', {}],
    ['a wrong Bearer key', '', { Authorization: 'Bearer open' }],
  ])('refuses the upgrade with HTTP 401 for %s', async (_what, query, headers) => {
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(liveUrl(server, query), { headers });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted')));
      ws.on('error', () => {});
    });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
  });

  it('refuses other upgrade paths with 404', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/other?api_key=sesame`);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      ws.on('error', () => {});
    });
    expect(status).toBe(404);
  });
});

describe('behind Express and Fastify', () => {
  it.each(['express', 'fastify'] as const)('%s: the upgrade reaches the live endpoint and transcribes', async (kind) => {
    const server = await startServer({ models: model, transcribeDefaults: { threads: 1, language: 'en' } }, { kind });
    servers.push(server);
    const { code, received } = await stream(liveUrl(server), { format: 's16' }, messages(toS16(jfk.subarray(0, 3 * RATE)), 16_000));
    expect(code).toBe(1000);
    expect(received[0]).toMatchObject({ type: 'ready' });
    expect(normalizeWords(received.at(-1)!.text as string).join(' ')).toBe('and so my fellow americans');
  });
});

describe('limits and aborts', () => {
  it('closes the connection over maxLiveConnections with 1013 and a reason, and admits one again once a slot is free', async () => {
    const server = await serve({ maxLiveConnections: 1 });
    const first = await connect(liveUrl(server));
    first.ws.send(JSON.stringify({ type: 'start', format: 's16' }));
    await first.next('ready');
    const second = await connect(liveUrl(server));
    const { code, reason } = await second.closed;
    expect(code).toBe(1013);
    expect(reason).toMatch(/too many live connections \(1\); try again later/);
    expect(second.received).toEqual([
      { type: 'error', error: { message: expect.stringMatching(/too many live connections/), type: 'server_error', code: 'too_many_connections' } },
    ]);
    first.ws.close();
    await first.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await connect(liveUrl(server));
    third.ws.send(JSON.stringify({ type: 'start', format: 's16' }));
    expect(await third.next('ready')).toMatchObject({ type: 'ready' });
    third.ws.close();
    await third.closed;
  });

  it('defaults the limit to the default model’s concurrency', async () => {
    const server = await serve();
    const open = await Promise.all([connect(liveUrl(server)), connect(liveUrl(server))]);
    const over = await connect(liveUrl(server));
    expect((await over.closed).code).toBe(1013);
    for (const session of open) session.ws.close();
    await Promise.all(open.map((session) => session.closed));
  });

  it('closing the socket mid-stream aborts the running transcription', async () => {
    const server = await serve();
    const before = model.stats();
    const session = await connect(liveUrl(server));
    session.ws.send(JSON.stringify({ type: 'start', format: 's16', windowMs: 10_000 }));
    await session.next('ready');
    for (const message of messages(toS16(jfk), 16_000)) session.ws.send(message);
    await until(() => model.stats().running > 0, 30_000);
    session.ws.terminate();
    await until(() => model.stats().running === 0, 30_000);
    const after = model.stats();
    expect(after.aborted).toBe(before.aborted + 1);
    expect(after.completed).toBe(before.completed);
  });
});

describe('bad messages close with 1008', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await serve({ bodyTimeoutMs: 1500 });
  });

  async function firstMessageRefused(send: (ws: WebSocket) => void) {
    const session = await connect(liveUrl(server));
    send(session.ws);
    const { code, reason } = await session.closed;
    expect(session.received).toHaveLength(1);
    const { error } = session.received[0] as { error: { message: string; type: string; code: string } };
    if (Buffer.byteLength(error.message) <= 123) expect(reason).toBe(error.message);
    else {
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      expect(error.message.startsWith(reason.slice(0, -1)) && reason.endsWith('…')).toBe(true);
    }
    return { code, error };
  }

  it.each([
    ['binary audio first', (ws: WebSocket) => ws.send(Buffer.alloc(320)), /^message: expected the start message \(JSON text\) first, got binary audio$/],
    ['text that is not JSON', (ws: WebSocket) => ws.send('hello'), /^message: expected JSON text, got "hello"$/],
    ['an unknown type', (ws: WebSocket) => ws.send('{"type":"begin"}'), /^message\.type: expected 'start' or 'stop', got "begin"$/],
    ['stop first', (ws: WebSocket) => ws.send('{"type":"stop"}'), /^message: expected the start message first, got stop$/],
    ['a bad format', (ws: WebSocket) => ws.send('{"type":"start","format":"mp3"}'), /^start\.format: expected one of 's16', 'f32', 'webm', got "mp3"$/],
    ['an unknown language', (ws: WebSocket) => ws.send('{"type":"start","format":"s16","language":"xx"}'), /^start\.language: expected/],
    ['a misspelt field', (ws: WebSocket) => ws.send('{"type":"start","format":"s16","lang":"en"}'), /^start\.lang: expected one of the known options/],
  ])('%s', async (_what, send, message) => {
    const { code, error } = await firstMessageRefused(send);
    expect(code).toBe(1008);
    expect(error.message).toMatch(message);
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument' });
  });

  it('an unknown model: model_not_found', async () => {
    const { code, error } = await firstMessageRefused((ws) => ws.send('{"type":"start","format":"s16","model":"large-v9"}'));
    expect(code).toBe(1008);
    expect(error.code).toBe('model_not_found');
  });

  it('a model still loading: model_loading, try again later (1013)', async () => {
    const loading = await serve({ models: new Promise<WhisperModel>(() => {}) });
    const session = await connect(liveUrl(loading));
    session.ws.send('{"type":"start","format":"s16"}');
    expect(await session.closed).toEqual({ code: 1013, reason: 'the model `whisper-1` is still loading' });
    expect(session.received).toEqual([{ type: 'error', error: { message: 'the model `whisper-1` is still loading', type: 'server_error', code: 'model_loading' } }]);
  });

  it('no start message within bodyTimeoutMs', async () => {
    const { code, error } = await firstMessageRefused(() => {});
    expect(code).toBe(1008);
    expect(error).toMatchObject({ code: 'timeout', message: 'no message for 1500 ms while waiting for the start message' });
  });

  it('a second start, audio after stop, and WebM bytes that are not audio', async () => {
    const twice = await connect(liveUrl(server));
    twice.ws.send('{"type":"start","format":"s16"}');
    twice.ws.send('{"type":"start","format":"s16"}');
    expect((await twice.closed).code).toBe(1008);
    expect(twice.received.at(-1)).toMatchObject({ error: { message: 'start: sent twice; one connection is one stream' } });

    const after = await connect(liveUrl(server));
    after.ws.send('{"type":"start","format":"s16"}');
    after.ws.send('{"type":"stop"}');
    after.ws.send(Buffer.alloc(320));
    expect((await after.closed).code).toBe(1008);
    expect(after.received.at(-1)).toMatchObject({ error: { message: 'message: nothing may follow the stop message' } });

    const junk = await stream(liveUrl(server), { format: 'webm' }, [Buffer.from('this is not audio at all, just some text bytes for ffmpeg')]);
    expect(junk.code).toBe(1008);
    expect(junk.received.at(-1)).toMatchObject({ type: 'error', error: { code: 'invalid_audio' } });
  });

  it('a message over 1 MiB is closed with 1009', async () => {
    const session = await connect(liveUrl(server));
    session.ws.send('{"type":"start","format":"s16"}');
    await session.next('ready');
    session.ws.send(Buffer.alloc(1024 * 1024 + 2));
    expect((await session.closed).code).toBe(1009);
  });
});

describe('backpressure, reports and close()', () => {
  let endpoint: LiveEndpoint;
  let httpServer: http.Server;
  let url: string;
  const reports: JobReport[] = [];
  const held = { queuedBytes: 0, windowSamples: 0, total: 0 };

  beforeAll(async () => {
    // A short idle limit: a socket paused by backpressure while a window is transcribed is not idle.
    const options = resolveHandlerOptions({ models: model, bodyTimeoutMs: 2000, transcribeDefaults: { threads: 1, language: 'en' } });
    const context = createServerContext(options, { jobSettled: (report) => void reports.push(report) });
    endpoint = createLiveEndpoint(context, {
      onHeld({ queuedBytes, windowSamples }) {
        held.queuedBytes = Math.max(held.queuedBytes, queuedBytes);
        held.windowSamples = Math.max(held.windowSamples, windowSamples);
        held.total = Math.max(held.total, queuedBytes / 2 + windowSamples);
      },
    });
    httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    httpServer.on('upgrade', endpoint.handleUpgrade);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/v1/audio/stream`;
  });

  afterAll(async () => {
    await endpoint?.close();
    await new Promise((resolve) => httpServer?.close(resolve));
  });

  it('60 s sent at once: the held audio stays bounded and every segment still comes', async () => {
    // jfk, two LibriVox sentences and jfk again, 1 s apart, padded with silence to 60 s.
    const clips = [
      jfk,
      await loadAudio(path.join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0870.wav')),
      await loadAudio(path.join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0890.wav')),
      jfk,
    ];
    const pcm = new Float32Array(60 * RATE);
    let at = 0;
    for (const clip of clips) {
      pcm.set(clip, at);
      at += clip.length + RATE;
    }
    const half = messages(toS16(pcm), RATE);
    const { code, received } = await stream(url, { format: 's16' }, half);
    expect(code).toBe(1000);
    const text = textOf(received);
    expect(text.split(JFK_WORDS)).toHaveLength(3);
    expect(text).toContain('how much there might be prudently in his power to do for them');
    expect(text).toContain('rather selfish is to be ill disposed');
    expect(received.at(-1)).toMatchObject({ type: 'done', duration: 60 });
    // The inbox pauses the socket above 5 s (160000 bytes of s16): it got there, and no further
    // than what the socket had already read (one message and a socket read).
    expect(held.queuedBytes).toBeGreaterThan(160_000);
    expect(held.queuedBytes).toBeLessThanOrEqual(160_000 + RATE + 64 * 1024);
    // One 30 s window plus one message of samples in the stream, at most.
    expect(held.windowSamples).toBeLessThanOrEqual(30 * RATE + RATE / 2);
    expect(held.total / RATE).toBeLessThan(40);
    expect(reports.at(-1)).toMatchObject({ model: 'whisper-1', endpoint: 'stream', outcome: 'completed', audioSeconds: 60 });
  });

  it('reports an aborted connection once, as aborted', async () => {
    const count = reports.length;
    const session = await connect(url);
    session.ws.send('{"type":"start","format":"s16"}');
    await session.next('ready');
    session.ws.close();
    await session.closed;
    await until(() => reports.length > count, 5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reports.slice(count)).toEqual([{ model: 'whisper-1', endpoint: 'stream', outcome: 'aborted', wallSeconds: expect.any(Number) }]);
  });

  it('close() ends open connections with 1001 and an error', async () => {
    const session = await connect(url);
    session.ws.send(JSON.stringify({ type: 'start', format: 's16' }));
    await session.next('ready');
    session.ws.send(toS16(jfk.subarray(0, RATE)));
    const closed = endpoint.close();
    expect((await session.closed).code).toBe(1001);
    expect(session.received.at(-1)).toMatchObject({ type: 'error', error: { code: 'shutting_down' } });
    await closed;
    expect(reports.at(-1)).toMatchObject({ outcome: 'aborted' });
    const late = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      ws.on('error', () => {});
    });
    expect(late).toBe(503);
  });
});
