/**
 * What BullMQ recovers from, with `whisper-napi worker` processes on a real Redis: a worker
 * killed mid-job (SIGKILL) loses its job to the other as stalled, and it completes once; Redis
 * restarted during a run, and every job still completes. Then `whisper-napi submit` as a user
 * runs it. Needs `npm run build` and /usr/bin/redis-server.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INLINE_AUDIO_BYTES, type TranscriptionJobData, type TranscriptionResult } from '../../lib/queue/job-data';
import { enqueueTranscription } from '../../lib/queue/producer';
import { JFK_WAV, REPO_ROOT } from '../support/paths';
import {
  CLI,
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
if (unavailable) console.warn(`queue-recovery tests skipped: ${unavailable}`);

/** Short locks, so a dead worker's job is taken back within seconds rather than BullMQ's default 30. */
const SHORT_LOCKS = ['--lock-duration', '2000', '--stalled-interval', '1000'];

describe.skipIf(unavailable !== undefined)('recovery', () => {
  const model = realModels().models.base.files.q8_0.path;
  let scratch: string;
  let redis: RedisServer;
  let clips: string[];
  const expected = new Map<string, string>();
  const workers: WorkerProcess[] = [];
  const queues: Array<Queue | QueueEvents> = [];

  function openQueue(name: string): Queue<TranscriptionJobData, TranscriptionResult> {
    const queue = new Queue<TranscriptionJobData, TranscriptionResult>(name, { connection: redis.connection });
    // While Redis restarts the connection reports refusals; it reconnects by itself.
    queue.on('error', () => undefined);
    queues.push(queue);
    return queue;
  }

  function startWorker(queue: string, name: string, args: readonly string[] = []): WorkerProcess {
    const worker = startWorkerProcess({ redisUrl: redis.url, queue, name, model, audioRoots: [scratch, path.dirname(JFK_WAV)], args });
    workers.push(worker);
    return worker;
  }

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-queue-recovery-'));
    clips = makeClips(scratch);
    redis = await startRedisServer();
    for (const [clip, text] of await referenceTranscripts(model, clips)) expected.set(clip, text);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await Promise.all(queues.map((queue) => queue.close()));
    await redis?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  function expectOwnTranscripts(jobs: Array<{ id?: string; returnvalue: TranscriptionResult; failedReason?: string }>, audioOf: Map<string, string>): void {
    for (const job of jobs) {
      expect(job.failedReason, `job ${job.id}`).toBeUndefined();
      const own = expected.get(audioOf.get(job.id!)!)!;
      expect(isNearestTo(resultText(job as never), own, [...expected.values()]), `job ${job.id}`).toBe(true);
    }
  }

  it('a worker killed mid-job loses it to the other as stalled, and it completes once there', async () => {
    const queue = openQueue('stall');
    const events = new QueueEvents('stall', { connection: redis.connection });
    events.on('error', () => undefined);
    queues.push(events);
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    await events.waitUntilReady();
    const doomed = startWorker('stall', 'stall-a', SHORT_LOCKS);
    await doomed.waitForLine(/^ready /);
    // The full JFK clip with the full window: several seconds on one thread, long enough to be killed in.
    const long = await enqueueTranscription(queue, { audio: JFK_WAV, options: { temperatureIncrement: 0 } });
    const audioOf = new Map<string, string>();
    for (const clip of clips.slice(0, 3)) audioOf.set((await enqueueTranscription(queue, { audio: clip, options: FAST_JOB_OPTIONS })).id!, clip);
    while ((await long.getState()) !== 'active') await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await doomed.kill();
    const survivor = startWorker('stall', 'stall-b', SHORT_LOCKS);

    const [done, ...others] = await waitForJobs(queue, [long.id!, ...audioOf.keys()], 180_000);
    expect(done.failedReason).toBeUndefined();
    expect(resultText(done)).toMatch(/ask not what your country can do for you/i);
    expect(done.returnvalue.worker).toBe('stall-b');
    expect(stalled).toContain(long.id);
    expectOwnTranscripts(others, audioOf);
    expect(doomed.completedIds()).toEqual([]);
    expect(await survivor.stop()).toBe(0);
    const survivorIds = survivor.completedIds();
    expect(survivorIds.filter((id) => id === long.id)).toHaveLength(1);
    expect(new Set(survivorIds)).toEqual(new Set([long.id, ...audioOf.keys()]));
    expect(await queue.getJobCounts('completed', 'failed', 'active', 'wait')).toEqual({ completed: 4, failed: 0, active: 0, wait: 0 });
  });

  it('Redis restarted during a run: workers and the producer reconnect and every job completes once', async () => {
    const queue = openQueue('restart');
    const pair = [startWorker('restart', 'restart-a'), startWorker('restart', 'restart-b')];
    await Promise.all(pair.map((worker) => worker.waitForLine(/^ready /)));
    const audioOf = new Map<string, string>();
    for (let i = 0; i < 12; i++)
      audioOf.set((await enqueueTranscription(queue, { audio: clips[i % clips.length], options: FAST_JOB_OPTIONS })).id!, clips[i % clips.length]);
    while ((await queue.getJobCounts('completed')).completed < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    await redis.restart(1500);
    // The same producer adds more after the restart.
    for (const clip of clips.slice(0, 3)) audioOf.set((await enqueueTranscription(queue, { audio: clip, options: FAST_JOB_OPTIONS })).id!, clip);
    const jobs = await waitForJobs(queue, [...audioOf.keys()], 300_000);
    expectOwnTranscripts(jobs, audioOf);
    expect(await Promise.all(pair.map((worker) => worker.stop()))).toEqual([0, 0]);
    const ids = pair.flatMap((worker) => worker.completedIds());
    expect(ids).toHaveLength(15);
    expect(new Set(ids)).toEqual(new Set(audioOf.keys()));
  });

  describe('whisper-napi submit', () => {
    let worker: WorkerProcess;
    beforeAll(async () => {
      worker = startWorker('cli', 'cli-worker');
      await worker.waitForLine(/^ready cli-worker queue cli concurrency 1$/);
    });

    function submit(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, 'submit', '--redis', redis.url, '--queue', 'cli', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    }

    it('prints the job id without --wait, and the result in the -o format with it', async () => {
      const queued = await submit([clips[3]]);
      expect(queued.code).toBe(0);
      expect(queued.stdout).toMatch(/^\d+\n$/);
      const srt = await submit([clips[3], '--wait', '-o', 'srt']);
      expect(srt.stderr).toBe('');
      expect(srt.code).toBe(0);
      expect(srt.stdout).toMatch(/^1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n.*not an ill/i);
      await worker.waitForLine(new RegExp(`^completed ${queued.stdout.trim()}$`));
    });

    it('--inline sends the bytes; over the limit it is refused before anything is queued', async () => {
      const inline = await submit([clips[0], '--inline', '--wait', '-o', 'txt']);
      expect(inline.code).toBe(0);
      // Sent with the CLI's default options, not the fast ones the references were made with.
      expect(isNearestTo(inline.stdout.trim(), expected.get(clips[0])!, [...expected.values()]), inline.stdout).toBe(true);
      const big = path.join(scratch, 'big.wav');
      fs.writeFileSync(big, Buffer.alloc(MAX_INLINE_AUDIO_BYTES + 1));
      const refused = await submit([big, '--inline']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(
        `whisper-napi: INVALID_ARGUMENT: audio: expected a path, an http(s) URL, or audio bytes (a Buffer or Uint8Array of at most ${MAX_INLINE_AUDIO_BYTES} bytes`,
      );
    });

    it('a job that fails prints its code and exits 1', async () => {
      const notAudio = path.join(scratch, 'notes.txt');
      fs.writeFileSync(notAudio, 'these are not audio bytes at all, just text\n'.repeat(20));
      const failed = await submit([notAudio, '--wait']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toBe('');
      expect(failed.stderr).toMatch(/^whisper-napi: .*notes\.txt \(job \d+\): INVALID_AUDIO: /);
    });

    it('usage mistakes exit 2', async () => {
      const noFile = await submit([]);
      expect(noFile.code).toBe(2);
      expect(noFile.stderr).toContain('submit needs at least one audio file or URL');
      const badFormat = await submit([clips[0], '-o', 'docx']);
      expect(badFormat.code).toBe(2);
      expect(badFormat.stderr).toContain('-o expects one of txt, srt, vtt, json, verbose_json, tsv, lrc, got "docx"');
      const threads = await submit([clips[0], '-t', '2']);
      expect(threads.code).toBe(2);
      expect(threads.stderr).toContain("--threads is the worker's to decide: start the worker with --threads");
    });
  });
});

describe('the queue commands without bullmq and ioredis', () => {
  /** A copy of the package whose node_modules has everything but bullmq and ioredis (the rest linked to ours). */
  function packageWithoutQueueDependencies(dir: string): string {
    fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
      if (entry === 'bullmq' || entry === 'ioredis' || entry.startsWith('.')) continue;
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(dir, 'node_modules', entry));
    }
    return path.join(dir, 'dist', 'cli', 'cli.js');
  }

  it('worker and submit say what to install, exit 1, and the other commands still run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-no-bullmq-'));
    try {
      const cli = packageWithoutQueueDependencies(dir);
      // NODE_PATH cleared: nothing outside the copy may supply them.
      const env = { ...process.env, NODE_PATH: '' };
      const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
      const submit = run(['submit', '--redis', 'redis://127.0.0.1:1', '--queue', 'q', JFK_WAV]);
      expect(submit.status).toBe(1);
      expect(submit.stderr).toMatch(
        /^whisper-napi: MISSING_DEPENDENCY: submit needs the optional dependencies bullmq and ioredis \(missing: bullmq(, ioredis)?\): npm install bullmq ioredis\n$/,
      );
      const worker = run(['worker', '--redis', 'redis://127.0.0.1:1', '--queue', 'q', '--model', 'base.en']);
      expect(worker.status).toBe(1);
      expect(worker.stderr).toContain('worker needs the optional dependencies bullmq and ioredis');
      expect(run(['--version']).status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --redis that is not a Redis URL is a usage mistake', () => {
    const run = spawnSync(process.execPath, [CLI, 'worker', '--redis', 'http://127.0.0.1:6379', '--queue', 'q', '--model', 'base.en'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'whisper-napi worker: --redis: expected a Redis URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS), got "http://127.0.0.1:6379"',
    );
  });
});
