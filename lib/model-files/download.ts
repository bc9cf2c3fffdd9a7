/**
 * Downloads a catalogue model into the model cache: into `<file>.part`, resumed with Range and
 * If-Range (the validator kept in `<file>.part.json`), retried with backoff on network errors
 * and 5xx, renamed to its final name only once its SHA-256 matched, under a lock so two
 * processes never download one file twice. WHISPER_NAPI_OFFLINE=1 never touches the network.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { abortError } from '../errors/abort';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { type CatalogueEntry } from './catalogue';
import { sleep, tryDownloadLock, waitForLockRelease } from './download-lock';
import { RetryableError, asRetryable, discard, httpGet, responseHeader, type HttpResponse } from './http-get';
import { catalogueEntryOrThrow, downloadPaths, modelsDirOrDefault } from './model-cache';

/** How far a model download has come. */
export interface DownloadProgress {
  /** The catalogue name. */
  name: string;
  /** Bytes on disk so far, a resumed part included. */
  receivedBytes: number;
  /** Undefined while the size is unknown. */
  totalBytes: number | undefined;
  /** Over the last seconds of this attempt. */
  bytesPerSecond: number;
  /** Undefined while the size or the rate is unknown. */
  etaSeconds: number | undefined;
}

export interface DownloadOptions {
  /** The model cache. Default: WHISPER_NAPI_MODELS, or ~/.cache/whisper-napi/models. */
  modelsDir?: string;
  /** Where the catalogue's paths are served. Default: HF_ENDPOINT, or https://huggingface.co. */
  baseUrl?: string;
  /** Stops the download (ABORTED); the part is kept, and a later call resumes it. */
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Check a file already cached against its SHA-256 too, and download it again if it differs. Default false. */
  verify?: boolean;
}

export const DEFAULT_BASE_URL = 'https://huggingface.co';
/** Consecutive failed attempts (without a byte received) before DOWNLOAD_FAILED. */
const MAX_ATTEMPTS = 5;
const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 8_000;
const IDLE_TIMEOUT_MS = 30_000;
const PROGRESS_INTERVAL_MS = 100;
const RATE_WINDOW_MS = 3_000;

/** WHISPER_NAPI_OFFLINE set to 1, true, yes or on. */
export function isOffline(): boolean {
  return /^(1|true|yes|on)$/i.test((process.env.WHISPER_NAPI_OFFLINE ?? '').trim());
}

interface PartInfo {
  url: string;
  /** The strong ETag or Last-Modified of the response the part came from, for If-Range. */
  validator: string | undefined;
  totalBytes: number | undefined;
}

interface Download {
  entry: CatalogueEntry;
  url: URL;
  finalPath: string;
  part: string;
  partInfo: string;
  allowHttp: boolean;
  signal: AbortSignal | undefined;
  what: string;
  progress: ProgressMeter;
}

function resolveBaseUrl(baseUrl: string | undefined): URL {
  const given = baseUrl ?? process.env.HF_ENDPOINT;
  const text = given === undefined || given.trim() === '' ? DEFAULT_BASE_URL : given.trim();
  const parameter = baseUrl === undefined ? 'HF_ENDPOINT' : 'options.baseUrl';
  let url: URL;
  try {
    url = new URL(text.endsWith('/') ? text : `${text}/`);
  } catch {
    throw invalidArgument(parameter, 'an http or https URL', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(parameter, 'an http or https URL', text);
  return url;
}

function checkOptions(options: DownloadOptions | undefined): DownloadOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const known = new Set(['modelsDir', 'baseUrl', 'signal', 'onProgress', 'verify']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw invalidArgument(`options.${key}`, `one of the known options (${[...known].join(', ')})`, key);
  }
  if (options.modelsDir !== undefined && (typeof options.modelsDir !== 'string' || options.modelsDir === '')) {
    throw invalidArgument('options.modelsDir', 'a directory path', options.modelsDir);
  }
  if (options.baseUrl !== undefined && typeof options.baseUrl !== 'string') throw invalidArgument('options.baseUrl', 'an http or https URL', options.baseUrl);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgument('options.signal', 'an AbortSignal', options.signal);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', options.onProgress);
  if (options.verify !== undefined && typeof options.verify !== 'boolean') throw invalidArgument('options.verify', 'a boolean', options.verify);
  return options;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

async function hashFile(file: string, hash: Hash, signal: AbortSignal | undefined): Promise<void> {
  for await (const chunk of createReadStream(file, { signal })) hash.update(chunk as Buffer);
}

async function sha256OfFile(file: string, signal: AbortSignal | undefined, what: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    await hashFile(file, hash, signal);
  } catch (error) {
    if (signal?.aborted) throw abortError(signal, what);
    throw new WhisperError('FILE_UNREADABLE', `${what}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return hash.digest('hex');
}

function cacheFailure(what: string, action: string, error: unknown): WhisperError {
  return new WhisperError('DOWNLOAD_FAILED', `${what}: cannot ${action}: ${(error as Error).message}`, { cause: error });
}

/** A file-system step of a download: its failure (a full disk, permissions) is no network error to retry. */
async function onDisk<T>(download: { what: string; signal: AbortSignal | undefined }, action: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (download.signal?.aborted) throw abortError(download.signal, download.what);
    throw cacheFailure(download.what, action, error);
  }
}

/** What an onProgress listener threw: it ends the download, and the caller gets the listener's own error. */
class ListenerFailure extends Error {
  constructor(readonly error: unknown) {
    super('an onProgress listener threw');
  }
}

/** Reports progress at most every PROGRESS_INTERVAL_MS, with the rate over the last RATE_WINDOW_MS. */
class ProgressMeter {
  readonly #name: string;
  readonly #onProgress: ((progress: DownloadProgress) => void) | undefined;
  #samples: { at: number; bytes: number }[] = [];
  #lastReport = 0;
  totalBytes: number | undefined;

  constructor(name: string, onProgress: ((progress: DownloadProgress) => void) | undefined, totalBytes: number | undefined) {
    this.#name = name;
    this.#onProgress = onProgress;
    this.totalBytes = totalBytes;
  }

  /** A new attempt starts at `bytes`: the rate is measured afresh. */
  restart(bytes: number): void {
    this.#samples = [{ at: performance.now(), bytes }];
    this.report(bytes, true);
  }

  report(bytes: number, force = false): void {
    if (this.#onProgress === undefined) return;
    const now = performance.now();
    this.#samples.push({ at: now, bytes });
    while (this.#samples.length > 2 && now - this.#samples[0].at > RATE_WINDOW_MS) this.#samples.shift();
    if (!force && now - this.#lastReport < PROGRESS_INTERVAL_MS) return;
    this.#lastReport = now;
    const first = this.#samples[0];
    const seconds = (now - first.at) / 1000;
    const bytesPerSecond = seconds > 0.05 ? Math.max(0, (bytes - first.bytes) / seconds) : 0;
    const total = this.totalBytes;
    const etaSeconds = total !== undefined && bytesPerSecond > 0 ? Math.max(0, (total - bytes) / bytesPerSecond) : total !== undefined && bytes >= total ? 0 : undefined;
    try {
      this.#onProgress({ name: this.#name, receivedBytes: bytes, totalBytes: total, bytesPerSecond, etaSeconds });
    } catch (error) {
      throw new ListenerFailure(error);
    }
  }
}

async function readPartInfo(file: string): Promise<PartInfo | undefined> {
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const info = parsed as Partial<PartInfo>;
    if (typeof info.url !== 'string') return undefined;
    return {
      url: info.url,
      validator: typeof info.validator === 'string' ? info.validator : undefined,
      totalBytes: typeof info.totalBytes === 'number' ? info.totalBytes : undefined,
    };
  } catch {
    return undefined;
  }
}

async function discardPart(download: Download): Promise<void> {
  await fsp.rm(download.part, { force: true });
  await fsp.rm(download.partInfo, { force: true });
}

/** Where a resumed attempt may start: the part's size when it came from this URL with a validator. */
async function resumableBytes(download: Download): Promise<{ offset: number; info: PartInfo | undefined }> {
  const info = await readPartInfo(download.partInfo);
  const offset = await sizeOf(download.part);
  if (offset > 0 && info !== undefined && info.url === download.url.href && info.validator !== undefined) return { offset, info };
  if (offset > 0 || info !== undefined) await discardPart(download);
  return { offset: 0, info: undefined };
}

function validatorOf(response: HttpResponse): string | undefined {
  const etag = responseHeader(response.headers, 'etag');
  if (etag !== undefined && !etag.startsWith('W/')) return etag;
  return responseHeader(response.headers, 'last-modified');
}

/** The total from `Content-Range: bytes a-b/N` or `bytes *\/N`. */
function contentRange(response: HttpResponse): { start: number | undefined; total: number | undefined } {
  const match = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(responseHeader(response.headers, 'content-range')?.trim() ?? '');
  if (!match) return { start: undefined, total: undefined };
  return { start: match[1] === undefined ? undefined : Number(match[1]), total: match[2] === '*' ? undefined : Number(match[2]) };
}

/** Throws when the server states another SHA-256 than the catalogue's, before a byte is fetched. */
function checkStatedSha256(download: Download, stated: string): void {
  const known = download.entry.sha256;
  if (known !== undefined && stated !== known) {
    throw new WhisperError(
      'CHECKSUM_MISMATCH',
      `${download.what}: the server offers ${download.entry.file} with SHA-256 ${stated}, but the catalogue expects ${known}; nothing was downloaded (is the mirror serving another version?)`,
    );
  }
}

function expectedSha256(download: Download, response: HttpResponse): string | undefined {
  if (response.linkedSha256 !== undefined) {
    try {
      checkStatedSha256(download, response.linkedSha256);
    } catch (error) {
      discard(response.body);
      throw error;
    }
  }
  return download.entry.sha256 ?? response.linkedSha256;
}

type AttemptResult = { done: true; sha256: string; expected: string | undefined } | { done: false; receivedBytes: number };

/** One request: appends what arrives to the part and returns once it is whole (or must restart). */
async function attempt(download: Download): Promise<AttemptResult> {
  const { offset, info } = await resumableBytes(download);
  const headers: Record<string, string> = { 'user-agent': 'whisper-napi', 'accept-encoding': 'identity' };
  if (offset > 0 && info?.validator !== undefined) {
    headers.range = `bytes=${offset}-`;
    headers['if-range'] = info.validator;
  }
  const response = await httpGet(download.url, {
    headers,
    signal: download.signal,
    allowHttp: download.allowHttp,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    what: download.what,
    onLinkedSha256: (stated) => checkStatedSha256(download, stated),
  });
  const { status } = response;
  if (status === 416) {
    discard(response.body);
    const total = contentRange(response).total ?? response.linkedSize ?? download.entry.sizeBytes ?? info?.totalBytes;
    const expected = expectedSha256(download, response);
    // The part is already whole (its hash decides) or stale: either way no byte is left to fetch.
    if (offset > 0 && total === offset) return { done: true, sha256: await sha256OfFile(download.part, download.signal, download.what), expected };
    await discardPart(download);
    return { done: false, receivedBytes: 0 };
  }
  if (status === 404 || status === 410) {
    discard(response.body);
    throw new WhisperError(
      'DOWNLOAD_FAILED',
      `${download.what}: ${response.url.host} has no ${download.entry.file} (HTTP ${status} for ${response.url.href}); check the base URL (HF_ENDPOINT)`,
    );
  }
  if (status === 408 || status === 429 || status >= 500) {
    discard(response.body);
    throw new RetryableError(`${download.what}: ${response.url.host} answered HTTP ${status}`);
  }
  if (status !== 200 && status !== 206) {
    discard(response.body);
    throw new WhisperError('DOWNLOAD_FAILED', `${download.what}: ${response.url.host} answered HTTP ${status} for ${response.url.href}`);
  }
  const expected = expectedSha256(download, response);
  let start = 0;
  // What the server states is a fallback only: the catalogue's size, where it has one, bounds what is taken.
  let stated: number | undefined;
  if (status === 206) {
    const range = contentRange(response);
    if (offset === 0 || range.start !== offset) {
      // a range we did not ask for: start over rather than splice
      discard(response.body);
      await discardPart(download);
      return { done: false, receivedBytes: 0 };
    }
    start = offset;
    stated = range.total;
  } else {
    const length = Number(responseHeader(response.headers, 'content-length'));
    stated = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  }
  const total = download.entry.sizeBytes ?? stated ?? response.linkedSize;
  download.progress.totalBytes = total;
  const partInfo: PartInfo = { url: download.url.href, validator: validatorOf(response), totalBytes: total };
  await onDisk(download, `write ${download.partInfo}`, () => fsp.writeFile(download.partInfo, JSON.stringify(partInfo)));

  const hash = createHash('sha256');
  let handle: fsp.FileHandle | undefined;
  let received = start;
  try {
    if (start > 0) await onDisk(download, `read ${download.part}`, () => hashFile(download.part, hash, download.signal));
    const file = await onDisk(download, `open ${download.part}`, () => fsp.open(download.part, start > 0 ? 'a' : 'w'));
    handle = file;
    download.progress.restart(received);
    for await (const chunk of response.body) {
      const bytes = chunk as Buffer;
      // Refused before it is written: never more on disk than the file should be.
      if (total !== undefined && received + bytes.length > total) {
        received += bytes.length;
        throw new RetryableError(`${download.what}: ${response.url.host} sent more than the ${total} bytes expected`);
      }
      await onDisk(download, `write ${download.part}`, () => file.write(bytes));
      hash.update(bytes);
      received += bytes.length;
      download.progress.report(received);
    }
    await onDisk(download, `write ${download.part}`, () => file.sync());
  } catch (error) {
    response.body.destroy();
    if (download.signal?.aborted) throw abortError(download.signal, download.what);
    if (error instanceof ListenerFailure) throw error;
    if (error instanceof RetryableError && total !== undefined && received > total) await discardPart(download);
    throw asRetryable(error, response.url, download);
  } finally {
    await handle?.close().catch(() => undefined);
  }
  if (total !== undefined && received < total) {
    throw new RetryableError(`${download.what}: the connection to ${response.url.host} ended at ${received} of ${total} bytes`);
  }
  download.progress.report(received, true);
  return { done: true, sha256: hash.digest('hex'), expected };
}

function retryDelay(failures: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** (failures - 1));
}

/** Attempts until the part is whole and its hash checked, then renames it to the final name. */
async function fetchIntoCache(download: Download): Promise<void> {
  let failures = 0;
  let restarts = 0;
  for (;;) {
    if (download.signal?.aborted) throw abortError(download.signal, download.what);
    const before = await sizeOf(download.part);
    let result: AttemptResult;
    try {
      result = await attempt(download);
    } catch (error) {
      if (download.signal?.aborted) throw abortError(download.signal, download.what);
      if (!(error instanceof RetryableError)) throw error;
      const after = await sizeOf(download.part);
      failures = after > before ? 1 : failures + 1;
      if (failures >= MAX_ATTEMPTS) {
        throw new WhisperError('DOWNLOAD_FAILED', `${error.message}; gave up after ${MAX_ATTEMPTS} attempts (what arrived is kept, and the next download resumes it)`, {
          cause: error,
        });
      }
      await sleep(retryDelay(failures), download.signal);
      continue;
    }
    if (!result.done) {
      if (++restarts > 2) throw new WhisperError('DOWNLOAD_FAILED', `${download.what}: the server's ranges never matched the partial file; it was deleted, try again`);
      continue;
    }
    if (result.expected === undefined) {
      await discardPart(download);
      throw new WhisperError(
        'DOWNLOAD_FAILED',
        `${download.what}: neither the catalogue nor the server states a SHA-256 for ${download.entry.file}, so the download cannot be checked; give the entry a sha256`,
      );
    }
    if (result.sha256 !== result.expected) {
      await discardPart(download);
      throw new WhisperError(
        'CHECKSUM_MISMATCH',
        `${download.what}: the downloaded ${download.entry.file} has SHA-256 ${result.sha256}, expected ${result.expected}; it was deleted: download it again (a mirror may serve another file)`,
      );
    }
    try {
      await fsp.rename(download.part, download.finalPath);
      await fsp.rm(download.partInfo, { force: true });
    } catch (error) {
      throw cacheFailure(download.what, `move the download into ${download.finalPath}`, error);
    }
    return;
  }
}

function offlineError(entry: CatalogueEntry, finalPath: string, reason: string): WhisperError {
  return new WhisperError(
    'OFFLINE',
    `model '${entry.name}': ${reason} (${finalPath}) and WHISPER_NAPI_OFFLINE is set, so nothing is downloaded: run \`whisper-napi models download ${entry.name}\` where there is a network, or copy ${entry.file} into ${path.dirname(finalPath)}`,
  );
}

/**
 * The cached path of the catalogue model `name`, downloading it first when it is not cached (or,
 * with `verify`, when the cached file's SHA-256 differs from the catalogue's). Another process
 * downloading the same file is waited for, and its file used.
 */
export async function downloadModel(name: string, options?: DownloadOptions): Promise<string> {
  try {
    return await downloadIntoCache(name, checkOptions(options));
  } catch (error) {
    throw error instanceof ListenerFailure ? error.error : error;
  }
}

async function downloadIntoCache(name: string, checked: DownloadOptions): Promise<string> {
  const entry = catalogueEntryOrThrow(name);
  const dir = modelsDirOrDefault(checked.modelsDir);
  const finalPath = path.join(dir, entry.file);
  const what = `the download of model '${entry.name}'`;
  const verify = checked.verify === true;
  const signal = checked.signal;
  if (signal?.aborted) throw abortError(signal, what);
  const paths = downloadPaths(finalPath);
  const offline = isOffline();
  const base = offline ? undefined : resolveBaseUrl(checked.baseUrl);
  if (!verify && (await exists(finalPath))) return finalPath;
  if (offline && !(await exists(finalPath))) throw offlineError(entry, finalPath, 'it is not in the model cache');
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (error) {
    throw cacheFailure(what, `create the model cache ${dir}`, error);
  }
  const progress = new ProgressMeter(entry.name, checked.onProgress, entry.sizeBytes);
  for (;;) {
    const lock = await tryDownloadLock(paths.lock);
    if (lock === undefined) {
      // another process (or call) is downloading it: wait, then use its file
      await waitForLockRelease(paths.lock, { signal, what, onPoll: async () => progress.report(await sizeOf(paths.part)) });
      if (await exists(finalPath)) {
        if (!verify) return finalPath;
      }
      continue;
    }
    try {
      if (await exists(finalPath)) {
        if (!verify || entry.sha256 === undefined) return finalPath;
        if ((await sha256OfFile(finalPath, signal, what)) === entry.sha256) return finalPath;
        // a cached file that does not match is damaged: replace it
        await fsp.rm(finalPath, { force: true });
        if (offline) throw offlineError(entry, finalPath, `the cached file did not match its SHA-256 and was deleted`);
      }
      if (base === undefined) throw offlineError(entry, finalPath, 'it is not in the model cache');
      const url = new URL(entry.url, base);
      await fetchIntoCache({ entry, url, finalPath, part: paths.part, partInfo: paths.partInfo, allowHttp: base.protocol === 'http:', signal, what, progress });
      return finalPath;
    } finally {
      await lock.release();
    }
  }
}
