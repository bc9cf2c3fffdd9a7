#!/usr/bin/env node
/**
 * Hostile job data against whisper-napi/queue: strings and numbers of every length and shape,
 * wrong types, huge prompts, nested and prototype-named keys, at every field of a job's data.
 * Every case goes through parseJobData here; a bounded sample goes through Redis to a real
 * worker (createTranscriptionWorker on a synthetic tiny.en model) in a child process, beside a
 * local hostile HTTP server (endless, silent, redirecting to Redis and to 169.254.169.254).
 * Prints one table row per stage: cases, typed errors (a WhisperError, or a failure reason
 * `CODE: message`), successes, untyped errors, deaths (a worker process that exited), leaks
 * (a reason quoting a file or a server) and the worst event-loop stall
 * (perf_hooks.monitorEventLoopDelay). Exits 1 if anything was untyped, died or leaked.
 *
 * Bounded: --seconds (default 100) for everything; --sample (default 40) jobs for the worker;
 * --no-worker for the parsing stage alone. Talks only to 127.0.0.1: the worker's URL cases
 * are IP literals, refused before any connection unless they are the local server's.
 * Needs `npm run build` (dist/), and for the worker stage the addon, redis-server and
 * ../shared/models/header-only-ggml-tiny.en.bin.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const SECRET = 'HOSTILE-SECRET-7f3a';

function argument(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

/** A seeded xorshift, so a run can be repeated. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** One second of a 440 Hz tone as 16 kHz 16-bit mono WAV. */
function toneWav() {
  const samples = 16_000;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(16_000, 24);
  wav.writeUInt32LE(32_000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16_000)), 44 + i * 2);
  return wav;
}

/** Values of every shape: the strings and numbers are the ones limits and parsers get wrong. */
function hostileValues(env) {
  const deepArray = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
  const deepObject = JSON.parse('{"a":'.repeat(5000) + '1' + '}'.repeat(5000));
  const manyKeys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
  return [
    '',
    'a',
    'auto',
    'en',
    'x'.repeat(60),
    'x'.repeat(61),
    'x'.repeat(4096),
    'x'.repeat(4097),
    'x'.repeat(1_000_000),
    'x'.repeat(20_000_000),
    '\u0000',
    'a\r\nFAKE: header',
    '\u202eevil',
    '💥'.repeat(10_000),
    '__proto__',
    'constructor',
    'toString',
    '../../../../etc/passwd',
    '/etc/shadow',
    '/proc/self/environ',
    '/dev/zero',
    env.root ? path.join(env.root, 'escape.wav') : '/tmp/escape.wav',
    env.root ? path.join(env.root, 'notes.txt') : '/tmp/notes.txt',
    'file:///etc/passwd',
    'http://127.0.0.1:6379/',
    'http://[::1]/',
    'http://0x7f.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    ...(env.http
      ? [
          `${env.http}/ok.wav`,
          `${env.http}/endless`,
          `${env.http}/silent`,
          `${env.http}/to-redis`,
          `${env.http}/to-metadata`,
          `${env.http}/forbidden`,
          `${env.http}/loop`,
        ]
      : []),
    '(a+)+$',
    '%s%s%s%n',
    '$' + '{jndi:ldap://127.0.0.1/a}',
    'A'.repeat(1_398_104),
    0,
    -0,
    -1,
    1,
    0.5,
    1e-300,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    NaN,
    Infinity,
    -Infinity,
    true,
    false,
    null,
    [],
    [1, 'two', null],
    new Array(100_000).fill(0),
    {},
    { a: 1 },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    JSON.parse('{"constructor": {"prototype": {"polluted": true}}}'),
    deepArray,
    deepObject,
    manyKeys,
  ];
}

/** Every field of job data, and some that are none. */
const FIELDS = [
  [],
  ['audio'],
  ['audio', 'path'],
  ['audio', 'url'],
  ['audio', 'inline'],
  ['audio', '__proto__'],
  ['options'],
  // Every option the worker's allow-list decides on, allowed or refused, and some that are none.
  ...[...require(path.join(DIST, 'queue', 'job-options.js')).JOB_OPTION_KEYS, '__proto__', 'constructor', 'unknownOption'].map((key) => ['options', key]),
  ...['channel', 'ffmpegPath', 'ffmpegTimeoutMs', 'maxInputBytes', '__proto__'].map((key) => ['options', 'audio', key]),
  ...['modelPath', 'threshold', 'minSpeechDurationMs', 'speechPadMs', 'samplesOverlap', '__proto__'].map((key) => ['options', 'vad', key]),
  ['format'],
  ['formatOptions'],
  ['formatOptions', 'maxLineLength'],
  ['formatOptions', 'task'],
  ['model'],
  ['__proto__'],
  ['constructor'],
  ['extra'],
];

/** A valid job with `value` put at `field` (an own property even for '__proto__', as JSON makes it). */
function caseFor(base, field, value) {
  if (field.length === 0) return value;
  const data = structuredClone(base);
  let at = data;
  for (const key of field.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object' || !Object.hasOwn(at, key))
      Object.defineProperty(at, key, { value: {}, enumerable: true, writable: true, configurable: true });
    at = at[key];
  }
  Object.defineProperty(at, field.at(-1), { value, enumerable: true, writable: true, configurable: true });
  return data;
}

function describeCase(field, value) {
  const shown =
    typeof value === 'string'
      ? value.length > 40
        ? `string(${value.length})`
        : JSON.stringify(value)
      : Array.isArray(value)
        ? `array(${value.length})`
        : typeof value === 'object' && value !== null
          ? 'object'
          : String(value);
  return `${field.join('.') || '(data)'} = ${shown}`;
}

function leaks(text) {
  return /root:x:|HOSTILE-SECRET|SECRET-PHRASE|redis_version|72 6f 6f 74|ami-id/.test(text);
}

async function parseStage(cases, deadline) {
  const jobData = require(path.join(DIST, 'queue', 'job-data.js'));
  const { WhisperError } = require(path.join(DIST, 'errors', 'whisper-error.js'));
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const row = { stage: 'parseJobData', cases: 0, typed: 0, successes: 0, untyped: 0, deaths: '-', leaks: 0, stall: 0, slowest: 0, slowestCase: '' };
  const untyped = [];
  for (const { data, label } of cases) {
    if (Date.now() > deadline) break;
    row.cases++;
    const started = performance.now();
    try {
      jobData.parseJobData(data);
      row.successes++;
    } catch (error) {
      if (error instanceof WhisperError && typeof error.code === 'string') {
        row.typed++;
        const reason = jobData.failureReason(error);
        if (reason.length > 1100 || leaks(reason)) {
          row.leaks++;
          untyped.push(`leak: ${label}: ${reason.slice(0, 200)}`);
        }
      } else {
        row.untyped++;
        untyped.push(`untyped: ${label}: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`);
      }
    }
    const took = performance.now() - started;
    if (took > row.slowest) [row.slowest, row.slowestCase] = [took, label];
    await yieldToLoop();
  }
  histogram.disable();
  row.stall = histogram.max / 1e6;
  if ({}.polluted !== undefined || Object.prototype.polluted !== undefined) untyped.push('Object.prototype was polluted');
  return { row, problems: untyped };
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

function startRedis(dir, port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  return child;
}

/** The local server the worker's URL cases reach: good audio, and every way a server can be hostile. */
function hostileServer(redisPort) {
  const wav = toneWav();
  const server = http.createServer((request, response) => {
    const route = request.url ?? '';
    if (route === '/ok.wav') response.writeHead(200, { 'content-length': wav.length }).end(wav);
    else if (route === '/endless') {
      response.writeHead(200);
      const piece = Buffer.alloc(64 * 1024, 0x41);
      const more = () => {
        while (!response.destroyed && response.write(piece));
      };
      response.on('drain', more);
      more();
    } else if (route === '/silent') return;
    else if (route === '/to-redis') response.writeHead(302, { location: `http://localhost:${redisPort}/` }).end();
    else if (route === '/to-metadata') response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    else if (route === '/loop') response.writeHead(302, { location: '/loop' }).end();
    else if (route === '/forbidden') {
      response.statusCode = 403;
      response.statusMessage = 'SECRET-PHRASE';
      response.end(SECRET);
    } else response.writeHead(404).end();
  });
  return server;
}

async function ensureModel() {
  const file = path.join(os.tmpdir(), 'whisper-napi-hostile-queue-tiny.en.bin');
  if (fs.existsSync(file)) return file;
  const { writeSyntheticModel } = require(path.join(DIST, 'tools', 'index.js'));
  await writeSyntheticModel({ headerFrom: path.join(ROOT, '..', 'shared', 'models', 'header-only-ggml-tiny.en.bin'), outPath: `${file}.part`, seed: 1 });
  fs.renameSync(`${file}.part`, file);
  return file;
}

/** The length of a case as JSON; Infinity for what JSON.stringify cannot write (too deep), which BullMQ could not queue either. */
function jsonLength(data) {
  try {
    return JSON.stringify(data ?? null).length;
  } catch {
    return Infinity;
  }
}

/** True when a URL case would connect nowhere but 127.0.0.1: an IP literal, the local server's or one the worker refuses before connecting. */
function staysLocal(data, httpHost) {
  const url = data?.audio?.url;
  if (typeof url !== 'string') return true;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return true;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return true;
  if (parsed.host === httpHost) return true;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const { isPublicAddress } = require(path.join(DIST, 'queue', 'url-policy.js'));
  return net.isIP(host) !== 0 && !isPublicAddress(host);
}

async function workerStage(cases, deadline, sampleSize, seed) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-hostile-queue-'));
  const root = path.join(scratch, 'audio');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'ok.wav'), toneWav());
  fs.writeFileSync(path.join(root, 'notes.txt'), `root:x:0:0:root:/root:/bin/bash ${SECRET}\n`.repeat(50));
  fs.symlinkSync('/etc/passwd', path.join(root, 'escape.wav'));
  const script = path.join(scratch, 'x.sh');
  fs.writeFileSync(script, `#!/bin/sh\ntouch ${path.join(scratch, 'script-ran')}\necho ${SECRET} >&2\nexit 1\n`, { mode: 0o755 });
  const redisPort = await freePort();
  const redis = startRedis(scratch, redisPort);
  const server = hostileServer(redisPort);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const httpHost = `127.0.0.1:${server.address().port}`;
  const row = {
    stage: 'worker (sample)',
    cases: 0,
    typed: 0,
    successes: 0,
    untyped: 0,
    deaths: 0,
    leaks: 0,
    stall: 0,
    unfinished: 0,
    worstJobStall: 0,
    worstJob: '',
    labels: new Map(),
  };
  const problems = [];
  let worker;
  const { Queue } = require('bullmq');
  const queue = new Queue('hostile', { connection: { host: '127.0.0.1', port: redisPort } });
  queue.on('error', () => undefined);
  try {
    const model = await ensureModel();
    const config = { redisPort, model, root, allowHost: httpHost };
    const startWorker = () => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const state = { child, ready: false, exited: false, stall: 0 };
      let buffered = '';
      child.stdout.on('data', (chunk) => {
        buffered += chunk;
        for (const line of buffered.split('\n').slice(0, -1)) {
          if (line === 'ready') state.ready = true;
          const stall = /^stall (\S+)$/.exec(line);
          if (stall) state.stall = Math.max(state.stall, Number(stall[1]));
          const job = /^job (\S+) (\S+)$/.exec(line);
          if (job && Number(job[2]) > row.worstJobStall) [row.worstJobStall, row.worstJob] = [Number(job[2]), job[1]];
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
      child.on('exit', (code, signal) => {
        state.exited = true;
        if (!state.stopping) {
          row.deaths++;
          problems.push(`worker died (${code ?? signal}): ${stderr.trim().slice(-300)}`);
        }
      });
      return state;
    };
    worker = startWorker();
    while (!worker.ready && !worker.exited && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    // The cases that once did harm first, then a seeded sample of the rest.
    const pick = random(seed);
    const wanted = [
      { label: 'options.audio.ffmpegPath = script', data: { audio: { path: path.join(root, 'notes.txt') }, options: { audio: { ffmpegPath: script } } } },
      { label: 'options.vad.modelPath = /etc/passwd', data: { audio: { path: path.join(root, 'ok.wav') }, options: { vad: { modelPath: '/etc/passwd' } } } },
      { label: 'options.threads = 256', data: { audio: { path: path.join(root, 'ok.wav') }, options: { threads: 256 } } },
      { label: 'audio.path = link to /etc/passwd', data: { audio: { path: path.join(root, 'escape.wav') } } },
      { label: 'audio.path = notes (not audio)', data: { audio: { path: path.join(root, 'notes.txt') } } },
      { label: 'audio.url = redirect to redis', data: { audio: { url: `http://${httpHost}/to-redis` } } },
      { label: 'audio.url = endless', data: { audio: { url: `http://${httpHost}/endless` }, options: { timeoutMs: 5000 } } },
      { label: 'audio.url = silent, timeoutMs 1000', data: { audio: { url: `http://${httpHost}/silent` }, options: { timeoutMs: 1000 } } },
      { label: 'audio.url = 403 with a phrase', data: { audio: { url: `http://${httpHost}/forbidden` } } },
      { label: 'audio.url = good', data: { audio: { url: `http://${httpHost}/ok.wav` } } },
    ];
    const rest = cases.filter((entry) => staysLocal(entry.data, httpHost) && jsonLength(entry.data) < 2_000_000);
    while (wanted.length < sampleSize && rest.length > 0) wanted.push(rest.splice(Math.floor(pick() * rest.length), 1)[0]);
    const jobs = [];
    for (const entry of wanted) {
      if (Date.now() > deadline) break;
      try {
        const job = await queue.add('transcribe', entry.data, { attempts: 1, removeOnComplete: false, removeOnFail: false });
        row.labels.set(String(job.id), entry.label);
        jobs.push({ entry, job });
      } catch (error) {
        // BullMQ refuses what JSON cannot hold (undefined data, BigInt): never reaches a worker.
        problems.push(`not queued: ${entry.label}: ${error.message.slice(0, 100)}`);
      }
    }
    row.cases = jobs.length;
    const open = new Set(jobs);
    while (open.size > 0 && Date.now() < deadline) {
      if (worker.exited) worker = startWorker();
      for (const item of [...open]) {
        const job = await queue.getJob(item.job.id);
        if (job?.finishedOn === undefined) continue;
        open.delete(item);
        if (job.failedReason === undefined) row.successes++;
        else if (/^[A-Z_]+: /.test(job.failedReason)) row.typed++;
        else {
          row.untyped++;
          problems.push(`untyped: ${item.entry.label}: ${job.failedReason.slice(0, 200)}`);
        }
        if (leaks(job.failedReason ?? '') || leaks(JSON.stringify(job.stacktrace ?? []))) {
          row.leaks++;
          problems.push(`leak: ${item.entry.label}: ${job.failedReason}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    row.unfinished = open.size;
    if (fs.existsSync(path.join(scratch, 'script-ran'))) problems.push("a job's script ran on the worker");
  } finally {
    if (worker && !worker.exited) {
      worker.stopping = true;
      worker.child.kill('SIGTERM');
      const killer = setTimeout(() => worker.child.kill('SIGKILL'), 5000);
      await new Promise((resolve) => (worker.exited ? resolve() : worker.child.once('exit', resolve)));
      clearTimeout(killer);
    }
    row.stall = worker?.stall ?? 0;
    await queue.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    redis.kill('SIGTERM');
    await new Promise((resolve) => (redis.exitCode !== null ? resolve() : redis.once('exit', resolve)));
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { row, problems };
}

/** The child: a worker with a synthetic model, reporting its event loop's worst stall. */
async function runWorker(config) {
  const { loadModel } = require(path.join(DIST, 'index.js'));
  const { createTranscriptionWorker } = require(path.join(DIST, 'queue', 'index.js'));
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const model = await loadModel(config.model, { gpu: false, concurrency: 1 });
  const worker = createTranscriptionWorker({
    connection: { host: '127.0.0.1', port: config.redisPort },
    queue: 'hostile',
    model,
    transcribeDefaults: { threads: 1, temperatureIncrement: 0, audioContext: 256 },
    audioRoots: [config.root],
    allowHosts: [config.allowHost],
    jobTimeoutMs: 3000,
    maxUrlBytes: 1024 * 1024,
    urlTimeoutMs: 2000,
  });
  worker.worker.on('error', () => undefined);
  await worker.waitUntilReady();
  // Loading the model is not a job's stall: measure from here.
  histogram.reset();
  process.stdout.write('ready\n');
  let worst = 0;
  const report = () => process.stdout.write(`stall ${Math.max(worst, histogram.max / 1e6).toFixed(1)}\n`);
  // Each job's own worst stall (jobs run one at a time), so the parent can say which case it was.
  for (const event of ['completed', 'failed']) {
    worker.worker.on(event, (job) => {
      const stall = histogram.max / 1e6;
      worst = Math.max(worst, stall);
      process.stdout.write(`job ${job?.id ?? '?'} ${stall.toFixed(1)}\n`);
      histogram.reset();
    });
  }
  const timer = setInterval(report, 500);
  process.once('SIGTERM', async () => {
    clearInterval(timer);
    report();
    await worker.close(true);
    await model.dispose();
    process.exit(0);
  });
}

async function main() {
  const started = Date.now();
  const seconds = Number(argument('seconds', '100'));
  const sampleSize = Number(argument('sample', '40'));
  const seed = Number(argument('seed', '1'));
  const withWorker = !process.argv.includes('--no-worker');
  const deadline = started + seconds * 1000;
  const env = { root: path.join(os.tmpdir(), 'hostile-root'), http: undefined };
  const base = { audio: { inline: toneWav().toString('base64') }, options: { beamSize: 1 } };
  const values = hostileValues(env);
  const cases = [];
  for (const field of FIELDS) for (const value of values) cases.push({ data: caseFor(base, field, value), label: describeCase(field, value) });
  const parsed = await parseStage(cases, started + Math.min(seconds * 300, 40_000));
  const rows = [parsed.row];
  const problems = [...parsed.problems];
  if (withWorker) {
    const worker = await workerStage(cases, deadline - 8000, sampleSize, seed);
    rows.push(worker.row);
    problems.push(...worker.problems);
  }
  const header = ['stage', 'cases', 'typed errors', 'successes', 'untyped', 'deaths', 'leaks', 'worst stall'];
  const table = [
    header,
    ...rows.map((row) => [row.stage, row.cases, row.typed, row.successes, row.untyped, row.deaths, row.leaks, `${row.stall.toFixed(1)} ms`].map(String)),
  ];
  const widths = header.map((_, column) => Math.max(...table.map((line) => line[column].length)));
  for (const line of table)
    process.stdout.write(`${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ')}\n`);
  process.stdout.write(`slowest parse: ${parsed.row.slowest.toFixed(1)} ms (${parsed.row.slowestCase})\n`);
  if (withWorker && rows[1].worstJob !== '') {
    process.stdout.write(`worst worker stall in a job: ${rows[1].worstJobStall.toFixed(1)} ms (${rows[1].labels.get(rows[1].worstJob) ?? rows[1].worstJob})\n`);
  }
  if (withWorker && rows[1].unfinished > 0) process.stdout.write(`unfinished when time ran out: ${rows[1].unfinished}\n`);
  for (const problem of problems.slice(0, 20)) process.stdout.write(`  ${problem}\n`);
  process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const bad = rows.some((row) => row.untyped > 0 || (typeof row.deaths === 'number' && row.deaths > 0) || row.leaks > 0);
  process.exit(bad ? 1 : 0);
}

if (process.argv[2] === '--worker') await runWorker(JSON.parse(process.argv[3]));
else await main();
