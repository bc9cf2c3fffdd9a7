/**
 * GET /metrics in Prometheus' text format (prom-client). The counters follow the jobs the
 * routes report; the gauges are read from each ready model (stats(), memory()) when scraped,
 * so they are never stale and cost nothing between scrapes. Everything goes on one Registry:
 * the handler's own, or the caller's (shared with the queue's metrics), never prom-client's global one.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WhisperError } from '../errors/whisper-error';
import type { WhisperModel } from '../model/whisper-model';
import type { Admissions, JobObserver, JobReport, ModelRegistry } from './context';
import type { Route } from './handler';
import type { ResolvedMetricsOptions } from './options';

type PromClient = typeof import('prom-client');

export interface HandlerMetrics {
  observer: JobObserver;
  route: Route;
  /** Where the metrics are registered. */
  registry: Registry;
}

/** Real-time factors (wall time over audio time): from far faster than real time to slower than it. */
const REAL_TIME_FACTOR_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5];

/** prom-client, loaded only when /metrics is served, so a handler with `metrics: false` runs without it. */
function loadPromClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (error) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      'options.metrics: /metrics needs the optional peer dependency prom-client (npm install prom-client); or pass metrics: false',
      {
        cause: error,
      },
    );
  }
}

type AnyMetric = Gauge | Counter | Histogram;

/**
 * Registers every metric, or none: a registry that already has one of the names (a second
 * handler on it needs another prefix) is refused before anything is added to it.
 */
function registerAll(registry: Registry, metrics: readonly AnyMetric[]): void {
  const nameOf = (metric: AnyMetric) => (metric as unknown as { name: string }).name;
  const taken = metrics.map(nameOf).filter((name) => registry.getSingleMetric(name) !== undefined);
  if (taken.length > 0) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `options.metrics.registry: already has ${taken.join(', ')}; give each handler on one registry its own options.metrics.prefix`,
    );
  }
  for (const metric of metrics) registry.registerMetric(metric);
}

function memoryOf(model: WhisperModel): ReturnType<WhisperModel['memory']> | undefined {
  try {
    return model.memory();
  } catch {
    // Disposed between the registry's look and ours, or whisper.cpp's log format changed: no figure is better than a scrape that fails.
    return undefined;
  }
}

/** The gauges read from the models at scrape time. Each collect starts from reset(), so a model that went away leaves no stale series. */
function modelGauges(client: PromClient, prefix: string, models: ModelRegistry, queueBound: (model: WhisperModel) => number): Gauge[] {
  // Registered by registerAll, all at once.
  const registers: Registry[] = [];
  const fromStats = (name: string, help: string, read: (stats: ReturnType<WhisperModel['stats']>) => number) =>
    new client.Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { name: model, model: served } of models.ready()) this.set({ model }, read(served.stats()));
      },
    });
  return [
    fromStats('queue_depth', 'Transcription jobs waiting for a whisper state.', (stats) => stats.queued),
    fromStats('running_jobs', 'Transcription jobs running on a whisper state.', (stats) => stats.running),
    fromStats('concurrency', 'The most transcription jobs that run at once.', (stats) => stats.concurrency),
    new client.Gauge({
      name: `${prefix}max_queue`,
      help: "The most jobs that may wait before requests are refused with 429: the handler's bound, or the model's own if smaller.",
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { name: model, model: served } of models.ready()) this.set({ model }, queueBound(served));
      },
    }),
    fromStats('whisper_states', 'whisper.cpp states created so far.', (stats) => stats.states),
    new client.Gauge({
      name: `${prefix}model_ready`,
      help: 'Whether the model is loaded and serving (1), or still loading or failed to load (0).',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const model of models.names()) this.set({ model }, models.state(model)?.status === 'ready' ? 1 : 0);
      },
    }),
    new client.Gauge({
      name: `${prefix}model_weights_bytes`,
      help: "Bytes of the model's weights, per ggml buffer (CPU, CUDA0, ...), as whisper.cpp allocated them.",
      labelNames: ['model', 'buffer'],
      registers,
      collect() {
        this.reset();
        for (const { name: model, model: served } of models.ready()) {
          for (const { buffer, bytes } of memoryOf(served)?.weights.buffers ?? []) this.inc({ model, buffer }, bytes);
        }
      },
    }),
    new client.Gauge({
      name: `${prefix}model_state_bytes`,
      help: "Bytes of the model's whisper states (KV caches, compute buffers, DTW), on the model's device.",
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { name: model, model: served } of models.ready()) {
          const memory = memoryOf(served);
          if (memory !== undefined) this.set({ model }, memory.total - memory.weights.total);
        }
      },
    }),
  ];
}

interface JobMetrics {
  jobs: Counter;
  audioSeconds: Counter;
  realTimeFactor: Histogram;
}

function jobMetrics(client: PromClient, prefix: string): JobMetrics {
  const registers: Registry[] = [];
  return {
    jobs: new client.Counter({
      name: `${prefix}jobs_total`,
      help: 'Transcription jobs by how they ended: completed, failed, aborted (client gone), rejected (queue full), timed_out.',
      labelNames: ['model', 'endpoint', 'outcome'],
      registers,
    }),
    audioSeconds: new client.Counter({
      name: `${prefix}audio_seconds_total`,
      help: 'Seconds of audio transcribed by completed jobs.',
      labelNames: ['model', 'endpoint'],
      registers,
    }),
    realTimeFactor: new client.Histogram({
      name: `${prefix}real_time_factor`,
      help: "Completed jobs' wall time over their audio's duration (below 1: faster than real time).",
      labelNames: ['model', 'endpoint'],
      buckets: REAL_TIME_FACTOR_BUCKETS,
      registers,
    }),
  };
}

/** The label for a job's model when it names none the handler serves: client input never becomes a label. */
export const UNKNOWN_MODEL_LABEL = 'unknown';

function countJob(metrics: JobMetrics, models: ModelRegistry, report: JobReport): void {
  const { endpoint, outcome, audioSeconds, wallSeconds } = report;
  const model = models.state(report.model) === undefined ? UNKNOWN_MODEL_LABEL : report.model;
  metrics.jobs.inc({ model, endpoint, outcome });
  if (outcome !== 'completed' || audioSeconds === undefined || !(audioSeconds > 0)) return;
  metrics.audioSeconds.inc({ model, endpoint }, audioSeconds);
  if (wallSeconds >= 0) metrics.realTimeFactor.observe({ model, endpoint }, wallSeconds / audioSeconds);
}

/**
 * The handler's metrics on `options.registry`, or on a new Registry with prom-client's
 * process metrics (CPU, memory, event loop, GC). A caller's registry gets no process
 * metrics from us: it may have them already, and a second set would collide.
 */
export function createMetrics(admissions: Admissions, options: ResolvedMetricsOptions): HandlerMetrics {
  const { models } = admissions;
  const client = loadPromClient();
  const { prefix } = options;
  const registry = options.registry ?? new client.Registry();
  const jobs = jobMetrics(client, prefix);
  registerAll(registry, [...modelGauges(client, prefix, models, (model) => admissions.queueBound(model)), jobs.jobs, jobs.audioSeconds, jobs.realTimeFactor]);
  if (options.registry === undefined) client.collectDefaultMetrics({ register: registry, prefix });
  return {
    registry,
    observer: { jobSettled: (report) => countJob(jobs, models, report) },
    async route(_req, res) {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(body);
    },
  };
}
