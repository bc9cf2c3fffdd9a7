// Queue throughput: jobs per minute through `whisper-napi worker` processes on a real Redis,
// with 1, 2, 3 and 4 workers (concurrency 1, one thread each), on the real base q8_0 weights and
// short clips of the shared audio. Needs `npm run build`, /usr/bin/redis-server, sox, and
// bullmq with ioredis installed.
//
//   node scripts/bench-queue.mjs [--jobs 40] [--workers 1,2,3,4] [--model <path>]
//
// Each worker count gets a fresh queue; the clock runs from the first job added to the last one
// completed, with the workers already loaded and waiting. Prints a Markdown table.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Queue } = require('bullmq');
const { enqueueTranscription } = require(path.join(root, 'dist', 'queue', 'index.js'));
const CLI = path.join(root, 'dist', 'cli', 'cli.js');
const SHARED = path.resolve(root, '..', 'shared', 'audio');
// Threads are the worker's to set (--threads below), not a job's.
const JOB_OPTIONS = { audioContext: 256, temperatureIncrement: 0 };

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '40' }, workers: { type: 'string', default: '1,2,3,4' }, model: { type: 'string' } } });
const jobCount = Number(values.jobs);
const workerCounts = values.workers.split(',').map(Number);
const model = values.model ?? realBaseModel();

function realBaseModel() {
  const manifest = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
  return manifest.models.base.files.q8_0.path;
}

function makeClips(dir) {
  const clips = ['001', '002', '005'].map((name) => path.join(SHARED, 'cards', `${name}.wav`));
  for (const id of ['0880', '0890', '0920', '0930']) {
    const target = path.join(dir, `book-${id}.wav`);
    execFileSync('sox', [path.join(SHARED, 'librivox', `sense_and_sensibility_01_austen_64kb-${id}.wav`), target, 'trim', '0', '3.2']);
    clips.push(target);
  }
  return clips;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return { child, port };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error('redis-server did not start');
}

/** A `whisper-napi worker` process; -q keeps its stdout quiet, and the queue's worker count says when it is ready. */
function startWorker(port, queue, name, audioRoots) {
  const roots = audioRoots.flatMap((root) => ['--audio-root', root]);
  const args = [CLI, 'worker', '--redis', `redis://127.0.0.1:${port}`, '--queue', queue, '--model', model, '--name', name, '--threads', '1', '--cpu', '-q', ...roots];
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function waitUntilWorkers(queue, count) {
  while ((await queue.getWorkersCount()) < count) await new Promise((resolve) => setTimeout(resolve, 100));
}

async function run(port, clips, workers) {
  const name = `bench-${workers}`;
  const queue = new Queue(name, { connection: { host: '127.0.0.1', port } });
  const children = Array.from({ length: workers }, (_, index) => startWorker(port, name, `${name}-${index}`, [...new Set(clips.map((clip) => path.dirname(clip)))]));
  try {
    await waitUntilWorkers(queue, workers);
    const started = Date.now();
    const ids = [];
    for (let i = 0; i < jobCount; i++) ids.push((await enqueueTranscription(queue, { audio: clips[i % clips.length], options: JOB_OPTIONS })).id);
    for (;;) {
      const counts = await queue.getJobCounts('completed', 'failed');
      if (counts.failed > 0) throw new Error(`${counts.failed} jobs failed`);
      if (counts.completed === jobCount) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    return { workers, seconds, perMinute: (jobCount / seconds) * 60 };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))));
    await queue.close();
  }
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-bench-queue-'));
const redis = await startRedis(scratch);
try {
  const clips = makeClips(scratch);
  const rows = [];
  for (const workers of workerCounts) {
    const row = await run(redis.port, clips, workers);
    rows.push(row);
    console.error(`${workers} worker(s): ${jobCount} jobs in ${row.seconds.toFixed(1)} s`);
  }
  console.log(`${jobCount} jobs of 1-3.5 s clips, base q8_0, one thread per job, ${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? 'unknown'})\n`);
  console.log('| workers | wall time (s) | jobs/minute | vs 1 worker |');
  console.log('|---|---|---|---|');
  for (const row of rows)
    console.log(`| ${row.workers} | ${row.seconds.toFixed(1)} | ${row.perMinute.toFixed(1)} | ${(row.perMinute / rows[0].perMinute).toFixed(2)}x |`);
} finally {
  redis.child.kill('SIGTERM');
  await new Promise((resolve) => (redis.child.exitCode !== null ? resolve() : redis.child.once('exit', resolve)));
  fs.rmSync(scratch, { recursive: true, force: true });
}
