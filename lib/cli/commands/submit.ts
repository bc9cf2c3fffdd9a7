/**
 * `whisper-napi submit`: puts transcription jobs on a BullMQ queue for `whisper-napi worker`s.
 * Prints each job's id, or with --wait its result as the worker wrote it (any output format).
 */
import { promises as fsp } from 'node:fs';
import { TRANSCRIPT_FORMATS, type TranscriptFormat } from '../../transcription/formats';
import type { QueueTranscribeOptions, TranscriptionJobData, TranscriptionResult } from '../../queue/job-data';
import { parseCommandArgs } from '../args';
import { intOption, usageError, type Command } from '../command';
import { errorLine } from '../errors';
import { loadQueue, redisOption } from './worker';

const OPTIONS = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  wait: { type: 'boolean' },
  'output-format': { type: 'string', short: 'o' },
  language: { type: 'string', short: 'l' },
  translate: { type: 'boolean' },
  threads: { type: 'string', short: 't' },
  vad: { type: 'boolean' },
  inline: { type: 'boolean' },
  priority: { type: 'string' },
  timeout: { type: 'string' },
  attempts: { type: 'string' },
} as const;

export const submitCommand: Command = {
  name: 'submit',
  synopsis: 'submit --redis <url> --queue <name> <file>',
  summary: 'put a transcription job on a BullMQ queue',
  usage: `Usage: whisper-napi submit --redis <url> --queue <name> <audio...> [options]

  <audio>                 a file under one of the workers' --audio-root directories (sent
                          as its absolute path), or an http(s) URL they fetch (public hosts,
                          or those they --allow-host); with --inline, the file's bytes go in
                          the job itself (at most 1 MiB)

  --redis <url>           redis://[user:password@]host[:port][/db] (rediss:// for TLS)
  --queue <name>          the BullMQ queue the workers take jobs from
  --wait                  wait for each job and print its result (one after another) instead
                          of its id; a job that fails prints its error and the exit code is 1
  -o, --output-format <f> the result's format: ${TRANSCRIPT_FORMATS.join(', ')} (default json)
  -l, --language <code>   en, de, ... or auto
  --translate             translate to English
  --vad                   voice activity detection first, with the worker's VAD model
                          (the worker needs --vad)
  --inline                send the audio bytes instead of the path
  --priority <n>          BullMQ priority, 1 (first) to 2097152
  --timeout <ms>          the job's deadline on the worker (TIMEOUT, not retried)
  --attempts <n>          tries before the job fails (default 3; bad audio is never retried)
  --verbose               the stack of an error
  -h, --help              this help

Needs the optional dependencies bullmq and ioredis (npm install bullmq ioredis).
Exit codes: 0 ok, 1 a job failed or Redis could not be reached, 2 a usage mistake,
130 Ctrl-C (while waiting: the jobs stay queued).`,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    const connection = redisOption(values.redis);
    const queueName = values.queue;
    if (queueName === undefined || queueName === '') usageError('submit needs --queue <name>');
    if (positionals.length === 0) usageError('submit needs at least one audio file or URL');
    const format = outputFormat(values['output-format']);
    if (values.threads !== undefined) usageError("--threads is the worker's to decide: start the worker with --threads");
    const timeoutMs = intOption('timeout', values.timeout, 1);
    const priority = intOption('priority', values.priority, 1);
    const attempts = intOption('attempts', values.attempts, 1);
    const options: QueueTranscribeOptions = {
      ...(values.language !== undefined ? { language: values.language } : {}),
      ...(values.translate ? { translate: true } : {}),
      ...(values.vad ? { vad: true } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    };
    const queueModule = loadQueue('submit');
    const { Queue, QueueEvents } = queueModule.bullmq;
    const queue = new Queue<TranscriptionJobData, TranscriptionResult>(queueName, { connection });
    const events = values.wait ? new QueueEvents(queueName, { connection }) : undefined;
    let failed = 0;
    try {
      if (events) await events.waitUntilReady();
      const jobs = [];
      for (const input of positionals) {
        const audio = values.inline ? await fsp.readFile(input) : input;
        jobs.push(
          await queueModule.producer.enqueueTranscription(queue, {
            audio,
            options,
            format,
            ...(priority !== undefined ? { priority } : {}),
            ...(attempts !== undefined ? { jobOptions: { attempts } } : {}),
          }),
        );
      }
      if (!events) {
        for (const job of jobs) process.stdout.write(`${job.id}\n`);
        return;
      }
      for (const [index, job] of jobs.entries()) {
        if (context.signal.aborted) break;
        try {
          const result = await untilAborted(queueModule.producer.waitForTranscription(job, events), context.signal);
          if (result === undefined) break;
          process.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
        } catch (error) {
          failed++;
          process.stderr.write(errorLine(error, values.verbose === true, `${positionals[index]} (job ${job.id})`));
        }
      }
    } finally {
      await events?.close();
      await queue.close();
    }
    if (failed > 0) process.exitCode = 1;
  },
};

function outputFormat(value: string | undefined): TranscriptFormat {
  if (value === undefined) return 'json';
  if (!(TRANSCRIPT_FORMATS as readonly string[]).includes(value)) usageError(`-o expects one of ${TRANSCRIPT_FORMATS.join(', ')}, got "${value}"`);
  return value as TranscriptFormat;
}

/** The promise's value, or undefined once Ctrl-C fired first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
