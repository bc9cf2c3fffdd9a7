/**
 * A model's whisper states and the permits that bound them: a job queues for a permit, and
 * only a permit holder takes a state, so states never outnumber `concurrency`. States are
 * created on first need and reused; whisper_state holds the KV caches and compute buffers,
 * so creating one per job would cost both time and memory churn.
 */
import type { WhisperError } from '../errors/whisper-error';
import { fromNativeError } from '../native/addon';
import type { NativeModel, NativeState } from '../native/native-api';
import { Semaphore, type AcquireOptions, type Release, type SemaphoreStats } from './semaphore';

export class StatePool {
  readonly #native: NativeModel;
  readonly #semaphore: Semaphore;
  readonly #idle: NativeState[] = [];
  readonly #all = new Set<NativeState>();
  #closed = false;

  constructor(nativeModel: NativeModel, options: { concurrency: number; maxQueue: number }) {
    this.#native = nativeModel;
    this.#semaphore = new Semaphore(options);
  }

  /** Queues for a permit by priority; refusals that need no waiting throw (see Semaphore.acquire). */
  reserve(options: Pick<AcquireOptions, 'priority' | 'signal'>): Promise<Release> {
    return this.#semaphore.acquire(options);
  }

  /**
   * A free permit that nobody waits for, lent to a running job for one more window at once
   * (see Semaphore.tryReserve); undefined when there is none or the pool is closing.
   */
  tryReserve(): Release | undefined {
    return this.#closed ? undefined : this.#semaphore.tryReserve();
  }

  /** Resolves when a permit comes free that nobody waits for (see Semaphore.nextFree). */
  nextFree(): Promise<void> {
    return this.#semaphore.nextFree();
  }

  /**
   * Runs `work` on an idle state, or a new one. Call it only while holding a permit. The
   * state goes back to the pool afterwards, unless the pool was closed meanwhile or native
   * code freed the state (whisper_full_with_state does on a failed KV cache allocation).
   */
  async withState<T>(work: (state: NativeState) => Promise<T>): Promise<T> {
    const state = await this.#take();
    try {
      return await work(state);
    } finally {
      this.#giveBack(state);
    }
  }

  /** Every state created and not yet freed, idle or busy. */
  states(): NativeState[] {
    return [...this.#all];
  }

  queueStats(): SemaphoreStats {
    return this.#semaphore.stats();
  }

  /**
   * The first half of closing: asks every running job to stop at whisper's next graph
   * boundary, and frees each state as it comes back instead of keeping it.
   */
  stop(): void {
    this.#closed = true;
    for (const state of this.#all) if (state.busy) state.abort();
  }

  /**
   * The second half, once the running jobs have settled: rejects the waiters left (and every
   * later reserve()) with `error()`, frees the states and drops the model.
   */
  close(error: () => WhisperError): void {
    this.#closed = true;
    this.#semaphore.close(error);
    for (const state of [...this.#all]) this.#free(state);
    this.#idle.length = 0;
    this.#native.dispose();
  }

  async #take(): Promise<NativeState> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    let state: NativeState;
    try {
      state = await this.#native.createState();
    } catch (error) {
      throw fromNativeError(error);
    }
    this.#all.add(state);
    return state;
  }

  #giveBack(state: NativeState): void {
    if (this.#closed || state.disposed) {
      this.#free(state);
      return;
    }
    this.#idle.push(state);
  }

  #free(state: NativeState): void {
    state.dispose();
    this.#all.delete(state);
  }
}
