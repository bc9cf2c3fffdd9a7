/** What happened to the jobs a model was given: the counts behind WhisperModel.stats(). */
import { isWhisperError } from '../errors/whisper-error';
import type { SemaphoreStats } from './semaphore';

/**
 * What happened to the jobs a model was given. Every transcribe() call that passes option
 * validation is counted once, when it settles, in exactly one of completed, failed and
 * rejected.
 */
export interface ModelStats {
  /** Jobs running on a state now (audio decoding included once a state is theirs). */
  running: number;
  /** Jobs waiting for a state. */
  queued: number;
  /** Resolved with a transcript. */
  completed: number;
  /**
   * Admitted, then rejected for any reason: aborted, timed out, disposed, bad audio, a
   * whisper failure or a listener that threw. `aborted` and `timedOut` are part of it.
   */
  failed: number;
  /** Failed with ABORTED (the caller's signal). */
  aborted: number;
  /** Failed with TIMEOUT (options.timeoutMs). */
  timedOut: number;
  /** Refused with QUEUE_FULL, never admitted. */
  rejected: number;
  /** The most jobs that ever ran at once; never more than concurrency. */
  peakRunning: number;
  /** The longest the queue has ever been. */
  peakQueued: number;
  /** The most jobs that run at once (resolved when 'auto' was asked for). */
  concurrency: number;
  /** Infinity when unlimited. */
  maxQueue: number;
  /** whisper states created so far; never more than concurrency. */
  states: number;
}

type SettledCounts = Pick<ModelStats, 'completed' | 'failed' | 'aborted' | 'timedOut' | 'rejected'>;

/** Counts each admitted job once, by how it settled. */
export class JobCounts {
  readonly #counts: SettledCounts = { completed: 0, failed: 0, aborted: 0, timedOut: 0, rejected: 0 };

  completed(): void {
    this.#counts.completed++;
  }

  /** QUEUE_FULL is a refusal (never admitted); anything else a failure, ABORTED and TIMEOUT counted apart too. */
  failed(error: unknown): void {
    if (isWhisperError(error, 'QUEUE_FULL')) {
      this.#counts.rejected++;
      return;
    }
    this.#counts.failed++;
    if (isWhisperError(error, 'ABORTED')) this.#counts.aborted++;
    else if (isWhisperError(error, 'TIMEOUT')) this.#counts.timedOut++;
  }

  /** The counts with the queue's figures and the pool's size. */
  snapshot(queue: SemaphoreStats, states: number): ModelStats {
    const { running, queued, peakRunning, peakQueued, concurrency, maxQueue } = queue;
    return { running, queued, ...this.#counts, peakRunning, peakQueued, concurrency, maxQueue, states };
  }
}
