/** The checks of a Transcript handed to a writer: from JSON or user code it may be anything. */
import { invalidArgument } from '../errors/whisper-error';
import type { Segment } from './transcript';

export function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The transcript's segments, each checked for what every writer reads (startMs, endMs, text),
 * then by `checkSegment` for what one writer reads besides.
 */
export function checkedSegments(transcript: unknown, checkSegment?: (name: string, segment: Record<string, unknown>) => void): Segment[] {
  if (transcript === null || typeof transcript !== 'object' || Array.isArray(transcript)) {
    throw invalidArgument('transcript', 'a Transcript (an object with a segments array)', transcript);
  }
  const { segments } = transcript as { segments?: unknown };
  if (!Array.isArray(segments)) throw invalidArgument('transcript.segments', 'an array of segments', segments);
  segments.forEach((segment: unknown, i) => {
    const name = `transcript.segments[${i}]`;
    if (segment === null || typeof segment !== 'object') throw invalidArgument(name, 'a segment object', segment);
    const s = segment as Record<string, unknown>;
    for (const key of ['startMs', 'endMs']) {
      if (!isTime(s[key])) throw invalidArgument(`${name}.${key}`, 'a finite number of milliseconds, 0 or more', s[key]);
    }
    if (typeof s.text !== 'string') throw invalidArgument(`${name}.text`, 'a string', s.text);
    checkSegment?.(name, s);
  });
  return segments as Segment[];
}
