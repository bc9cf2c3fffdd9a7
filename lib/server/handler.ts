/**
 * createTranscriptionHandler: OpenAI's audio API, live transcription and a page, as one
 * request handler that works with node:http, as Express middleware and as a Fastify plugin.
 * It owns no process and no global state: the models stay the caller's, and close() only
 * stops taking work and waits for what runs.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createLiveEndpoint } from './live';
import { createMetrics } from './metrics';
import { HttpError, sendError } from './openai-errors';
import { resolveHandlerOptions, type TranscriptionHandlerOptions } from './options';
import { createServerContext, type JobObserver, type ServerContext } from './context';
import { healthRoute } from './routes/health';
import { modelsRoute } from './routes/models';
import { pageRoute } from './routes/page';
import { transcriptionRoute } from './routes/transcriptions';

export type Route = (req: IncomingMessage, res: ServerResponse, context: ServerContext) => void | Promise<void>;

interface RouteEntry {
  method: 'GET' | 'POST';
  /** An exact path, or a prefix ending in '/' that matches any path under it. */
  path: string;
  route: Route;
  /** Asks for the API key when the handler has one. */
  authenticated: boolean;
}

export interface FastifyLike {
  addContentTypeParser(type: string, parser: (request: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void): unknown;
  route(options: { method: string; url: string; handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void }): unknown;
  server: Server;
  addHook(name: 'onClose', hook: (instance: unknown, done: () => void) => void): unknown;
}

export interface TranscriptionHandler {
  /** node:http's request listener; with `next` (Express), a path it does not serve is passed on instead of answered 404. */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** For a server's 'upgrade' event: WebSocket connections to /v1/audio/stream; any other upgrade is refused. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Listens for `server`'s upgrades (live transcription) and stops when the server closes. */
  attach(server: Server): void;
  /** A Fastify plugin: `fastify.register(handler.fastify)`. Registers the routes and the upgrade listener. */
  fastify(instance: FastifyLike, options: unknown, done: (error?: Error) => void): void;
  /** Stops taking work (503), closes live connections, and resolves when running jobs have finished. The models are not disposed. */
  close(): Promise<void>;
  /** The paths served, with their methods. */
  readonly routes: readonly { method: string; path: string }[];
}

function matches(entry: RouteEntry, path: string): boolean {
  return entry.path.endsWith('/') && entry.path.length > 1 ? path.startsWith(entry.path) : path === entry.path;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function unauthorized(): HttpError {
  return new HttpError(401, 'Incorrect API key provided. Send it as `Authorization: Bearer <key>`.', {
    code: 'invalid_api_key',
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
}

export function createTranscriptionHandler(options: TranscriptionHandlerOptions): TranscriptionHandler {
  const resolved = resolveHandlerOptions(options);
  // The metrics read the models the context follows: the observer is connected once both exist.
  let observer: JobObserver = { jobSettled() {} };
  const context = createServerContext(resolved, { jobSettled: (report) => observer.jobSettled(report) });
  const metrics = resolved.metrics ? createMetrics(context.admissions, resolved.metrics) : undefined;
  if (metrics) observer = metrics.observer;
  const live = createLiveEndpoint(context);

  const table: RouteEntry[] = [
    { method: 'POST', path: '/v1/audio/transcriptions', route: (req, res, ctx) => transcriptionRoute(req, res, ctx, 'transcriptions'), authenticated: true },
    { method: 'POST', path: '/v1/audio/translations', route: (req, res, ctx) => transcriptionRoute(req, res, ctx, 'translations'), authenticated: true },
    { method: 'GET', path: '/v1/models', route: modelsRoute, authenticated: true },
    { method: 'GET', path: '/v1/models/', route: modelsRoute, authenticated: true },
    { method: 'GET', path: '/health', route: healthRoute, authenticated: false },
    ...(metrics ? [{ method: 'GET' as const, path: '/metrics', route: metrics.route, authenticated: resolved.metricsAuth }] : []),
    ...(resolved.page ? [{ method: 'GET' as const, path: '/', route: pageRoute, authenticated: false }] : []),
    ...(resolved.page ? [{ method: 'GET' as const, path: '/page/', route: pageRoute, authenticated: false }] : []),
  ];

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    const path = pathOf(req);
    const forPath = table.filter((entry) => matches(entry, path));
    const entry = forPath.find((candidate) => candidate.method === req.method || (candidate.method === 'GET' && req.method === 'HEAD'));
    if (entry === undefined) {
      if (forPath.length === 0 && next) return next();
      const error =
        forPath.length > 0
          ? new HttpError(405, `${req.method} is not allowed on ${path}`, {
              code: 'method_not_allowed',
              headers: { Allow: [...new Set(forPath.map((e) => e.method))].join(', ') },
            })
          : new HttpError(404, `Unknown path ${path}`, { code: 'not_found' });
      req.resume();
      return sendError(res, error);
    }
    if (entry.authenticated && !context.authorized(req)) {
      req.resume();
      return sendError(res, unauthorized());
    }
    Promise.resolve()
      .then(() => entry.route(req, res, context))
      .catch((error: unknown) => sendError(res, error));
  }) as TranscriptionHandler;

  handler.handleUpgrade = (req, socket, head) => live.handleUpgrade(req, socket, head);
  handler.attach = (server) => {
    server.on('upgrade', handler.handleUpgrade);
    server.once('close', () => server.off('upgrade', handler.handleUpgrade));
  };
  handler.fastify = (instance, _options, done) => {
    // Leave the body unread: the routes parse multipart themselves, from the raw request.
    instance.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null));
    for (const { method, path } of table) {
      const url = path.endsWith('/') && path.length > 1 ? `${path}*` : path;
      instance.route({
        method,
        url,
        handler(request, reply) {
          reply.hijack();
          handler(request.raw, reply.raw);
        },
      });
    }
    handler.attach(instance.server);
    done();
  };
  handler.close = async () => {
    await Promise.all([context.work.close(), live.close()]);
  };
  Object.defineProperty(handler, 'routes', { value: table.map(({ method, path }) => ({ method, path })), enumerable: true });
  return handler;
}
