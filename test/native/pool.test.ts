/**
 * The model's pool of states with the real addon: bound, order, queue limit, abort and
 * timeout at every stage, dispose, 200 mixed jobs, and more than libuv's 4 jobs at once.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio, loadModel, type Segment, type Transcript, type WhisperModel } from '../../lib';
import { estimateMemory } from '../../lib/model/planner';
import type { TranscribeOptions } from '../../lib/transcription/options';
import { realModels } from '../support/real-models';
import { JFK_WAV, REPO_ROOT } from '../support/paths';

// Real base q5_0 on real speech: short clips decode few tokens, so hundreds of jobs stay
// cheap. A reduced audio context shrinks the encoder to the clip; results stay deterministic.
const SHORT: TranscribeOptions = { language: 'en', threads: 1, temperatureIncrement: 0, noTimestamps: true, audioContext: 128 };
// The whole 11 s clip with the full context: seconds of work, long enough to be caught running.
const LONG: TranscribeOptions = { language: 'en', threads: 1, temperatureIncrement: 0 };

function comparable(t: Transcript) {
  return { text: t.text, tokens: t.segments.flatMap((s) => s.tokens.map((k) => k.id)) };
}

describe('pool of states', () => {
  const modelPath = realModels().models.base.files.q5_0.path;
  let jfk: Float32Array;
  const opened: WhisperModel[] = [];

  async function open(options: Parameters<typeof loadModel>[1]): Promise<WhisperModel> {
    const model = await loadModel(modelPath, options);
    opened.push(model);
    return model;
  }

  beforeAll(async () => {
    jfk = await loadAudio(JFK_WAV);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((m) => m.dispose()));
  });

  it('runs more than libuv’s 4 jobs truly at once, and leaves libuv’s pool free for fs', async () => {
    const model = await open({ concurrency: 6 });
    const clip = jfk.slice(0, 5 * 16000);
    const started: number[] = [];
    const ended: number[] = [];
    let allStarted!: () => void;
    const allStartedPromise = new Promise<void>((resolve) => (allStarted = resolve));
    const jobs = Array.from({ length: 6 }, (_, i) =>
      model
        .transcribe(clip, {
          ...SHORT,
          audioContext: 256,
          onProgress: () => {
            if (started[i] !== undefined) return;
            started[i] = performance.now();
            if (started.filter((t) => t !== undefined).length === 6) allStarted();
          },
        })
        .then((t) => {
          ended[i] = performance.now();
          return t;
        }),
    );
    // With the jobs on libuv's pool, jobs 5 and 6 could not start before one of the first 4
    // ended, and every fs call would wait behind them.
    const fsDone = Promise.all(Array.from({ length: 8 }, () => fs.readFile(JFK_WAV))).then(() => performance.now());
    await allStartedPromise;
    const fsAt = await fsDone;
    const results = await Promise.all(jobs);
    const firstEnd = Math.min(...ended);
    expect(started.length).toBe(6);
    for (const t of started) expect(t).toBeLessThan(firstEnd);
    expect(fsAt).toBeLessThan(firstEnd);
    expect(model.stats()).toMatchObject({ peakRunning: 6, states: 6, completed: 6, failed: 0, running: 0 });
    for (const r of results) expect(r.text).toBe(results[0].text);
    expect(results[0].text.toLowerCase()).toContain('fellow americans');
  });

  it('starts queued jobs by priority, FIFO within a priority, never above N', async () => {
    const model = await open({ concurrency: 1 });
    const clip = jfk.slice(0, 32000);
    const order: string[] = [];
    const blocker = model.transcribe(clip, SHORT).then(() => order.push('blocker'));
    const names: Array<[string, number]> = [
      ['low', 0],
      ['high-1', 10],
      ['mid', 5],
      ['high-2', 10],
      ['low-2', 0],
    ];
    const jobs = names.map(([name, priority]) => model.transcribe(clip, { ...SHORT, priority }).then(() => order.push(name)));
    expect(model.stats()).toMatchObject({ running: 1, queued: 5 });
    await Promise.all([blocker, ...jobs]);
    expect(order).toEqual(['blocker', 'high-1', 'high-2', 'mid', 'low', 'low-2']);
    expect(model.stats()).toMatchObject({ peakRunning: 1, peakQueued: 5, states: 1, completed: 6 });
  });

  it('rejects with QUEUE_FULL at once when maxQueue jobs wait', async () => {
    const model = await open({ concurrency: 1, maxQueue: 1 });
    const clip = jfk.slice(0, 32000);
    const a = model.transcribe(clip, SHORT);
    const b = model.transcribe(clip, SHORT);
    await expect(model.transcribe(clip, { ...SHORT, priority: 99 })).rejects.toMatchObject({
      code: 'QUEUE_FULL',
      message: expect.stringContaining('maxQueue 1'),
    });
    // Refused before anything ran: the first job is still going.
    expect(model.stats()).toMatchObject({ running: 1, queued: 1, rejected: 1, completed: 0 });
    await Promise.all([a, b]);
    expect(model.stats()).toMatchObject({ completed: 2, rejected: 1, failed: 0 });
  });

  it('times out and aborts while queued and while running; the state goes back to the pool', async () => {
    const model = await open({ concurrency: 1 });
    const baseline = await model.transcribe(jfk, LONG);

    // Running: the deadline passes during whisper_full, which stops at its next abort check.
    let ranBeforeTimeout = false;
    // Errors are collected as they come: the queued jobs fail long before the running one.
    const outcome = (job: Promise<Transcript>) =>
      job.then(
        () => 'resolved',
        (error: { code: string; message: string }) => error,
      );
    const timedOut = outcome(model.transcribe(jfk, { ...LONG, timeoutMs: 400, onProgress: () => (ranBeforeTimeout = true) }));
    // Queued behind it: a deadline and an abort while waiting.
    const queuedTimeout = outcome(model.transcribe(jfk, { ...LONG, timeoutMs: 50 }));
    const controller = new AbortController();
    const queuedAbort = outcome(model.transcribe(jfk, { ...LONG, signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    expect(await queuedTimeout).toMatchObject({ code: 'TIMEOUT' });
    expect(await queuedAbort).toMatchObject({ code: 'ABORTED' });
    expect(await timedOut).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('timeoutMs (400 ms)') });
    expect(ranBeforeTimeout).toBe(true);

    // Running, aborted by the caller.
    const running = new AbortController();
    await expect(model.transcribe(jfk, { ...LONG, signal: running.signal, onProgress: () => running.abort() })).rejects.toMatchObject({ code: 'ABORTED' });

    // The one state survived all of it and still gives the same transcript.
    const again = await model.transcribe(jfk, { ...LONG, timeoutMs: 600_000 });
    expect(comparable(again)).toEqual(comparable(baseline));
    expect(model.stats()).toMatchObject({
      states: 1,
      completed: 2,
      failed: 4,
      timedOut: 2,
      aborted: 2,
      running: 0,
      queued: 0,
    });
  });

  it('dispose with running and queued jobs rejects all with DISPOSED and nothing hangs', async () => {
    const model = await open({ concurrency: 2 });
    let running = 0;
    let bothRunning!: () => void;
    const bothRunningPromise = new Promise<void>((resolve) => (bothRunning = resolve));
    const jobs = Array.from({ length: 6 }, (_, i) =>
      model.transcribe(jfk, {
        ...LONG,
        priority: i % 2,
        onProgress: i < 2 ? () => ++running === 2 && bothRunning() : undefined,
      }),
    );
    // Collected before dispose: the two running jobs end at different times, and the queued
    // ones fail as each of them hands its state back.
    const settled = Promise.allSettled(jobs);
    await bothRunningPromise;
    expect(model.stats()).toMatchObject({ running: 2, queued: 4 });
    await model.dispose();
    const results = await settled;
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'DISPOSED' });
    }
    expect(model.stats()).toMatchObject({ running: 0, queued: 0, failed: 6, completed: 0 });
    await expect(model.transcribe(jfk, LONG)).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('200 mixed jobs: none lost or duplicated, each result belongs to its input', async () => {
    // Eight distinct inputs: speech slices of different lengths and one of silence.
    const inputs: Float32Array[] = [0, 1, 2, 3, 4, 5, 6].map((k) => jfk.slice(k * 16000, k * 16000 + 12000 + k * 2000));
    inputs.push(new Float32Array(16000));
    const solo = await open({ concurrency: 1 });
    const baselines: Transcript[] = [];
    for (const pcm of inputs) baselines.push(await solo.transcribe(pcm, SHORT));
    expect(new Set(baselines.map((b) => b.text)).size).toBeGreaterThanOrEqual(6);

    const N = 3;
    const model = await open({ concurrency: N });
    type Outcome = { index: number; input: number; kind: 'ok' | 'timeout' | 'abort' | 'plain'; result?: Transcript; error?: { code: string }; segments: Segment[] };
    let settled = 0;
    const settledIds = new Set<number>();
    const jobs = Array.from({ length: 200 }, async (_, index): Promise<Outcome> => {
      const input = (index * 5) % inputs.length;
      const kind = index % 9 === 4 ? 'timeout' : index % 7 === 3 ? 'abort' : 'plain';
      const controller = new AbortController();
      if (kind === 'abort') setTimeout(() => controller.abort(), (index * 37) % 400);
      const segments: Segment[] = [];
      try {
        const result = await model.transcribe(inputs[input], {
          ...SHORT,
          priority: index % 3,
          timeoutMs: kind === 'timeout' ? 1 + ((index * 13) % 300) : undefined,
          signal: controller.signal,
          onSegment: (s) => segments.push(s),
        });
        return { index, input, kind, result, segments };
      } catch (error) {
        return { index, input, kind, error: error as { code: string }, segments };
      } finally {
        expect(settledIds.has(index)).toBe(false);
        settledIds.add(index);
        settled++;
        expect(model.stats().running).toBeLessThanOrEqual(N);
      }
    });
    const outcomes = await Promise.all(jobs);
    expect(settled).toBe(200);

    let completed = 0;
    for (const o of outcomes) {
      if (o.result) {
        completed++;
        expect(comparable(o.result)).toEqual(comparable(baselines[o.input]));
        expect(o.result.audioDurationMs).toBeCloseTo((inputs[o.input].length / 16000) * 1000, 5);
        // Streamed segments went to the job they came from.
        expect(o.segments.map((s) => s.text)).toEqual(o.result.segments.map((s) => s.text));
      } else {
        // Only jobs that asked for a deadline or an abort may fail, and only that way.
        expect(o.kind).not.toBe('plain');
        expect(o.error?.code).toBe(o.kind === 'timeout' ? 'TIMEOUT' : 'ABORTED');
      }
    }
    const stats = model.stats();
    expect(stats).toMatchObject({ completed, failed: 200 - completed, running: 0, queued: 0, peakRunning: N });
    expect(stats.timedOut + stats.aborted).toBe(200 - completed);
    expect(stats.timedOut).toBeGreaterThan(0);
    expect(stats.aborted).toBeGreaterThan(0);
    expect(stats.states).toBeLessThanOrEqual(N);
  });

  it("concurrency 'auto' plans from the device's memory, or from memoryBudget", async () => {
    const auto = await open({ concurrency: 'auto' });
    expect(auto.concurrency).toBeGreaterThanOrEqual(1);
    // On the CPU: never more jobs than cores (ggml's threads spin), whichever limit came first.
    expect(auto.concurrency).toBeLessThanOrEqual(os.availableParallelism());
    expect(['cores', 'memory']).toContain(auto.autoConcurrency?.limitedBy);
    expect(auto.concurrency).toBe(auto.autoConcurrency!.concurrency);
    expect(auto.stats().concurrency).toBe(auto.concurrency);

    const estimate = await estimateMemory({ model: modelPath });
    // Room for the weights and one and a half states: one state.
    const tight = await open({ concurrency: 'auto', memoryBudget: Math.round(estimate.weightsBytes + 1.5 * estimate.perState.total) });
    expect(tight.autoConcurrency).toMatchObject({ concurrency: 1, limitedBy: 'memory', marginBytes: 0 });
    const t = await tight.transcribe(jfk.slice(0, 32000), SHORT);
    expect(t.text.length).toBeGreaterThan(0);
  });

  it('a worker_thread torn down while its job runs exits cleanly; the main thread carries on', async () => {
    const worker = new Worker(
      `const { loadModel } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'index.js'))});
       const { parentPort, workerData } = require('node:worker_threads');
       (async () => {
         const model = await loadModel(workerData.modelPath);
         model.transcribe(workerData.clip, { ...workerData.options, onProgress: () => parentPort.postMessage('running') })
           .catch(() => {});
       })();`,
      { eval: true, workerData: { modelPath, clip: JFK_WAV, options: LONG } },
    );
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    const exitCode = await worker.terminate();
    expect(exitCode).toBe(1);
    const model = await open({ concurrency: 1 });
    const t = await model.transcribe(jfk.slice(0, 32000), SHORT);
    expect(t.text.length).toBeGreaterThan(0);
  });
});
