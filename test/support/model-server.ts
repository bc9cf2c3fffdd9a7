/**
 * A model host for download tests, on 127.0.0.1 at an ephemeral port: serves files from memory
 * with Range, If-Range and a strong ETag, and misbehaves on request (Hugging Face-style
 * redirects with X-Linked-ETag, dropped connections, fixed statuses, wrong bytes, trickling).
 * It records every request, so tests can tell what reached it. Nothing else is ever contacted.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Behaviour {
  /** Answer 302 to `/cdn/<path>` first, with X-Linked-ETag (the file's SHA-256 unless linkedSha256) and X-Linked-Size. */
  redirect?: boolean;
  linkedSha256?: string;
  /** Where the redirect points instead of the server's own /cdn/ copy. */
  redirectTo?: string;
  /** Every request answers this status with no body. */
  status?: number;
  /** The first `count` requests answer `status`. */
  failFirst?: { count: number; status: number };
  /** The first `times` responses send `bytes` bytes of the body and then drop the connection. */
  dropAfter?: { bytes: number; times: number };
  /** Bytes of the body with every 1000th byte flipped. */
  corrupt?: boolean;
  /** Sends the body `chunkBytes` at a time every `intervalMs`. */
  trickle?: { chunkBytes: number; intervalMs: number };
  /** Overrides the ETag (a new one makes If-Range fail, as a changed file would). */
  etag?: string;
}

export interface RecordedRequest {
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  status: number;
  /** Body bytes written before the response ended or was dropped. */
  bodyBytes: number;
}

interface Served {
  bytes: Buffer;
  behaviour: Behaviour;
  etag: string;
  requests: number;
  drops: number;
}

export class ModelServer {
  readonly requests: RecordedRequest[] = [];
  readonly #files = new Map<string, Served>();
  readonly #server: http.Server;
  #url = '';

  /** Plain http, or https with `tls` (a key and certificate in PEM). */
  constructor(tls?: { key: string; cert: string }) {
    const handler = (request: IncomingMessage, response: ServerResponse): void => this.#handle(request, response);
    this.#server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
    this.#protocol = tls === undefined ? 'http' : 'https';
  }

  readonly #protocol: 'http' | 'https';

  /** The base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  get url(): string {
    return this.#url;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#url = `${this.#protocol}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Serves `bytes` at `/<path>` (also at `/cdn/<path>` for redirects). */
  serve(path: string, bytes: Buffer, behaviour: Behaviour = {}): void {
    const sha = createHash('sha256').update(bytes).digest('hex');
    this.#files.set(path.replace(/^\/+/, ''), { bytes, behaviour, etag: behaviour.etag ?? `"${sha.slice(0, 16)}"`, requests: 0, drops: 0 });
  }

  /** Requests for `path` (either the path itself or its /cdn/ copy). */
  requestsFor(path: string): RecordedRequest[] {
    const name = path.replace(/^\/+/, '');
    return this.requests.filter((r) => r.path === name || r.path === `cdn/${name}`);
  }

  #record(request: IncomingMessage, path: string, status: number): RecordedRequest {
    const recorded: RecordedRequest = { path, range: request.headers.range, ifRange: request.headers['if-range'] as string | undefined, status, bodyBytes: 0 };
    this.requests.push(recorded);
    return recorded;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const requested = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const viaCdn = requested.startsWith('cdn/');
    const name = viaCdn ? requested.slice(4) : requested;
    const served = this.#files.get(name);
    if (served === undefined) {
      this.#record(request, requested, 404);
      response.writeHead(404).end('not found');
      return;
    }
    const { behaviour } = served;
    served.requests++;
    if (behaviour.status !== undefined || (behaviour.failFirst !== undefined && served.requests <= behaviour.failFirst.count)) {
      const status = behaviour.status ?? behaviour.failFirst!.status;
      this.#record(request, requested, status);
      response.writeHead(status, status === 416 ? { 'content-range': `bytes */${served.bytes.length}` } : {}).end();
      return;
    }
    if (behaviour.redirect && !viaCdn) {
      const sha = behaviour.linkedSha256 ?? createHash('sha256').update(served.bytes).digest('hex');
      this.#record(request, requested, 302);
      response
        .writeHead(302, {
          location: behaviour.redirectTo ?? `/cdn/${name}?signature=x`,
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': String(served.bytes.length),
        })
        .end();
      return;
    }
    let body = behaviour.corrupt ? Buffer.from(served.bytes) : served.bytes;
    if (behaviour.corrupt) for (let i = 0; i < body.length; i += 1000) body[i] ^= 0xff;
    const total = body.length;
    const headers: Record<string, string> = { etag: served.etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const ifRange = request.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === served.etag)) {
      const start = Number(range[1]);
      if (start >= total) {
        this.#record(request, requested, 416);
        response.writeHead(416, { 'content-range': `bytes */${total}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${total - 1}/${total}`;
      body = body.subarray(start);
    }
    headers['content-length'] = String(body.length);
    const recorded = this.#record(request, requested, status);
    response.writeHead(status, headers);
    const drop = behaviour.dropAfter !== undefined && served.drops < behaviour.dropAfter.times ? behaviour.dropAfter.bytes : undefined;
    if (drop !== undefined) served.drops++;
    const limit = drop === undefined ? body.length : Math.min(drop, body.length);
    const chunkBytes = behaviour.trickle?.chunkBytes ?? 64 * 1024;
    const intervalMs = behaviour.trickle?.intervalMs ?? 0;
    let offset = 0;
    const next = (): void => {
      if (response.destroyed) return;
      if (offset >= limit) {
        // a FIN after the bytes, so the client reads every byte sent before the connection ends
        if (drop !== undefined) response.socket?.end();
        else response.end();
        return;
      }
      const chunk = body.subarray(offset, Math.min(limit, offset + chunkBytes));
      offset += chunk.length;
      recorded.bodyBytes += chunk.length;
      const more = response.write(chunk);
      if (intervalMs > 0) setTimeout(next, intervalMs);
      else if (more) setImmediate(next);
      else response.once('drain', next);
    };
    next();
  }
}

export async function startModelServer(): Promise<ModelServer> {
  return new ModelServer().start();
}
