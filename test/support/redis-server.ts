/**
 * A real Redis for the queue tests: Debian's /usr/bin/redis-server on a free 127.0.0.1 port,
 * no persistence (`--save '' --appendonly no`) in a temporary --dir, stopped by PID. `restart`
 * takes it down and brings it back on the same port with its data (SHUTDOWN SAVE writes the
 * one snapshot it loads again), as a Redis that was briefly gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Why the queue tests cannot run here, or undefined when they can. */
export function redisUnavailable(): string | undefined {
  return fs.existsSync(REDIS_SERVER) ? undefined : `${REDIS_SERVER} is missing (apt-get install redis-server; .ci/run installs it)`;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly connection: { host: string; port: number };
  readonly pid: number | undefined;
  /** Shuts down saving its data, waits `downMs`, and starts again on the same port with the data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One command over RESP; resolves with the raw reply, or '' when the server closed the connection (as SHUTDOWN does). */
function sendCommand(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply));
    socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
  });
}

async function waitForPong(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log()}`);
    const reply = await sendCommand(port, ['PING']).catch(() => '');
    if (reply.startsWith('+PONG')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within 10 s:\n${log()}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** BullMQ 6 loads ioredis, its Redis client, only when connecting: without it every queue test would time out instead of failing with the reason. */
function assertRedisClientInstalled(): void {
  try {
    require.resolve('ioredis');
  } catch {
    throw new Error('ioredis is not installed: BullMQ 6 needs it as its Redis client for { host, port } connections (npm install --save-dev ioredis)');
  }
}

export async function startRedisServer(): Promise<RedisServer> {
  assertRedisClientInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-redis-'));
  const port = await freePort();
  let output = '';
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'];
    const started = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForPong(port, started, () => output);
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (running?.pid !== undefined && running.exitCode === null && running.signalCode === null) {
      process.kill(running.pid, 'SIGTERM');
      await exited(running);
    }
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    connection: { host: '127.0.0.1', port },
    get pid() {
      return child?.pid;
    },
    async restart(downMs = 1000) {
      const running = child;
      if (running === undefined) throw new Error('redis-server is not running');
      await sendCommand(port, ['SHUTDOWN', 'SAVE']).catch(() => '');
      await exited(running);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
    async stop() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
