/**
 * whisper-napi/queue in one process on a real Redis and real base q8_0 weights: results in any
 * format from a path, inline bytes or a URL; bad audio failing at once with its code and never
 * retried; transient failures retried with backoff; cancellation aborting a running
 * transcription; the worker's concurrency bound by the pool; progress; metrics on a caller's
 * Registry. Needs /usr/bin/redis-server.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { loadModelGroup } from '../../lib/model/model-group';
import { loadModel, type WhisperModel } from '../../lib/model/whisper-model';
import { getDevices } from '../../lib/native/system';
import { MAX_INLINE_AUDIO_BYTES, type TranscriptionJobData, type TranscriptionResult } from '../../lib/queue/job-data';
import { registerQueueMetrics } from '../../lib/queue/metrics';
import { cancelTranscription, enqueueTranscription, waitForTranscription } from '../../lib/queue/producer';
import { createTranscriptionWorker, type QueueTranscriber, type TranscriptionWorker } from '../../lib/queue/worker';
import { formatTranscript } from '../../lib/transcription/formats';
import type { Transcript } from '../../lib/transcription/transcript';
import { rejectedWhisperError, thrownWhisperError } from '../support/errors';
import { JFK_WAV } from '../support/paths';
import { FAST_JOB_OPTIONS, makeClips } from '../support/queue-fixtures';
import { startServer } from '../support/server-fixture';
import { realModels } from '../support/real-models';
import { redisUnavailable, startRedisServer, type RedisServer } from '../support/redis-server';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`queue tests skipped: ${unavailable}`);

type TranscriptionQueue = Queue<TranscriptionJobData, TranscriptionResult>;

describe.skipIf(unavailable !== undefined)('whisper-napi/queue', () => {
  let scratch: string;
  let redis: RedisServer;
  let model: WhisperModel;
  let clips: string[];
  let audioServer: http.Server;
  let audioBase: string;
  /** What every worker here may read: the clips, jfk.wav, and the audio server's port (not Redis'). */
  let access: { audioRoots: string[]; allowHosts: string[] };
  const closers: Array<() => Promise<unknown>> = [];
  let queueCount = 0;

  /** A fresh queue with its events and (unless `transcriber` is null) a worker on it. */
  async function setUp(transcriber: QueueTranscriber | null = model, workerOptions: Record<string, unknown> = {}) {
    const name = `q${++queueCount}`;
    const queue: TranscriptionQueue = new Queue(name, { connection: redis.connection });
    const events = new QueueEvents(name, { connection: redis.connection });
    closers.push(
      () => queue.close(),
      () => events.close(),
    );
    await events.waitUntilReady();
    let worker: TranscriptionWorker | undefined;
    if (transcriber !== null) {
      worker = createTranscriptionWorker({
        connection: redis.connection,
        queue: name,
        model: transcriber,
        name: `${name}-worker`,
        transcribeDefaults: { threads: 1 },
        ...access,
        ...workerOptions,
      });
      closers.unshift(() => worker!.close());
      await worker.waitUntilReady();
    }
    return { name, queue, events, worker: worker! };
  }

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-queue-'));
    clips = makeClips(scratch);
    redis = await startRedisServer();
    model = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 1 });
    // Serves /jfk.wav; /silent never answers; anything else is 404.
    audioServer = http.createServer((request, response) => {
      if (request.url === '/silent') return;
      if (request.url !== '/jfk.wav') {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'audio/wav' });
      fs.createReadStream(JFK_WAV).pipe(response);
    });
    await new Promise<void>((resolve) => audioServer.listen(0, '127.0.0.1', resolve));
    audioBase = `http://127.0.0.1:${(audioServer.address() as AddressInfo).port}`;
    access = { audioRoots: [scratch, path.dirname(JFK_WAV)], allowHosts: [new URL(audioBase).host] };
  });

  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await model?.dispose();
    audioServer?.closeAllConnections();
    if (audioServer) await new Promise((resolve) => audioServer.close(resolve));
    await redis?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  describe('results', () => {
    it('from a path, inline bytes and a URL, in the job format, equal to transcribing directly', async () => {
      const { queue, events, worker } = await setUp();
      const direct = await model.transcribe(JFK_WAV, { threads: 1 });
      const byPath = await enqueueTranscription(queue, { audio: JFK_WAV, format: 'srt' });
      const inline = await enqueueTranscription(queue, { audio: fs.readFileSync(JFK_WAV), format: 'vtt' });
      const byUrl = await enqueueTranscription(queue, { audio: `${audioBase}/jfk.wav` });
      expect(await waitForTranscription(byPath, events)).toEqual({ format: 'srt', output: formatTranscript(direct, 'srt'), worker: worker.name });
      expect(await waitForTranscription(inline, events)).toEqual({ format: 'vtt', output: formatTranscript(direct, 'vtt'), worker: worker.name });
      const json = await waitForTranscription(byUrl, events);
      expect(json.format).toBe('json');
      expect((JSON.parse(json.output) as Transcript).text).toBe(direct.text);
      // The worker counts on its own 'completed' event, which can come after the queue's.
      await vi.waitFor(() => expect(worker.counts()).toEqual({ completed: 3, failed: 0, active: 0 }), { timeout: 5000 });
    });

    it('reports progress up to 100 with job.updateProgress', async () => {
      const { queue, events } = await setUp();
      const seen: number[] = [];
      events.on('progress', ({ data }) => seen.push(data as number));
      const job = await enqueueTranscription(queue, { audio: JFK_WAV });
      await waitForTranscription(job, events);
      const stored = await queue.getJob(job.id!);
      expect(stored?.progress).toBe(100);
      // whisper reports progress per decoded window: one short clip may go straight to 100.
      expect(seen.at(-1)).toBe(100);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    });
  });

  describe('failures', () => {
    it('bad audio fails at once with its code, on the first attempt, not retried', async () => {
      const { queue, events, worker } = await setUp();
      const notAudio = path.join(scratch, 'notes.txt');
      fs.writeFileSync(notAudio, 'plain text, not audio\n'.repeat(50));
      const job = await enqueueTranscription(queue, { audio: notAudio, jobOptions: { attempts: 5, backoff: { type: 'fixed', delay: 10 } } });
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      expect(error.code).toBe('INVALID_AUDIO');
      const stored = await queue.getJob(job.id!);
      expect(stored?.attemptsMade).toBe(1);
      expect(await stored?.getState()).toBe('failed');
      expect(stored?.failedReason).toMatch(/^INVALID_AUDIO: /);
      const missing = await enqueueTranscription(queue, { audio: path.join(scratch, 'nothing-here.wav'), jobOptions: { attempts: 5 } });
      expect((await rejectedWhisperError(waitForTranscription(missing, events))).code).toBe('AUDIO_NOT_FOUND');
      const gone = await enqueueTranscription(queue, { audio: `${audioBase}/missing.wav`, jobOptions: { attempts: 5 } });
      const goneError = await rejectedWhisperError(waitForTranscription(gone, events));
      expect([goneError.code, goneError.message]).toEqual(['AUDIO_NOT_FOUND', `audio ${audioBase}/missing.wav: HTTP 404`]);
      expect((await queue.getJob(gone.id!))?.attemptsMade).toBe(1);
      await vi.waitFor(() => expect(worker.counts().failed).toBe(3), { timeout: 5000 });
    });

    it('poison job data is refused as final, quoting nothing it read, and the worker keeps working', async () => {
      const { queue, events, worker } = await setUp();
      // Each of these, written straight into Redis by a hostile producer, once ran a program, read a file or reached Redis.
      const ran = path.join(scratch, 'the-script-ran');
      const script = path.join(scratch, 'x.sh');
      fs.writeFileSync(script, `#!/bin/sh\ntouch ${ran}\necho SECRET-FROM-STDERR >&2\nexit 1\n`, { mode: 0o755 });
      const notAudio = path.join(scratch, 'passwd.txt');
      fs.writeFileSync(notAudio, 'root:x:0:0:root:/root:/bin/bash\n'.repeat(40));
      const poison: Array<[string, unknown, string]> = [
        ['an ffmpeg of its own', { audio: { path: notAudio }, options: { audio: { ffmpegPath: script } } }, 'INVALID_ARGUMENT'],
        ['a VAD model file', { audio: { path: clips[0] }, options: { vad: { modelPath: notAudio } } }, 'INVALID_ARGUMENT'],
        ['256 threads', { audio: { path: clips[0] }, options: { threads: 256 } }, 'INVALID_ARGUMENT'],
        ['/etc/shadow', { audio: { path: '/etc/shadow' } }, 'INVALID_ARGUMENT'],
        ['Redis by URL', { audio: { url: `http://127.0.0.1:${redis.port}/` } }, 'INVALID_ARGUMENT'],
        ['a model it does not serve', { audio: { path: clips[0] }, model: 'large-v3' }, 'INVALID_ARGUMENT'],
        ['text for audio', { audio: { path: notAudio } }, 'INVALID_AUDIO'],
      ];
      const jobs = [];
      for (const [, data] of poison) jobs.push(await queue.add('transcribe', data as TranscriptionJobData, { attempts: 3, backoff: { type: 'fixed', delay: 10 } }));
      const good = await enqueueTranscription(queue, { audio: clips[3], options: FAST_JOB_OPTIONS });
      for (const [index, job] of jobs.entries()) {
        const [what, , code] = poison[index]!;
        expect((await rejectedWhisperError(waitForTranscription(job, events))).code, what).toBe(code);
        const stored = await queue.getJob(job.id!);
        expect(stored?.attemptsMade, what).toBe(1);
        expect(stored?.failedReason, what).not.toMatch(/root:x|SECRET|72 6f 6f 74|Not Found/);
      }
      expect(JSON.parse((await waitForTranscription(good, events)).output)).toHaveProperty('text');
      expect(fs.existsSync(ran)).toBe(false);
      await vi.waitFor(() => expect(worker.counts()).toMatchObject({ completed: 1, failed: poison.length }), { timeout: 5000 });
    });

    it('an option the model refuses fails with INVALID_ARGUMENT naming it, not retried', async () => {
      const { queue, events } = await setUp();
      // Within the queue's bounds (a job may carry it), above this model's 1500 frames.
      const job = await enqueueTranscription(queue, { audio: clips[0], options: { audioContext: 4000 }, jobOptions: { attempts: 3 } });
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/^options\.audioContext: /);
      expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    });

    it('a transient failure is retried with backoff and then completes', async () => {
      let calls = 0;
      const flaky: QueueTranscriber = {
        concurrency: 1,
        async transcribe(audio, options) {
          calls++;
          if (calls === 1) throw new WhisperError('STATE_INIT_FAILED', 'could not create a whisper state (out of memory)');
          return model.transcribe(audio, options);
        },
      };
      const { queue, events } = await setUp(flaky);
      const started = Date.now();
      const job = await enqueueTranscription(queue, { audio: clips[3], options: FAST_JOB_OPTIONS, jobOptions: { backoff: { type: 'fixed', delay: 300 } } });
      const result = await waitForTranscription(job, events);
      const direct = await model.transcribe(clips[3]!, { ...FAST_JOB_OPTIONS, threads: 1 });
      expect((JSON.parse(result.output) as Transcript).text).toBe(direct.text);
      const stored = await queue.getJob(job.id!);
      expect(stored?.attemptsMade).toBe(2);
      expect(stored?.stacktrace?.[0]).toContain('STATE_INIT_FAILED: could not create a whisper state');
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    });

    it('a failure on every attempt ends with the last code after the attempts', async () => {
      const broken: QueueTranscriber = {
        concurrency: 1,
        async transcribe() {
          throw new WhisperError('TRANSCRIPTION_FAILED', 'whisper_full failed (-6)');
        },
      };
      const { queue, events } = await setUp(broken);
      const job = await enqueueTranscription(queue, { audio: clips[0], jobOptions: { attempts: 3, backoff: { type: 'fixed', delay: 10 } } });
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      // The reason names the code in our words: whisper.cpp's own text stays on the worker.
      expect([error.code, error.message]).toEqual(['TRANSCRIPTION_FAILED', 'the transcription failed']);
      expect((await queue.getJob(job.id!))?.attemptsMade).toBe(3);
    });
  });

  describe('cancellation', () => {
    it('aborts a running transcription: ABORTED, not retried, the model free again', async () => {
      const { queue, events } = await setUp(model, { cancelPollMs: 50 });
      const job = await enqueueTranscription(queue, { audio: JFK_WAV });
      while ((await job.getState()) !== 'active') await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(model.stats().running).toBe(1);
      const before = model.stats().aborted;
      const cancelledAt = Date.now();
      await cancelTranscription(queue, job.id!, 'the user closed the tab');
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      expect(error.code).toBe('ABORTED');
      expect(Date.now() - cancelledAt).toBeLessThan(5000);
      expect(model.stats()).toMatchObject({ running: 0, aborted: before + 1 });
      expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    });

    it('a job past its deadline fails with TIMEOUT, not retried: its own timeoutMs, else the worker’s jobTimeoutMs', async () => {
      const { queue, events } = await setUp(model, { jobTimeoutMs: 200 });
      const before = model.stats().timedOut;
      const own = await enqueueTranscription(queue, { audio: JFK_WAV, options: { timeoutMs: 100 }, jobOptions: { attempts: 3 } });
      const byWorker = await enqueueTranscription(queue, { audio: JFK_WAV, jobOptions: { attempts: 3 } });
      for (const job of [own, byWorker]) {
        const error = await rejectedWhisperError(waitForTranscription(job, events));
        expect(error.code).toBe('TIMEOUT');
        expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
      }
      expect(model.stats()).toMatchObject({ running: 0, timedOut: before + 2 });
    });

    it('a URL that never answers fails at the job’s timeoutMs with TIMEOUT: the deadline covers the fetch', async () => {
      const { queue, events } = await setUp();
      const started = Date.now();
      const job = await enqueueTranscription(queue, { audio: `${audioBase}/silent`, options: { timeoutMs: 500 }, jobOptions: { attempts: 3 } });
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      expect([error.code, error.message]).toEqual(['TIMEOUT', 'the job did not finish within its timeout of 500 ms']);
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    });

    it('a job cancelled while it waits fails with ABORTED when taken, without running', async () => {
      const { queue, events, name } = await setUp(null);
      const job = await enqueueTranscription(queue, { audio: clips[0] });
      await cancelTranscription(queue, job.id!);
      let ran = false;
      const watcher: QueueTranscriber = {
        concurrency: 1,
        async transcribe() {
          ran = true;
          throw new Error('should not run');
        },
      };
      const worker = createTranscriptionWorker({ connection: redis.connection, queue: name, model: watcher });
      closers.unshift(() => worker.close());
      const error = await rejectedWhisperError(waitForTranscription(job, events));
      expect([error.code, error.message]).toEqual(['ABORTED', 'the job was cancelled before it started: cancelled']);
      expect(ran).toBe(false);
    });
  });

  describe('limits', () => {
    it('refuses inline audio over the limit before anything reaches Redis', async () => {
      const { queue } = await setUp(null);
      const error = await rejectedWhisperError(enqueueTranscription(queue, { audio: Buffer.alloc(MAX_INLINE_AUDIO_BYTES + 1) }));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/^audio: expected a path, an http\(s\) URL, or audio bytes .* got a Buffer of length 1048577$/);
      expect(await queue.count()).toBe(0);
    });

    it('runs no more jobs at once than the pool has states, and refuses a concurrency above it', async () => {
      const two = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 2 });
      closers.push(() => two.dispose());
      const refused = thrownWhisperError(() => createTranscriptionWorker({ connection: redis.connection, queue: 'never', model: two, concurrency: 3 }));
      expect(refused.message).toBe('options.concurrency: expected an integer from 1 to 2, got 3');
      const { queue, events, worker } = await setUp(two);
      expect(worker.concurrency).toBe(2);
      const jobs = await Promise.all(clips.slice(0, 6).map((clip) => enqueueTranscription(queue, { audio: clip, options: FAST_JOB_OPTIONS })));
      await Promise.all(jobs.map((job) => waitForTranscription(job, events)));
      expect(two.stats()).toMatchObject({ completed: 6, peakRunning: 2, peakQueued: 0 });
    });
  });

  it('takes fewer jobs while calls from elsewhere hold some of the pool, and all again once they end', async () => {
    const two = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 2 });
    closers.push(() => two.dispose());
    const { worker } = await setUp(two);
    const concurrencyBecomes = async (wanted: number) => {
      const deadline = Date.now() + 5000;
      while (worker.worker.concurrency !== wanted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return worker.worker.concurrency;
    };
    expect(worker.worker.concurrency).toBe(2);
    const direct = two.transcribe(JFK_WAV, { threads: 1 });
    expect(await concurrencyBecomes(1)).toBe(1);
    await direct;
    expect(await concurrencyBecomes(2)).toBe(2);
  });

  it('a worker over a model group (one CPU model here) takes as many jobs as the group has slots', async () => {
    const group = await loadModelGroup(realModels().models.base.files.q8_0.path, { concurrency: 2 });
    closers.push(() => group.dispose());
    const gpus = getDevices().filter((device) => device.type === 'gpu' || device.type === 'igpu').length;
    expect(group.size).toBe(Math.max(1, gpus));
    expect(group.devices.map((device) => device.kind)).toEqual(Array.from({ length: group.size }, () => (gpus > 0 ? 'gpu' : 'cpu')));
    const { queue, events, worker } = await setUp(group);
    expect(worker.concurrency).toBe(group.concurrency);
    const jobs = await Promise.all(clips.slice(0, 4).map((clip) => enqueueTranscription(queue, { audio: clip, options: FAST_JOB_OPTIONS })));
    await Promise.all(jobs.map((job) => waitForTranscription(job, events)));
    const stats = group.stats();
    expect(stats.total).toMatchObject({ completed: 4, failed: 0, running: 0 });
    expect(stats.devices.reduce((sum, entry) => sum + entry.stats.completed, 0)).toBe(4);
    expect(stats.total.peakRunning).toBeLessThanOrEqual(group.concurrency);
  });

  it('metrics: queue depth by state and per-worker counts on the caller’s Registry', async () => {
    const { queue, events, worker } = await setUp();
    const registry = new Registry();
    registerQueueMetrics(registry, queue);
    registerQueueMetrics(registry, worker);
    // The worker's own events, which the metrics follow, can come after the queue's.
    const settled = Promise.all([once(worker.worker, 'completed'), once(worker.worker, 'failed')]);
    const good = await enqueueTranscription(queue, { audio: clips[3], options: FAST_JOB_OPTIONS });
    const bad = await enqueueTranscription(queue, { audio: Buffer.from('not audio at all, not even close') });
    await waitForTranscription(good, events);
    await rejectedWhisperError(waitForTranscription(bad, events));
    await settled;
    const text = await registry.metrics();
    const labels = `queue="${queue.name}",worker="${worker.name}"`;
    expect(text).toContain(`whisper_napi_queue_jobs{queue="${queue.name}",state="completed"} 1`);
    expect(text).toContain(`whisper_napi_queue_jobs{queue="${queue.name}",state="failed"} 1`);
    expect(text).toContain(`whisper_napi_queue_jobs{queue="${queue.name}",state="waiting"} 0`);
    expect(text).toContain(`whisper_napi_queue_worker_jobs_completed_total{${labels}} 1`);
    expect(text).toContain(`whisper_napi_queue_worker_jobs_failed_total{${labels},code="INVALID_AUDIO"} 1`);
    expect(text).toContain(`whisper_napi_queue_worker_jobs_active{${labels}} 0`);
    expect(text).toContain(`whisper_napi_queue_worker_job_duration_seconds_count{${labels}} 1`);
    expect(text).toContain(`whisper_napi_queue_worker_throughput_jobs_per_minute{${labels}} 1`);
    // The same registry behind the server's /metrics: one scrape shows the queue and the server.
    const server = await startServer({ models: model, metrics: { registry } });
    try {
      const scraped = await (await fetch(`${server.url}/metrics`)).text();
      expect(scraped).toContain(`whisper_napi_queue_worker_jobs_completed_total{${labels}} 1`);
      expect(scraped).toMatch(/^whisper_napi_running_jobs\{model="whisper-1"\} 0$/m);
    } finally {
      await server.close();
    }
    expect(thrownWhisperError(() => registerQueueMetrics({} as Registry, queue)).message).toBe(
      "registry: expected a prom-client Registry (new Registry() from 'prom-client'), got an object (Object)",
    );
  });
});
