/**
 * /metrics, /health and /v1/models of a handler on node:http (127.0.0.1, port 0) with the real
 * base model: jobs counted by outcome after a completed, a failed (not audio) and a refused
 * (429) request, the audio seconds and the real-time-factor histogram they add, the queue
 * gauges while a job runs and one waits, memory as memory() reports it; readiness while a
 * model loads, after it failed and while closing; a caller's registry shared by two handlers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { loadModel, type WhisperModel } from '../../lib/model/whisper-model';
import { createTranscriptionHandler } from '../../lib/server/handler';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { startServer, type StartedServer } from '../support/server-fixture';

const BASE = realModels().models.base!.files.q8_0!.path;
const CARD_WAV = path.join(SHARED, 'audio', 'cards', '001.wav');
const JFK_TEXT = 'And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.';
const JFK_SECONDS = 11;
const CARD_SECONDS = 1.095375;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, the samples only (comments dropped). */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      const value = match[3] === '+Inf' ? Infinity : Number(match[3]);
      return { name: match[1]!, labels, value };
    });
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function sampleOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

/** Scrapes until `sample` of the model reads `value` (a gauge catching up with a job's progress). */
async function waitForGauge(url: string, name: string, value: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const read = sampleOf(await scrape(url), name, { model: 'whisper-1' });
    if (read === value) return;
    if (Date.now() > deadline) throw new Error(`${name} stayed ${read}, never ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function upload(url: string, bytes: Buffer, fileName: string): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), fileName);
  form.append('model', 'whisper-1');
  return fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
}

describe('/metrics counts the jobs and reads the model', () => {
  let model: WhisperModel;
  let server: StartedServer;
  beforeAll(async () => {
    model = await loadModel(BASE, { concurrency: 1, maxQueue: 1 });
    server = await startServer({ models: model, transcribeDefaults: { threads: 1 } });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  it('before any job: the model gauges, no job series, the process metrics, and registry.contentType', async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(new Registry().contentType);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const samples = parseMetrics(await response.text());
    const model1 = { model: 'whisper-1' };
    expect(sampleOf(samples, 'whisper_napi_model_ready', model1)).toBe(1);
    expect(sampleOf(samples, 'whisper_napi_queue_depth', model1)).toBe(0);
    expect(sampleOf(samples, 'whisper_napi_running_jobs', model1)).toBe(0);
    expect(sampleOf(samples, 'whisper_napi_concurrency', model1)).toBe(1);
    expect(sampleOf(samples, 'whisper_napi_max_queue', model1)).toBe(1);
    expect(sampleOf(samples, 'whisper_napi_whisper_states', model1)).toBe(0);
    expect(sampleOf(samples, 'whisper_napi_model_weights_bytes', { model: 'whisper-1', buffer: 'CPU' })).toBe(model.memory().weights.total);
    expect(sampleOf(samples, 'whisper_napi_model_state_bytes', model1)).toBe(0);
    expect(samples.filter((s) => s.name === 'whisper_napi_jobs_total')).toEqual([]);
    expect(sampleOf(samples, 'whisper_napi_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleOf(samples, 'whisper_napi_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('a completed, a queued, a refused (429) and a failed job: counted by outcome, audio seconds, RTF, gauges that move', async () => {
    const running = upload(server.url, fs.readFileSync(JFK_WAV), 'jfk.wav');
    await waitForGauge(server.url, 'whisper_napi_running_jobs', 1);
    // The job holds its permit while its audio decodes (off the event loop); its state comes after.
    await waitForGauge(server.url, 'whisper_napi_whisper_states', 1);
    const queued = upload(server.url, fs.readFileSync(CARD_WAV), 'card.wav');
    await waitForGauge(server.url, 'whisper_napi_queue_depth', 1);
    const during = await scrape(server.url);
    expect(sampleOf(during, 'whisper_napi_running_jobs', { model: 'whisper-1' })).toBe(1);
    expect(sampleOf(during, 'whisper_napi_whisper_states', { model: 'whisper-1' })).toBe(1);

    const refused = await upload(server.url, fs.readFileSync(CARD_WAV), 'card.wav');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');

    const [first, second] = await Promise.all([running, queued]);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { text: string }).text).toBe(JFK_TEXT);
    expect(second.status).toBe(200);
    expect(((await second.json()) as { text: string }).text).toBe('Ten of clubs.');

    const notAudio = await upload(server.url, Buffer.from('these are meeting notes, not a recording\n'.repeat(20)), 'notes.wav');
    expect([400, 415]).toContain(notAudio.status);
    await notAudio.arrayBuffer();

    const after = await scrape(server.url);
    const jobs = (outcome: string) => sampleOf(after, 'whisper_napi_jobs_total', { model: 'whisper-1', endpoint: 'transcriptions', outcome });
    expect(jobs('completed')).toBe(2);
    expect(jobs('failed')).toBe(1);
    expect(jobs('rejected')).toBe(1);
    expect(jobs('aborted')).toBeUndefined();
    const byEndpoint = { model: 'whisper-1', endpoint: 'transcriptions' };
    expect(sampleOf(after, 'whisper_napi_audio_seconds_total', byEndpoint)).toBeCloseTo(JFK_SECONDS + CARD_SECONDS, 3);
    expect(sampleOf(after, 'whisper_napi_real_time_factor_count', byEndpoint)).toBe(2);
    const rtfSum = sampleOf(after, 'whisper_napi_real_time_factor_sum', byEndpoint)!;
    expect(rtfSum).toBeGreaterThan(0);
    // The buckets are cumulative and +Inf holds every observation.
    expect(sampleOf(after, 'whisper_napi_real_time_factor_bucket', { ...byEndpoint, le: '+Inf' })).toBe(2);
    expect(sampleOf(after, 'whisper_napi_real_time_factor_bucket', { ...byEndpoint, le: '0.01' })).toBe(0);
    expect(sampleOf(after, 'whisper_napi_queue_depth', { model: 'whisper-1' })).toBe(0);
    expect(sampleOf(after, 'whisper_napi_running_jobs', { model: 'whisper-1' })).toBe(0);
    const memory = model.memory();
    expect(sampleOf(after, 'whisper_napi_model_state_bytes', { model: 'whisper-1' })).toBe(memory.total - memory.weights.total);
    expect(memory.total - memory.weights.total).toBeGreaterThan(0);
    // The model's own counts agree with the handler's (the route refuses a full queue before calling transcribe(), so stats() never sees the 429).
    expect(model.stats()).toMatchObject({ completed: 2, failed: 1 });
  });

  it('a client that disconnects mid-job: counted aborted, in stats() too', async () => {
    const controller = new AbortController();
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(JFK_WAV)]), 'jfk.wav');
    const request = fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form, signal: controller.signal });
    await waitForGauge(server.url, 'whisper_napi_running_jobs', 1);
    controller.abort();
    await expect(request).rejects.toThrow();
    await waitForGauge(server.url, 'whisper_napi_running_jobs', 0);
    const deadline = Date.now() + 30_000;
    let aborted: number | undefined;
    while ((aborted = sampleOf(await scrape(server.url), 'whisper_napi_jobs_total', { endpoint: 'transcriptions', outcome: 'aborted' })) === undefined) {
      if (Date.now() > deadline) throw new Error('the aborted job was never counted');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(aborted).toBe(1);
    const after = await scrape(server.url);
    expect(sampleOf(after, 'whisper_napi_jobs_total', { endpoint: 'transcriptions', outcome: 'completed' })).toBe(2);
    expect(sampleOf(after, 'whisper_napi_real_time_factor_count', { endpoint: 'transcriptions' })).toBe(2);
    expect(model.stats()).toMatchObject({ completed: 2, failed: 2, aborted: 1 });
  });

  it('/metrics and /health ask for no API key; HEAD gets the headers only', async () => {
    const keyed = await startServer({ models: model, apiKey: 'sekret' });
    try {
      expect((await fetch(`${keyed.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
      expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
      const head = await fetch(`${keyed.url}/metrics`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
    } finally {
      await keyed.close();
    }
  });
});

describe('/health: readiness', () => {
  let model: WhisperModel;
  beforeAll(async () => {
    model = await loadModel(BASE);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  async function health(url: string): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
    const response = await fetch(`${url}/health`);
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
  }

  it('503 loading while a model loads, with Retry-After; 200 ok once it has; every model listed', async () => {
    let resolve!: (loaded: WhisperModel) => void;
    const loading = new Promise<WhisperModel>((settle) => (resolve = settle));
    const server = await startServer({ models: { base: model, later: loading } });
    try {
      expect(await health(server.url)).toEqual({
        status: 503,
        retryAfter: '1',
        body: {
          status: 'loading',
          models: [
            { name: 'base', status: 'ready' },
            { name: 'later', status: 'loading' },
          ],
        },
      });
      const metrics = await scrape(server.url);
      expect(sampleOf(metrics, 'whisper_napi_model_ready', { model: 'later' })).toBe(0);
      expect(sampleOf(metrics, 'whisper_napi_queue_depth', { model: 'later' })).toBeUndefined();
      resolve(model);
      await loading;
      expect(await health(server.url)).toEqual({
        status: 200,
        retryAfter: null,
        body: {
          status: 'ok',
          models: [
            { name: 'base', status: 'ready' },
            { name: 'later', status: 'ready' },
          ],
        },
      });
    } finally {
      await server.close();
    }
  });

  it("503 failed with a WhisperError's code and message; nothing of any other error", async () => {
    const failed = Promise.reject(new WhisperError('MODEL_NOT_FOUND', 'model file not found: x.bin'));
    const crashed = Promise.reject(new TypeError('secret internals at /home/me'));
    const server = await startServer({ models: { failed, crashed } });
    try {
      await Promise.allSettled([failed, crashed]);
      expect(await health(server.url)).toEqual({
        status: 503,
        retryAfter: null,
        body: {
          status: 'failed',
          models: [
            { name: 'failed', status: 'failed', error: { code: 'MODEL_NOT_FOUND', message: 'model file not found: x.bin' } },
            { name: 'crashed', status: 'failed', error: { code: 'INTERNAL_ERROR', message: 'internal error' } },
          ],
        },
      });
    } finally {
      await server.close();
    }
  });

  it('503 shutting_down once the handler closes, though the model is ready', async () => {
    const server = await startServer({ models: model });
    try {
      expect((await health(server.url)).status).toBe(200);
      await server.handler.close();
      expect(await health(server.url)).toEqual({
        status: 503,
        retryAfter: '1',
        body: { status: 'shutting_down', models: [{ name: 'whisper-1', status: 'ready' }] },
      });
    } finally {
      await server.close();
    }
  });
});

describe('/v1/models', () => {
  let model: WhisperModel;
  let server: StartedServer;
  beforeAll(async () => {
    model = await loadModel(BASE);
    server = await startServer({ models: { 'base-q8_0': model, 'base.en': new Promise<WhisperModel>(() => {}) }, apiKey: 'k1' });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });
  const auth = { headers: { Authorization: 'Bearer k1' } };

  it("lists whisper-1 first, then every served name, loading ones included, in OpenAI's shape", async () => {
    const response = await fetch(`${server.url}/v1/models`, auth);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const list = (await response.json()) as { object: string; data: { id: string; object: string; created: number; owned_by: string }[] };
    expect(list.object).toBe('list');
    expect(list.data.map((entry) => entry.id)).toEqual(['whisper-1', 'base-q8_0', 'base.en']);
    const started = Math.floor(performance.timeOrigin / 1000);
    for (const entry of list.data) expect(entry).toEqual({ id: entry.id, object: 'model', created: started, owned_by: 'whisper-napi' });
  });

  it('one model by id (percent-encoded too); an unknown id is a 404 in OpenAI’s error body', async () => {
    const one = await fetch(`${server.url}/v1/models/base.en`, auth);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: 'base.en', object: 'model', owned_by: 'whisper-napi' });
    expect(await (await fetch(`${server.url}/v1/models/whisper-1`, auth)).json()).toMatchObject({ id: 'whisper-1' });
    expect(await (await fetch(`${server.url}/v1/models/base-q8%5F0`, auth)).json()).toMatchObject({ id: 'base-q8_0' });
    for (const id of ['gpt-4o-transcribe', '%E0%A4%A', '']) {
      const missing = await fetch(`${server.url}/v1/models/${id}`, auth);
      expect(missing.status, id).toBe(404);
      expect(await missing.json()).toEqual({
        error: { message: `The model '${decodeURIComponentOr(id)}' does not exist`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
      });
    }
  });

  it('asks for the API key like every /v1 route', async () => {
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${server.url}/v1/models/whisper-1`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
  });
});

function decodeURIComponentOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

describe('metrics on a registry of the caller', () => {
  let model: WhisperModel;
  beforeAll(async () => {
    model = await loadModel(BASE);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("two handlers with their own prefixes share one registry, beside the caller's metrics; no process metrics added", async () => {
    const registry = new Registry();
    const { Counter } = await import('prom-client');
    new Counter({ name: 'app_requests_total', help: 'the app’s own', registers: [registry] }).inc(3);
    const first = await startServer({ models: model, metrics: { registry, prefix: 'first_' } });
    const second = await startServer({ models: { other: model }, metrics: { registry, prefix: 'second_' } });
    try {
      const samples = parseMetrics(await (await fetch(`${first.url}/metrics`)).text());
      expect(sampleOf(samples, 'app_requests_total')).toBe(3);
      expect(sampleOf(samples, 'first_model_ready', { model: 'whisper-1' })).toBe(1);
      expect(sampleOf(samples, 'second_model_ready', { model: 'other' })).toBe(1);
      expect(samples.filter((s) => s.name.includes('process_') || s.name.includes('nodejs_'))).toEqual([]);
      // Either handler serves the whole registry.
      expect(await (await fetch(`${second.url}/metrics`)).text()).toBe(await registry.metrics());
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('a name already on the registry is refused before anything is added; bad metrics options are INVALID_ARGUMENT', async () => {
    const registry = new Registry();
    const handler = createTranscriptionHandler({ models: model, metrics: { registry } });
    await handler.close();
    const before = await registry.getMetricsAsJSON();
    expect(() => createTranscriptionHandler({ models: model, metrics: { registry } })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^options\.metrics\.registry: already has whisper_napi_queue_depth, .*its own options\.metrics\.prefix$/),
      }),
    );
    expect(await registry.getMetricsAsJSON()).toEqual(before);
    const refusals: [unknown, RegExp][] = [
      [{ registry: {} }, /^options\.metrics\.registry: expected a prom-client Registry/],
      [{ prefix: '9lives' }, /^options\.metrics\.prefix: expected a Prometheus metric name prefix/],
      [{ prefix: 'a-b' }, /^options\.metrics\.prefix: expected a Prometheus metric name prefix/],
      [{ registy: registry }, /^options\.metrics\.registy: expected one of the known options/],
      ['yes', /^options\.metrics: expected a boolean or an object/],
    ];
    for (const [metrics, message] of refusals) {
      expect(() => createTranscriptionHandler({ models: model, metrics: metrics as never }), JSON.stringify(metrics)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }),
      );
    }
  });

  it('metrics: false serves no /metrics', async () => {
    const server = await startServer({ models: model, metrics: false });
    try {
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
    } finally {
      await server.close();
    }
  });
});
