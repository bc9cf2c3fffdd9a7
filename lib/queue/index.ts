/**
 * `whisper-napi/queue`: transcription workers and producers on BullMQ and Redis. Needs the
 * optional peer dependency bullmq.
 */
export {};
