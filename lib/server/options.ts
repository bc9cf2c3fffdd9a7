/** createTranscriptionHandler's options, their defaults and their validation. */
import { integerIn, isBoolean, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { invalidArgument } from '../errors/whisper-error';
import { WhisperModel } from '../model/whisper-model';
import type { TranscribeOptions } from '../transcription/options';
import type { Registry } from 'prom-client';

/** A loaded model, or one still loading: the handler answers 503 for it (and /health says "loading") until it settles. */
export type ServedModel = WhisperModel | Promise<WhisperModel>;

export interface TranscriptionHandlerOptions {
  /**
   * What the API's `model` field names. One model serves every name, `whisper-1` included; a
   * map serves its names, and `whisper-1` means `defaultModel` unless the map has its own.
   */
  models: ServedModel | Record<string, ServedModel>;
  /** The map's entry for `whisper-1` and for /v1/models' first entry. Default: the map's first name. */
  defaultModel?: string;
  /**
   * Bearer keys accepted on /v1/* (compared in constant time). Default: none asked for. /
   * and /health never ask; /metrics asks only with `metricsAuth`.
   */
  apiKey?: string | readonly string[];
  /** /metrics asks for one of the API keys too. Default false (a scraper inside the network needs none). */
  metricsAuth?: boolean;
  /** Largest upload, in bytes, counted as it streams in (not from Content-Length). Default 25 MiB, as OpenAI. */
  maxFileSize?: number;
  /** A request body that sends nothing for this long is answered 408 and closed, in ms. Default 30000. */
  bodyTimeoutMs?: number;
  /** WebSocket connections at once on /v1/audio/stream. Default: the default model's concurrency. */
  maxLiveConnections?: number;
  /**
   * Jobs of one model that may wait for a whisper state, counted by the handler from the moment
   * the form is read (the model's own `maxQueue` applies too, the smaller wins); one more is
   * answered 429 with Retry-After. Default: 4 × the model's concurrency.
   */
  maxQueue?: number;
  /**
   * Uploads held at once: being received, waiting or being transcribed. The next one is
   * answered 429 with Retry-After before its body is read, so what uploads hold is at most
   * this × maxFileSize. Default: the ready models' concurrency + queue bound, added up.
   */
  maxUploads?: number;
  /**
   * Longest audio one request may ask to transcribe, in ms of decoded audio: longer is refused
   * with 413 `audio_too_long`. Default 7200000 (2 h).
   */
  maxAudioDurationMs?: number;
  /**
   * Web origins (`https://app.example`) whose pages may open the live WebSocket, or '*' for any.
   * Default: none but the server's own (an upgrade without an Origin header, from a program and
   * not a browser, is always allowed).
   */
  allowedOrigins?: '*' | readonly string[];
  /** Serve the page at `/`. Default true. */
  page?: boolean;
  /**
   * Serve /metrics (prom-client). Default true: a registry of the handler's own, with prom-client's
   * process metrics. A `registry` of the caller's gets the handler's metrics added (and no process
   * metrics), so one /metrics can show other metrics (the queue's) too.
   */
  metrics?: boolean | MetricsOptions;
  /** Options every transcription starts from (threads, vad, …); request fields override them. */
  transcribeDefaults?: TranscribeOptions;
}

export interface MetricsOptions {
  /** A prom-client Registry to register the metrics on, and to serve at /metrics. */
  registry?: Registry;
  /** Starts every metric's name. Default 'whisper_napi_'. */
  prefix?: string;
}

/** @internal */
export interface ResolvedMetricsOptions {
  registry: Registry | undefined;
  prefix: string;
}

/** @internal */
export interface ResolvedHandlerOptions {
  models: ReadonlyMap<string, ServedModel>;
  defaultModel: string;
  apiKeys: ReadonlySet<string>;
  metricsAuth: boolean;
  maxFileSize: number;
  bodyTimeoutMs: number;
  maxLiveConnections: number | undefined;
  /** undefined: DEFAULT_QUEUE_PER_SLOT × concurrency. */
  maxQueue: number | undefined;
  /** undefined: the ready models' capacity. */
  maxUploads: number | undefined;
  maxAudioDurationMs: number;
  /** '*', or the allowed origins as URL.origin gives them. */
  allowedOrigins: '*' | ReadonlySet<string>;
  page: boolean;
  /** false when /metrics is not served. */
  metrics: false | ResolvedMetricsOptions;
  transcribeDefaults: TranscribeOptions;
}

const KNOWN = new Set([
  'models',
  'defaultModel',
  'apiKey',
  'metricsAuth',
  'maxFileSize',
  'bodyTimeoutMs',
  'maxLiveConnections',
  'maxQueue',
  'maxUploads',
  'maxAudioDurationMs',
  'allowedOrigins',
  'page',
  'metrics',
  'transcribeDefaults',
]);

export const DEFAULT_MAX_FILE_SIZE = 25 * 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** The name OpenAI's clients send; it always reaches the default model. */
export const OPENAI_MODEL_ALIAS = 'whisper-1';
export const DEFAULT_METRICS_PREFIX = 'whisper_napi_';
/** maxQueue's default, per whisper state: a few jobs' worth of waiting, not an unbounded backlog. */
export const DEFAULT_QUEUE_PER_SLOT = 4;
/** maxAudioDurationMs' default: 2 h, more than 25 MiB of speech holds at ordinary bit rates. */
export const DEFAULT_MAX_AUDIO_DURATION_MS = 2 * 3600 * 1000;
/** The longest an API key may be: longer is no key of ours, and not worth hashing. */
const MAX_API_KEY_LENGTH = 1024;

function isServedModel(value: unknown): value is ServedModel {
  return value instanceof WhisperModel || value instanceof Promise;
}

function resolveModels(value: unknown): Map<string, ServedModel> {
  if (isServedModel(value)) return new Map([[OPENAI_MODEL_ALIAS, value]]);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument('options.models', 'a WhisperModel, a promise of one, or an object of them by name', value);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) throw invalidArgument('options.models', 'at least one model', value);
  for (const [name, model] of entries) {
    if (!isServedModel(model)) throw invalidArgument(`options.models.${name}`, 'a WhisperModel or a promise of one', model);
  }
  return new Map(entries as [string, ServedModel][]);
}

function resolveApiKeys(value: unknown): Set<string> {
  if (value === undefined) return new Set();
  const keys = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => typeof key === 'string' && key.length > 0 && key.length <= MAX_API_KEY_LENGTH)) {
    throw invalidArgument('options.apiKey', `a non-empty string (at most ${MAX_API_KEY_LENGTH} characters) or a non-empty array of them`, value);
  }
  return new Set(keys as string[]);
}

/** An origin as browsers send it: scheme, host and port, nothing else. */
function originOf(name: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== (value as string).replace(/\/$/, '')) {
    throw invalidArgument(name, "an origin such as 'https://app.example' or 'http://localhost:3000' (scheme, host and port only)", value);
  }
  return url.origin;
}

function resolveAllowedOrigins(name: string, value: unknown): '*' | Set<string> {
  if (value === '*') return '*';
  if (!Array.isArray(value)) throw invalidArgument(name, "'*' or an array of origins", value);
  return new Set(value.map((origin, index) => originOf(`${name}[${index}]`, origin)));
}

function isRegistry(value: unknown): value is Registry {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return ['registerMetric', 'getSingleMetric', 'metrics'].every((method) => typeof candidate[method] === 'function') && typeof candidate.contentType === 'string';
}

const METRIC_NAME_START = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

function resolveMetrics(name: string, value: unknown): false | ResolvedMetricsOptions {
  if (value === false) return false;
  if (value === true) return { registry: undefined, prefix: DEFAULT_METRICS_PREFIX };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(name, 'a boolean or an object { registry?, prefix? }', value);
  const options = value as Record<string, unknown>;
  rejectUnknownKeys(name, options, new Set(['registry', 'prefix']));
  const registry = pick<Registry | undefined>(
    options,
    'registry',
    (key, given) => {
      if (!isRegistry(given)) throw invalidArgument(key, "a prom-client Registry (new Registry() from 'prom-client')", given);
      return given;
    },
    undefined,
    `${name}.`,
  );
  const prefix = pick(
    options,
    'prefix',
    (key, given) => {
      if (typeof given !== 'string' || !METRIC_NAME_START.test(given)) throw invalidArgument(key, 'a Prometheus metric name prefix (letters, digits, _ and :)', given);
      return given;
    },
    DEFAULT_METRICS_PREFIX,
    `${name}.`,
  );
  return { registry, prefix };
}

/** @internal */
export function resolveHandlerOptions(input: unknown): ResolvedHandlerOptions {
  const options = optionsObject('options', input);
  rejectUnknownKeys('options', options, KNOWN);
  const models = resolveModels(options.models);
  const defaultModel = pick(
    options,
    'defaultModel',
    (name, value) => {
      if (typeof value !== 'string' || !models.has(value)) throw invalidArgument(name, `one of the names in options.models (${[...models.keys()].join(', ')})`, value);
      return value;
    },
    [...models.keys()][0]!,
  );
  const transcribeDefaults =
    options.transcribeDefaults === undefined ? {} : (optionsObject('options.transcribeDefaults', options.transcribeDefaults) as TranscribeOptions);
  return {
    models,
    defaultModel,
    apiKeys: resolveApiKeys(options.apiKey),
    metricsAuth: pick(options, 'metricsAuth', isBoolean, false),
    maxFileSize: pick(options, 'maxFileSize', integerIn(1, Number.MAX_SAFE_INTEGER), DEFAULT_MAX_FILE_SIZE),
    bodyTimeoutMs: pick(options, 'bodyTimeoutMs', integerIn(1, 2 ** 31 - 1), DEFAULT_BODY_TIMEOUT_MS),
    maxLiveConnections: pick<number | undefined>(options, 'maxLiveConnections', integerIn(1, 100_000), undefined),
    maxQueue: pick<number | undefined>(options, 'maxQueue', integerIn(0, 100_000), undefined),
    maxUploads: pick<number | undefined>(options, 'maxUploads', integerIn(1, 100_000), undefined),
    maxAudioDurationMs: pick(options, 'maxAudioDurationMs', integerIn(1000, 24 * 3600 * 1000), DEFAULT_MAX_AUDIO_DURATION_MS),
    allowedOrigins: pick<'*' | Set<string>>(options, 'allowedOrigins', resolveAllowedOrigins, new Set()),
    page: pick(options, 'page', isBoolean, true),
    metrics: pick(options, 'metrics', resolveMetrics, { registry: undefined, prefix: DEFAULT_METRICS_PREFIX }),
    transcribeDefaults,
  };
}
