/**
 * Two `whisper-napi worker` processes (concurrency 1, real base q8_0 weights) share 100 jobs of
 * ten short clips on a real Redis: every job completes exactly once with its own clip's
 * transcript, and the workers' counts add up to 100. Needs `npm run build` and /usr/bin/redis-server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TranscriptionJobData, TranscriptionResult } from '../../lib/queue/job-data';
import { enqueueTranscription } from '../../lib/queue/producer';
import {
  FAST_JOB_OPTIONS,
  isNearestTo,
  makeClips,
  referenceTranscripts,
  resultText,
  startWorkerProcess,
  waitForJobs,
  type WorkerProcess,
} from '../support/queue-fixtures';
import { realModels } from '../support/real-models';
import { redisUnavailable, startRedisServer, type RedisServer } from '../support/redis-server';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`queue-farm tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('two worker processes, 100 jobs', () => {
  const model = realModels().models.base.files.q8_0.path;
  let scratch: string;
  let redis: RedisServer;
  let queue: Queue<TranscriptionJobData, TranscriptionResult>;
  let clips: string[];
  const expected = new Map<string, string>();
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-queue-farm-'));
    clips = makeClips(scratch);
    redis = await startRedisServer();
    queue = new Queue('farm', { connection: redis.connection });
    for (const [clip, text] of await referenceTranscripts(model, clips)) expected.set(clip, text);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await queue?.close();
    await redis?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('has ten clips with ten different transcripts', () => {
    expect(new Set(expected.values()).size).toBe(10);
  });

  it('completes each job once, with its own transcript, the work shared between the two', async () => {
    for (const name of ['farm-a', 'farm-b']) workers.push(startWorkerProcess({ redisUrl: redis.url, queue: 'farm', name, model, audioRoots: [scratch] }));
    await Promise.all(workers.map((worker) => worker.waitForLine(/^ready /)));
    const audioOf = new Map<string, string>();
    for (let i = 0; i < 100; i++) {
      const clip = clips[i % clips.length];
      const job = await enqueueTranscription(queue, { audio: clip, options: FAST_JOB_OPTIONS });
      audioOf.set(job.id!, clip);
    }
    const jobs = await waitForJobs(queue, [...audioOf.keys()], 600_000);
    for (const job of jobs) {
      expect(job.failedReason, `job ${job.id}`).toBeUndefined();
      const text = resultText(job);
      const own = expected.get(audioOf.get(job.id!)!)!;
      expect(isNearestTo(text, own, [...expected.values()]), `job ${job.id} (${path.basename(audioOf.get(job.id!)!)}): "${text}", its clip's "${own}"`).toBe(true);
      expect(job.attemptsMade).toBe(1);
    }

    const exits = await Promise.all(workers.map((worker) => worker.stop()));
    expect(exits).toEqual([0, 0]);
    const [a, b] = workers.map((worker) => worker.completedIds());
    // Exactly once: no id twice in one worker, none in both, and together all 100.
    expect(new Set(a).size).toBe(a.length);
    expect(a.filter((id) => b.includes(id))).toEqual([]);
    expect(new Set([...a, ...b])).toEqual(new Set(audioOf.keys()));
    expect(a.length + b.length).toBe(100);
    expect(a.length).toBeGreaterThan(10);
    expect(b.length).toBeGreaterThan(10);
    // Each worker's own count (printed as it stops) and the results agree with its lines.
    for (const worker of workers) {
      const ids = worker.completedIds();
      expect(worker.lines.at(-1)).toBe(`stopped ${worker.name}: ${ids.length} completed, 0 failed`);
      expect(jobs.filter((job) => job.returnvalue.worker === worker.name).map((job) => job.id)).toEqual(expect.arrayContaining(ids));
      expect(jobs.filter((job) => job.returnvalue.worker === worker.name)).toHaveLength(ids.length);
    }
    expect(await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed')).toEqual({ completed: 100, failed: 0, active: 0, wait: 0, delayed: 0 });
  });
});
