/**
 * `whisper-napi/server`: OpenAI's audio transcription API, live transcription over WebSocket
 * and a page to try them, as a request handler for node:http, Express and Fastify, or as a
 * whole http.Server. Needs the optional peer dependencies busboy (uploads), ws (live) and
 * prom-client (/metrics); each is loaded only when its part is first used.
 */
export { createTranscriptionHandler, type TranscriptionHandler, type FastifyLike } from './handler';
export {
  createTranscriptionServer,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type TranscriptionServer,
  type TranscriptionServerOptions,
} from './server';
export {
  DEFAULT_MAX_AUDIO_DURATION_MS,
  DEFAULT_QUEUE_PER_SLOT,
  DEFAULT_MAX_FILE_SIZE,
  OPENAI_MODEL_ALIAS,
  type TranscriptionHandlerOptions,
  type ServedModel,
  type MetricsOptions,
} from './options';
export { RESPONSE_FORMATS, TIMESTAMP_GRANULARITIES, type ResponseFormat, type TimestampGranularity } from './openai-fields';
export type { OpenAIErrorBody } from './openai-errors';
export {
  LIVE_PATH,
  LIVE_FORMATS,
  CLOSE_CODES,
  type LiveFormat,
  type ClientMessage,
  type StartMessage,
  type StopMessage,
  type ServerMessage,
  type WordMessage,
} from './live-protocol';
