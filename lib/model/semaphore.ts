/**
 * A counting semaphore with a bounded priority queue: the admission logic behind a model's
 * pool of states, kept free of native code so it can be tested on its own.
 *
 * - At most `concurrency` permits are held at once.
 * - Waiters are served by priority (higher first), FIFO among equal priorities.
 * - When `maxQueue` waiters already wait, acquire() throws QUEUE_FULL synchronously. A
 *   high-priority job never evicts a queued one: a caller that was told "queued" is never
 *   rejected later for capacity, which keeps the rule easy to reason about.
 * - A waiter leaves the queue when its signal aborts (the rejection is the signal's reason
 *   if that is a WhisperError, e.g. TIMEOUT from a job deadline, otherwise ABORTED) or when
 *   its own `timeoutMs` passes (TIMEOUT).
 * - close() rejects every waiter and makes every later acquire() throw; permits already held
 *   stay valid.
 *
 * - tryReserve() lends a free permit only when nobody waits, so borrowing never jumps the
 *   queue; a borrowed permit is a running job's extra window, not a job, so `running` and
 *   `peakRunning` leave it out (they count jobs) while it still holds one of `concurrency`.
 *
 * Refusals that need no waiting (queue full, closed, signal already aborted) throw from
 * acquire() itself rather than rejecting later, so a caller learns them before it spends
 * anything (decoding audio) on a job that will never run.
 */
import { abortError } from '../errors/abort';
import { WhisperError, invalidArgument } from '../errors/whisper-error';

export interface AcquireOptions {
  /** Higher runs first; equal priorities keep call order. Default 0. */
  priority?: number;
  /** Leaves the queue when aborted. */
  signal?: AbortSignal;
  /** Leaves the queue with TIMEOUT after this long. Default: no limit. */
  timeoutMs?: number;
}

export interface SemaphoreStats {
  /** Permits held now by jobs (borrowed ones left out). */
  running: number;
  /** Waiters now. */
  queued: number;
  /** The most permits ever held at once by jobs. */
  peakRunning: number;
  /** The longest the queue has ever been. */
  peakQueued: number;
  concurrency: number;
  maxQueue: number;
}

/** Gives the permit back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  priority: number;
  seq: number;
  grant: (release: Release) => void;
  fail: (error: WhisperError) => void;
}

export class Semaphore {
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly #queue: Waiter[] = [];
  /** Every permit held, borrowed ones included. */
  #running = 0;
  #borrowed = 0;
  #peakRunning = 0;
  #peakQueued = 0;
  #seq = 0;
  #closed: (() => WhisperError) | undefined;
  #onFree: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: { concurrency: number; maxQueue?: number }) {
    const { concurrency, maxQueue = Number.POSITIVE_INFINITY } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidArgument('concurrency', 'an integer of at least 1', concurrency);
    if (!(maxQueue === Number.POSITIVE_INFINITY || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
      throw invalidArgument('maxQueue', 'an integer of at least 0, or Infinity', maxQueue);
    }
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  stats(): SemaphoreStats {
    return {
      running: this.#running - this.#borrowed,
      queued: this.#queue.length,
      peakRunning: this.#peakRunning,
      peakQueued: this.#peakQueued,
      concurrency: this.concurrency,
      maxQueue: this.maxQueue,
    };
  }

  /** Permits lent by tryReserve() and not yet given back. */
  get borrowed(): number {
    return this.#borrowed;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  acquire(options: AcquireOptions = {}): Promise<Release> {
    const { priority = 0, signal, timeoutMs } = options;
    if (this.#closed) throw this.#closed();
    if (signal?.aborted) throw abortError(signal);
    // A free permit goes to a newcomer only when nobody waits, so the queue's order holds.
    if (this.#running < this.concurrency && this.#queue.length === 0) return Promise.resolve(this.#take());
    if (this.#queue.length >= this.maxQueue) {
      throw new WhisperError('QUEUE_FULL', `the queue is full: ${this.#running} jobs run and ${this.#queue.length} wait (maxQueue ${this.maxQueue})`);
    }
    return new Promise<Release>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const leave = (error: WhisperError) => {
        const index = this.#queue.indexOf(waiter);
        if (index < 0) return;
        this.#queue.splice(index, 1);
        cleanup();
        reject(error);
      };
      const onAbort = () => leave(abortError(signal));
      const waiter: Waiter = {
        priority,
        seq: this.#seq++,
        grant: (release) => {
          cleanup();
          resolve(release);
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      };
      this.#enqueue(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => leave(new WhisperError('TIMEOUT', `the job waited longer than its timeout of ${timeoutMs} ms`)), timeoutMs);
      }
    });
  }

  /**
   * A free permit, borrowed, when one is free and nobody waits for it; otherwise (or once
   * closed) undefined. Give it back as soon as its work is done, so a waiter that came
   * meanwhile gets it next.
   */
  tryReserve(): Release | undefined {
    if (this.#closed || this.#running >= this.concurrency || this.#queue.length > 0) return undefined;
    return this.#take(true);
  }

  /**
   * Resolves the next time a permit comes free with nobody waiting for it (when tryReserve()
   * could succeed), or at close(): how a job that borrows learns of a permit another job gave back.
   */
  nextFree(): Promise<void> {
    if (this.#onFree === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#onFree = { promise, resolve };
    }
    return this.#onFree.promise;
  }

  /** Rejects every waiter, and every later acquire(), with `error()`. Idempotent. */
  close(error: () => WhisperError): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const waiter of this.#queue.splice(0)) waiter.fail(error());
    this.#notifyFree();
  }

  #enqueue(waiter: Waiter): void {
    // Binary search for the first waiter with a lower priority: FIFO within a priority.
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid].priority >= waiter.priority) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, waiter);
    this.#peakQueued = Math.max(this.#peakQueued, this.#queue.length);
  }

  #take(borrowed = false): Release {
    this.#running++;
    if (borrowed) this.#borrowed++;
    this.#peakRunning = Math.max(this.#peakRunning, this.#running - this.#borrowed);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      if (borrowed) this.#borrowed--;
      this.#dispatch();
    };
  }

  #dispatch(): void {
    while (this.#running < this.concurrency && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      next.grant(this.#take());
    }
    if (this.#running < this.concurrency) this.#notifyFree();
  }

  #notifyFree(): void {
    const onFree = this.#onFree;
    this.#onFree = undefined;
    onFree?.resolve();
  }
}
