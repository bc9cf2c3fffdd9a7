/**
 * Starts a transcription handler on 127.0.0.1 at a free port, behind node:http, Express or
 * Fastify, and closes everything it started. Tests that need a server share this one helper.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createTranscriptionHandler, type TranscriptionHandler } from '../../lib/server/handler';
import type { TranscriptionHandlerOptions } from '../../lib/server/options';

export type ServerKind = 'http' | 'express' | 'fastify';

export interface StartServerOptions {
  /** Which framework serves the handler. Default 'http'. */
  kind?: ServerKind;
  /** Extra routes of the app's own, registered before the handler (Express and Fastify): `GET path` answers `text`. */
  ownRoutes?: Record<string, string>;
}

export interface StartedServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  port: number;
  handler: TranscriptionHandler;
  /** The node:http server underneath (Fastify's own for 'fastify'). */
  server: http.Server;
  /** Closes the handler (waits for running jobs), every open connection and the server. Safe to call twice. */
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function trackSockets(server: http.Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

interface Started {
  server: http.Server;
  listen(): Promise<number>;
  stop(): Promise<void>;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

function onNodeServer(server: http.Server, handler: TranscriptionHandler): Started {
  handler.attach(server);
  return { server, listen: () => listen(server), stop: () => closeServer(server) };
}

async function startExpress(handler: TranscriptionHandler, ownRoutes: Record<string, string>): Promise<Started> {
  const { default: express } = await import('express');
  const app = express();
  for (const [path, text] of Object.entries(ownRoutes)) app.get(path, (_req, res) => void res.type('text/plain').send(text));
  app.use(handler);
  return onNodeServer(http.createServer(app), handler);
}

async function startFastify(handler: TranscriptionHandler, ownRoutes: Record<string, string>): Promise<Started> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  for (const [path, text] of Object.entries(ownRoutes)) app.get(path, async (_request, reply) => reply.type('text/plain').send(text));
  await app.register(handler.fastify as never);
  await app.ready();
  return {
    server: app.server,
    listen: async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      return (app.server.address() as AddressInfo).port;
    },
    stop: () => app.close(),
  };
}

async function start(handler: TranscriptionHandler, kind: ServerKind, ownRoutes: Record<string, string>): Promise<Started> {
  if (kind === 'express') return startExpress(handler, ownRoutes);
  if (kind === 'fastify') return startFastify(handler, ownRoutes);
  return onNodeServer(http.createServer(handler), handler);
}

export async function startServer(handlerOptions: TranscriptionHandlerOptions, options: StartServerOptions = {}): Promise<StartedServer> {
  const handler = createTranscriptionHandler(handlerOptions);
  const started = await start(handler, options.kind ?? 'http', options.ownRoutes ?? {});
  const sockets = trackSockets(started.server);
  const port = await started.listen();
  let closing: Promise<void> | undefined;
  const close = () => {
    // Connections first, so a job whose client is gone aborts instead of keeping close() waiting.
    closing ??= (async () => {
      const stopped = started.stop();
      for (const socket of sockets) socket.destroy();
      await Promise.all([stopped, handler.close()]);
    })();
    return closing;
  };
  return { url: `http://127.0.0.1:${port}`, port, handler, server: started.server, close };
}
