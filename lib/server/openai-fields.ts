/**
 * The form fields of OpenAI's POST /v1/audio/transcriptions and /translations, checked and made
 * transcribe() options. Pure: no request, no model. Fields OpenAI has and we do not (include[],
 * chunking_strategy, …) and any a client adds are ignored, as clients send extras.
 */
import { describeValue, isWhisperError } from '../errors/whisper-error';
import type { TranscribeOptions } from '../transcription/options';
import { badField, type HttpError } from './openai-errors';

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

export const TIMESTAMP_GRANULARITIES = ['word', 'segment'] as const;
export type TimestampGranularity = (typeof TIMESTAMP_GRANULARITIES)[number];

export type OpenAIEndpoint = 'transcriptions' | 'translations';

/** The field as OpenAI's clients name it (the official ones append `[]` to arrays). */
export const GRANULARITIES_FIELD = 'timestamp_granularities[]';
const GRANULARITIES_ALIASES = [GRANULARITIES_FIELD, 'timestamp_granularities'];
const SINGLE_FIELDS = ['model', 'language', 'prompt', 'temperature', 'response_format', 'stream'];

export interface TranscriptionFields {
  /** As sent; undefined when absent (the default model). */
  model: string | undefined;
  responseFormat: ResponseFormat;
  /** As asked; empty when none was (verbose_json then has segments, as OpenAI's). */
  granularities: ReadonlySet<TimestampGranularity>;
  stream: boolean;
  /** What the fields ask of transcribe(). */
  options: Pick<TranscribeOptions, 'language' | 'initialPrompt' | 'temperature' | 'translate' | 'wordTimestamps'>;
}

type FormFields = ReadonlyMap<string, readonly string[]>;

/** The longest `prompt`, in UTF-8 bytes: whisper keeps at most 224 tokens of it, far fewer bytes than this in any script. */
export const MAX_PROMPT_BYTES = 4096;
/** The longest `model`, in characters: no served name is longer. */
export const MAX_MODEL_FIELD_LENGTH = 256;

function readPrompt(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_PROMPT_BYTES) throw badField('prompt', `prompt: expected at most ${MAX_PROMPT_BYTES} bytes, got ${bytes}`);
  return value;
}

function readModel(value: string | undefined): string | undefined {
  const model = value?.trim();
  if (model === undefined || model === '') return undefined;
  if (model.length > MAX_MODEL_FIELD_LENGTH)
    throw badField('model', `model: expected the name of a served model, got a string of length ${model.length}`, 'model_not_found');
  return model;
}

function single(fields: FormFields, name: string): string | undefined {
  const values = fields.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw badField(name, `${name}: expected one value, got ${values.length}`);
  return values[0];
}

function readLanguage(value: string | undefined): string | undefined {
  const language = value?.trim().toLowerCase();
  if (language === undefined || language === '') return undefined;
  if (!/^([a-z]{2,3}|auto)$/.test(language)) throw badField('language', `language: expected an ISO-639-1 code such as 'en', got ${describeValue(value)}`);
  return language;
}

function readTemperature(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const temperature = Number(value);
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 1) {
    throw badField('temperature', `temperature: expected a number from 0 to 1, got ${describeValue(value)}`);
  }
  return temperature;
}

function readResponseFormat(value: string | undefined): ResponseFormat {
  if (value === undefined || value === '') return 'json';
  if (!(RESPONSE_FORMATS as readonly string[]).includes(value)) {
    throw badField('response_format', `response_format: expected one of ${RESPONSE_FORMATS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as ResponseFormat;
}

function readStream(value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  const lower = value.toLowerCase();
  if (lower !== 'true' && lower !== 'false') throw badField('stream', `stream: expected true or false, got ${describeValue(value)}`);
  return lower === 'true';
}

function readGranularities(fields: FormFields): Set<TimestampGranularity> {
  const values = GRANULARITIES_ALIASES.flatMap((name) => fields.get(name) ?? []);
  const granularities = new Set<TimestampGranularity>();
  for (const value of values) {
    if (!(TIMESTAMP_GRANULARITIES as readonly string[]).includes(value)) {
      throw badField(GRANULARITIES_FIELD, `${GRANULARITIES_FIELD}: expected word or segment, got ${describeValue(value)}`);
    }
    granularities.add(value as TimestampGranularity);
  }
  return granularities;
}

/**
 * The request's fields, or a 400 naming the first bad one. As OpenAI's API,
 * timestamp_granularities[] needs response_format verbose_json; stream=true answers
 * transcript.text events, so it takes json or text only.
 */
export function parseTranscriptionFields(fields: FormFields, endpoint: OpenAIEndpoint): TranscriptionFields {
  for (const name of SINGLE_FIELDS) single(fields, name);
  const model = readModel(single(fields, 'model'));
  const language = readLanguage(single(fields, 'language'));
  const prompt = readPrompt(single(fields, 'prompt'));
  const temperature = readTemperature(single(fields, 'temperature'));
  const responseFormat = readResponseFormat(single(fields, 'response_format'));
  const stream = readStream(single(fields, 'stream'));
  const granularities = readGranularities(fields);
  if (granularities.size > 0 && responseFormat !== 'verbose_json') {
    throw badField(GRANULARITIES_FIELD, `${GRANULARITIES_FIELD}: needs response_format verbose_json, got ${responseFormat}`);
  }
  if (stream && responseFormat !== 'json' && responseFormat !== 'text') {
    throw badField('stream', `stream: true answers transcript.text events, so response_format must be json or text, got ${responseFormat}`);
  }
  const options: TranscriptionFields['options'] = {};
  if (language !== undefined) options.language = language;
  if (prompt !== undefined) options.initialPrompt = prompt;
  if (temperature !== undefined) options.temperature = temperature;
  if (endpoint === 'translations') options.translate = true;
  if (granularities.has('word')) options.wordTimestamps = true;
  return { model, responseFormat, granularities, stream, options };
}

/**
 * The job's options: the handler's defaults, then the request's fields, then what the route
 * adds. A signal or onSegment among the defaults still works beside the route's own.
 */
export function transcribeOptionsFor(
  fields: TranscriptionFields,
  defaults: TranscribeOptions,
  route: Pick<TranscribeOptions, 'signal' | 'onSegment'>,
): TranscribeOptions {
  const options: TranscribeOptions = { ...defaults, ...fields.options, ...route };
  if (defaults.signal && route.signal) options.signal = AbortSignal.any([defaults.signal, route.signal]);
  const { onSegment: first } = defaults;
  const { onSegment: second } = route;
  if (first && second) {
    options.onSegment = (segment) => {
      first(segment);
      second(segment);
    };
  } else if (first) options.onSegment = first;
  return options;
}

/** transcribe()'s option names for the fields they came from, to name the field in a refusal. */
const FIELD_OF_OPTION: Record<string, string> = {
  'options.language': 'language',
  'options.initialPrompt': 'prompt',
  'options.temperature': 'temperature',
  'options.translate': 'model',
  'options.wordTimestamps': GRANULARITIES_FIELD,
};

/**
 * A transcribe() refusal of an option that came from a field, as a 400 naming that field
 * (`language` the model does not know, `word` timestamps from a model loaded without them);
 * undefined for anything else.
 */
export function fieldError(error: unknown, fields: TranscriptionFields): HttpError | undefined {
  if (!isWhisperError(error, 'INVALID_ARGUMENT')) return undefined;
  const option = /^(options\.[A-Za-z]+):/.exec(error.message)?.[1];
  const field = option === undefined ? undefined : FIELD_OF_OPTION[option];
  if (field === undefined || !(option!.slice('options.'.length) in fields.options)) return undefined;
  if (field === GRANULARITIES_FIELD) {
    return badField(field, `${field}: word timestamps need a model loaded with them (loadModel(path, { wordTimestamps: true })); this one was not`);
  }
  if (field === 'model') return badField(field, 'model: an English-only model cannot translate; translations need a multilingual one');
  return badField(field, `${field}: ${error.message.slice(option!.length + 2)}`);
}
