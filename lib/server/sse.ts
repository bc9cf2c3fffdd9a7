/**
 * stream=true: Server-Sent Events in OpenAI's transcription shapes. A `transcript.text.delta`
 * per finished segment, then `transcript.text.done` with the whole text and the usage. The
 * headers wait for the first event, so a job refused before any text (a full queue, audio we
 * cannot read) is still answered with its own status. A failure after that is an `error`
 * event, which the official client raises as an APIError, and the stream ends.
 */
import type { ServerResponse } from 'node:http';
import type { Transcript } from '../transcription/transcript';
import { errorBody, toHttpError } from './openai-errors';
import { usageOf } from './responses';

export interface TranscriptEvents {
  /** A segment's text; the first is trimmed at its start, so the deltas join to the done text. */
  delta(text: string): void;
  done(transcript: Transcript): void;
  /** Ends the stream with an error event; false when no event was sent yet (answer with a status instead). */
  fail(error: unknown): boolean;
  readonly started: boolean;
}

export function transcriptEvents(res: ServerResponse): TranscriptEvents {
  let started = false;
  let sentText = '';
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.flushHeaders();
  };
  const send = (data: unknown, event?: string) => {
    if (res.destroyed) return;
    start();
    res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
  };
  return {
    get started() {
      return started;
    },
    delta(text) {
      const delta = sentText === '' ? text.trimStart() : text;
      if (delta === '') return;
      sentText += delta;
      send({ type: 'transcript.text.delta', delta });
    },
    done(transcript) {
      send({ type: 'transcript.text.done', text: transcript.text, usage: usageOf(transcript) });
      res.end();
    },
    fail(error) {
      if (!started) return false;
      send({ type: 'error', ...errorBody(toHttpError(error)) }, 'error');
      res.end();
      return true;
    },
  };
}
