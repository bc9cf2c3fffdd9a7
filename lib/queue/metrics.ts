/**
 * Prometheus metrics for queues and workers, on a Registry the caller owns (the server's
 * /metrics can take the same one). Queue depth is read from Redis when the registry is
 * scraped; a worker's counts follow its BullMQ events. prom-client is loaded only here, so
 * the rest of whisper-napi/queue runs without it.
 */
import type { Job, Queue } from 'bullmq';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import { errorFromFailure, type TranscriptionJobData, type TranscriptionResult } from './job-data';
import { TranscriptionWorker } from './worker';

type PromClient = typeof import('prom-client');

/** The states a queue's depth is reported by. */
export const QUEUE_DEPTH_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

/** Completions counted for the throughput gauge: those in this window. */
const THROUGHPUT_WINDOW_MS = 60_000;

function promClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (error) {
    throw new WhisperError('INVALID_ARGUMENT', 'registry: queue metrics need the optional peer dependency prom-client (npm install prom-client)', { cause: error });
  }
}

/** The queues a registry's depth gauge reads, and the worker metrics, created once per registry. */
interface RegistryMetrics {
  queues: Set<Queue>;
  completed: Counter<'queue' | 'worker'>;
  failed: Counter<'queue' | 'worker' | 'code'>;
  active: Gauge<'queue' | 'worker'>;
  duration: Histogram<'queue' | 'worker'>;
  throughput: Gauge<'queue' | 'worker'>;
  throughputSources: Map<string, () => number>;
}

const perRegistry = new WeakMap<Registry, RegistryMetrics>();

function metricsFor(registry: Registry): RegistryMetrics {
  const existing = perRegistry.get(registry);
  if (existing) return existing;
  const prom = promClient();
  const registers = [registry];
  const queues = new Set<Queue>();
  const throughputSources = new Map<string, () => number>();
  new prom.Gauge({
    name: 'whisper_napi_queue_jobs',
    help: 'Jobs in the queue by state, read from Redis at each scrape',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      await Promise.all([...queues].map(async (queue) => setDepths(this, queue)));
    },
  });
  const metrics: RegistryMetrics = {
    queues,
    throughputSources,
    completed: new prom.Counter({
      name: 'whisper_napi_queue_worker_jobs_completed_total',
      help: 'Jobs this worker completed',
      labelNames: ['queue', 'worker'],
      registers,
    }),
    failed: new prom.Counter({
      name: 'whisper_napi_queue_worker_jobs_failed_total',
      help: 'Failed job attempts on this worker, by error code',
      labelNames: ['queue', 'worker', 'code'],
      registers,
    }),
    active: new prom.Gauge({ name: 'whisper_napi_queue_worker_jobs_active', help: 'Jobs running on this worker now', labelNames: ['queue', 'worker'], registers }),
    duration: new prom.Histogram({
      name: 'whisper_napi_queue_worker_job_duration_seconds',
      help: 'From a worker taking a job to completing it',
      labelNames: ['queue', 'worker'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    throughput: new prom.Gauge({
      name: 'whisper_napi_queue_worker_throughput_jobs_per_minute',
      help: 'Jobs this worker completed in the last minute',
      labelNames: ['queue', 'worker'],
      registers,
      collect() {
        this.reset();
        for (const [key, count] of throughputSources) {
          const [queue, worker] = JSON.parse(key) as [string, string];
          this.set({ queue, worker }, count());
        }
      },
    }),
  };
  perRegistry.set(registry, metrics);
  return metrics;
}

async function setDepths(gauge: Gauge<'queue' | 'state'>, queue: Queue): Promise<void> {
  const counts = await queue.getJobCounts(...QUEUE_DEPTH_STATES);
  for (const state of QUEUE_DEPTH_STATES) gauge.set({ queue: queue.name, state }, counts[state] ?? 0);
}

/**
 * Registers metrics for a queue (its depth by state: `whisper_napi_queue_jobs`) or a worker
 * (`whisper_napi_queue_worker_jobs_completed_total`, `..._jobs_failed_total` by code,
 * `..._jobs_active`, `..._job_duration_seconds`, `..._throughput_jobs_per_minute`) on
 * `registry`. Several queues and workers can share one registry; labels tell them apart.
 * Returns a function that stops reporting this one.
 */
export function registerQueueMetrics(registry: Registry, target: Queue | TranscriptionWorker): () => void {
  if (registry === null || typeof registry !== 'object' || typeof (registry as Registry).getSingleMetric !== 'function') {
    throw invalidArgument('registry', "a prom-client Registry (new Registry() from 'prom-client')", registry);
  }
  const metrics = metricsFor(registry);
  if (target instanceof TranscriptionWorker) return followWorker(metrics, target);
  if (target === null || typeof target !== 'object' || typeof (target as Queue).getJobCounts !== 'function') {
    throw invalidArgument('target', 'a BullMQ Queue or a TranscriptionWorker', target);
  }
  metrics.queues.add(target);
  return () => metrics.queues.delete(target);
}

function followWorker(metrics: RegistryMetrics, transcriptionWorker: TranscriptionWorker): () => void {
  const labels = { queue: transcriptionWorker.queueName, worker: transcriptionWorker.name };
  const completions: number[] = [];
  const onActive = () => metrics.active.inc(labels);
  const onCompleted = (job: Job<TranscriptionJobData, TranscriptionResult>) => {
    metrics.active.dec(labels);
    metrics.completed.inc(labels);
    const now = Date.now();
    completions.push(now);
    if (job.processedOn !== undefined) metrics.duration.observe(labels, Math.max(0, ((job.finishedOn ?? now) - job.processedOn) / 1000));
  };
  const onFailed = (_job: unknown, error: Error) => {
    metrics.active.dec(labels);
    metrics.failed.inc({ ...labels, code: errorFromFailure(error.message).code });
  };
  const recentCompletions = () => {
    const since = Date.now() - THROUGHPUT_WINDOW_MS;
    while (completions.length > 0 && completions[0] < since) completions.shift();
    return completions.length;
  };
  const { worker } = transcriptionWorker;
  worker.on('active', onActive);
  worker.on('completed', onCompleted);
  worker.on('failed', onFailed);
  const key = JSON.stringify([labels.queue, labels.worker]);
  metrics.throughputSources.set(key, recentCompletions);
  metrics.active.set(labels, transcriptionWorker.counts().active);
  return () => {
    worker.off('active', onActive);
    worker.off('completed', onCompleted);
    worker.off('failed', onFailed);
    metrics.throughputSources.delete(key);
  };
}
