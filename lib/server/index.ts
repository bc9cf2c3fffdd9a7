/**
 * `whisper-napi/server`: OpenAI's audio transcription API, live transcription over WebSocket
 * and a page to try them, as a request handler for node:http, Express and Fastify. Needs the
 * optional peer dependencies busboy, ws and prom-client.
 */
export { createTranscriptionHandler, type TranscriptionHandler, type FastifyLike } from './handler';
export { DEFAULT_MAX_FILE_SIZE, OPENAI_MODEL_ALIAS, type TranscriptionHandlerOptions, type ServedModel, type MetricsOptions } from './options';
export type { OpenAIErrorBody } from './openai-errors';
