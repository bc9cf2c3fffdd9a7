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
    if (rms(window, lastEnd, cut.sample) >= Math.max(silenceRms, 0.1 * rms(window, 0, cut.sample))) {
      return { stable: n, carryFrom: lastEnd };
    }
  }
  return { stable: n, carryFrom: cut.sample };
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
