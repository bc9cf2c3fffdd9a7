/**
 * `whisper-napi/queue`: transcription workers and producers on BullMQ and Redis. Needs the
 * optional peer dependency bullmq (with ioredis, BullMQ's Redis client); the metrics need prom-client.
 */
export {
  createTranscriptionWorker,
  TranscriptionWorker,
  type TranscriptionWorkerOptions,
  type WorkerTranscribeDefaults,
  type QueueTranscriber,
  type WorkerCounts,
  type TranscriptionProgress,
  type BusyCounts,
} from './worker';
export {
  enqueueTranscription,
  waitForTranscription,
  cancelTranscription,
  transcriptionJobData,
  TRANSCRIPTION_JOB_NAME,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  type TranscriptionRequest,
} from './producer';
export {
  MAX_INLINE_AUDIO_BYTES,
  errorFromFailure,
  parseJobData,
  type JobAudio,
  type QueueAudio,
  type QueueTranscribeOptions,
  type QueueVadOptions,
  type QueueAudioOptions,
  type TranscriptionJobData,
  type TranscriptionResult,
} from './job-data';
export type { JobDecodingKey } from './job-options';
export { registerQueueMetrics, QUEUE_DEPTH_STATES } from './metrics';
export { redisConnectionFromUrl, type RedisConnectionOptions } from './connection';
