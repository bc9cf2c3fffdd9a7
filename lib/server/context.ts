/** What every route of one handler shares: its options, its models, its running work and its observer. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WhisperModel } from '../model/whisper-model';
import { HttpError, RETRY_AFTER_SECONDS } from './openai-errors';
import { DEFAULT_QUEUE_PER_SLOT, OPENAI_MODEL_ALIAS, type ResolvedHandlerOptions, type ServedModel } from './options';

export type JobOutcome = 'completed' | 'failed' | 'aborted' | 'rejected' | 'timed_out';
export type JobEndpoint = 'transcriptions' | 'translations' | 'stream';

/** One finished job, as the metrics count it. */
export interface JobReport {
  model: string;
  endpoint: JobEndpoint;
  outcome: JobOutcome;
  /** Audio transcribed, when it completed. */
  audioSeconds?: number;
  /** From the job's start to its end. */
  wallSeconds: number;
}

/** Told about every job the handler ran (the metrics listen; nothing else is needed of them). */
export interface JobObserver {
  jobSettled(report: JobReport): void;
}

/** Where a served model stands: loading, ready, or failed to load (kept, so /health can say why). */
export type ModelState = { status: 'loading' } | { status: 'ready'; model: WhisperModel } | { status: 'failed'; error: unknown };

/** The served models by name, each followed as its promise settles. */
export class ModelRegistry {
  readonly #states = new Map<string, ModelState>();
  readonly #settled: Promise<unknown>;

  constructor(
    models: ReadonlyMap<string, ServedModel>,
    readonly defaultName: string,
  ) {
    const loads: Promise<unknown>[] = [];
    for (const [name, served] of models) {
      if (!(served instanceof Promise)) {
        this.#states.set(name, { status: 'ready', model: served });
        continue;
      }
      this.#states.set(name, { status: 'loading' });
      loads.push(
        served.then(
          (model) => this.#states.set(name, { status: 'ready', model }),
          (error: unknown) => this.#states.set(name, { status: 'failed', error }),
        ),
      );
    }
    this.#settled = Promise.all(loads);
  }

  names(): string[] {
    return [...this.#states.keys()];
  }

  /** The name a request's `model` field means: `whisper-1` (or none) is the default unless served by that name. */
  canonicalName(requested: string | undefined): string | undefined {
    if (requested !== undefined && this.#states.has(requested)) return requested;
    if (requested === undefined || requested === OPENAI_MODEL_ALIAS) return this.defaultName;
    return undefined;
  }

  state(name: string): ModelState | undefined {
    return this.#states.get(name);
  }

  /** Every model ready now. */
  ready(): { name: string; model: WhisperModel }[] {
    return [...this.#states].flatMap(([name, state]) => (state.status === 'ready' ? [{ name, model: state.model }] : []));
  }

  /** Resolves once every model has loaded or failed. */
  settled(): Promise<unknown> {
    return this.#settled;
  }

  /**
   * The model a request asked for, or the HttpError to answer: 400 for a name not served
   * (param `model`), 503 with Retry-After while it loads or if it failed to load.
   */
  require(requested: string | undefined): { name: string; model: WhisperModel } {
    const name = this.canonicalName(requested);
    const state = name === undefined ? undefined : this.#states.get(name);
    if (name === undefined || state === undefined) {
      const named = requested !== undefined && requested.length <= 60 ? `\`${requested}\`` : 'asked for';
      throw new HttpError(400, `The model ${named} is not served here; served: ${[OPENAI_MODEL_ALIAS, ...this.names()].join(', ')}`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    if (state.status === 'loading') throw unavailable(`the model \`${name}\` is still loading`, 'model_loading');
    if (state.status === 'failed') throw unavailable(`the model \`${name}\` failed to load`, 'model_load_failed');
    return { name, model: state.model };
  }
}

/** The longest key looked at: longer is no key of ours (options.ts allows up to 1024). */
const MAX_OFFERED_KEY_LENGTH = 1024;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks offered keys against the handler's in constant time: both sides are hashed (so their
 * lengths say nothing) and every key is compared, a match or not.
 */
export class ApiKeys {
  readonly #hashes: Buffer[];

  constructor(keys: Iterable<string>) {
    this.#hashes = [...keys].map(sha256);
  }

  /** True when no key is asked for. */
  get open(): boolean {
    return this.#hashes.length === 0;
  }

  accepts(offered: string | undefined): boolean {
    if (offered === undefined || offered.length === 0 || offered.length > MAX_OFFERED_KEY_LENGTH) return false;
    const hash = sha256(offered);
    let found = false;
    for (const known of this.#hashes) found = timingSafeEqual(known, hash) || found;
    return found;
  }
}

/** The key of an `Authorization: Bearer <key>` header, if the request has one. */
export function bearerKey(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/**
 * What the handler holds and admits: uploads (from before their body is read until their job
 * has settled), and per model the jobs it admitted and has not seen settle. Refusing here,
 * before the body is read, is what bounds memory: uploads × maxFileSize, whatever clients do.
 */
export class Admissions {
  readonly #jobs = new Map<string, number>();
  #uploads = 0;

  constructor(
    readonly models: ModelRegistry,
    readonly options: Pick<ResolvedHandlerOptions, 'maxQueue' | 'maxUploads'>,
  ) {}

  /** The jobs of `model` that may wait: the handler's bound, or the model's own if smaller. */
  queueBound(model: WhisperModel): number {
    const ours = this.options.maxQueue ?? DEFAULT_QUEUE_PER_SLOT * model.concurrency;
    return Math.min(ours, model.stats().maxQueue);
  }

  /** Uploads held at once: as configured, else what the ready models run and queue together. */
  uploadLimit(): number {
    if (this.options.maxUploads !== undefined) return this.options.maxUploads;
    const capacity = this.models.ready().reduce((sum, { model }) => sum + model.concurrency + this.queueBound(model), 0);
    return Math.max(1, capacity);
  }

  get uploads(): number {
    return this.#uploads;
  }

  /** An upload slot and its release (safe to call twice), or undefined when every slot is taken. */
  takeUpload(): (() => void) | undefined {
    if (this.#uploads >= this.uploadLimit()) return undefined;
    this.#uploads++;
    return once(() => this.#uploads--);
  }

  /**
   * A job slot of the model and its release, or undefined when the model runs and queues as many
   * as it takes: the handler's own jobs (counted before transcribe() sees them) or the model's
   * stats() (other callers of a shared model) say so.
   */
  takeJob(name: string, model: WhisperModel): (() => void) | undefined {
    const admitted = this.#jobs.get(name) ?? 0;
    const stats = model.stats();
    const bound = this.queueBound(model);
    const startsAtOnce = stats.running < stats.concurrency && stats.queued === 0;
    if (admitted >= model.concurrency + bound || (!startsAtOnce && stats.queued >= bound)) return undefined;
    this.#jobs.set(name, admitted + 1);
    return once(() => this.#jobs.set(name, (this.#jobs.get(name) ?? 1) - 1));
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}

export function unavailable(message: string, code: string): HttpError {
  return new HttpError(503, message, { type: 'server_error', code, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } });
}

/** Work the handler has started and not finished, so close() can wait for it. */
export class RunningWork {
  readonly #running = new Set<Promise<unknown>>();
  #closing = false;

  get closing(): boolean {
    return this.#closing;
  }

  get size(): number {
    return this.#running.size;
  }

  /** Refuses new work once closing (503), else runs it and remembers it until it settles. */
  start<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) throw unavailable('the server is shutting down', 'shutting_down');
    const running = work();
    const tracked = running.finally(() => this.#running.delete(tracked));
    tracked.catch(() => {});
    this.#running.add(tracked);
    return running;
  }

  /** Stops taking work and resolves when everything started has settled. */
  async close(): Promise<void> {
    this.#closing = true;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}

/**
 * A signal that fires when the client goes away before its answer is complete: the request
 * aborted or the connection closed. Firing it aborts the job (ABORTED in stats()).
 */
export function clientGoneSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const gone = () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
  };
  res.once('close', gone);
  req.once('aborted', gone);
  return controller.signal;
}

export interface ServerContext {
  readonly options: ResolvedHandlerOptions;
  readonly models: ModelRegistry;
  readonly work: RunningWork;
  readonly admissions: Admissions;
  readonly keys: ApiKeys;
  readonly observer: JobObserver;
  /** True when the request carries an accepted key (`Authorization: Bearer`), or when no key is asked for. */
  authorized(req: IncomingMessage): boolean;
}

/** The context of one handler: its options resolved, its models followed, nothing running yet. */
export function createServerContext(options: ResolvedHandlerOptions, observer: JobObserver): ServerContext {
  const models = new ModelRegistry(options.models, options.defaultModel);
  const keys = new ApiKeys(options.apiKeys);
  return {
    options,
    models,
    work: new RunningWork(),
    admissions: new Admissions(models, options),
    keys,
    observer,
    authorized: (req) => keys.open || keys.accepts(bearerKey(req)),
  };
}
