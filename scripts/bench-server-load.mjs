#!/usr/bin/env node
// Bounded load on `whisper-napi serve` over loopback: many clients at once against a small pool
// and queue, each response checked to be its own clip's transcript (or a 429 with Retry-After).
//
//   node scripts/bench-server-load.mjs [--model <path>] [--requests 200] [--clients 20]
//                                      [--concurrency 2] [--max-queue 8] [--threads 1] [--json out.json]
//
// The server is a child process (dist/cli/cli.js serve, so run `npm run build` first) on
// 127.0.0.1 at a free port. References come from the same server, one request per clip before
// the load starts. Requests cycle through the shared clips (jfk, LibriVox, cards: 1 to 11 s) and
// the response formats json, text, srt, vtt and verbose_json. A client told 429 waits Retry-After,
// as OpenAI's client does, then sends its next request. Prints a Markdown table; exits 1 when a
// request was lost, mixed up, wrong or answered 5xx. test/native/server-load.test.ts runs a small load through runServerLoad.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'];
const REQUEST_TIMEOUT_MS = 600_000;

/** The process's resident set in bytes, from /proc (Linux). */
function residentBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const read = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: read('VmRSS'), peak: read('VmHWM') };
}

function startServer({ cli, model, concurrency, maxQueue, threads }) {
  const args = [cli, 'serve', '--model', model, '--port', '0', '--concurrency', String(concurrency), '--max-queue', String(maxQueue), '--threads', String(threads), '-q'];
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
    void exited.then(() => reject(new Error(`serve exited before listening: ${stderr}`)));
  });
  return { child, listening, exited, stderr: () => stderr };
}

async function untilHealthy(url) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const response = await fetch(`${url}/health`);
    const { status } = await response.json();
    if (status === 'ok') return;
    if (status !== 'loading' || Date.now() > deadline) throw new Error(`/health says ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function post(url, clip, format) {
  const form = new FormData();
  form.append('file', new Blob([clip.bytes]), path.basename(clip.wav));
  form.append('model', 'whisper-1');
  form.append('response_format', format);
  return fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

function normalize(text) {
  return text.replace(/\s+/g, ' ').trim();
}

/** srt and vtt: the cue text lines only (no index, timing or header lines), joined. */
function cueText(body) {
  return body
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.includes('-->') && !/^\d+$/.test(line.trim()) && line.trim() !== 'WEBVTT')
    .join(' ');
}

/** The transcript's text in any response format. */
export function textOf(format, body) {
  if (format === 'json' || format === 'verbose_json') return normalize(JSON.parse(body).text);
  if (format === 'text') return normalize(body);
  return normalize(cueText(body));
}

function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Each clip's text as the server answers it alone, in the given format (whitespace normalized). */
async function references(url, clips, format = 'json') {
  const texts = new Map();
  for (const clip of clips) {
    const response = await post(url, clip, format);
    const body = await response.text();
    if (response.status !== 200) throw new Error(`reference for ${clip.id}: ${response.status} ${body}`);
    texts.set(clip.id, textOf(format, body));
  }
  const seen = new Map();
  for (const [id, text] of texts) {
    if (seen.has(text)) throw new Error(`clips ${seen.get(text)} and ${id} have the same transcript; pick distinct clips`);
    seen.set(text, id);
  }
  return texts;
}

/** One request, classified: ok, 429, lost, mixed-up (another clip's text), wrong (no clip's), 5xx, other (any other status). */
async function oneRequest(url, clip, format, reference) {
  const started = performance.now();
  let response;
  let body;
  try {
    response = await post(url, clip, format);
    body = await response.text();
  } catch (error) {
    return { kind: 'lost', ms: performance.now() - started, detail: String(error) };
  }
  const ms = performance.now() - started;
  if (response.status === 429) {
    const retryAfter = Number(response.headers.get('retry-after'));
    return { kind: '429', ms, retryAfterSeconds: retryAfter, detail: Number.isFinite(retryAfter) && retryAfter > 0 ? undefined : 'no Retry-After' };
  }
  if (response.status >= 500) return { kind: '5xx', ms, detail: `${response.status} ${body.slice(0, 200)}` };
  if (response.status !== 200) return { kind: 'other', ms, detail: `${response.status} ${body.slice(0, 200)}` };
  const text = textOf(format, body);
  if (text === reference.get(clip.id)) return { kind: 'ok', ms };
  const other = [...reference].find(([, candidate]) => candidate === text)?.[0];
  return { kind: other === undefined ? 'wrong' : 'mixed-up', ms, detail: `${clip.id} as ${format} answered ${JSON.stringify(text)}${other ? ` (${other}'s)` : ''}` };
}

/**
 * Starts serve, makes the references, sends `requests` requests from `clients` clients at once,
 * stops serve with SIGTERM and reports. Never throws for a bad response: the report counts it.
 */
export async function runServerLoad(options) {
  const {
    cli = path.join(root, 'dist', 'cli', 'cli.js'),
    model,
    requests = 200,
    clients = 20,
    concurrency = 2,
    maxQueue = 8,
    threads = 1,
    clips: clipList,
    log = () => {},
  } = options;
  const clips = clipList.map((clip) => ({ ...clip, bytes: fs.readFileSync(clip.wav) }));
  const server = startServer({ cli, model, concurrency, maxQueue, threads });
  try {
    const url = await server.listening;
    await untilHealthy(url);
    log(`serve ready at ${url}; references for ${clips.length} clips`);
    const reference = await references(url, clips);
    const before = residentBytes(server.child.pid);
    const results = [];
    let next = 0;
    const started = performance.now();
    log(`${requests} requests from ${clients} clients`);
    const client = async () => {
      for (let i = next++; i < requests; i = next++) {
        // Clip and format step at different strides, so every clip meets every format.
        const clip = clips[(i * 7) % clips.length];
        const format = FORMATS[i % FORMATS.length];
        const result = await oneRequest(url, clip, format, reference);
        results.push({ index: i, clip: clip.id, format, ...result });
        if (result.kind === '429' && result.retryAfterSeconds > 0) await new Promise((resolve) => setTimeout(resolve, result.retryAfterSeconds * 1000));
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const wallSeconds = (performance.now() - started) / 1000;
    const after = residentBytes(server.child.pid);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    return summarize({ requests, clients, concurrency, maxQueue, threads, results, before, after, wallSeconds, metrics, exit, stderr: server.stderr() });
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  }
}

function jobCount(metrics, outcome) {
  const line = metrics.split('\n').find((l) => l.startsWith('whisper_napi_jobs_total{') && l.includes(`outcome="${outcome}"`) && l.includes('endpoint="transcriptions"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function summarize({ results, metrics, ...run }) {
  const count = (kind) => results.filter((r) => r.kind === kind).length;
  const latencies = (kind) => results.filter((r) => r.kind === kind).map((r) => r.ms);
  return {
    ...run,
    ok: count('ok'),
    rejected: count('429'),
    lost: count('lost'),
    mixedUp: count('mixed-up'),
    wrong: count('wrong'),
    serverErrors: count('5xx'),
    otherStatus: count('other'),
    okMs: { p50: percentile(latencies('ok'), 50), p99: percentile(latencies('ok'), 99) },
    rejectedMs: { p50: percentile(latencies('429'), 50), p99: percentile(latencies('429'), 99) },
    rejectedWithoutRetryAfter: results.filter((r) => r.kind === '429' && r.detail !== undefined).length,
    serverCounted: { completed: jobCount(metrics, 'completed'), rejected: jobCount(metrics, 'rejected'), failed: jobCount(metrics, 'failed') },
    problems: results.filter((r) => r.detail !== undefined && r.kind !== '429'),
    byFormat: Object.fromEntries(FORMATS.map((format) => [format, results.filter((r) => r.format === format && r.kind === 'ok').length])),
  };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const ms = (value) => (value === undefined ? '–' : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`);

export function markdownTable(report) {
  const header = [
    'requests',
    'clients',
    'ok',
    '429',
    'lost',
    'mixed-up',
    'wrong',
    '5xx',
    'ok p50',
    'ok p99',
    '429 p50',
    '429 p99',
    'RSS before',
    'RSS after (peak)',
    'wall',
  ];
  const row = [
    report.requests,
    report.clients,
    report.ok,
    report.rejected,
    report.lost,
    report.mixedUp,
    report.wrong,
    report.serverErrors,
    ms(report.okMs.p50),
    ms(report.okMs.p99),
    ms(report.rejectedMs.p50),
    ms(report.rejectedMs.p99),
    mib(report.before.rss),
    `${mib(report.after.rss)} (${mib(report.after.peak)})`,
    `${report.wallSeconds.toFixed(0)} s`,
  ];
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, `| ${row.join(' | ')} |`].join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      requests: { type: 'string', default: '200' },
      clients: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '2' },
      'max-queue': { type: 'string', default: '8' },
      threads: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const { sharedCorpus } = await import('./corpus.mjs');
  const model = values.model ?? defaultModel();
  const log = (line) => process.stderr.write(`${line}\n`);
  const report = await runServerLoad({
    model,
    requests: Number(values.requests),
    clients: Number(values.clients),
    concurrency: Number(values.concurrency),
    maxQueue: Number(values['max-queue']),
    threads: Number(values.threads),
    clips: sharedCorpus(),
    log,
  });
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  const [load] = os.loadavg();
  console.log(
    `\`node scripts/bench-server-load.mjs\` on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()} (load average ${load.toFixed(1)} at the end), ${path.basename(model)}, serve --concurrency ${report.concurrency} --max-queue ${report.maxQueue} --threads ${report.threads}, ${new Date().toISOString().slice(0, 10)}\n`,
  );
  console.log(markdownTable(report));
  console.log(
    `\n${(report.ok / report.wallSeconds).toFixed(2)} ok answers a second; ok by format: ${Object.entries(report.byFormat)
      .map(([format, n]) => `${format} ${n}`)
      .join(
        ', ',
      )}; the server counted ${report.serverCounted.completed} completed, ${report.serverCounted.rejected} rejected; serve exited ${report.exit.code} after SIGTERM.`,
  );
  for (const problem of report.problems) log(`${problem.kind}: #${problem.index} ${problem.detail}`);
  const clean = report.lost + report.mixedUp + report.wrong + report.serverErrors + report.otherStatus === 0 && report.exit.code === 0;
  process.exitCode = clean ? 0 : 1;
}

/** The real base model, q8_0 (scripts/fetch-real-models.mjs). */
function defaultModel() {
  const manifest = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
  return manifest.models.base.files.q8_0.path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
