/**
 * A BullMQ worker that transcribes: it takes jobs from a queue up to its model's pool size,
 * reports progress, returns the transcript in the job's format, and fails a job in BullMQ's
 * terms: UnrecoverableError (not retried) for what would fail anywhere, a plain error (retried
 * with the job's attempts and backoff) for the rest. Stalled jobs (a worker that died) are
 * BullMQ's own stalled-job recovery.
 */
import os from 'node:os';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type WorkerOptions } from 'bullmq';
import type { AudioInput } from '../audio/pcm';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import { integerIn, isNonEmptyString, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { formatTranscript } from '../transcription/formats';
import type { TranscribeOptions } from '../transcription/options';
import type { Transcript } from '../transcription/transcript';
import { jobAudioInput } from './audio-fetch';
import { cancellationOf, DEFAULT_CANCEL_POLL_MS, watchCancellation } from './cancel';
import {
  checkQueueOptions,
  failureReason,
  isPermanentFailure,
  parseJobData,
  type QueueTranscribeOptions,
  type TranscriptionJobData,
  type TranscriptionResult,
} from './job-data';

/** What a worker needs of a model: a WhisperModel, a ModelGroup, or anything shaped like them. */
export interface QueueTranscriber {
  /** The most transcriptions it runs at once: the worker never takes more jobs than this. */
  readonly concurrency: number;
  transcribe(audio: AudioInput, options?: TranscribeOptions): Promise<Transcript>;
  /**
   * A WhisperModel's or ModelGroup's stats. When there is one model and it has them, the worker
   * takes no more jobs than its pool has free: calls made to the model from elsewhere count.
   */
  stats?(): BusyCounts | { total: BusyCounts };
}

export interface BusyCounts {
  running: number;
  queued: number;
}

export interface TranscriptionWorkerOptions {
  /** BullMQ's connection: ioredis options ({ host, port }, { url }) or a client. */
  connection: ConnectionOptions;
  /** The queue's name. */
  queue: string;
  /** The model every job runs on. Exactly one of model and models. */
  model?: QueueTranscriber;
  /** Models by name: a job's data.model picks one (default: the first). */
  models?: Readonly<Record<string, QueueTranscriber>>;
  /**
   * Jobs at once. Default, and most: the model's concurrency (with `models`, the smallest). With
   * one model that has stats(), fewer while calls from elsewhere hold some of its slots.
   */
  concurrency?: number;
  /** The worker's name in results, metrics and Redis' client list. Default `<hostname>:<pid>`. */
  name?: string;
  /** BullMQ's key prefix. Default 'bull'. */
  prefix?: string;
  /** Options for every job, under the job's own (e.g. { threads: 2 }); JSON, as a job's options are. */
  transcribeDefaults?: QueueTranscribeOptions;
  /** A deadline for each job that sets no timeoutMs of its own, in ms (TIMEOUT, not retried). Default none. */
  jobTimeoutMs?: number;
  /** How often a running job's cancellation is looked for, in ms. Default 500. */
  cancelPollMs?: number;
  /** Any other BullMQ worker option (lockDuration, stalledInterval, maxStalledCount, ...), passed on as given. */
  workerOptions?: Omit<WorkerOptions, 'connection' | 'concurrency' | 'name' | 'prefix' | 'autorun'>;
}

/** A job's progress as the worker reports it with job.updateProgress. */
export type TranscriptionProgress = number;

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'connection',
  'queue',
  'model',
  'models',
  'concurrency',
  'name',
  'prefix',
  'transcribeDefaults',
  'jobTimeoutMs',
  'cancelPollMs',
  'workerOptions',
]);

/** How often the worker's concurrency is fitted to the pool's free slots, besides at each job's start and end. */
const FIT_INTERVAL_MS = 1000;

/** Progress is written to Redis in steps of this many percent, not on every whisper callback. */
const PROGRESS_STEP = 5;

export interface WorkerCounts {
  /** Jobs this worker has completed. */
  completed: number;
  /** Attempts that failed here (a retried job can fail more than once). */
  failed: number;
  /** Jobs running here now. */
  active: number;
}

export class TranscriptionWorker {
  /** BullMQ's worker, for its events ('completed', 'failed', 'progress', 'stalled', 'error', ...). */
  readonly worker: Worker<TranscriptionJobData, TranscriptionResult>;
  readonly name: string;
  readonly queueName: string;
  readonly concurrency: number;
  readonly #models: ReadonlyMap<string, QueueTranscriber>;
  readonly #defaults: QueueTranscribeOptions;
  readonly #jobTimeoutMs: number | undefined;
  readonly #cancelPollMs: number;
  readonly #counts: WorkerCounts = { completed: 0, failed: 0, active: 0 };
  readonly #fitTimer: NodeJS.Timeout;

  constructor(options: TranscriptionWorkerOptions) {
    const o = optionsObject('options', options);
    rejectUnknownKeys('options', o, OPTION_KEYS);
    this.queueName = isNonEmptyString('options.queue', o.queue);
    this.#models = modelsOf(o);
    const most = Math.min(...[...this.#models.values()].map((model) => model.concurrency));
    this.concurrency = pick(o, 'concurrency', integerIn(1, most), most);
    this.name = pick(o, 'name', isNonEmptyString, `${os.hostname()}:${process.pid}`);
    this.#defaults = checkQueueOptions('options.transcribeDefaults', o.transcribeDefaults);
    this.#jobTimeoutMs = pick(o, 'jobTimeoutMs', integerIn(1, Number.MAX_SAFE_INTEGER), undefined);
    this.#cancelPollMs = pick(o, 'cancelPollMs', integerIn(10, 60_000), DEFAULT_CANCEL_POLL_MS);
    if (o.connection === undefined || o.connection === null || typeof o.connection !== 'object') {
      throw invalidArgument('options.connection', 'BullMQ connection options ({ host, port } or { url }) or a Redis client', o.connection);
    }
    const extra = optionsObject('options.workerOptions', o.workerOptions) as TranscriptionWorkerOptions['workerOptions'];
    const prefix = o.prefix === undefined ? undefined : isNonEmptyString('options.prefix', o.prefix);
    // Three parameters: BullMQ then gives the processor the job's abort signal (worker.cancelJob).
    const processor = (job: Job<TranscriptionJobData, TranscriptionResult>, _token: string | undefined, signal: AbortSignal | undefined) =>
      this.#process(job, signal ?? new AbortController().signal);
    this.worker = new Worker<TranscriptionJobData, TranscriptionResult>(this.queueName, processor, {
      ...extra,
      connection: o.connection as ConnectionOptions,
      concurrency: this.concurrency,
      name: this.name,
      ...(prefix !== undefined ? { prefix } : {}),
    });
    this.worker.on('completed', () => this.#counts.completed++);
    this.worker.on('failed', () => this.#counts.failed++);
    for (const event of ['active', 'completed', 'failed'] as const) this.worker.on(event, () => this.#fitConcurrency());
    this.#fitTimer = setInterval(() => this.#fitConcurrency(), FIT_INTERVAL_MS);
    this.#fitTimer.unref();
  }

  /**
   * BullMQ's concurrency set to the pool's free slots: the model's concurrency less the calls
   * others are making to it (its running and queued calls that are not this worker's), at
   * least 1 so the worker never stops, and at most `concurrency`.
   */
  #fitConcurrency(): void {
    if (this.#models.size !== 1) return;
    const [model] = this.#models.values();
    if (typeof model.stats !== 'function') return;
    const stats = model.stats();
    const busy = 'total' in stats ? stats.total : stats;
    const others = Math.max(0, busy.running + busy.queued - this.#counts.active);
    const fitted = Math.max(1, Math.min(this.concurrency, model.concurrency - others));
    if (this.worker.concurrency !== fitted) this.worker.concurrency = fitted;
  }

  counts(): WorkerCounts {
    return { ...this.#counts };
  }

  waitUntilReady(): Promise<void> {
    return this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and waits for the running ones to finish (BullMQ's worker.close); with
   * `force`, returns without waiting and the running jobs are left to stall and be retried
   * elsewhere. The models are the caller's: nothing is disposed.
   */
  close(force = false): Promise<void> {
    clearInterval(this.#fitTimer);
    return this.worker.close(force);
  }

  async #process(job: Job<TranscriptionJobData, TranscriptionResult>, signal: AbortSignal): Promise<TranscriptionResult> {
    this.#counts.active++;
    const watch = watchCancellation(this.worker.backend, String(job.id), this.#cancelPollMs, (reason) => this.worker.cancelJob(String(job.id), reason));
    try {
      return await this.#transcribeJob(job, signal);
    } catch (error) {
      throw asJobFailure(error, signal);
    } finally {
      watch.stop();
      this.#counts.active--;
    }
  }

  async #transcribeJob(job: Job<TranscriptionJobData, TranscriptionResult>, signal: AbortSignal): Promise<TranscriptionResult> {
    const cancelled = await cancellationOf(this.worker.backend, String(job.id));
    if (cancelled !== null) throw new WhisperError('ABORTED', `the job was cancelled before it started: ${cancelled}`);
    const data = parseJobData(job.data);
    const model = this.#modelFor(data.model);
    const audio = await jobAudioInput(data.audio, signal);
    let reported = 0;
    const onProgress = (percent: number) => {
      if (percent - reported < PROGRESS_STEP && percent < 100) return;
      reported = percent;
      job.updateProgress(Math.round(percent)).catch(() => undefined);
    };
    const timeoutMs = data.options?.timeoutMs ?? this.#jobTimeoutMs;
    const transcript = await model.transcribe(audio, { ...this.#defaults, ...data.options, ...(timeoutMs !== undefined ? { timeoutMs } : {}), signal, onProgress });
    const format = data.format ?? 'json';
    return { format, output: formatTranscript(transcript, format, data.formatOptions), worker: this.name };
  }

  #modelFor(name: string | undefined): QueueTranscriber {
    const model = name === undefined ? this.#models.values().next().value : this.#models.get(name);
    if (model === undefined) throw invalidArgument('job.data.model', `one of this worker's models (${[...this.#models.keys()].join(', ')})`, name);
    return model;
  }
}

function modelsOf(o: Record<string, unknown>): ReadonlyMap<string, QueueTranscriber> {
  if ((o.model === undefined) === (o.models === undefined)) {
    throw invalidArgument('options.model', 'exactly one of options.model and options.models', o.model === undefined ? 'neither' : 'both');
  }
  const entries: [string, unknown][] = o.model !== undefined ? [['default', o.model]] : Object.entries(optionsObject('options.models', o.models));
  if (entries.length === 0) throw invalidArgument('options.models', 'at least one model', o.models);
  for (const [name, model] of entries) {
    const parameter = o.model !== undefined ? 'options.model' : `options.models.${name}`;
    if (!isTranscriber(model)) throw invalidArgument(parameter, 'a loaded model (loadModel, loadModelGroup): an object with transcribe() and a concurrency', model);
  }
  return new Map(entries as [string, QueueTranscriber][]);
}

function isTranscriber(value: unknown): value is QueueTranscriber {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<QueueTranscriber>;
  return typeof candidate.transcribe === 'function' && Number.isInteger(candidate.concurrency) && (candidate.concurrency as number) >= 1;
}

/**
 * The error BullMQ records for a failed attempt: its message is `CODE: message`
 * (errorFromFailure reads it back). A cancellation reads as ABORTED whatever was running.
 */
function asJobFailure(error: unknown, signal: AbortSignal): Error {
  const failure =
    signal.aborted && !(error instanceof WhisperError && error.code === 'ABORTED') ? new WhisperError('ABORTED', 'the job was cancelled', { cause: error }) : error;
  const reason = failureReason(failure);
  return isPermanentFailure(failure) ? new UnrecoverableError(reason) : new Error(reason);
}

/** Starts a worker on the queue (see TranscriptionWorkerOptions). Close it with `close()`; the model stays the caller's. */
export function createTranscriptionWorker(options: TranscriptionWorkerOptions): TranscriptionWorker {
  return new TranscriptionWorker(options);
}
