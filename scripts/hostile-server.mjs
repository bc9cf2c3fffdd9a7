#!/usr/bin/env node
// A hostile client against `whisper-napi serve`: generated form fields and live-socket messages
// (strings and numbers of every length and shape, at every field), each answer classified, while
// /health is polled every 20 ms to find the server's worst stall.
//
//   node scripts/hostile-server.mjs [--model <path>] [--seconds 150] [--cases 2000] [--seed 1] [--json out.json]
//
// The server is a child process (dist/cli/cli.js serve, so run `npm run build` first) on
// 127.0.0.1 at a free port, and nothing else is contacted. A server that dies is counted and
// started again. Prints a Markdown table; exits 1 when the server died, answered 5xx, or
// answered a refusal that was not OpenAI's error shape.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const FORM_FIELDS = ['model', 'language', 'prompt', 'temperature', 'response_format', 'stream', 'timestamp_granularities[]', 'threads', 'file'];
const START_FIELDS = ['format', 'language', 'model', 'prompt', 'wordTimestamps', 'windowMs', 'threads', 'type'];
const LENGTHS = [0, 1, 2, 3, 7, 60, 61, 123, 124, 255, 256, 257, 1023, 4095, 4096, 4097, 8191, 8192, 8193, 16_384, 65_535, 65_536, 262_144];
const NUMBERS = [0, -0, -1, 0.5, 1, 1.0000001, 2, 29_999, 30_000, 30_001, 2 ** 31, 2 ** 53, 1e308, -1e308, 5e-324, Number.NaN, Infinity];
const ALPHABETS = ['a', 'ab ', '0123456789', 'ü', '𝄞', '\u0000', '\r\n', '"\\', '--boundary\r\n', '<script>', 'é́', '\u202e', ' '];
const REQUEST_TIMEOUT_MS = 60_000;

/** A small, seeded PRNG (mulberry32), so a run can be repeated. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rand, list) {
  return list[Math.floor(rand() * list.length)];
}

/** A string of one of LENGTHS (in characters of its alphabet), in one of the shapes. */
function hostileString(rand) {
  const length = pick(rand, LENGTHS);
  const alphabet = pick(rand, ALPHABETS);
  if (rand() < 0.15) return String(pick(rand, NUMBERS));
  if (rand() < 0.1) return pick(rand, ['json', 'verbose_json', 'text', 'en', 'auto', 'whisper-1', 'true', 'word', 's16', 'webm']) + alphabet.repeat(length);
  return alphabet.repeat(Math.ceil(length / alphabet.length)).slice(0, Math.max(length, 0));
}

/** Any JSON value: a string, a number, or something else of the wrong type. */
function hostileValue(rand) {
  const roll = rand();
  if (roll < 0.55) return hostileString(rand);
  if (roll < 0.85) return pick(rand, NUMBERS);
  return pick(rand, [null, true, false, [], {}, ['a'], { a: 1 }]);
}

/** 16 kHz mono s16 WAV of `seconds` of quiet noise. */
function wav(seconds, rand) {
  const samples = Math.round(seconds * 16000);
  const bytes = Buffer.alloc(44 + samples * 2);
  bytes.write('RIFF', 0);
  bytes.writeUInt32LE(36 + samples * 2, 4);
  bytes.write('WAVEfmt ', 8);
  bytes.writeUInt32LE(16, 16);
  bytes.writeUInt16LE(1, 20);
  bytes.writeUInt16LE(1, 22);
  bytes.writeUInt32LE(16000, 24);
  bytes.writeUInt32LE(32000, 28);
  bytes.writeUInt16LE(2, 32);
  bytes.writeUInt16LE(16, 34);
  bytes.write('data', 36);
  bytes.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) bytes.writeInt16LE(Math.round((rand() - 0.5) * 200), 44 + i * 2);
  return bytes;
}

function startServer(cli, model, threads) {
  const args = [cli, 'serve', '--model', model, '--host', HOST, '--port', '0', '--threads', String(threads), '--max-queue', '2', '--max-audio-duration', '60', '-q'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WHISPER_NAPI_API_KEY: '' } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const listening = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^listening on (http:\/\/\S+)\n/.exec(stdout);
      if (match) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`serve exited before listening: ${stderr.slice(-2000)}`)));
  });
  return { child, listening, exited, stderr: () => stderr };
}

async function untilHealthy(url) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { status } = await (await fetch(`${url}/health`)).json();
    if (status === 'ok') return;
    if (status !== 'loading' || Date.now() > deadline) throw new Error(`/health says ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls /health every 20 ms; the worst time one took to answer is the server's worst stall (as a client sees it). */
function stallMonitor(urlOf) {
  let worstMs = 0;
  let failures = 0;
  const state = { stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      const started = performance.now();
      try {
        const response = await fetch(`${urlOf()}/health`, { signal: AbortSignal.timeout(30_000) });
        await response.arrayBuffer();
      } catch {
        failures++;
      }
      worstMs = Math.max(worstMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      state.stopped = true;
      await loop;
      return { worstMs, failures };
    },
  };
}

/** A 4xx with OpenAI's error body (`{"error":{"message","type","param","code"}}`, a code set). */
function typedError(status, text) {
  try {
    const body = JSON.parse(text);
    return status >= 400 && status < 500 && typeof body.error?.message === 'string' && typeof body.error?.code === 'string' && body.error.message.length < 1000;
  } catch {
    return false;
  }
}

async function formCase(url, rand, audio) {
  const field = pick(rand, FORM_FIELDS);
  const form = new FormData();
  const value = hostileString(rand);
  if (field === 'file') form.append('file', new Blob([Buffer.from(value)]), 'x.wav');
  else {
    form.append('file', new Blob([audio]), 'quiet.wav');
    form.append(field, value);
    if (rand() < 0.2) form.append(field, hostileString(rand));
  }
  const response = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  return { target: `form ${field}`, status: response.status, typed: typedError(response.status, text) };
}

/** One live connection with a generated start message (or raw text), 0.5 s of audio and a stop. */
function liveCase(url, rand) {
  const raw = rand() < 0.15;
  const field = raw ? 'raw text' : pick(rand, START_FIELDS);
  const start = { type: 'start', format: 's16' };
  if (!raw) start[field] = hostileValue(rand);
  const message = raw ? hostileString(rand) : JSON.stringify(start);
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/audio/stream`, { maxPayload: 4 * 2 ** 20 });
    const received = [];
    const timer = setTimeout(() => ws.terminate(), REQUEST_TIMEOUT_MS);
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ target: `live ${field}`, status: res.statusCode, typed: typedError(res.statusCode, body) });
      });
    });
    ws.on('open', () => {
      ws.send(message);
      ws.send(Buffer.alloc(16000));
      ws.send(JSON.stringify({ type: 'stop' }));
    });
    ws.on('message', (data) => received.push(JSON.parse(data.toString())));
    ws.on('close', (code) => {
      clearTimeout(timer);
      const error = received.find((m) => m.type === 'error');
      if (received.some((m) => m.type === 'done') && code === 1000) return resolve({ target: `live ${field}`, status: 200, typed: false });
      if (error) {
        const status = code === 1011 ? 500 : code === 1013 ? 429 : 400;
        return resolve({ target: `live ${field}`, status, typed: typeof error.error?.code === 'string' && status < 500 });
      }
      // Closed by the WebSocket layer (1009: message too big) is typed by its close code.
      resolve({ target: `live ${field}`, status: code === 1009 || code === 1008 ? 400 : 0, typed: code === 1009 || code === 1008 });
    });
  });
}

function tally(rows, result) {
  const row = (rows[result.target] ??= { cases: 0, ok: 0, typed4xx: 0, untyped4xx: 0, server5xx: 0, failed: 0 });
  row.cases++;
  if (result.status >= 200 && result.status < 300) row.ok++;
  else if (result.status >= 400 && result.status < 500) row[result.typed ? 'typed4xx' : 'untyped4xx']++;
  else if (result.status >= 500) row.server5xx++;
  else row.failed++;
}

export async function runHostile({ model, seconds = 150, cases = 2000, seed = 1, threads = 1 }) {
  const cli = path.join(root, 'dist', 'cli', 'cli.js');
  const rand = random(seed);
  const audio = wav(0.5, rand);
  let server = startServer(cli, model, threads);
  let url = await server.listening;
  await untilHealthy(url);
  let deaths = 0;
  const exitsOf = [];
  const monitor = stallMonitor(() => url);
  const rssBefore = residentBytes(server.child.pid);
  const rows = {};
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let restarting;
  const restartIfDead = async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) return;
    restarting ??= (async () => {
      deaths++;
      exitsOf.push(await server.exited);
      server = startServer(cli, model, threads);
      url = await server.listening;
      await untilHealthy(url);
    })().finally(() => (restarting = undefined));
    await restarting;
  };
  // Four clients at once, each sending its next case as soon as its last is answered.
  const client = async () => {
    while (done < cases && Date.now() < deadline) {
      done++;
      try {
        tally(rows, await (rand() < 0.5 ? formCase(url, rand, audio) : liveCase(url, rand)));
      } catch {
        tally(rows, { target: 'network error', status: 0, typed: false });
      }
      await restartIfDead();
    }
  };
  await Promise.all(Array.from({ length: 4 }, client));
  const stall = await monitor.stop();
  const rssAfter = residentBytes(server.child.pid);
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  return { cases: done, rows, deaths, deathExits: exitsOf, worstHealthMs: Math.round(stall.worstMs), healthFailures: stall.failures, rssBefore, rssAfter, exit };
}

function residentBytes(pid) {
  try {
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

export function markdownTable(report) {
  const lines = ['| target | cases | 2xx | typed 4xx | untyped 4xx | 5xx | failed |', '|---|---:|---:|---:|---:|---:|---:|'];
  const total = { cases: 0, ok: 0, typed4xx: 0, untyped4xx: 0, server5xx: 0, failed: 0 };
  for (const [target, row] of Object.entries(report.rows).sort()) {
    lines.push(`| ${target} | ${row.cases} | ${row.ok} | ${row.typed4xx} | ${row.untyped4xx} | ${row.server5xx} | ${row.failed} |`);
    for (const key of Object.keys(total)) total[key] += row[key];
  }
  lines.push(`| **all** | ${total.cases} | ${total.ok} | ${total.typed4xx} | ${total.untyped4xx} | ${total.server5xx} | ${total.failed} |`);
  lines.push('');
  lines.push(`server deaths: ${report.deaths}; worst /health answer: ${report.worstHealthMs} ms (${report.healthFailures} failed polls)`);
  lines.push(`server RSS: ${(report.rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(report.rssAfter / 2 ** 20).toFixed(0)} MiB after`);
  return lines.join('\n');
}

function defaultModel() {
  const manifest = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
  return manifest.models.base.files.q8_0.path;
}

async function main() {
  const { values } = parseArgs({
    options: { model: { type: 'string' }, seconds: { type: 'string' }, cases: { type: 'string' }, seed: { type: 'string' }, json: { type: 'string' } },
  });
  const report = await runHostile({
    model: values.model ?? defaultModel(),
    seconds: Math.min(Number(values.seconds ?? 150), 600),
    cases: Number(values.cases ?? 2000),
    seed: Number(values.seed ?? 1),
  });
  console.log(markdownTable(report));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2));
  const bad = Object.values(report.rows).reduce((n, row) => n + row.untyped4xx + row.server5xx + row.failed, 0);
  process.exitCode = report.deaths === 0 && bad === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
