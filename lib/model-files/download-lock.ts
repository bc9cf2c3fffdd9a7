/**
 * The lock beside a download (`<file>.lock`, created with O_EXCL) so two processes never
 * download one file twice and never read a partial one. It holds the owner's PID and host; the
 * owner touches it every few seconds. A lock whose PID is dead on this host, or that nobody has
 * touched for STALE_MS (a crashed owner on another host or PID namespace), is taken over.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { abortError } from '../errors/abort';
import { WhisperError } from '../errors/whisper-error';
import { processIsAlive } from './model-cache';

const HEARTBEAT_MS = 5_000;
const STALE_MS = 60_000;
/** A lock file still empty this long after it was created is an owner that died mid-write. */
const EMPTY_GRACE_MS = 10_000;

export interface DownloadLock {
  release(): Promise<void>;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function lockFailure(lockPath: string, error: unknown): WhisperError {
  return new WhisperError('DOWNLOAD_FAILED', `models: cannot create the download lock ${lockPath}: ${(error as Error).message}`, { cause: error });
}

async function readLock(lockPath: string): Promise<{ content: string; ageMs: number } | undefined> {
  try {
    const [content, stats] = await Promise.all([fsp.readFile(lockPath, 'utf8'), fsp.stat(lockPath)]);
    return { content, ageMs: Date.now() - stats.mtimeMs };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw lockFailure(lockPath, error);
  }
}

function isStale(lock: { content: string; ageMs: number }): boolean {
  if (lock.ageMs > STALE_MS) return true;
  const [pidText, host] = lock.content.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return lock.ageMs > EMPTY_GRACE_MS;
  return host === os.hostname() && !processIsAlive(pid);
}

/**
 * Removes a stale lock, unless someone else is taking it over at the same moment or it changed
 * since it was read: a guard file (O_EXCL too) makes the check-and-remove one step.
 */
async function takeOver(lockPath: string, staleContent: string): Promise<void> {
  const guard = `${lockPath}.takeover`;
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(guard, 'wx');
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw lockFailure(guard, error);
    const stats = await fsp.stat(guard).catch(() => undefined);
    if (stats !== undefined && Date.now() - stats.mtimeMs > EMPTY_GRACE_MS) await fsp.unlink(guard).catch(() => undefined);
    return;
  }
  try {
    const now = await readLock(lockPath);
    if (now !== undefined && now.content === staleContent) await fsp.unlink(lockPath).catch(() => undefined);
  } finally {
    await handle.close();
    await fsp.unlink(guard).catch(() => undefined);
  }
}

/** The lock when this call got it; undefined while a live owner holds it. */
export async function tryDownloadLock(lockPath: string): Promise<DownloadLock | undefined> {
  for (let tries = 0; tries < 3; tries++) {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(lockPath, 'wx');
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw lockFailure(lockPath, error);
      const held = await readLock(lockPath);
      if (held === undefined) continue;
      if (!isStale(held)) return undefined;
      await takeOver(lockPath, held.content);
      continue;
    }
    try {
      await handle.writeFile(`${process.pid} ${os.hostname()}\n`);
    } finally {
      await handle.close();
    }
    return ownedLock(lockPath);
  }
  return undefined;
}

function ownedLock(lockPath: string): DownloadLock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    fsp.utimes(lockPath, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      await fsp.unlink(lockPath).catch(() => undefined);
    },
  };
}

/** Resolves once the lock is gone (released, or stale and so free to take); ABORTED on the signal. */
export async function waitForLockRelease(lockPath: string, options: { signal: AbortSignal | undefined; what: string; onPoll?: () => Promise<void> }): Promise<void> {
  for (;;) {
    if (options.signal?.aborted) throw abortError(options.signal, options.what);
    const held = await readLock(lockPath);
    if (held === undefined || isStale(held)) return;
    await options.onPoll?.();
    await sleep(200, options.signal);
  }
}

/** setTimeout as a promise that an AbortSignal ends early (resolving; the caller checks the signal). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
