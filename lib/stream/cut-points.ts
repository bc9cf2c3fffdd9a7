/**
 * Where a full window is cut: the quietest place in its last part, so no word is split across
 * windows. By Silero speech probabilities when a VAD model is given, else by frame energy.
 */
import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { native } from '../native/addon';
import { meanSquare } from './energy';
import type { CutVad } from './options';

/** Silero's frame. */
const VAD_FRAME = 512;
/** Energy frames and the span they are averaged over when looking for a pause. */
const ENERGY_FRAME = 160;
const ENERGY_SPAN_FRAMES = 15;
/** A pause whose energy is this far below the window's (as a power ratio, -20 dB) is silence. */
const CLEAN_POWER_RATIO = 0.01;
/** A pause this long (in VAD frames, ~100 ms) is silence for the VAD cut. */
const CLEAN_VAD_FRAMES = 3;
/** Silence kept after the last speech of a stream. */
const TAIL_MS = 300;

export interface CutPoint {
  /** Sample index in the window: transcribe [0, sample). */
  sample: number;
  /** True when the cut is in a real pause, so no word can run across it. */
  clean: boolean;
}

/**
 * @internal The quietest place in the last `searchSamples` of `window`: the middle of the
 * ENERGY_SPAN_FRAMES x 10 ms stretch with the least energy (the latest, on ties).
 */
export function energyCut(window: Float32Array, searchSamples: number): CutPoint {
  const n = window.length;
  const from = Math.max(0, n - searchSamples);
  const frames = Math.floor((n - from) / ENERGY_FRAME);
  if (frames < ENERGY_SPAN_FRAMES) return { sample: n, clean: false };
  const energy = new Float64Array(frames);
  for (let f = 0; f < frames; f++) energy[f] = meanSquare(window, from + f * ENERGY_FRAME, from + (f + 1) * ENERGY_FRAME);
  let sum = 0;
  for (let f = 0; f < ENERGY_SPAN_FRAMES; f++) sum += energy[f]!;
  let best = sum;
  let bestStart = 0;
  for (let f = ENERGY_SPAN_FRAMES; f < frames; f++) {
    sum += energy[f]! - energy[f - ENERGY_SPAN_FRAMES]!;
    if (sum <= best) {
      best = sum;
      bestStart = f - ENERGY_SPAN_FRAMES + 1;
    }
  }
  const sample = from + Math.round((bestStart + ENERGY_SPAN_FRAMES / 2) * ENERGY_FRAME);
  const windowPower = meanSquare(window);
  return { sample, clean: best / ENERGY_SPAN_FRAMES <= windowPower * CLEAN_POWER_RATIO };
}

/**
 * @internal A cut from Silero speech probabilities: `probs[i]` covers samples
 * [offset + i * 512, offset + (i + 1) * 512) of the window. The middle of the longest run of
 * frames below `threshold` that lies in the search region (the latest, on ties); without one,
 * the least likely frame.
 */
export function vadCut(probs: Float32Array, offset: number, windowLength: number, searchSamples: number, threshold: number): CutPoint {
  const searchFrom = Math.max(0, windowLength - searchSamples);
  const firstFrame = Math.max(0, Math.ceil((searchFrom - offset) / VAD_FRAME));
  const lastFrame = Math.min(probs.length, Math.floor((windowLength - offset) / VAD_FRAME));
  if (lastFrame <= firstFrame) return { sample: windowLength, clean: false };
  let bestLength = 0;
  let bestMid = -1;
  let runStart = -1;
  for (let f = firstFrame; f <= lastFrame; f++) {
    const quiet = f < lastFrame && probs[f]! < threshold;
    if (quiet && runStart < 0) runStart = f;
    if (!quiet && runStart >= 0) {
      const length = f - runStart;
      if (length >= bestLength) {
        bestLength = length;
        bestMid = offset + Math.round(((runStart + f) / 2) * VAD_FRAME);
      }
      runStart = -1;
    }
  }
  if (bestMid >= 0) return { sample: Math.min(windowLength, bestMid), clean: bestLength >= CLEAN_VAD_FRAMES };
  let least = firstFrame;
  for (let f = firstFrame; f < lastFrame; f++) if (probs[f]! <= probs[least]!) least = f;
  return { sample: Math.min(windowLength, offset + Math.round((least + 0.5) * VAD_FRAME)), clean: false };
}

/** @internal Where the last speech in `window` ends, plus TAIL_MS: 10 ms frames quieter than -20 dB under the window's level are silence. */
export function speechEnd(window: Float32Array, silenceRms: number): number {
  const threshold = Math.max(silenceRms * silenceRms, meanSquare(window) * CLEAN_POWER_RATIO);
  for (let end = window.length; end > 0; end -= ENERGY_FRAME) {
    if (meanSquare(window, Math.max(0, end - ENERGY_FRAME), end) >= threshold) {
      return Math.min(window.length, end + TAIL_MS * SAMPLES_PER_MS);
    }
  }
  return 0;
}

/**
 * @internal The cut for a full window: by `cutVad` when given, else by energy. Only the last
 * `searchSamples` (and, for Silero, a second before them) are looked at.
 */
export async function findCut(window: Float32Array, searchSamples: number, cutVad: CutVad | undefined): Promise<CutPoint> {
  if (!cutVad) return energyCut(window, searchSamples);
  // Silero is recurrent: a second of audio before the search region gives it context.
  const offset = Math.max(0, window.length - searchSamples - WHISPER_SAMPLE_RATE);
  // Silero is tiny: more threads than one only add ggml's spinning and synchronisation.
  const probs = await native().vadSpeechProbabilities(cutVad.modelPath, window.subarray(offset), 1);
  return vadCut(probs, offset, window.length, searchSamples, cutVad.threshold);
}
