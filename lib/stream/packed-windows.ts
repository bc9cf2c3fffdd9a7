/**
 * Windows planned from the audio alone, for transcribing them at once (windowing 'parallel',
 * like faster-whisper's batched mode): Silero finds the speech, the silence between speech is
 * left out, and the speech is packed in order into windows of at most 30 s. Each window keeps
 * a time map from its own time back to the original audio's.
 *
 * Speech regions follow whisper.cpp 1.9.1's whisper_vad_segments_from_probs step for step
 * (threshold with hysteresis, minimum silence and speech, gaps under 200 ms merged, padding
 * split between close regions), without its maxSpeechDurationS: a region longer than a window
 * is split here, at its least likely frame, so no window is cut in the middle of a word when a
 * pause can be found.
 */
import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { fromNativeError, native } from '../native/addon';
import type { Segment } from '../transcription/transcript';

/** Silero's frame: one probability per this many samples. */
export const VAD_FRAME = 512;
/** The most audio a window holds: whisper's 30 s. */
export const WINDOW_SAMPLES = 30 * WHISPER_SAMPLE_RATE;
/**
 * Silence put between two regions of a window (0.3 s), as whisper.cpp's own VAD puts 0.1 s:
 * with none, whisper ran the speech on both sides into one segment and started segments up
 * to 2.4 s early in the original audio; on the shared clips 0.3 s kept every clip's segment
 * start within 0.4 s, where 0.1 s and 0.5 s still merged some.
 */
export const SEPARATOR_SAMPLES = 0.3 * WHISPER_SAMPLE_RATE;
/** A region longer than a window is split within this much before the window's end. */
const SPLIT_SEARCH_SAMPLES = 5 * WHISPER_SAMPLE_RATE;
/** whisper.cpp merges regions closer than this (its fixed 200 ms). */
const MERGE_GAP_SAMPLES = (WHISPER_SAMPLE_RATE * 200) / 1000;
/** whisper.cpp's end-of-speech threshold lies this far below the start threshold. */
const THRESHOLD_HYSTERESIS = 0.15;
/** Silero runs over this much new audio per call (a whole number of frames, about 30 s). */
const VAD_STEP_SAMPLES = 937 * VAD_FRAME;
/**
 * Silero is recurrent and every call starts it afresh: each call also gets this much audio
 * before its own (about 1 s), whose probabilities are dropped, so the network has settled.
 */
const VAD_CONTEXT_SAMPLES = 32 * VAD_FRAME;

/** The vad options the regions are found with, as resolveTranscribeOptions resolves them. */
export interface SpeechRegionOptions {
  threshold: number;
  minSpeechDurationMs: number;
  minSilenceDurationMs: number;
  speechPadMs: number;
}

/** Samples [start, end) of the original audio. */
export interface SampleRange {
  start: number;
  end: number;
}

/** One stretch of a window: `durationMs` of the original audio from `sourceMs`, placed at `windowMs`. */
export interface TimePiece {
  windowMs: number;
  sourceMs: number;
  durationMs: number;
}

/** A window's pieces in order, back to back from 0. */
export type TimeMap = readonly TimePiece[];

export interface PackedWindow {
  /** 0, 1, 2 … in order. */
  index: number;
  /** The pieces' audio, concatenated. */
  pcm: Float32Array;
  map: TimeMap;
}

const msToSamples = (ms: number) => Math.trunc((WHISPER_SAMPLE_RATE * ms) / 1000);

/**
 * @internal Speech regions from Silero probabilities, pushed in pieces: push() and finish()
 * return the regions settled so far (padded, in samples), in order. A region is settled once
 * no later probability can merge it with the next or change its padding.
 */
export class SpeechDetector {
  readonly #threshold: number;
  readonly #endThreshold: number;
  readonly #minSpeech: number;
  readonly #minSilence: number;
  readonly #pad: number;
  #frames = 0;
  #inSpeech = false;
  #speechStart = 0;
  /** Where the current silence inside speech began; 0 when none (whisper.cpp's temp_end). */
  #silenceStart = 0;
  /** The last region found, waiting to learn whether the next one merges into it. */
  #open: (SampleRange & { continues?: boolean }) | undefined;
  /** The last region kept, start padded, waiting for the next one to pad its end. */
  #pending: (SampleRange & { emitted: boolean }) | undefined;
  #settled: SampleRange[] = [];

  readonly #probabilityAt: ((frame: number) => number) | undefined;
  /** The open region ends where speech was cut for length: the next one continues it, unmerged. */
  #afterForcedCut = false;

  /**
   * With `probabilityAt` (the probabilities pushed so far, by frame), speech that goes on for
   * a whole window is cut there (splitPoint) and handed out, so unbroken speech never piles up.
   */
  constructor(options: SpeechRegionOptions, probabilityAt?: (frame: number) => number) {
    this.#probabilityAt = probabilityAt;
    this.#threshold = options.threshold;
    this.#endThreshold = Math.max(0.01, options.threshold - THRESHOLD_HYSTERESIS);
    this.#minSpeech = msToSamples(options.minSpeechDurationMs);
    this.#minSilence = msToSamples(options.minSilenceDurationMs);
    this.#pad = msToSamples(options.speechPadMs);
  }

  /** Samples covered by the probabilities pushed so far. */
  get frontier(): number {
    return this.#frames * VAD_FRAME;
  }

  /** The earliest sample a region not yet returned may start at. */
  get earliestUnsettled(): number {
    const candidates = [this.#nextStartAtLeast() - this.#pad];
    if (this.#pending && !this.#pending.emitted) candidates.push(this.#pending.start);
    return Math.max(0, Math.min(...candidates));
  }

  push(probabilities: ArrayLike<number>): SampleRange[] {
    for (let i = 0; i < probabilities.length; i++) this.#step(probabilities[i]!, this.#frames++ * VAD_FRAME);
    if (this.#open && this.#nextFoundAtLeast() - this.#open.end >= MERGE_GAP_SAMPLES) {
      this.#keep(this.#open);
      this.#open = undefined;
    }
    const pending = this.#pending;
    if (pending && !pending.emitted && this.#nextStartAtLeast() - pending.end >= 2 * this.#pad) {
      pending.emitted = true;
      this.#settled.push({ start: pending.start, end: pending.end + this.#pad });
    }
    return this.#take();
  }

  /** The audio ended after `totalSamples`: every region left. */
  finish(totalSamples: number): SampleRange[] {
    const audioEnd = this.frontier;
    if (this.#inSpeech && audioEnd - this.#speechStart > this.#minSpeech) this.#found({ start: this.#speechStart, end: audioEnd });
    this.#inSpeech = false;
    if (this.#open) this.#keep(this.#open);
    this.#open = undefined;
    const pending = this.#pending;
    if (pending && !pending.emitted) {
      pending.emitted = true;
      this.#settled.push({ start: pending.start, end: pending.end + this.#pad });
    }
    return this.#take().map((r) => ({ start: Math.min(r.start, totalSamples), end: Math.min(r.end, totalSamples) }));
  }

  #take(): SampleRange[] {
    const settled = this.#settled;
    this.#settled = [];
    return settled;
  }

  /** Where the next region found can start, at the earliest. */
  #nextFoundAtLeast(): number {
    return this.#inSpeech ? this.#speechStart : this.frontier;
  }

  /** Where the region after the pending one can start, at the earliest. */
  #nextStartAtLeast(): number {
    return this.#open?.start ?? this.#nextFoundAtLeast();
  }

  #step(probability: number, sample: number): void {
    if (this.#inSpeech && this.#probabilityAt && sample - this.#speechStart >= WINDOW_SAMPLES) this.#cutLongSpeech(this.#probabilityAt);
    if (probability >= this.#threshold && this.#silenceStart) this.#silenceStart = 0;
    if (probability >= this.#threshold && !this.#inSpeech) {
      this.#inSpeech = true;
      this.#speechStart = sample;
      return;
    }
    if (probability < this.#endThreshold && this.#inSpeech) {
      if (!this.#silenceStart) this.#silenceStart = sample;
      if (sample - this.#silenceStart < this.#minSilence) return;
      if (this.#silenceStart - this.#speechStart > this.#minSpeech) this.#found({ start: this.#speechStart, end: this.#silenceStart });
      this.#silenceStart = 0;
      this.#inSpeech = false;
    }
  }

  /** Speech a window long: the part up to its least likely place (padded, it fits a window) is a region of its own. */
  #cutLongSpeech(probabilityAt: (frame: number) => number): void {
    const cut = splitPoint(this.#speechStart, this.#speechStart + WINDOW_SAMPLES - 2 * this.#pad, probabilityAt);
    this.#found({ start: this.#speechStart, end: cut });
    this.#keep(this.#open!);
    this.#open = undefined;
    this.#afterForcedCut = true;
    this.#speechStart = cut;
    if (this.#silenceStart && this.#silenceStart < cut) this.#silenceStart = 0;
  }

  #found(region: SampleRange): void {
    const continues = this.#afterForcedCut;
    this.#afterForcedCut = false;
    if (this.#open && region.start - this.#open.end < MERGE_GAP_SAMPLES) {
      this.#open.end = region.end;
      return;
    }
    if (this.#open) this.#keep(this.#open);
    this.#open = { ...region, ...(continues ? { continues } : {}) };
  }

  /** A merged region: dropped when too short (unless it continues speech cut for length), else padded against the one before. */
  #keep(region: SampleRange & { continues?: boolean }): void {
    if (region.end - region.start < this.#minSpeech && !region.continues) return;
    const pad = this.#pad;
    const previous = this.#pending;
    let start: number;
    if (previous === undefined) start = Math.max(0, region.start - pad);
    else {
      const gap = region.start - previous.end;
      const closeBy = gap < 2 * pad;
      const half = Math.trunc(gap / 2);
      if (!previous.emitted) this.#settled.push({ start: previous.start, end: previous.end + (closeBy ? half : pad) });
      start = Math.max(0, region.start - (closeBy ? half : pad));
    }
    this.#pending = { start, end: region.end, emitted: false };
  }
}

/**
 * @internal Where a region longer than a window is split: inside the frame with the lowest
 * speech probability (the latest, on ties) among the frames that end within the last
 * SPLIT_SEARCH_SAMPLES before `limit`. `probabilityAt(frame)` reads the probabilities.
 */
export function splitPoint(regionStart: number, limit: number, probabilityAt: (frame: number) => number): number {
  const firstFrame = Math.max(Math.ceil((limit - SPLIT_SEARCH_SAMPLES) / VAD_FRAME), Math.ceil(regionStart / VAD_FRAME) + 1);
  const lastFrame = Math.floor(limit / VAD_FRAME) - 1;
  if (lastFrame < firstFrame) return limit;
  let best = lastFrame;
  for (let f = lastFrame - 1; f >= firstFrame; f--) if (probabilityAt(f) < probabilityAt(best)) best = f;
  return Math.min(limit, best * VAD_FRAME + VAD_FRAME / 2);
}

/**
 * @internal Packs regions in order into windows of at most WINDOW_SAMPLES of audio: a region
 * joins the open window while it fits; one longer than a window is split (splitPoint) into
 * windows of its own. add() and finish() return the windows closed, as lists of ranges.
 */
export class WindowPacker {
  readonly #probabilityAt: (frame: number) => number;
  #open: SampleRange[] = [];
  #openSamples = 0;

  constructor(probabilityAt: (frame: number) => number) {
    this.#probabilityAt = probabilityAt;
  }

  /** The first sample of the open window; undefined when none is open. */
  get openStart(): number | undefined {
    return this.#open[0]?.start;
  }

  add(region: SampleRange): SampleRange[][] {
    const closed: SampleRange[][] = [];
    let { start } = region;
    const { end } = region;
    if (end - start > WINDOW_SAMPLES) {
      if (this.#open.length > 0) closed.push(this.#close());
      while (end - start > WINDOW_SAMPLES) {
        const cut = splitPoint(start, start + WINDOW_SAMPLES, this.#probabilityAt);
        closed.push([{ start, end: cut }]);
        start = cut;
      }
    } else if (this.#open.length > 0 && this.#openSamples + SEPARATOR_SAMPLES + end - start > WINDOW_SAMPLES) closed.push(this.#close());
    if (end > start) {
      this.#openSamples += (this.#open.length > 0 ? SEPARATOR_SAMPLES : 0) + end - start;
      this.#open.push({ start, end });
    }
    return closed;
  }

  finish(): SampleRange[][] {
    return this.#open.length > 0 ? [this.#close()] : [];
  }

  #close(): SampleRange[] {
    const window = this.#open;
    this.#open = [];
    this.#openSamples = 0;
    return window;
  }
}

/** @internal A window's time map from its ranges of the original audio, SEPARATOR_SAMPLES of silence between them. */
export function timeMap(ranges: readonly SampleRange[]): TimeMap {
  let at = 0;
  return ranges.map((r) => {
    const piece = { windowMs: at / SAMPLES_PER_MS, sourceMs: r.start / SAMPLES_PER_MS, durationMs: (r.end - r.start) / SAMPLES_PER_MS };
    at += r.end - r.start + SEPARATOR_SAMPLES;
    return piece;
  });
}

/** @internal Samples of a window's audio: its ranges with SEPARATOR_SAMPLES of silence between them. */
export function windowSamples(ranges: readonly SampleRange[]): number {
  return ranges.reduce((n, r) => n + r.end - r.start, 0) + Math.max(0, ranges.length - 1) * SEPARATOR_SAMPLES;
}

/**
 * A time in a window (ms from its start) as a time in the original audio, rounded to the ms.
 * A time on the seam between two pieces is the later piece's start, or with `edge: 'end'`
 * (a segment's or word's end) the earlier piece's end. Times outside the window are held
 * to its first piece's start or its last piece's end.
 */
export function mapTime(map: TimeMap, msInWindow: number, edge: 'start' | 'end' = 'start'): number {
  if (map.length === 0) return Math.round(msInWindow);
  const piece = edge === 'start' ? (map.find((p) => p.windowMs + p.durationMs > msInWindow) ?? map.at(-1)!) : (map.findLast((p) => p.windowMs < msInWindow) ?? map[0]!);
  const into = Math.min(Math.max(msInWindow - piece.windowMs, 0), piece.durationMs);
  return Math.round(piece.sourceMs + into);
}

/** A window's segment in the original audio's time, numbered `index`: its times, its tokens' and its words'. */
export function mapSegment(segment: Segment, map: TimeMap, index: number): Segment {
  const mapped: Segment = {
    ...segment,
    index,
    startMs: mapTime(map, segment.startMs),
    endMs: mapTime(map, segment.endMs, 'end'),
    windowStartMs: mapTime(map, 0),
    tokens: segment.tokens.map((t) => {
      const token = { ...t };
      if (t.startMs !== undefined && t.endMs !== undefined) {
        token.startMs = mapTime(map, t.startMs);
        token.endMs = mapTime(map, t.endMs, 'end');
      }
      if (t.dtwMs !== undefined) token.dtwMs = mapTime(map, t.dtwMs);
      return token;
    }),
  };
  if (segment.words) mapped.words = segment.words.map((w) => ({ ...w, startMs: mapTime(map, w.startMs), endMs: mapTime(map, w.endMs, 'end') }));
  return mapped;
}

/** Silero's speech probability per VAD_FRAME of `pcm`. */
export type SpeechProbabilities = (pcm: Float32Array) => Promise<Float32Array>;

/** Silero through the addon, on one thread: it is small next to whisper, which runs beside it. */
export function sileroProbabilities(modelPath: string): SpeechProbabilities {
  return async (pcm) => {
    try {
      return await native().vadSpeechProbabilities(modelPath, pcm, 1);
    } catch (error) {
      throw fromNativeError(error);
    }
  };
}

/** Samples kept from `base` on, in arrival order; the oldest are dropped when no window can need them. */
class PcmBuffer {
  #base = 0;
  #chunks: Float32Array[] = [];
  #length = 0;

  get end(): number {
    return this.#base + this.#length;
  }

  append(piece: Float32Array): void {
    if (piece.length === 0) return;
    this.#chunks.push(piece);
    this.#length += piece.length;
  }

  /** Samples [from, to) of the audio; both must lie in what is kept. */
  slice(from: number, to: number, into = new Float32Array(to - from), at = 0): Float32Array {
    let chunkStart = this.#base;
    for (const chunk of this.#chunks) {
      const chunkEnd = chunkStart + chunk.length;
      const lo = Math.max(from, chunkStart);
      const hi = Math.min(to, chunkEnd);
      if (lo < hi) into.set(chunk.subarray(lo - chunkStart, hi - chunkStart), at + lo - from);
      if (chunkEnd >= to) break;
      chunkStart = chunkEnd;
    }
    return into;
  }

  dropBefore(sample: number): void {
    while (this.#chunks.length > 0 && this.#base + this.#chunks[0]!.length <= sample) {
      const chunk = this.#chunks.shift()!;
      this.#base += chunk.length;
      this.#length -= chunk.length;
    }
  }
}

/** Probabilities by frame, the oldest dropped with the audio. */
class ProbabilityStore {
  #base = 0;
  #values: number[] = [];

  push(probabilities: Float32Array): void {
    for (const p of probabilities) this.#values.push(p);
  }

  at(frame: number): number {
    return this.#values[frame - this.#base] ?? 0;
  }

  dropBefore(frame: number): void {
    const drop = Math.min(this.#values.length, frame - this.#base);
    if (drop <= 0) return;
    this.#values.splice(0, drop);
    this.#base += drop;
  }
}

export interface PackedWindowOptions extends SpeechRegionOptions {
  speechProbabilities: SpeechProbabilities;
}

/**
 * Plans the windows of one long source as it is read: next() pulls the PCM pieces only until
 * the next window is settled, so about one window of audio (plus Silero's step) is held
 * besides the windows handed out. Call next() one at a time.
 */
export class PackedWindowPlanner {
  readonly #pieces: AsyncIterator<Float32Array, unknown>;
  readonly #probabilities: SpeechProbabilities;
  readonly #detector: SpeechDetector;
  readonly #store = new ProbabilityStore();
  readonly #packer: WindowPacker;
  readonly #buffer = new PcmBuffer();
  readonly #ready: SampleRange[][] = [];
  #probed = 0;
  #ended = false;
  #planned = 0;

  constructor(pieces: AsyncIterable<Float32Array>, options: PackedWindowOptions) {
    this.#pieces = pieces[Symbol.asyncIterator]();
    this.#probabilities = options.speechProbabilities;
    const probabilityAt = (frame: number) => this.#store.at(frame);
    this.#detector = new SpeechDetector(options, probabilityAt);
    this.#packer = new WindowPacker(probabilityAt);
  }

  /** True once the source has ended and every window is planned. */
  get ended(): boolean {
    return this.#ended && this.#ready.length === 0;
  }

  /** Samples read from the source so far (its length, once ended). */
  get samplesRead(): number {
    return this.#buffer.end;
  }

  /** Windows handed out so far. */
  get planned(): number {
    return this.#planned;
  }

  /** The next window, or undefined when the audio holds no more speech. */
  async next(): Promise<PackedWindow | undefined> {
    while (this.#ready.length === 0 && !this.#ended) await this.#readMore();
    const ranges = this.#ready.shift();
    if (ranges === undefined) return undefined;
    const pcm = new Float32Array(windowSamples(ranges));
    let at = 0;
    for (const r of ranges) {
      this.#buffer.slice(r.start, r.end, pcm, at);
      at += r.end - r.start + SEPARATOR_SAMPLES;
    }
    this.#release();
    return { index: this.#planned++, pcm, map: timeMap(ranges) };
  }

  /** Closes the source's iterator (an unfinished job's). */
  async close(): Promise<void> {
    if (!this.#ended) await this.#pieces.return?.();
    this.#ended = true;
  }

  async #readMore(): Promise<void> {
    const result: IteratorResult<Float32Array, unknown> = await this.#pieces.next();
    if (result.done) {
      this.#ended = true;
      const tail = this.#buffer.end - this.#probed;
      if (tail > 0) await this.#probe(this.#probed + tail);
      this.#regions(this.#detector.finish(this.#buffer.end));
      this.#ready.push(...this.#packer.finish());
      return;
    }
    this.#buffer.append(result.value);
    while (this.#buffer.end - this.#probed >= VAD_STEP_SAMPLES) await this.#probe(this.#probed + VAD_STEP_SAMPLES);
  }

  /** Silero over [probed, to), with context before it. */
  async #probe(to: number): Promise<void> {
    const context = Math.min(VAD_CONTEXT_SAMPLES, this.#probed);
    const from = this.#probed - context;
    const probabilities = (await this.#probabilities(this.#buffer.slice(from, to))).subarray(context / VAD_FRAME);
    this.#probed = to;
    this.#store.push(probabilities);
    this.#regions(this.#detector.push(probabilities));
    this.#release();
  }

  #regions(regions: SampleRange[]): void {
    for (const region of regions) this.#ready.push(...this.#packer.add(region));
  }

  /** Drops the audio and probabilities no window left to plan can need. */
  #release(): void {
    const firstReady = this.#ready[0]?.[0]?.start;
    const keepFrom = Math.min(firstReady ?? Infinity, this.#packer.openStart ?? Infinity, this.#detector.earliestUnsettled, this.#probed - VAD_CONTEXT_SAMPLES);
    const from = Math.max(0, keepFrom);
    this.#buffer.dropBefore(from);
    this.#store.dropBefore(Math.floor(from / VAD_FRAME));
  }
}
