/**
 * A finished transcript as OpenAI's API answers it, in each response_format. The official
 * client parses only JSON content types as JSON, so text, srt and vtt are text.
 */
import type { ServerResponse } from 'node:http';
import { formatTranscript } from '../transcription/formats';
import type { Transcript } from '../transcription/transcript';
import { toVerboseJson, type VerboseJson } from '../transcription/verbose-json';
import type { OpenAIEndpoint, ResponseFormat, TimestampGranularity } from './openai-fields';

export interface DurationUsage {
  type: 'duration';
  /** Seconds of input audio. */
  seconds: number;
}

export interface JsonTranscription {
  text: string;
  usage: DurationUsage;
}

export interface AnswerShape {
  endpoint: OpenAIEndpoint;
  responseFormat: ResponseFormat;
  granularities: ReadonlySet<TimestampGranularity>;
}

/** verbose_json as OpenAI sends it: segments or words (or both), and the usage. */
export type VerboseAnswer = Omit<VerboseJson, 'segments'> & { segments?: VerboseJson['segments']; usage: DurationUsage };

export function usageOf(transcript: Transcript): DurationUsage {
  return { type: 'duration', seconds: transcript.audioDurationMs / 1000 };
}

/**
 * OpenAI's verbose_json: `words` when word timestamps were asked for, `segments` unless only
 * words were (segments are what OpenAI gives when no granularity is named).
 */
export function verboseAnswer(transcript: Transcript, shape: AnswerShape): VerboseAnswer {
  const verbose: VerboseJson & { usage?: DurationUsage } = toVerboseJson(transcript, { task: shape.endpoint === 'translations' ? 'translate' : 'transcribe' });
  const onlyWords = shape.granularities.has('word') && !shape.granularities.has('segment');
  const { segments, words, ...rest } = verbose;
  return {
    ...rest,
    ...(onlyWords ? {} : { segments }),
    ...(shape.granularities.has('word') ? { words: words ?? [] } : {}),
    usage: usageOf(transcript),
  };
}

/** The body and its content type for one response_format. */
export function renderTranscript(transcript: Transcript, shape: AnswerShape): { contentType: string; body: string } {
  switch (shape.responseFormat) {
    case 'json':
      return json({ text: transcript.text, usage: usageOf(transcript) } satisfies JsonTranscription);
    case 'verbose_json':
      return json(verboseAnswer(transcript, shape));
    case 'text':
      // OpenAI's `text` is the transcript's text on one line, not a line per segment.
      return { contentType: 'text/plain; charset=utf-8', body: `${transcript.text}\n` };
    case 'srt':
      return { contentType: 'text/plain; charset=utf-8', body: formatTranscript(transcript, 'srt') };
    case 'vtt':
      return { contentType: 'text/vtt; charset=utf-8', body: formatTranscript(transcript, 'vtt') };
  }
}

function json(value: unknown): { contentType: string; body: string } {
  return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

export function sendTranscript(res: ServerResponse, transcript: Transcript, shape: AnswerShape): void {
  const { contentType, body } = renderTranscript(transcript, shape);
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
