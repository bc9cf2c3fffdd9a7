/**
 * One GET with its redirects followed, over Node's own http/https. Failures a retry may cure
 * (the network, a stall, a 5xx) are a RetryableError; what a retry cannot cure is a WhisperError.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { WhisperError } from '../errors/whisper-error';

/** A failure worth another attempt: a connection lost or refused, a stall, a 408/429/5xx. */
export class RetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Unread; the caller reads or discards it. */
  body: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: URL;
  /** The SHA-256 an earlier response of the chain stated for the file (Hugging Face's X-Linked-ETag). */
  linkedSha256: string | undefined;
  /** The size an earlier response of the chain stated (X-Linked-Size). */
  linkedSize: number | undefined;
}

export interface HttpGetOptions {
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
  /** Allows redirects from https to http (only when the base URL itself is http). */
  allowHttp: boolean;
  /** A connection idle this long fails (RetryableError). */
  idleTimeoutMs: number;
  /** What the messages call the request, e.g. "model 'base.en'". */
  what: string;
  /** Sees the SHA-256 a redirect states before it is followed; may throw to stop there. */
  onLinkedSha256?: (sha256: string) => void;
}

const MAX_REDIRECTS = 8;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A 64-hex-digit ETag (quoted, weak or not) is a SHA-256; Git blob ids (40 digits) are not. */
export function sha256FromEtag(etag: string | undefined): string | undefined {
  const match = etag === undefined ? null : /^(?:W\/)?"?([0-9a-fA-F]{64})"?$/.exec(etag.trim());
  return match ? match[1].toLowerCase() : undefined;
}

function requestOnce(url: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // agent: false, so a stalled download's socket is never handed to another request
    const request = client.get(url, { headers: options.headers, agent: false, signal: options.signal }, resolve);
    request.setTimeout(options.idleTimeoutMs, () => {
      request.destroy(new RetryableError(`${options.what}: no data from ${url.host} for ${Math.round(options.idleTimeoutMs / 1000)} s`));
    });
    request.on('error', (error) => reject(asRetryable(error, url, options)));
  });
}

/** Wraps a socket or stream failure; an abort stays an AbortError for the caller to map. */
export function asRetryable(error: unknown, url: URL, options: Pick<HttpGetOptions, 'what' | 'signal'>): unknown {
  if (options.signal?.aborted || error instanceof RetryableError || error instanceof WhisperError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RetryableError(`${options.what}: the connection to ${url.host} failed: ${reason}`, { cause: error });
}

/** GET `url`, following redirects; any status comes back except 3xx with a Location. */
export async function httpGet(url: URL, options: HttpGetOptions): Promise<HttpResponse> {
  let current = url;
  let linkedSha256: string | undefined;
  let linkedSize: number | undefined;
  for (let redirects = 0; ; redirects++) {
    const response = await requestOnce(current, options);
    const status = response.statusCode ?? 0;
    linkedSha256 ??= sha256FromEtag(header(response.headers, 'x-linked-etag'));
    const statedSize = Number(header(response.headers, 'x-linked-size'));
    if (linkedSize === undefined && Number.isSafeInteger(statedSize) && statedSize > 0) linkedSize = statedSize;
    const location = header(response.headers, 'location');
    if (status < 300 || status >= 400 || status === 304 || location === undefined) {
      return { status, headers: response.headers, body: response, url: current, linkedSha256, linkedSize };
    }
    discard(response);
    if (linkedSha256 !== undefined) options.onLinkedSha256?.(linkedSha256);
    if (redirects >= MAX_REDIRECTS) {
      throw new WhisperError('DOWNLOAD_FAILED', `${options.what}: more than ${MAX_REDIRECTS} redirects from ${url.href}; check the base URL (HF_ENDPOINT)`);
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new WhisperError('DOWNLOAD_FAILED', `${options.what}: ${current.host} redirected to an invalid URL: ${JSON.stringify(location)}`);
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw new WhisperError('DOWNLOAD_FAILED', `${options.what}: refused a redirect to ${next.protocol} (only http and https are followed)`);
    }
    if (current.protocol === 'https:' && next.protocol === 'http:' && !options.allowHttp) {
      throw new WhisperError('DOWNLOAD_FAILED', `${options.what}: refused a redirect from https to plain http (${next.host}); use an https mirror`);
    }
    current = next;
  }
}

/** Reads and drops the rest of a response body. */
export function discard(body: IncomingMessage): void {
  body.resume();
  body.on('error', () => undefined);
}

export { header as responseHeader };
