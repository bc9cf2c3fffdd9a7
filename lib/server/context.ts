/** What every route of one handler shares: its options, its models, its running work and its observer. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WhisperModel } from '../model/whisper-model';
import { HttpError, RETRY_AFTER_SECONDS } from './openai-errors';
import { OPENAI_MODEL_ALIAS, type ResolvedHandlerOptions, type ServedModel } from './options';

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
      throw new HttpError(400, `The model \`${requested}\` is not served here; served: ${[OPENAI_MODEL_ALIAS, ...this.names()].join(', ')}`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    if (state.status === 'loading') throw unavailable(`the model \`${name}\` is still loading`, 'model_loading');
    if (state.status === 'failed') throw unavailable(`the model \`${name}\` failed to load`, 'model_load_failed');
    return { name, model: state.model };
  }
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
  readonly observer: JobObserver;
  /** True when the request carries an accepted key, or when no key is asked for. */
  authorized(req: IncomingMessage): boolean;
}
