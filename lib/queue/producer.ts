/**
 * Putting transcriptions on a queue and getting their results: enqueueTranscription adds a job
 * with retries and backoff by default, waitForTranscription turns its outcome back into a
 * result or the WhisperError it failed with, cancelTranscription aborts it wherever it runs.
 */
import type { Job, JobsOptions, Queue, QueueEvents } from 'bullmq';
import { invalidArgument } from '../errors/whisper-error';
import { integerIn, isNonEmptyString, oneOf, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { TRANSCRIPT_FORMATS, type FormatOptions, type TranscriptFormat } from '../transcription/formats';
import { markCancelled } from './cancel';
import { checkJobOptions } from './job-options';
import {
  checkedModelName,
  checkFormatOptions,
  errorFromFailure,
  toJobAudio,
  type QueueAudio,
  type QueueTranscribeOptions,
  type TranscriptionJobData,
  type TranscriptionResult,
} from './job-data';

/** The name every transcription job is added under. */
export const TRANSCRIPTION_JOB_NAME = 'transcribe';

/** Tries per job unless jobOptions.attempts says otherwise: a worker killed mid-job or Redis gone for a moment costs one. */
export const DEFAULT_ATTEMPTS = 3;
/** The first retry's delay, doubled for each one after. */
export const DEFAULT_BACKOFF_MS = 1000;

/** BullMQ's priorities: 1 runs first, 2_097_152 last; a job without one runs before all prioritized jobs. */
const MAX_PRIORITY = 2_097_152;

export interface TranscriptionRequest {
  /**
   * A path the workers can read (a relative one is made absolute here), an http(s) URL the
   * worker fetches, or the audio bytes themselves, at most MAX_INLINE_AUDIO_BYTES (1 MiB):
   * larger audio never travels through Redis, and is refused with INVALID_ARGUMENT naming `audio`.
   */
  audio: QueueAudio;
  /**
   * The decoding and result options a job may carry (QueueTranscribeOptions): no callbacks or
   * signal, and nothing that is the worker's to decide (threads, ffmpeg, the VAD model file,
   * audio limits); refused here with INVALID_ARGUMENT, as the worker would refuse them.
   */
  options?: QueueTranscribeOptions;
  /** The result's format (formatTranscript). Default 'json'. */
  format?: TranscriptFormat;
  formatOptions?: FormatOptions;
  /** With a worker that has several models, which one. */
  model?: string;
  /** BullMQ's job priority: 1 (first) to 2097152. Default none. */
  priority?: number;
  /** Any other BullMQ job option (jobId, attempts, backoff, removeOnComplete, ...). */
  jobOptions?: Omit<JobsOptions, 'priority'>;
}

const REQUEST_KEYS: ReadonlySet<string> = new Set(['audio', 'options', 'format', 'formatOptions', 'model', 'priority', 'jobOptions']);

/** The job's data for a request, checked: everything a producer can know is wrong is refused here, before Redis. */
export function transcriptionJobData(request: TranscriptionRequest): TranscriptionJobData {
  const o = optionsObject('request', request);
  rejectUnknownKeys('request', o, REQUEST_KEYS);
  const data: TranscriptionJobData = { audio: toJobAudio(o.audio) };
  if (o.options !== undefined) data.options = checkJobOptions('request.options', o.options);
  if (o.format !== undefined) data.format = oneOf(TRANSCRIPT_FORMATS)('request.format', o.format);
  if (o.formatOptions !== undefined) data.formatOptions = checkFormatOptions('request.formatOptions', o.formatOptions);
  if (o.model !== undefined) data.model = checkedModelName('request.model', o.model);
  return data;
}

/** Adds a transcription job; `waitForTranscription` or the queue's events tell how it ended. */
export async function enqueueTranscription(
  queue: Queue<TranscriptionJobData, TranscriptionResult>,
  request: TranscriptionRequest,
): Promise<Job<TranscriptionJobData, TranscriptionResult>> {
  const data = transcriptionJobData(request);
  const priority = pick(request as unknown as Record<string, unknown>, 'priority', integerIn(1, MAX_PRIORITY), undefined, 'request.');
  const jobOptions = optionsObject('request.jobOptions', request.jobOptions) as JobsOptions;
  if (jobOptions.priority !== undefined) throw invalidArgument('request.jobOptions.priority', 'no priority here (use request.priority)', jobOptions.priority);
  return queue.add(TRANSCRIPTION_JOB_NAME, data, {
    attempts: DEFAULT_ATTEMPTS,
    backoff: { type: 'exponential', delay: DEFAULT_BACKOFF_MS },
    ...jobOptions,
    ...(priority !== undefined ? { priority } : {}),
  });
}

/**
 * The job's result once it completes; if it fails for good, rejects with the WhisperError it
 * failed with (its code read from the failure: INVALID_AUDIO, ABORTED, ...). `timeoutMs` bounds
 * the wait (BullMQ's ttl; its own error then).
 */
export async function waitForTranscription(job: Job<TranscriptionJobData, TranscriptionResult>, events: QueueEvents, timeoutMs?: number): Promise<TranscriptionResult> {
  try {
    return await job.waitUntilFinished(events, timeoutMs);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('Job wait ') && message.includes('timed out')) throw error;
    throw errorFromFailure(message);
  }
}

/**
 * Cancels a job wherever it is: a running one is aborted by its worker within the worker's
 * poll interval (the job fails with ABORTED, not retried); a waiting one fails with ABORTED
 * when a worker takes it. Cancelling a finished job changes nothing.
 */
export async function cancelTranscription(queue: Queue<TranscriptionJobData, TranscriptionResult>, jobId: string, reason = 'cancelled'): Promise<void> {
  await markCancelled(queue.backend, isNonEmptyString('jobId', jobId), reason);
}
