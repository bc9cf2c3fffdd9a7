import type { Segment } from '../transcription/transcript';
import type { PcmChunk } from './chunks';
import type { StreamOptions } from './options';
import { streamWindows, type StreamTranscriber } from './windows';

/**
 * Transcribes live audio: `source` yields 16 kHz mono PCM chunks of any size (see
 * StreamOptions.format for bytes); segments come out, with times from the start of the stream,
 * as soon as they are stable. The source is pulled only as fast as windows are transcribed,
 * and at most one window (windowMs) plus one chunk of PCM is held, however long it runs.
 * Breaking out of the loop stops the work and calls the source's return(). An abort (signal)
 * rejects with ABORTED; errors of the source propagate as they are.
 */
export async function* transcribeStream(
  model: StreamTranscriber,
  source: AsyncIterable<PcmChunk> | Iterable<PcmChunk>,
  options: StreamOptions = {},
): AsyncGenerator<Segment, void, undefined> {
  for await (const window of streamWindows(model, source, options)) yield* window.segments;
}
