/** An AudioSource over PCM that is already decoded, and reading any source whole. */
import { abortError } from '../errors/abort';
import { INT32_MAX } from '../errors/validate';
import { invalidAudio } from './pcm';
import type { AudioSource } from './source';

/** @internal PCM already in memory, handed out as views (no copies). */
export function pcmSource(samples: Float32Array, format: string): AudioSource {
  let position = 0;
  return {
    format,
    statedSamples: samples.length,
    read: async (maxSamples) => {
      const piece = samples.subarray(position, position + maxSamples);
      position += piece.length;
      return piece;
    },
    close: async () => {
      position = samples.length;
    },
  };
}

/** The most samples whisper_full takes in one call (its sample count is an int): about 37 hours. */
export const MAX_PCM_SAMPLES = INT32_MAX;
/** Pieces pulled at a time when a source is read whole. */
const READ_SAMPLES = 30 * 16000;

/** What a whole read may take: where to stop, and the signal that ends it between pieces. */
export interface ReadLimits {
  /** Stop once this many samples (counting `start`) are held: what the job will use. */
  maxSamples?: number;
  /** Checked before every piece, so an abort or a deadline ends a long decode within one piece. */
  signal?: AbortSignal;
}

/**
 * @internal The rest of `source` (after the samples already in `start`) as one Float32Array,
 * up to `limits.maxSamples`. Pieces are decoded off the event loop by the source; only the
 * final join runs here. INVALID_AUDIO for audio longer than one whisper call takes, or with
 * no samples at all.
 */
export async function readRemainingPcm(source: AudioSource, start: Float32Array = new Float32Array(0), limits: ReadLimits = {}): Promise<Float32Array> {
  const { signal } = limits;
  const maxSamples = Math.min(limits.maxSamples ?? MAX_PCM_SAMPLES, MAX_PCM_SAMPLES + 1);
  const pieces: Float32Array[] = start.length > 0 ? [start.subarray(0, maxSamples)] : [];
  let total = pieces[0]?.length ?? 0;
  while (total < maxSamples) {
    if (signal?.aborted) throw abortError(signal, 'the audio');
    const piece = await source.read(Math.min(READ_SAMPLES, maxSamples - total));
    if (piece.length === 0) break;
    total += piece.length;
    if (total > MAX_PCM_SAMPLES) throw invalidAudio(`longer than ${MAX_PCM_SAMPLES} samples (about 37 hours at 16 kHz), the most one transcription takes`);
    // A view into a larger buffer would keep that buffer alive; the copy below frees it.
    pieces.push(piece);
  }
  if (total === 0) throw invalidAudio(`the ${source.format} input holds no audio (0 samples)`);
  if (pieces.length === 1 && pieces[0]!.length === pieces[0]!.buffer.byteLength / 4) return pieces[0]!;
  const joined = new Float32Array(total);
  let offset = 0;
  for (const piece of pieces) {
    joined.set(piece, offset);
    offset += piece.length;
  }
  return joined;
}

/** @internal Reads until `count` samples are held or the source ends: the start of the audio, to decide how to transcribe it. */
export async function readHead(source: AudioSource, count: number): Promise<{ head: Float32Array; ended: boolean }> {
  const head = new Float32Array(count);
  let held = 0;
  while (held < count) {
    const piece = await source.read(count - held);
    if (piece.length === 0) return { head: head.subarray(0, held), ended: true };
    head.set(piece, held);
    held += piece.length;
  }
  return { head, ended: false };
}
