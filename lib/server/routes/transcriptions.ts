/**
 * POST /v1/audio/transcriptions and /v1/audio/translations, as OpenAI's API and its official
 * client speak them. What can be refused without the body is refused first (shutting down, not
 * multipart, too large by its length, the model loading or its queue full); then the form is
 * read, its fields checked, and the held file given to the model as a byte stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isWhisperError } from '../../errors/whisper-error';
import type { WhisperModel } from '../../model/whisper-model';
import type { Transcript } from '../../transcription/transcript';
import { clientGoneSignal, unavailable, type JobOutcome, type ServerContext } from '../context';
import { closeAfterAnswer, declaredTooLarge, FILE_FIELD, isMultipart, readMultipart, takeChunks, type ReceivedFile } from '../multipart';
import { fieldError, parseTranscriptionFields, transcribeOptionsFor, type OpenAIEndpoint, type TranscriptionFields } from '../openai-fields';
import { audioTooLong, badField, HttpError, RETRY_AFTER_SECONDS, sendError } from '../openai-errors';
import { sendTranscript } from '../responses';
import { transcriptEvents } from '../sse';

interface ChosenModel {
  name: string;
  model: WhisperModel;
}

function queueFull(name: string): HttpError {
  return new HttpError(429, `the model \`${name}\` has as many jobs waiting as it takes; retry later`, {
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  });
}

function tooManyUploads(limit: number): HttpError {
  return new HttpError(429, `the server holds as many uploads as it takes (${limit}); retry later`, {
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS), Connection: 'close' },
  });
}

function outcomeOf(error: unknown): JobOutcome {
  if (isWhisperError(error, 'ABORTED')) return 'aborted';
  if (isWhisperError(error, 'TIMEOUT')) return 'timed_out';
  if (isWhisperError(error, 'QUEUE_FULL')) return 'rejected';
  return 'failed';
}

/** The model every request reaches when only one is served: known before the body is read. */
function onlyModel(context: ServerContext): ChosenModel | undefined {
  return context.models.names().length === 1 ? context.models.require(undefined) : undefined;
}

/**
 * Refusals that need no body, and the upload slot the request holds until it is answered. A
 * refusal's answer leaves the connection open (node:http reads and drops the body), except the
 * one for too many uploads: that connection is closed, so its body is never read at all.
 */
function admitBeforeReading(req: IncomingMessage, context: ServerContext, endpoint: OpenAIEndpoint): () => void {
  if (context.work.closing) throw unavailable('the server is shutting down', 'shutting_down');
  if (!isMultipart(req)) {
    throw new HttpError(400, `the body must be multipart/form-data with the audio in \`${FILE_FIELD}\`, got ${req.headers['content-type'] ?? 'no Content-Type'}`, {
      code: 'invalid_content_type',
    });
  }
  const tooLarge = declaredTooLarge(req, context.options.maxFileSize);
  if (tooLarge) {
    closeAfterAnswer(req);
    throw tooLarge;
  }
  const chosen = onlyModel(context);
  const { admissions } = context;
  const release = admissions.takeUpload();
  if (release === undefined) {
    if (chosen) context.observer.jobSettled({ model: chosen.name, endpoint, outcome: 'rejected', wallSeconds: 0 });
    closeAfterAnswer(req);
    throw tooManyUploads(admissions.uploadLimit());
  }
  return release;
}

/** A refusal while the body was being read: the rest is not read, so the connection closes after it. */
function closingConnection(error: unknown): unknown {
  if (!(error instanceof HttpError) || error.details.headers?.Connection === 'close') return error;
  return new HttpError(error.status, error.message, { ...error.details, headers: { ...error.details.headers, Connection: 'close' } });
}

export async function transcriptionRoute(req: IncomingMessage, res: ServerResponse, context: ServerContext, endpoint: OpenAIEndpoint): Promise<void> {
  const releaseUpload = admitBeforeReading(req, context, endpoint);
  try {
    await receiveAndRun(req, res, context, endpoint);
  } finally {
    releaseUpload();
  }
}

async function receiveAndRun(req: IncomingMessage, res: ServerResponse, context: ServerContext, endpoint: OpenAIEndpoint): Promise<void> {
  const signal = clientGoneSignal(req, res);
  let form;
  try {
    form = await readMultipart(req, context.options, signal);
  } catch (error) {
    if (signal.aborted) return;
    if (!req.complete) closeAfterAnswer(req);
    return sendError(res, req.complete ? error : closingConnection(error));
  }
  const fields = parseTranscriptionFields(form.fields, endpoint);
  const file = form.file;
  if (file === undefined) throw badField(FILE_FIELD, `file: missing; send the audio as a file in the field \`${FILE_FIELD}\``, 'missing_required_parameter');
  if (file.bytes === 0) throw badField(FILE_FIELD, 'file: empty; the upload held no bytes');
  const chosen = context.models.require(fields.model);
  const releaseJob = context.admissions.takeJob(chosen.name, chosen.model);
  if (releaseJob === undefined) {
    file.chunks.length = 0;
    context.observer.jobSettled({ model: chosen.name, endpoint, outcome: 'rejected', wallSeconds: 0 });
    throw queueFull(chosen.name);
  }
  try {
    await context.work.start(() => runJob({ res, context, endpoint, fields, file, chosen, signal }));
  } finally {
    releaseJob();
  }
}

/** The library's refusal of audio past options.audio.maxDurationMs, as the 413 the handler answers, in the handler's own words. */
function durationRefusal(error: unknown, maxMs: number): HttpError | undefined {
  return isWhisperError(error, 'AUDIO_TOO_LONG') ? audioTooLong(maxMs) : undefined;
}

interface Job {
  res: ServerResponse;
  context: ServerContext;
  endpoint: OpenAIEndpoint;
  fields: TranscriptionFields;
  file: ReceivedFile;
  chosen: ChosenModel;
  signal: AbortSignal;
}

/** One transcription, answered whole or as events, reported to the observer once (unless the fields were refused). */
async function runJob({ res, context, endpoint, fields, file, chosen, signal }: Job): Promise<void> {
  const started = performance.now();
  const events = fields.stream ? transcriptEvents(res) : undefined;
  const { maxAudioDurationMs, transcribeDefaults } = context.options;
  const defaults = { ...transcribeDefaults, audio: { ...transcribeDefaults.audio, maxDurationMs: maxAudioDurationMs } };
  const options = transcribeOptionsFor(fields, defaults, {
    signal,
    ...(events ? { onSegment: (segment) => events.delta(segment.text) } : {}),
  });
  let transcript: Transcript;
  try {
    transcript = await chosen.model.transcribe(takeChunks(file), options);
  } catch (failure) {
    file.chunks.length = 0;
    const error = durationRefusal(failure, maxAudioDurationMs) ?? failure;
    const refusal = fieldError(error, fields);
    if (refusal) return sendError(res, refusal);
    if (!isWhisperError(error, 'INVALID_ARGUMENT')) {
      const outcome = error instanceof HttpError ? 'rejected' : outcomeOf(error);
      context.observer.jobSettled({ model: chosen.name, endpoint, outcome, wallSeconds: (performance.now() - started) / 1000 });
    }
    if (signal.aborted) return;
    if (!events?.fail(error)) sendError(res, error);
    return;
  }
  context.observer.jobSettled({
    model: chosen.name,
    endpoint,
    outcome: 'completed',
    audioSeconds: transcript.audioDurationMs / 1000,
    wallSeconds: (performance.now() - started) / 1000,
  });
  if (events) events.done(transcript);
  else sendTranscript(res, transcript, { endpoint, responseFormat: fields.responseFormat, granularities: fields.granularities });
}
