/**
 * `whisper-napi serve` as a user runs it (dist/cli/cli.js in a child process on 127.0.0.1,
 * port 0): usage mistakes, the missing peer dependencies, readiness while the model loads, a
 * transcription through fetch and FormData, API keys (flag and environment), the upload
 * limit, a slowloris client closed by the head timeout, and SIGTERM during a running job
 * (its answer completes, then exit 0). Run `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JFK_WAV, REPO_ROOT } from '../support/paths';
import { realModels } from '../support/real-models';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');
const BASE = realModels().models.base!.files.q8_0!.path;
const JFK_TEXT = 'And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.';
const PEER_DEPENDENCIES = ['busboy', 'ws', 'prom-client'];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Served {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const started = new Set<ChildProcess>();

function spawnCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; cli?: string } = {}) {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.cli ?? CLI, ...args], {
    env: { ...process.env, WHISPER_NAPI_API_KEY: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  void exited.then(() => started.delete(child));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `serve` with `args`, once it prints its listening line (within 60 s). */
async function serve(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const run = spawnCli(['serve', '--port', '0', ...args], { env });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${run.stderr()}`)), 60_000);
    const look = () => {
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(run.stdout());
      if (!match) return;
      clearTimeout(timer);
      run.child.stdout!.off('data', look);
      resolve(match[1]!);
    };
    run.child.stdout!.on('data', look);
    void run.exited.then(() => reject(new Error(`exited before listening; stderr: ${run.stderr()}`)));
  });
  return { ...run, url };
}

async function healthStatus(url: string): Promise<string> {
  const response = await fetch(`${url}/health`);
  return ((await response.json()) as { status: string }).status;
}

async function untilReady(url: string): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const status = await healthStatus(url);
    if (seen.at(-1) !== status) seen.push(status);
    if (status !== 'loading') return seen;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`still loading after 120 s: ${seen.join(' → ')}`);
}

function transcribe(url: string, file: string, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  form.append('model', 'whisper-1');
  return fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers });
}

async function errorOf(response: Response): Promise<{ status: number; code: string | null; type: string }> {
  const body = (await response.json()) as { error: { code: string | null; type: string } };
  return { status: response.status, code: body.error.code, type: body.error.type };
}

afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
});

describe('serve refuses before listening', () => {
  it.each([
    [[], 'serve needs --model <model name or path>'],
    [['-m', 'x', '--max-file-size', 'lots'], '--max-file-size expects a size such as 25mb, 512kb or 1048576 (bytes), got "lots"'],
    [['-m', 'x', '--port', '70000'], '--port expects a port from 0 to 65535, got "70000"'],
    [['-m', 'x', '--concurrency', '0'], '--concurrency expects an integer of at least 1, got "0"'],
    [['-m', 'x', '--api-key', ''], '--api-key needs a non-empty key'],
    [['-m', 'x', 'extra.wav'], 'unexpected argument "extra.wav"'],
    [['-m', 'x', '--max-connections', '0'], '--max-connections expects an integer of at least 1, got "0"'],
    [['-m', 'x', '--max-audio-duration', 'long'], '--max-audio-duration expects seconds from 1 to 86400, got "long"'],
    [
      ['-m', 'x', '--allow-origin', 'https://a.example/page'],
      '--allow-origin expects an origin such as https://app.example (scheme, host and port), got "https://a.example/page"',
    ],
  ])('%j: exit 2 with the mistake and the usage', async (args, message) => {
    const run = spawnCli(['serve', ...args]);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.stdout()).toBe('');
    expect(run.stderr().split('\n')[0]).toBe(`whisper-napi serve: ${message}`);
    expect(run.stderr()).toContain('Usage: whisper-napi serve --model <name|path> [options]');
  });
});

describe('serve ends with exit 1 when it cannot serve', () => {
  it('a port in use: one error line, nothing loaded', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const run = spawnCli(['serve', '-m', BASE, '--port', String(port)]);
      expect(await run.exited).toEqual({ code: 1, signal: null });
      expect(run.stdout()).toBe('');
      expect(run.stderr()).toBe(`whisper-napi: EADDRINUSE: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('a name that is not in the catalogue: it listens, then exits 1 with one error line', async () => {
    const run = spawnCli(['serve', '-m', 'no-such-model', '--port', '0']);
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.stdout()).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(run.stderr()).toBe(
      "whisper-napi: MODEL_NOT_FOUND: --model: no model named 'no-such-model' in the catalogue; give a path to a ggml model file, or a name from `whisper-napi models list`\n",
    );
  });
});

describe('without the optional peer dependencies', () => {
  let farm: string;
  beforeAll(() => {
    // The package as installed without busboy, ws and prom-client: its files and every other dependency, linked.
    farm = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-no-peers-'));
    fs.symlinkSync(path.join(REPO_ROOT, 'dist'), path.join(farm, 'dist'));
    fs.symlinkSync(path.join(REPO_ROOT, 'package.json'), path.join(farm, 'package.json'));
    fs.mkdirSync(path.join(farm, 'node_modules'));
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
      if (!PEER_DEPENDENCIES.includes(entry)) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(farm, 'node_modules', entry));
    }
  });
  afterAll(() => {
    if (farm) fs.rmSync(farm, { recursive: true, force: true });
  });
  const nodeArgs = ['--preserve-symlinks', '--preserve-symlinks-main'];

  it('serve says in one line what to install and exits 1; the other commands still run', async () => {
    const cli = path.join(farm, 'dist', 'cli', 'cli.js');
    const run = spawnCli(['serve', '-m', BASE], { nodeArgs, cli });
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.stdout()).toBe('');
    expect(run.stderr()).toBe(
      'whisper-napi: MISSING_DEPENDENCY: serve needs the optional dependencies busboy, ws and prom-client (missing: busboy, ws, prom-client): npm install busboy ws prom-client\n',
    );
    const list = spawnCli(['models', 'list', '--models-dir', path.join(farm, 'models')], { nodeArgs, cli });
    expect(await list.exited).toEqual({ code: 0, signal: null });
    expect(list.stdout()).toMatch(/^NAME +KIND +SIZE +CACHED\n/);
  });
});

describe('serve --model base (two API keys by flag)', () => {
  let served: Served;
  const auth = { Authorization: 'Bearer second-key' };
  beforeAll(async () => {
    served = await serve(['--model', BASE, '--threads', '1', '--concurrency', '1', '--api-key', 'first-key', '--api-key', 'second-key']);
  });
  afterAll(() => {
    served?.child.kill('SIGKILL');
  });

  it('/health says loading until the model is ready, then ok; the model is served by its file name and as whisper-1', async () => {
    const seen = await untilReady(served.url);
    expect(seen).toEqual(['loading', 'ok']);
    // The queue is bounded by default: 4 × concurrency (it was unlimited).
    expect(served.stderr()).toBe('whisper-napi serve: model ggml-base-q8_0 ready (concurrency 1, max queue 4)\n');
    const models = (await (await fetch(`${served.url}/v1/models`, { headers: auth })).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toEqual(['whisper-1', 'ggml-base-q8_0']);
  });

  it('a 65,535-byte prompt gets a 400 (or a transcript), a 4 KiB one a transcript, and the server lives on', async () => {
    // A prompt this long once crashed the process in whisper.cpp's tokenizer.
    for (const [prompt, statuses] of [
      ['a'.repeat(65_535), [400, 200]],
      ['Kennedy '.repeat(512), [200]],
      ['ü'.repeat(2048), [200]],
    ] as const) {
      const form = new FormData();
      form.append('file', new Blob([fs.readFileSync(JFK_WAV)]), 'jfk.wav');
      form.append('prompt', prompt);
      const response = await fetch(`${served.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: auth });
      expect(statuses as readonly number[], await response.clone().text()).toContain(response.status);
      await response.arrayBuffer();
      expect((await fetch(`${served.url}/health`)).status).toBe(200);
    }
    expect(served.child.exitCode).toBeNull();
  });

  it('transcribes an upload from fetch and FormData with either key; none or a wrong one is 401', async () => {
    const response = await transcribe(served.url, JFK_WAV, { Authorization: 'Bearer first-key' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await response.json()) as { text: string }).text).toBe(JFK_TEXT);
    expect(await errorOf(await transcribe(served.url, JFK_WAV))).toEqual({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    expect(await errorOf(await transcribe(served.url, JFK_WAV, { Authorization: 'Bearer third-key' }))).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('SIGTERM (twice) during a job: new connections are refused, the running job answers 200 in full, then exit 0', async () => {
    const running = transcribe(served.url, JFK_WAV, auth);
    const deadline = Date.now() + 60_000;
    while (!/whisper_napi_running_jobs\{model="ggml-base-q8_0"\} 1\n/.test(await (await fetch(`${served.url}/metrics`)).text())) {
      if (Date.now() > deadline) throw new Error('the job never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    served.child.kill('SIGTERM');
    // The listening socket closes at once; the job keeps running.
    const refusedBy = Date.now() + 10_000;
    for (;;) {
      const refused = await fetch(`${served.url}/health`, { headers: { Connection: 'close' } }).then(
        () => false,
        () => true,
      );
      if (refused) break;
      if (Date.now() > refusedBy) throw new Error('still accepting connections 10 s after SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A second SIGTERM (an impatient supervisor) does not cut the job short.
    served.child.kill('SIGTERM');
    const response = await running;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { text: string }).text).toBe(JFK_TEXT);
    expect(await served.exited).toEqual({ code: 0, signal: null });
    expect(served.stderr()).toMatch(/\nwhisper-napi serve: stopping: finishing the running jobs\n$/);
  });
});

describe('serve with WHISPER_NAPI_API_KEY, --max-file-size 1kb and --headers-timeout 500', () => {
  let served: Served;
  const auth = { Authorization: 'Bearer env-key' };
  beforeAll(async () => {
    served = await serve(['-m', BASE, '--max-file-size', '1kb', '--headers-timeout', '500', '-q'], { WHISPER_NAPI_API_KEY: 'env-key' });
    await untilReady(served.url);
  });
  afterAll(() => {
    served?.child.kill('SIGKILL');
  });

  it('the key from the environment is asked for on /v1 only', async () => {
    expect((await fetch(`${served.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${served.url}/v1/models`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    expect((await fetch(`${served.url}/metrics`)).status).toBe(200);
  });

  it('an upload over 1 KiB is 413', async () => {
    const response = await transcribe(served.url, JFK_WAV, auth);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('a client that never finishes its request head is answered 408 and closed by the head timeout', async () => {
    const { port } = new URL(served.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const opened = Date.now();
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer env-key\r\n');
    // A header line every 100 ms keeps the connection busy, never the head complete.
    const trickle = setInterval(() => socket.write(`X-Slow: ${Date.now()}\r\n`), 100);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still open after 10 s')), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - opened);
      });
      socket.once('error', () => {});
    });
    clearInterval(trickle);
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(closedAfter).toBeGreaterThanOrEqual(450);
    expect(closedAfter).toBeLessThan(3000);
  });

  it('Ctrl-C (SIGINT) stops it as SIGTERM does, with the exit status of an interrupted command (130)', async () => {
    served.child.kill('SIGINT');
    expect(await served.exited).toEqual({ code: 130, signal: null });
    expect(served.stderr()).toBe('');
  });
});
