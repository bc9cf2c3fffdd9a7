/**
 * A job's audio made into what model.transcribe() takes, within what the worker allows: a path
 * only under one of the worker's audio roots (after symbolic links are followed), a URL only
 * from a host its UrlPolicy allows (checked again on every redirect, which is followed here, a
 * bounded number of times), at most `maxUrlBytes` counted as they arrive, and within the job's
 * signal (its cancellation and deadline). Messages are our own: they never quote the audio's
 * bytes, a server's words or the worker's configuration.
 */
import { promises as fsp, realpathSync, statSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import type { AudioInput } from '../audio/pcm';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import type { JobAudio } from './job-data';
import { describeUrl } from './safe-text';
import type { ResolvedAddress, UrlPolicy } from './url-policy';

/** The default most bytes a job's URL may give: 100 MiB, hours of compressed speech. */
export const DEFAULT_MAX_URL_BYTES = 100 * 1024 * 1024;
/** The default longest wait for a server: for its answer, and for each piece of the body after it. */
export const DEFAULT_URL_TIMEOUT_MS = 30_000;
/** Redirects followed for one job's URL. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Statuses that mean the audio is not there: the same on every retry. */
const MISSING_STATUSES: ReadonlySet<number> = new Set([404, 410]);

/** A directory the worker reads jobs' audio from: as configured, and with its links followed. */
export interface AudioRoot {
  given: string;
  real: string;
}

/** What a worker lets a job's audio reach. */
export interface AudioAccess {
  roots: readonly AudioRoot[];
  urls: UrlPolicy;
  maxUrlBytes: number;
  urlTimeoutMs: number;
}

/** The worker's audio roots checked: existing directories, made absolute, their links followed. */
export function audioRoots(name: string, value: unknown): AudioRoot[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidArgument(name, 'an array of directories', value);
  return value.map((entry: unknown, index) => {
    const parameter = `${name}[${index}]`;
    if (typeof entry !== 'string' || entry.length === 0) throw invalidArgument(parameter, 'a directory', entry);
    const given = path.resolve(entry);
    let real: string;
    try {
      real = realpathSync(given);
    } catch {
      throw invalidArgument(parameter, 'an existing directory', entry);
    }
    if (!statSync(real).isDirectory()) throw invalidArgument(parameter, 'a directory', entry);
    return { given, real };
  });
}

/** A job's audio ready for transcribe(), and the queue's own error when fetching it is what failed. */
export interface JobAudioInput {
  input: AudioInput;
  /** Set when the fetch failed (a limit, the connection, the deadline): the reason to report instead of what the decoder made of it. */
  failure(): WhisperError | undefined;
  /** Ends a fetch still under way. */
  close(): void;
}

export async function jobAudioInput(audio: JobAudio, access: AudioAccess, signal: AbortSignal): Promise<JobAudioInput> {
  if ('inline' in audio) return settled(Buffer.from(audio.inline, 'base64'));
  if ('path' in audio) return settled(await checkedPath(audio.path, access.roots));
  return fetchAudio(new URL(audio.url), access, signal);
}

function settled(input: AudioInput): JobAudioInput {
  return { input, failure: () => undefined, close: () => undefined };
}

const PATH_PARAMETER = 'job.data.audio.path';

/**
 * The real path of a file under one of the roots. The path as given must be under a root
 * before the file system is asked anything, so that nothing tells a producer what exists
 * elsewhere; then its real path must be too, so a link cannot lead out.
 */
export async function checkedPath(file: string, roots: readonly AudioRoot[]): Promise<string> {
  if (roots.length === 0) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `${PATH_PARAMETER}: this worker takes no audio by path (start it with --audio-root <dir>, or send the audio inline or by URL)`,
    );
  }
  const outside = () => new WhisperError('INVALID_ARGUMENT', `${PATH_PARAMETER}: expected a file under one of this worker's audio roots, got a path outside them`);
  if (!path.isAbsolute(file)) throw new WhisperError('INVALID_ARGUMENT', `${PATH_PARAMETER}: expected an absolute path, got a relative one`);
  const resolved = path.resolve(file);
  if (!roots.some((root) => isInside(resolved, root.given) || isInside(resolved, root.real))) throw outside();
  let real: string;
  try {
    real = await fsp.realpath(resolved);
  } catch (error) {
    throw pathError(error);
  }
  if (!roots.some((root) => isInside(real, root.real))) throw outside();
  let isFile: boolean;
  try {
    isFile = (await fsp.stat(real)).isFile();
  } catch (error) {
    throw pathError(error);
  }
  if (!isFile) throw new WhisperError('FILE_UNREADABLE', `${PATH_PARAMETER}: not a regular file`);
  return real;
}

function isInside(file: string, root: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function pathError(error: unknown): WhisperError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new WhisperError('AUDIO_NOT_FOUND', `${PATH_PARAMETER}: no such file`, { cause: error });
  return new WhisperError('FILE_UNREADABLE', `${PATH_PARAMETER}: the file cannot be read${code ? ` (${code})` : ''}`, { cause: error });
}

const URL_PARAMETER = 'job.data.audio.url';

/**
 * The body of an http(s) GET as a byte stream. A missing file is AUDIO_NOT_FOUND and any other
 * client error FILE_UNREADABLE (both final); a server error, a broken connection or a server
 * that stops answering is DOWNLOAD_FAILED, which the queue retries; the job's own deadline is
 * TIMEOUT and its cancellation ABORTED (its signal's reason).
 */
async function fetchAudio(original: URL, access: AudioAccess, signal: AbortSignal): Promise<JobAudioInput> {
  const shown = describeUrl(original);
  let url = original;
  for (let redirects = 0; ; redirects++) {
    const parameter = redirects === 0 ? URL_PARAMETER : `${URL_PARAMETER} (after ${redirects} redirect${redirects === 1 ? '' : 's'})`;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WhisperError('FILE_UNREADABLE', `${parameter}: redirected to a URL that is not http or https`);
    if (signal.aborted) throw abortReason(signal);
    const addresses = await access.urls.addressesFor(url, parameter);
    const { response, stalled } = await get(url, addresses, access.urlTimeoutMs, signal, shown);
    const status = response.statusCode ?? 0;
    if (REDIRECT_STATUSES.has(status)) {
      const location = response.headers.location;
      response.destroy();
      if (redirects >= MAX_REDIRECTS) throw new WhisperError('FILE_UNREADABLE', `audio ${shown}: more than ${MAX_REDIRECTS} redirects`);
      const next = location === undefined ? undefined : URL.canParse(location, url.href) ? new URL(location, url.href) : undefined;
      if (next === undefined) throw new WhisperError('FILE_UNREADABLE', `audio ${shown}: HTTP ${status} without a valid Location`);
      url = next;
      continue;
    }
    if (status < 200 || status > 299) {
      response.destroy();
      const what = `audio ${shown}: HTTP ${status}`;
      if (MISSING_STATUSES.has(status)) throw new WhisperError('AUDIO_NOT_FOUND', what);
      if (status >= 500) throw new WhisperError('DOWNLOAD_FAILED', what);
      throw new WhisperError('FILE_UNREADABLE', what);
    }
    const stated = Number(response.headers['content-length']);
    if (Number.isFinite(stated) && stated > access.maxUrlBytes) {
      response.destroy();
      throw tooLarge(shown, access.maxUrlBytes);
    }
    return body(response, stalled, access.maxUrlBytes, signal, shown);
  }
}

function tooLarge(shown: string, maxBytes: number): WhisperError {
  return new WhisperError('INVALID_AUDIO', `audio ${shown}: more than this worker's limit of ${maxBytes} bytes (maxUrlBytes, --max-url-bytes)`);
}

interface Answer {
  response: IncomingMessage;
  /** The error once the server has sent nothing for the timeout (the body then ends with a reset instead). */
  stalled(): WhisperError | undefined;
}

function get(url: URL, addresses: readonly ResolvedAddress[], timeoutMs: number, signal: AbortSignal, shown: string): Promise<Answer> {
  // Connect to the addresses that were checked, never to what another lookup might give.
  const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all)
      callback(
        null,
        addresses.map(({ address, family }) => ({ address, family })),
      );
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as unknown as LookupFunction;
  let stalled: WhisperError | undefined;
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'GET',
      agent: false,
      lookup,
      timeout: timeoutMs,
      signal,
      headers: { 'accept-encoding': 'identity', 'user-agent': 'whisper-napi-worker' },
    });
    request.on('timeout', () => request.destroy((stalled = noAnswer(shown, timeoutMs))));
    request.on('response', (response) => resolve({ response, stalled: () => stalled }));
    request.on('error', (error) => reject(connectionError(error, signal, shown)));
    request.end();
  });
}

function noAnswer(shown: string, timeoutMs: number): WhisperError {
  return new WhisperError('DOWNLOAD_FAILED', `audio ${shown}: the server sent nothing for ${timeoutMs} ms`);
}

/** A failed request as our own error: the job's abort reason, our timeout, or the failure's Node code. */
function connectionError(error: unknown, signal: AbortSignal, shown: string): WhisperError {
  if (signal.aborted) return abortReason(signal);
  if (error instanceof WhisperError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new WhisperError('DOWNLOAD_FAILED', `audio ${shown}: the connection failed${typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? ` (${code})` : ''}`, {
    cause: error,
  });
}

function abortReason(signal: AbortSignal): WhisperError {
  const reason: unknown = signal.reason;
  return reason instanceof WhisperError ? reason : new WhisperError('ABORTED', 'the job was cancelled while its audio was fetched', { cause: reason });
}

function body(response: IncomingMessage, stalled: () => WhisperError | undefined, maxBytes: number, signal: AbortSignal, shown: string): JobAudioInput {
  let failure: WhisperError | undefined;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let total = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        total += chunk.byteLength;
        if (total > maxBytes) throw (failure = tooLarge(shown, maxBytes));
        yield chunk;
      }
    } catch (error) {
      failure ??= signal.aborted ? abortReason(signal) : (stalled() ?? connectionError(error, signal, shown));
      throw failure;
    } finally {
      response.destroy();
    }
  }
  return { input: chunks(), failure: () => failure, close: () => response.destroy() };
}
