/**
 * The seam between two windows: which of a window's segments are final, where the next window
 * starts, and the segments moved to stream time.
 */
import { SAMPLES_PER_MS } from '../audio/pcm';
import type { Segment } from '../transcription/transcript';
import type { CutPoint } from './cut-points';
import { rms } from './energy';

/** Speech after whisper's last segment, longer than this before the cut, is carried over. */
const TRAILING_SPEECH_MS = 1500;
/** A carry point must leave at least this share of the window behind, so every window makes progress. */
const MIN_ADVANCE = 0.25;
/**
 * whisper often ends a segment before its last word has died away. Sound right after the
 * segment's end that falls quiet within this long is taken as that word's tail, not as speech
 * whisper skipped: carrying it would decode the word a second time.
 */
const WORD_TAIL_MS = 600;
/** How long the level must stay below the threshold to count as the pause after a word. */
const PAUSE_MS = 200;
const FRAME_MS = 20;

/**
 * @internal Which of a window's segments are stable, and where the next window starts (in
 * samples of this window). Segment times are relative to the window.
 */
export function stablePart(segments: readonly Segment[], window: Float32Array, cut: CutPoint, final: boolean, silenceRms: number): { stable: number; carryFrom: number } {
  const n = segments.length;
  if (final) return { stable: n, carryFrom: window.length };
  const minAdvance = Math.ceil(cut.sample * MIN_ADVANCE);
  const atMs = (ms: number) => Math.max(0, Math.min(cut.sample, Math.round(ms * SAMPLES_PER_MS)));
  if (n === 0) return { stable: 0, carryFrom: cut.sample };
  if (!cut.clean && n >= 2) {
    const carryFrom = atMs(segments[n - 2]!.endMs);
    if (carryFrom >= minAdvance) return { stable: n - 1, carryFrom };
  }
  const lastEnd = atMs(segments[n - 1]!.endMs);
  if (cut.sample - lastEnd > TRAILING_SPEECH_MS * SAMPLES_PER_MS && lastEnd >= minAdvance) {
    // Did whisper stop before the end? Only speech after its last segment is worth a second look.
    const threshold = Math.max(silenceRms, 0.1 * rms(window, 0, cut.sample));
    const pause = pauseAfterTail(window, lastEnd, cut.sample, threshold);
    const skippedFrom = pause === undefined ? lastEnd : pause;
    if (rms(window, skippedFrom, cut.sample) >= threshold) return { stable: n, carryFrom: skippedFrom };
  }
  return { stable: n, carryFrom: cut.sample };
}

/**
 * Where the pause after the last word's tail starts: the first PAUSE_MS run of quiet frames
 * beginning within WORD_TAIL_MS of `from`, or undefined when the sound goes on longer (then it
 * is more than a tail).
 */
function pauseAfterTail(window: Float32Array, from: number, to: number, threshold: number): number | undefined {
  const frame = FRAME_MS * SAMPLES_PER_MS;
  const pauseFrames = Math.ceil(PAUSE_MS / FRAME_MS);
  const latestStart = Math.min(to, from + WORD_TAIL_MS * SAMPLES_PER_MS);
  let quietFrom: number | undefined;
  let quietFrames = 0;
  for (let at = from; at + frame <= to; at += frame) {
    if (rms(window, at, at + frame) < threshold) {
      quietFrom ??= at;
      if (++quietFrames >= pauseFrames) return quietFrom;
    } else {
      if (at > latestStart) return undefined;
      quietFrom = undefined;
      quietFrames = 0;
    }
  }
  return undefined;
}

/** @internal `segment` moved by `offsetMs` (its window start, token times and words too) and renumbered. */
export function shiftSegment(segment: Segment, offsetMs: number, index: number): Segment {
  return {
    ...segment,
    index,
    startMs: segment.startMs + offsetMs,
    endMs: segment.endMs + offsetMs,
    windowStartMs: segment.windowStartMs + offsetMs,
    tokens: segment.tokens.map((t) => {
      const shifted = { ...t };
      if (t.startMs !== undefined && t.endMs !== undefined) {
        shifted.startMs = t.startMs + offsetMs;
        shifted.endMs = t.endMs + offsetMs;
      }
      if (t.dtwMs !== undefined) shifted.dtwMs = t.dtwMs + offsetMs;
      return shifted;
    }),
    ...(segment.words ? { words: segment.words.map((w) => ({ ...w, startMs: w.startMs + offsetMs, endMs: w.endMs + offsetMs })) } : {}),
  };
}
