/** What whisper writes for audio without speech, told apart from speech (see dropNonSpeech). */
import type { Segment } from './transcript';

/** A segment that is only a non-speech marker. */
export function isNonSpeechSegment(segment: Segment): boolean {
  return /^\s*\[BLANK_AUDIO\]\s*$/.test(segment.text);
}

/** The segments without non-speech markers, renumbered in order. */
export function dropNonSpeech(segments: Segment[]): Segment[] {
  return segments.filter((segment) => !isNonSpeechSegment(segment)).map((segment, index) => ({ ...segment, index }));
}
