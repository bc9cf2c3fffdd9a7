/**
 * createTranscriptionServer: the handler on a node:http server of its own, with timeouts that
 * close slow or stalled clients (slowloris), and the two steps a standalone server needs:
 * listening, and a shutdown that lets running jobs finish.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { integerIn, INT32_MAX, pick } from '../errors/validate';
import { invalidArgument } from '../errors/whisper-error';
import { createTranscriptionHandler, type TranscriptionHandler } from './handler';
import type { TranscriptionHandlerOptions } from './options';

/** For `serve`, which loads this module lazily and reports the queue bound the handler will use. */
export { DEFAULT_QUEUE_PER_SLOT } from './options';

export interface TranscriptionServerOptions extends TranscriptionHandlerOptions {
  /** A client must send its whole request head within this, in ms (then 408 and closed). 0: no limit. Default 10000. */
  headersTimeoutMs?: number;
  /** A client must send its whole request, body included, within this, in ms. 0: no limit. Default 300000 (as node:http). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this, in ms. Default 5000 (as node:http). */
  keepAliveTimeoutMs?: number;
  /**
   * Connections at once (live sockets included). When one more arrives, connections that have
   * sent no request head for 0.5 s and idle keep-alive ones are closed to make room, so a flood
   * of silent sockets cannot keep real clients out; if none can go, the new one is closed.
   * Default 1024.
   */
  maxConnections?: number;
}

/** An http.Server answering with `handler`, which it was created with. */
export type TranscriptionServer = http.Server & { readonly handler: TranscriptionHandler };

const SERVER_KEYS = ['headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'maxConnections'] as const;

interface ServerTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** A connection that has sent no whole request head for this long may be closed to make room. */
const SILENT_GRACE_MS = 500;

function resolveTimeouts(options: Record<string, unknown>): ServerTimeouts {
  const timeout = integerIn(0, INT32_MAX);
  const timeouts = {
    headersTimeoutMs: pick(options, 'headersTimeoutMs', timeout, DEFAULT_HEADERS_TIMEOUT_MS),
    requestTimeoutMs: pick(options, 'requestTimeoutMs', timeout, DEFAULT_REQUEST_TIMEOUT_MS),
    keepAliveTimeoutMs: pick(options, 'keepAliveTimeoutMs', timeout, DEFAULT_KEEP_ALIVE_TIMEOUT_MS),
  };
  const { headersTimeoutMs, requestTimeoutMs } = timeouts;
  // node:http refuses a head timeout longer than the whole request's.
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw invalidArgument('options.headersTimeoutMs', `at most options.requestTimeoutMs (${requestTimeoutMs})`, headersTimeoutMs);
  }
  return timeouts;
}

/**
 * node:http checks the head and request deadlines on a timer (30 s by default), so a deadline
 * is kept only to within that interval: check often enough for the shortest one to hold.
 */
function checkingIntervalMs({ headersTimeoutMs, requestTimeoutMs }: ServerTimeouts): number {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0), 2000);
  return Math.max(50, Math.floor(shortest / 2));
}

function splitOptions(options: TranscriptionServerOptions): { handlerOptions: TranscriptionHandlerOptions; timeouts: ServerTimeouts; maxConnections: number } {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const handlerOptions: Record<string, unknown> = { ...options };
  for (const key of SERVER_KEYS) delete handlerOptions[key];
  const given = options as unknown as Record<string, unknown>;
  return {
    handlerOptions: handlerOptions as unknown as TranscriptionHandlerOptions,
    timeouts: resolveTimeouts(given),
    maxConnections: pick(given, 'maxConnections', integerIn(1, 1_000_000), DEFAULT_MAX_CONNECTIONS),
  };
}

/**
 * Keeps connections at most `max`. When one more arrives, room is made first: connections that
 * have sent no whole request head for SILENT_GRACE_MS (a client sends its head as it connects;
 * sockets that connect and stay silent, or trickle a head, are what fills the limit in an
 * attack) and idle keep-alive ones (node:http's closeIdleConnections, which leaves any whose
 * answer is still going out) are closed. Only if none can go is the new connection closed.
 */
function limitConnections(server: http.Server, max: number): void {
  const silentSince = new Map<Socket, number>();
  const open = new Set<Socket>();
  const spoke = (socket: Socket) => silentSince.delete(socket);
  server.on('request', (req: http.IncomingMessage) => spoke(req.socket));
  server.on('upgrade', (req: http.IncomingMessage) => spoke(req.socket));
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    silentSince.set(socket, performance.now());
    socket.once('close', () => {
      open.delete(socket);
      silentSince.delete(socket);
    });
    if (open.size <= max) return;
    const now = performance.now();
    for (const [silent, since] of silentSince) {
      if (now - since < SILENT_GRACE_MS) break;
      silent.destroy();
      silentSince.delete(silent);
    }
    server.closeIdleConnections();
    const closing = [...open].filter((candidate) => candidate.destroyed).length;
    if (open.size - closing > max) socket.destroy();
  });
}

/** A server for `createTranscriptionHandler(options)`, its upgrades (live transcription) included; call listen() on it. */
export function createTranscriptionServer(options: TranscriptionServerOptions): TranscriptionServer {
  const { handlerOptions, timeouts, maxConnections } = splitOptions(options);
  const handler = createTranscriptionHandler(handlerOptions);
  const server = http.createServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(timeouts),
    },
    handler,
  );
  limitConnections(server, maxConnections);
  handler.attach(server);
  return Object.assign(server, { handler });
}

/** Listens on host:port (port 0: a free one) and resolves with the address, or rejects with the listen error (EADDRINUSE, EACCES). */
export function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Stops accepting connections, lets every running job finish and its answer go out (new
 * requests on open connections get 503), then closes the connections left and resolves once
 * the server has closed. The models are not disposed: they are the caller's.
 */
export async function shutdown(server: TranscriptionServer): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
  await server.handler.close();
  // Answers already handed to node:http are flushed before an idle connection is closed; one still mid-request (a live socket, an upload) is not waited for.
  server.closeIdleConnections();
  const stragglers = setTimeout(() => server.closeAllConnections(), 1000);
  await closed;
  clearTimeout(stragglers);
}
