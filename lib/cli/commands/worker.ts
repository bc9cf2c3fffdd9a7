/**
 * `whisper-napi worker`: takes transcription jobs from a BullMQ queue on Redis until SIGTERM or
 * Ctrl-C, then finishes the running ones and exits. One model and pool per GPU (loadModelGroup),
 * or one CPU pool. lib/queue and its peer dependencies (bullmq, ioredis) are loaded only here
 * and in `submit`, so every other command runs without them.
 */
import { loadModelGroup } from '../../model/model-group';
import { setLogger } from '../../native/system';
import { redisConnectionFromUrl, type RedisConnectionOptions } from '../../queue/connection';
import { parseCommandArgs } from '../args';
import { intOption, usageError, type Command } from '../command';
import { requirePeerDependencies } from '../peer-dependencies';
import { describeFailure } from '../errors';
import { resolveModelArgument } from '../model-argument';
import { progressMode } from '../progress';

/** The parts of lib/queue the commands use, loaded once bullmq is known to be installed. */
interface QueueModule {
  worker: typeof import('../../queue/worker');
  producer: typeof import('../../queue/producer');
  bullmq: typeof import('bullmq');
}

const OPTIONS = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  model: { type: 'string', short: 'm' },
  concurrency: { type: 'string' },
  threads: { type: 'string', short: 't' },
  name: { type: 'string' },
  'lock-duration': { type: 'string' },
  'stalled-interval': { type: 'string' },
  download: { type: 'boolean' },
  'models-dir': { type: 'string' },
  cpu: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  vad: { type: 'string' },
  'audio-root': { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  'allow-private-urls': { type: 'boolean' },
  'max-url-bytes': { type: 'string' },
  'job-timeout': { type: 'string' },
} as const;

/** What lib/queue needs installed besides this package. */
const QUEUE_DEPENDENCIES = ['bullmq', 'ioredis'] as const;

export const workerCommand: Command = {
  name: 'worker',
  synopsis: 'worker --redis <url> --queue <name> --model <name|path>',
  summary: 'take transcription jobs from a BullMQ queue',
  usage: `Usage: whisper-napi worker --redis <url> --queue <name> --model <name|path> [options]

Takes jobs put on the queue by \`whisper-napi submit\` or enqueueTranscription() and
transcribes them, as many at once as the model's pool has states, one pool per GPU
(on a machine without one, one CPU pool). Prints one line per job on stdout:
\`completed <id>\` or \`failed <id> <CODE>: <message>\`. SIGTERM or Ctrl-C stops taking
jobs, finishes the running ones and exits. Needs the optional dependencies bullmq
and ioredis (npm install bullmq ioredis).

  --redis <url>           redis://[user:password@]host[:port][/db] (rediss:// for TLS)
  --queue <name>          the BullMQ queue to take jobs from
  -m, --model <name|path> a model file, or a name from \`whisper-napi models list\` found in
                          the model cache
  --concurrency <n>       transcriptions at once per device (default 1)
  -t, --threads <n>       CPU threads per transcription (jobs cannot set it)
  --vad <name|path>       a Silero VAD model for jobs that ask for VAD (vad: true); without
                          it such jobs are refused
  --audio-root <dir>      a directory whose files jobs may name by path (repeatable; links
                          are followed first, so one cannot lead out). Default none: jobs
                          with a path are refused
  --allow-host <host>     a host jobs' URLs may be on although it is not public: a name, an
                          address or a subnet, optionally with :port (repeatable; e.g.
                          --allow-host 10.0.0.5:8080). Loopback, private, link-local and
                          reserved addresses are refused otherwise, after every redirect too
  --allow-private-urls    fetch jobs' URLs from any address (a network you fully trust)
  --max-url-bytes <n>     the most bytes a job's URL may give (default 104857600, 100 MiB)
  --job-timeout <ms>      each job's deadline, fetching included; a job's own timeoutMs may
                          only shorten it (TIMEOUT, not retried; default none)
  --name <id>             this worker's name in results and metrics (default host:pid)
  --lock-duration <ms>    how long a job stays locked without this worker renewing it;
                          a worker that died loses its jobs to others after it (default 30000)
  --stalled-interval <ms> how often stalled jobs are looked for (default 30000)
  --download              download a named model that is not cached yet
  --models-dir <dir>      the model cache (default: $WHISPER_NAPI_MODELS, or
                          ~/.cache/whisper-napi/models)
  --cpu                   do not use a GPU
  -q, --quiet             no per-job lines
  --verbose               whisper.cpp's log, and the stack of an error
  -h, --help              this help

Exit codes: 0 stopped by SIGTERM, 1 the model or Redis failed, 2 a usage mistake, 130 Ctrl-C.`,
  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, false);
    const connection = redisOption(values.redis);
    const queue = values.queue;
    if (queue === undefined || queue === '') usageError('worker needs --queue <name>');
    if (values.model === undefined || values.model === '') usageError('worker needs --model <model name or path>');
    const concurrency = intOption('concurrency', values.concurrency, 1) ?? 1;
    const threads = intOption('threads', values.threads, 1);
    const lockDuration = intOption('lock-duration', values['lock-duration'], 1);
    const stalledInterval = intOption('stalled-interval', values['stalled-interval'], 1);
    const maxUrlBytes = intOption('max-url-bytes', values['max-url-bytes'], 1);
    const jobTimeoutMs = intOption('job-timeout', values['job-timeout'], 1);
    if (values.vad === '') usageError('--vad needs a Silero VAD model name or path');
    const queueModule = loadQueue('worker');
    if (values.verbose) setLogger((level, message) => process.stderr.write(`[${level}] ${message}\n`));
    const file = await resolveModelArgument(values.model, {
      kind: 'whisper',
      option: '--model',
      download: values.download === true,
      modelsDir: values['models-dir'],
      mode: progressMode({ progress: true, verbose: values.verbose }),
      signal: context.signal,
    });
    const vadModel =
      values.vad === undefined
        ? undefined
        : await resolveModelArgument(values.vad, {
            kind: 'vad',
            option: '--vad',
            download: values.download === true,
            modelsDir: values['models-dir'],
            mode: progressMode({ progress: true, verbose: values.verbose }),
            signal: context.signal,
          });
    const model = await loadModelGroup(file, { gpu: !values.cpu, concurrency });
    try {
      const worker = queueModule.worker.createTranscriptionWorker({
        connection,
        queue,
        model,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(threads !== undefined ? { transcribeDefaults: { threads } } : {}),
        ...(vadModel !== undefined ? { vadModel } : {}),
        audioRoots: values['audio-root'] ?? [],
        allowHosts: values['allow-host'] ?? [],
        allowPrivateUrls: values['allow-private-urls'] === true,
        ...(maxUrlBytes !== undefined ? { maxUrlBytes } : {}),
        ...(jobTimeoutMs !== undefined ? { jobTimeoutMs } : {}),
        workerOptions: { ...(lockDuration !== undefined ? { lockDuration } : {}), ...(stalledInterval !== undefined ? { stalledInterval } : {}) },
      });
      await runUntilStopped(worker, values.quiet === true, values.verbose === true, context.signal);
    } finally {
      await model.dispose();
    }
  },
};

export function redisOption(value: string | undefined): RedisConnectionOptions {
  if (value === undefined || value === '') usageError('needs --redis <url>, e.g. --redis redis://127.0.0.1:6379');
  try {
    return redisConnectionFromUrl('--redis', value);
  } catch (error) {
    return usageError(describeFailure(error).message);
  }
}

/** lib/queue, after checking that bullmq and ioredis are installed: one line naming what to install if not. */
export function loadQueue(command: string): QueueModule {
  requirePeerDependencies(command, QUEUE_DEPENDENCIES);
  // Loaded here, not imported at the top: importing them loads bullmq. require, not import():
  // BullMQ's ES module build cannot load ioredis from connection options.
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    worker: require('../../queue/worker') as QueueModule['worker'],
    producer: require('../../queue/producer') as QueueModule['producer'],
    bullmq: require('bullmq') as QueueModule['bullmq'],
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Logs each job, and on SIGTERM or Ctrl-C closes the worker, which lets the running jobs finish. */
async function runUntilStopped(worker: import('../../queue/worker').TranscriptionWorker, quiet: boolean, verbose: boolean, interrupt: AbortSignal): Promise<void> {
  const say = (line: string) => {
    if (!quiet) process.stdout.write(`${line}\n`);
  };
  worker.worker.on('completed', (job) => say(`completed ${job.id}`));
  worker.worker.on('failed', (job, error) => {
    say(`failed ${job?.id ?? '?'} ${oneLine(error.message)}`);
    // The job's failure reason says only what a producer may read; the operator sees the rest.
    if (verbose && error.cause instanceof Error) process.stderr.write(`whisper-napi worker: job ${job?.id ?? '?'}: ${oneLine(error.cause.message)}\n`);
  });
  // BullMQ retries Redis by itself; its errors are reported, not thrown.
  worker.worker.on('error', (error) => process.stderr.write(`whisper-napi worker: ${oneLine(error.message)}\n`));
  await worker.waitUntilReady();
  say(`ready ${worker.name} queue ${worker.queueName} concurrency ${worker.concurrency}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    if (interrupt.aborted) stop();
    interrupt.addEventListener('abort', stop, { once: true });
  });
  process.stderr.write('whisper-napi worker: stopping: finishing the running jobs\n');
  await worker.close();
  const counts = worker.counts();
  say(`stopped ${worker.name}: ${counts.completed} completed, ${counts.failed} failed`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
