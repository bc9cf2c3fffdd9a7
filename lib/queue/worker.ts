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
import { INT32_MAX, integerIn, isBoolean, isNonEmptyString, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { formatTranscript } from '../transcription/formats';
import type { TranscribeOptions } from '../transcription/options';
import type { Transcript } from '../transcription/transcript';
import { audioRoots, DEFAULT_MAX_URL_BYTES, DEFAULT_URL_TIMEOUT_MS, jobAudioInput, type AudioAccess, type JobAudioInput } from './audio-fetch';
import { cancellationOf, DEFAULT_CANCEL_POLL_MS, watchCancellation } from './cancel';
import { failureReason, isPermanentFailure, parseJobData, queueMessage, type TranscriptionJobData, type TranscriptionResult } from './job-data';
import { UrlPolicy } from './url-policy';

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
  /**
   * The worker's own transcribe options for every job, under the job's own: what no job may
   * set (threads, audio.ffmpegPath, audio.maxInputBytes, suppressRegex, ...) comes only from
   * here. With `vad` set, every job runs with VAD unless it sends vad: false.
   */
  transcribeDefaults?: WorkerTranscribeDefaults;
  /**
   * The Silero VAD model (a path, or a catalogue name in the model cache) for jobs that send
   * `vad: true` or VAD settings. Default: transcribeDefaults.vad's modelPath; without either,
   * a job asking for VAD is refused (INVALID_ARGUMENT).
   */
  vadModel?: string;
  /**
   * A deadline for each job, in ms (TIMEOUT, not retried), fetching its audio included: a job's
   * own timeoutMs may only shorten it. Default none.
   */
  jobTimeoutMs?: number;
  /**
   * Directories whose files jobs may name by path (links are followed before the check, so a
   * link cannot lead out). Default none: a job with a path is refused with INVALID_ARGUMENT.
   */
  audioRoots?: readonly string[];
  /**
   * Hosts a job's URL may be on although they are not public (loopback, private, link-local,
   * ...: refused by default, on every address a name resolves to and after every redirect):
   * host names, IP addresses or subnets, each optionally with `:port`.
   */
  allowHosts?: readonly string[];
  /** Fetch a job's URL from any address, private ones included. Default false. */
  allowPrivateUrls?: boolean;
  /** The most bytes a job's URL may give, counted as they arrive (INVALID_AUDIO past it). Default 100 MiB. */
  maxUrlBytes?: number;
  /** The longest wait for a job's URL to answer, and for each piece of its body, in ms (DOWNLOAD_FAILED, retried). Default 30000. */
  urlTimeoutMs?: number;
  /** How often a running job's cancellation is looked for, in ms. Default 500. */
  cancelPollMs?: number;
  /** Any other BullMQ worker option (lockDuration, stalledInterval, maxStalledCount, ...), passed on as given. */
  workerOptions?: Omit<WorkerOptions, 'connection' | 'concurrency' | 'name' | 'prefix' | 'autorun'>;
}

/** The worker's own options for every job (TranscriptionWorkerOptions.transcribeDefaults). */
export type WorkerTranscribeDefaults = Omit<TranscribeOptions, 'signal' | 'onProgress' | 'onSegment' | 'priority' | 'timeoutMs'>;

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
  'vadModel',
  'jobTimeoutMs',
  'cancelPollMs',
  'workerOptions',
  'audioRoots',
  'allowHosts',
  'allowPrivateUrls',
  'maxUrlBytes',
  'urlTimeoutMs',
]);

/** Options a worker's transcribeDefaults cannot have: the worker supplies them per job. */
const NOT_DEFAULTS: ReadonlySet<string> = new Set(['signal', 'onProgress', 'onSegment', 'priority', 'timeoutMs']);

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
  readonly #defaults: WorkerTranscribeDefaults;
  readonly #vadModel: string | undefined;
  readonly #access: AudioAccess;
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
    this.#defaults = workerDefaults(o.transcribeDefaults);
    const defaultVad = this.#defaults.vad as { modelPath?: unknown } | undefined;
    this.#vadModel = pick(o, 'vadModel', isNonEmptyString, typeof defaultVad?.modelPath === 'string' ? defaultVad.modelPath : undefined);
    this.#access = {
      roots: audioRoots('options.audioRoots', o.audioRoots),
      urls: new UrlPolicy({ allowHosts: o.allowHosts as string[] | undefined, allowPrivateUrls: pick(o, 'allowPrivateUrls', isBoolean, false) }),
      maxUrlBytes: pick(o, 'maxUrlBytes', integerIn(1, 2 ** 32 - 1), DEFAULT_MAX_URL_BYTES),
      urlTimeoutMs: pick(o, 'urlTimeoutMs', integerIn(1, INT32_MAX), DEFAULT_URL_TIMEOUT_MS),
    };
    this.#jobTimeoutMs = pick(o, 'jobTimeoutMs', integerIn(1, INT32_MAX), undefined);
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
    const options = this.#optionsFor(data);
    // One deadline from here on: fetching the audio counts against it as transcribing does.
    const timeoutMs = Math.min(data.options?.timeoutMs ?? Infinity, this.#jobTimeoutMs ?? Infinity);
    const started = Date.now();
    const deadline = new AbortController();
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => deadline.abort(new WhisperError('TIMEOUT', `the job did not finish within its timeout of ${timeoutMs} ms`)), timeoutMs)
      : undefined;
    let audio: JobAudioInput | undefined;
    try {
      audio = await jobAudioInput(data.audio, this.#access, AbortSignal.any([signal, deadline.signal])).catch((error: unknown) => {
        throw error instanceof WhisperError ? queueMessage(error) : error;
      });
      let reported = 0;
      const onProgress = (percent: number) => {
        if (percent - reported < PROGRESS_STEP && percent < 100) return;
        reported = percent;
        job.updateProgress(Math.round(percent)).catch(() => undefined);
      };
      const left = Number.isFinite(timeoutMs) ? { timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) } : {};
      const transcript = await model.transcribe(audio.input, { ...options, ...left, signal, onProgress }).catch((error: unknown) => {
        const failure = audio?.failure();
        throw failure ? queueMessage(failure) : error;
      });
      const format = data.format ?? 'json';
      return { format, output: formatTranscript(transcript, format, data.formatOptions), worker: this.name };
    } finally {
      clearTimeout(timer);
      audio?.close();
    }
  }

  /**
   * The options a job runs with: the worker's defaults, the job's allowed options over them,
   * the audio options merged (a job may pick the channel, never ffmpeg or the limits), and
   * VAD with the worker's own model.
   */
  #optionsFor(data: TranscriptionJobData): TranscribeOptions {
    const { vad, audio, timeoutMs: _deadline, ...decoding } = data.options ?? {};
    const options: TranscribeOptions = { ...this.#defaults, ...decoding };
    const audioOptions = { ...this.#defaults.audio, ...audio };
    if ('url' in data.audio) audioOptions.maxInputBytes = Math.min(audioOptions.maxInputBytes ?? Infinity, this.#access.maxUrlBytes);
    if (Object.keys(audioOptions).length > 0) options.audio = audioOptions;
    if (vad === false) delete options.vad;
    else if (vad !== undefined) {
      if (this.#vadModel === undefined) {
        throw new WhisperError('INVALID_ARGUMENT', 'job.data.options.vad: expected no vad: this worker has no VAD model (start it with --vad, or give it vadModel)');
      }
      options.vad = { ...this.#defaults.vad, ...(vad === true ? {} : vad), modelPath: this.#vadModel };
    }
    return options;
  }

  #modelFor(name: string | undefined): QueueTranscriber {
    const model = name === undefined ? this.#models.values().next().value : this.#models.get(name);
    if (model === undefined) throw invalidArgument('job.data.model', `one of this worker's models (${[...this.#models.keys()].join(', ')})`, name);
    return model;
  }
}

function workerDefaults(value: unknown): WorkerTranscribeDefaults {
  const o = optionsObject('options.transcribeDefaults', value);
  for (const key of NOT_DEFAULTS) {
    if (o[key] !== undefined) throw invalidArgument(`options.transcribeDefaults.${key}`, `no ${key} here (the worker sets it for each job)`, o[key]);
  }
  return { ...o } as WorkerTranscribeDefaults;
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
 * (errorFromFailure reads it back), written by failureReason, so it never quotes the audio or a
 * server; the original error is its cause. A cancellation reads as ABORTED whatever was running.
 */
function asJobFailure(error: unknown, signal: AbortSignal): Error {
  const failure =
    signal.aborted && !(error instanceof WhisperError && error.code === 'ABORTED') ? new WhisperError('ABORTED', 'the job was cancelled', { cause: error }) : error;
  const reason = failureReason(failure);
  const jobFailure = isPermanentFailure(failure) ? new UnrecoverableError(reason) : new Error(reason);
  // Only the reason goes to Redis; the error itself stays here, for the worker's own log.
  jobFailure.cause = failure;
  return jobFailure;
}

/** Starts a worker on the queue (see TranscriptionWorkerOptions). Close it with `close()`; the model stays the caller's. */
export function createTranscriptionWorker(options: TranscriptionWorkerOptions): TranscriptionWorker {
  return new TranscriptionWorker(options);
}
