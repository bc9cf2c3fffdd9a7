/**
 * One job's planned windows (lib/stream/packed-windows.ts) run at once: the job's own state
 * takes a window whenever it is free, and while more windows are ready the job borrows the
 * pool's free permits, only those nobody waits for, each for one window. So a job queued
 * meanwhile gets the next permit handed back, states never outnumber `concurrency`, and
 * stats() still counts one running job.
 */
import { SAMPLES_PER_MS } from '../audio/pcm';
import { abortError } from '../errors/abort';
import type { Segment, Transcript } from '../transcription/transcript';
import { transcriptText } from '../transcription/transcript';
import { mapSegment, type PackedWindow } from '../stream/packed-windows';
import type { Release } from './semaphore';

/** What the windows need of the model's pool. */
export interface WindowPool<State> {
  tryReserve(): Release | undefined;
  /** Resolves when a permit comes free that nobody waits for. */
  nextFree(): Promise<void>;
  withState<T>(work: (state: State) => Promise<T>): Promise<T>;
}

/**
 * One window's native call on `state`, in `language` ('auto' only for the first window),
 * stopped by `signal`; its transcript is in the window's own time.
 */
export type WindowCall<State> = (state: State, window: PackedWindow, language: string, signal: AbortSignal) => Promise<Transcript>;

/** The windows as planned (a PackedWindowPlanner): next() is called one at a time. */
export interface WindowPlan {
  next(): Promise<PackedWindow | undefined>;
  /** True once every window is planned. */
  readonly ended: boolean;
  /** Windows handed out so far. */
  readonly planned: number;
  /** Samples of the source read so far (its length, once ended). */
  readonly samplesRead: number;
}

export interface ParallelWindowsJob<State> {
  planner: WindowPlan;
  pool: WindowPool<State>;
  /** The state the job holds with its own permit. */
  ownState: State;
  transcribeWindow: WindowCall<State>;
  /** As resolved: 'auto' or a code. */
  language: string;
  /** The job's signal: abort, timeout and dispose stop every window. */
  signal: AbortSignal;
  /** The source's length when its container states it, for onProgress before the last window is planned. */
  statedSamples: number | undefined;
  onSegment?: (segment: Segment) => void;
  onProgress?: (percent: number) => void;
}

type Runner = { kind: 'own' } | { kind: 'borrowed'; release: Release };

/**
 * Runs every window and gathers one Transcript in the original audio's time: segments in
 * window order, numbered from 0; the first window's language (with 'auto' the first window
 * runs alone and the rest are decoded in what it found). Any failure stops the other windows
 * and is thrown once all of them have settled. timings.audioMs is the time spent planning
 * (decoding and Silero); the caller adds its own.
 */
export async function transcribeParallelWindows<State>(job: ParallelWindowsJob<State>): Promise<Transcript> {
  if (job.signal.aborted) throw abortError(job.signal);
  const run = new WindowRun(job);
  const onJobAbort = () => run.fail(abortError(job.signal));
  job.signal.addEventListener('abort', onJobAbort, { once: true });
  try {
    await run.all();
  } finally {
    job.signal.removeEventListener('abort', onJobAbort);
  }
  return run.transcript();
}

class WindowRun<State> {
  readonly #job: ParallelWindowsJob<State>;
  /** Aborted with the first failure: every running window stops. */
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();
  readonly #done = new Map<number, { window: PackedWindow; transcript: Transcript }>();
  readonly #segments: Segment[] = [];
  readonly #timings = { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 0 };
  #failure: { error: unknown } | undefined;
  #ownIdle = true;
  #language: string;
  #languageProbability: number | undefined;
  #delivered = 0;
  #progress = -1;

  constructor(job: ParallelWindowsJob<State>) {
    this.#job = job;
    this.#language = job.language;
  }

  fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#stop.abort(error);
  }

  async all(): Promise<void> {
    try {
      await this.#schedule();
    } catch (error) {
      this.fail(error);
    }
    while (this.#running.size > 0) await Promise.all([...this.#running]);
    if (this.#failure) throw this.#failure.error;
  }

  transcript(): Transcript {
    this.#report(100);
    const { planner } = this.#job;
    return {
      text: transcriptText(this.#segments),
      segments: this.#segments,
      language: this.#language,
      ...(this.#languageProbability !== undefined ? { languageProbability: this.#languageProbability } : {}),
      audioDurationMs: Math.round(planner.samplesRead / SAMPLES_PER_MS),
      timings: this.#timings,
    };
  }

  async #schedule(): Promise<void> {
    const { planner } = this.#job;
    for (;;) {
      if (this.#failure) return;
      const planStart = performance.now();
      const window = await planner.next();
      this.#timings.audioMs += performance.now() - planStart;
      if (window === undefined || this.#failure) return;
      if (window.index === 0 && this.#language === 'auto') {
        // Every window is decoded in the language found in the first, as one call would be.
        await this.#start(window, { kind: 'own' });
        continue;
      }
      const runner = await this.#runner();
      if (runner === undefined) return;
      void this.#start(window, runner);
    }
  }

  /** The own state when it is free, else a permit nobody waits for, else whichever of them comes free first. */
  async #runner(): Promise<Runner | undefined> {
    for (;;) {
      if (this.#failure) return undefined;
      if (this.#ownIdle) return { kind: 'own' };
      const release = this.#job.pool.tryReserve();
      if (release) return { kind: 'borrowed', release };
      await Promise.race([...this.#running, this.#job.pool.nextFree()]);
    }
  }

  #start(window: PackedWindow, runner: Runner): Promise<void> {
    if (runner.kind === 'own') this.#ownIdle = false;
    const running = this.#runWindow(window, runner).finally(() => {
      this.#running.delete(running);
      if (runner.kind === 'own') this.#ownIdle = true;
      else runner.release();
    });
    this.#running.add(running);
    return running;
  }

  /** Never rejects: a failure is recorded and stops the rest. */
  async #runWindow(window: PackedWindow, runner: Runner): Promise<void> {
    const { transcribeWindow, ownState, pool } = this.#job;
    const signal = this.#stop.signal;
    const language = this.#language;
    try {
      const transcript =
        runner.kind === 'own'
          ? await transcribeWindow(ownState, window, language, signal)
          : await pool.withState((state) => transcribeWindow(state, window, language, signal));
      if (window.index === 0) {
        this.#language = transcript.language;
        this.#languageProbability = transcript.languageProbability;
      }
      this.#done.set(window.index, { window, transcript });
      this.#deliver();
    } catch (error) {
      this.fail(error);
    }
  }

  /** Hands out, in window order, the segments of every window done up to the first one still running. */
  #deliver(): void {
    const { onSegment } = this.#job;
    for (let next = this.#done.get(this.#delivered); next !== undefined; next = this.#done.get(this.#delivered)) {
      this.#done.delete(this.#delivered);
      this.#delivered++;
      addTimings(this.#timings, next.transcript.timings);
      for (const segment of next.transcript.segments) {
        const mapped = mapSegment(segment, next.window.map, this.#segments.length);
        this.#segments.push(mapped);
        onSegment?.(mapped);
      }
    }
    this.#reportProgress();
  }

  /** Windows delivered of those planned; before the plan is complete, scaled by the share of the stated length read. */
  #reportProgress(): void {
    const { planner, statedSamples } = this.#job;
    if (planner.planned === 0) return;
    const ofPlanned = this.#delivered / planner.planned;
    if (planner.ended) this.#report(Math.min(99, Math.round(100 * ofPlanned)));
    else if (statedSamples !== undefined && statedSamples > 0) this.#report(Math.min(99, Math.round((100 * ofPlanned * planner.samplesRead) / statedSamples)));
  }

  #report(percent: number): void {
    if (percent <= this.#progress) return;
    this.#progress = percent;
    this.#job.onProgress?.(percent);
  }
}

function addTimings(sum: Transcript['timings'], add: Transcript['timings']): void {
  sum.inferenceMs += add.inferenceMs;
  sum.languageDetectionMs += add.languageDetectionMs;
  sum.encoderRuns += add.encoderRuns;
}
