/**
 * Streaming transcription over model.transcribe(): live audio of any length, in chunks of any
 * size, comes out as segments with absolute timestamps once they can no longer change.
 *
 * How a window is handled:
 * 1. Audio is buffered until a window (windowMs, at most whisper's 30 s context) is full, or
 *    the stream ends. Nothing more is pulled from the source meanwhile (backpressure): the
 *    buffer holds one window, plus the unread rest of the chunk that filled it.
 * 2. A cut point is chosen in the last cutSearchMs of the window, in the quietest place: by
 *    Silero speech probabilities when a VAD model is given, else by frame energy. Whisper then
 *    transcribes the audio before the cut, so no word is split across windows.
 * 3. whisper's segment timestamps decide what is stable. When the cut landed in real silence,
 *    every segment is; when it did not (speech without pauses), the last segment may hold a
 *    word that runs over the cut, so it is held back and its audio goes into the next window
 *    again. When whisper stopped early (its last segment ends well before the cut and speech
 *    follows), the audio after that segment is carried too, rather than lost.
 * 4. Stable segments are emitted with absolute times; the window's audio up to the carry point
 *    is dropped and the rest moves to the front of the next window. Optionally the end of the
 *    emitted text is the next window's prompt (promptWithPrevious, off by default).
 * At the end of the stream the rest is transcribed as it is and everything is emitted.
 */
import { WHISPER_SAMPLE_RATE, assertFinitePcm } from '../audio/pcm';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { native } from '../native/addon';
import type { TranscribeOptions } from '../transcription/options';
import type { Segment, Transcript } from '../transcription/transcript';
import { checkVadModelFile } from '../model-files/vad-file';
import { openWavWindows } from '../audio/wav-windows';

/** What the streaming transcriber needs of a model: WhisperModel fits. */
export interface StreamTranscriber {
  transcribe(audio: Float32Array, options?: TranscribeOptions): Promise<Transcript>;
}

/** A chunk of 16 kHz mono PCM: a Float32Array, or bytes in options.format. */
export type PcmChunk = Float32Array | Buffer | Uint8Array;

export interface StreamCutVadOptions {
  /** Silero VAD model (ggml) used to find pauses. */
  modelPath: string;
  /** Frames below this speech probability count as silence. Default 0.35. */
  threshold?: number;
}

export interface StreamOptions extends Omit<TranscribeOptions, 'offsetMs' | 'durationMs' | 'onProgress' | 'onSegment' | 'audio' | 'detectLanguage'> {
  /**
   * How Buffer / Uint8Array chunks are read: 'f32' (default) little-endian float32, or 's16'
   * little-endian signed 16-bit (as `arecord -f S16_LE -r 16000 -c 1` or ffmpeg's s16le give).
   * A sample split across two chunks is joined. Float32Array chunks are always float PCM.
   */
  format?: 'f32' | 's16';
  /** Longest audio transcribed at once, in ms: 2000 to 30000. Default 30000. */
  windowMs?: number;
  /** The cut point is searched for in this last part of a full window, in ms. Default: a third of windowMs. */
  cutSearchMs?: number;
  /**
   * Where to find the cut points. Default: the `vad` model when one is given, else energy.
   * false: always energy. The `vad` option itself still applies to each window as in transcribe().
   */
  cutVad?: StreamCutVadOptions | false;
  /**
   * Prompt each window with the end of the text emitted so far. Default false: measured on the
   * shared clips (scripts/bench-stream.mjs), the prompt made base continue the earlier text over
   * short utterances and silence (10 words made up, temperature fallback, 3x slower), while
   * without it seams lost or repeated nothing.
   */
  promptWithPrevious?: boolean;
  /** Windows whose RMS level is below this are silence and not transcribed. Default 0.001 (-60 dBFS). */
  silenceRms?: number;
  /** Instrumentation: called with the number of PCM samples held whenever it changes. */
  onBuffer?: (samples: number) => void;
}

/** One transcribed window, for callers that want more than the segments (transcribeLongFile). */
export interface StreamWindow {
  /** Stable segments of this window, absolute times, numbered across the stream. */
  segments: Segment[];
  /** Where this window started and where its stable part ended, in ms from the stream start. */
  startMs: number;
  stableEndMs: number;
  /** undefined when the window was silent and not transcribed. */
  transcript: Transcript | undefined;
  /** All audio received so far, in ms. */
  receivedMs: number;
  /** The stream's last window. */
  final: boolean;
}

interface ResolvedStreamOptions {
  format: 'f32' | 's16';
  windowSamples: number;
  searchSamples: number;
  cutVad: { modelPath: string; threshold: number } | undefined;
  promptWithPrevious: boolean;
  silenceRms: number;
  onBuffer: ((samples: number) => void) | undefined;
  transcribe: TranscribeOptions;
}

const SAMPLES_PER_MS = WHISPER_SAMPLE_RATE / 1000;
/** Silero's frame. */
const VAD_FRAME = 512;
/** Energy frames and the span they are averaged over when looking for a pause. */
const ENERGY_FRAME = 160;
const ENERGY_SPAN_FRAMES = 15;
/** A pause whose energy is this far below the window's (as a power ratio, -20 dB) is silence. */
const CLEAN_POWER_RATIO = 0.01;
/** A pause this long (in VAD frames, ~100 ms) is silence for the VAD cut. */
const CLEAN_VAD_FRAMES = 3;
/** Speech after whisper's last segment, longer than this before the cut, is carried over. */
const TRAILING_SPEECH_MS = 1500;
/** A carry point must leave at least this share of the window behind, so every window makes progress. */
const MIN_ADVANCE = 0.25;
/** Silence kept after the last speech of a stream. */
const TAIL_MS = 300;
/** Characters of earlier text used as the next window's prompt. */
const PROMPT_CHARS = 200;

function resolveStreamOptions(options: StreamOptions): ResolvedStreamOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object of stream options', options);
  }
  const {
    format = 'f32',
    windowMs = 30_000,
    cutSearchMs,
    cutVad,
    promptWithPrevious = false,
    silenceRms = 0.001,
    onBuffer,
    ...transcribe
  } = options;
  for (const key of ['offsetMs', 'durationMs', 'onProgress', 'onSegment', 'audio', 'detectLanguage'] as const) {
    if ((options as Record<string, unknown>)[key] !== undefined) {
      throw invalidArgument(`options.${key}`, 'nothing: a stream has no fixed length; this option is not used by transcribeStream', (options as Record<string, unknown>)[key]);
    }
  }
  if (format !== 'f32' && format !== 's16') throw invalidArgument('options.format', "'f32' or 's16'", format);
  if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 2000 || windowMs > 30_000) {
    throw invalidArgument('options.windowMs', 'an integer from 2000 to 30000 (ms)', windowMs);
  }
  const search = cutSearchMs ?? Math.round(windowMs / 3);
  if (typeof search !== 'number' || !Number.isInteger(search) || search < 200 || search > windowMs / 2) {
    throw invalidArgument('options.cutSearchMs', `an integer from 200 to ${windowMs / 2} (half of windowMs)`, cutSearchMs);
  }
  let resolvedVad: ResolvedStreamOptions['cutVad'];
  if (cutVad === undefined) {
    if (transcribe.vad?.modelPath !== undefined) resolvedVad = { modelPath: transcribe.vad.modelPath, threshold: 0.35 };
  } else if (cutVad !== false) {
    if (cutVad === null || typeof cutVad !== 'object') throw invalidArgument('options.cutVad', 'false or { modelPath, threshold? }', cutVad);
    if (typeof cutVad.modelPath !== 'string' || cutVad.modelPath.length === 0) {
      throw invalidArgument('options.cutVad.modelPath', 'a path to a Silero VAD model', cutVad.modelPath);
    }
    const threshold = cutVad.threshold ?? 0.35;
    if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) {
      throw invalidArgument('options.cutVad.threshold', 'a number between 0 and 1', cutVad.threshold);
    }
    resolvedVad = { modelPath: cutVad.modelPath, threshold };
  }
  if (typeof promptWithPrevious !== 'boolean') throw invalidArgument('options.promptWithPrevious', 'a boolean', promptWithPrevious);
  if (typeof silenceRms !== 'number' || !(silenceRms >= 0 && silenceRms < 1)) {
    throw invalidArgument('options.silenceRms', 'a number from 0 to 1', silenceRms);
  }
  if (onBuffer !== undefined && typeof onBuffer !== 'function') throw invalidArgument('options.onBuffer', 'a function', onBuffer);
  return {
    format,
    windowSamples: windowMs * SAMPLES_PER_MS,
    searchSamples: search * SAMPLES_PER_MS,
    cutVad: resolvedVad,
    promptWithPrevious,
    silenceRms,
    onBuffer,
    transcribe,
  };
}

function abortedError(signal: AbortSignal | undefined): WhisperError {
  const reason: unknown = signal?.reason;
  const detail = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new WhisperError('ABORTED', `the stream was aborted${detail}`, { cause: reason });
}

/** Turns source chunks into float PCM, joining samples split across byte chunks. */
class ChunkDecoder {
  #rest = new Uint8Array(0);
  #count = 0;
  constructor(private readonly format: 'f32' | 's16') {}

  decode(chunk: unknown): Float32Array {
    const n = this.#count++;
    if (chunk instanceof Float32Array) {
      assertFiniteChunk(chunk, n);
      return chunk;
    }
    if (!(chunk instanceof Uint8Array)) {
      throw invalidArgument(`source chunk ${n}`, 'a Float32Array of 16 kHz mono PCM, or a Buffer / Uint8Array of PCM bytes', chunk);
    }
    const width = this.format === 'f32' ? 4 : 2;
    let bytes = chunk;
    if (this.#rest.length > 0) {
      bytes = new Uint8Array(this.#rest.length + chunk.length);
      bytes.set(this.#rest);
      bytes.set(chunk, this.#rest.length);
    }
    const whole = bytes.length - (bytes.length % width);
    this.#rest = bytes.slice(whole);
    const view = new DataView(bytes.buffer, bytes.byteOffset, whole);
    const out = new Float32Array(whole / width);
    if (width === 4) for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    else for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
    assertFiniteChunk(out, n);
    return out;
  }
}

function assertFiniteChunk(chunk: Float32Array, n: number): void {
  assertFinitePcm(chunk, `source chunk ${n}`);
}

function meanSquare(x: Float32Array, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return to > from ? sum / (to - from) : 0;
}

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

/**
 * @internal Which of a window's segments are stable, and where the next window starts (in
 * samples of this window). Segment times are relative to the window.
 */
export function stablePart(
  segments: readonly Segment[],
  window: Float32Array,
  cut: CutPoint,
  final: boolean,
  silenceRms: number,
): { stable: number; carryFrom: number } {
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
    if (Math.sqrt(meanSquare(window, lastEnd, cut.sample)) >= Math.max(silenceRms, 0.1 * Math.sqrt(meanSquare(window, 0, cut.sample)))) {
      return { stable: n, carryFrom: lastEnd };
    }
  }
  return { stable: n, carryFrom: cut.sample };
}

/** Where the last speech in `window` ends, plus TAIL_MS: 10 ms frames quieter than -20 dB under the window's level are silence. */
function speechEnd(window: Float32Array, silenceRms: number): number {
  const threshold = Math.max(silenceRms * silenceRms, meanSquare(window) * CLEAN_POWER_RATIO);
  for (let end = window.length; end > 0; end -= ENERGY_FRAME) {
    if (meanSquare(window, Math.max(0, end - ENERGY_FRAME), end) >= threshold) {
      return Math.min(window.length, end + TAIL_MS * SAMPLES_PER_MS);
    }
  }
  return 0;
}

function shiftSegment(segment: Segment, offsetMs: number, index: number): Segment {
  return {
    ...segment,
    index,
    startMs: segment.startMs + offsetMs,
    endMs: segment.endMs + offsetMs,
    tokens: segment.tokens.map((t) => (t.startMs === undefined || t.endMs === undefined ? t : { ...t, startMs: t.startMs + offsetMs, endMs: t.endMs + offsetMs })),
  };
}

function toAsyncIterator(source: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  if (source !== null && typeof source === 'object') {
    const asyncIt = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return asyncIt.call(source);
    const it = (source as Iterable<unknown>)[Symbol.iterator];
    if (typeof it === 'function' && !ArrayBuffer.isView(source)) return it.call(source);
  }
  throw invalidArgument('source', 'an AsyncIterable (or Iterable) of Float32Array / Buffer chunks', source);
}

/**
 * @internal The windows of a stream, each with its stable segments. transcribeStream() and
 * transcribeLongFile() are built on it.
 */
export async function* streamWindows(
  model: StreamTranscriber,
  source: AsyncIterable<PcmChunk> | Iterable<PcmChunk>,
  options: StreamOptions = {},
): AsyncGenerator<StreamWindow, void, undefined> {
  if (model === null || typeof model !== 'object' || typeof (model as StreamTranscriber).transcribe !== 'function') {
    throw invalidArgument('model', 'a loaded WhisperModel', model);
  }
  const opts = resolveStreamOptions(options);
  const iterator = toAsyncIterator(source);
  const signal = opts.transcribe.signal;
  const W = opts.windowSamples;
  const buffer = new Float32Array(W);
  const decoder = new ChunkDecoder(opts.format);
  let length = 0;
  let pending: Float32Array | undefined;
  let ended = false;
  let startSample = 0;
  let received = 0;
  let index = 0;
  let previousText = '';
  let language = opts.transcribe.language;
  let pulling = false;
  const report = () => opts.onBuffer?.(length + (pending?.length ?? 0));

  /** iterator.next(), but an abort does not wait for a source that never answers. */
  const next = async (): Promise<IteratorResult<unknown>> => {
    if (signal?.aborted) throw abortedError(signal);
    const pull = Promise.resolve(iterator.next());
    if (!signal) return pull;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortedError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([pull, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  };

  try {
    if (opts.cutVad) await checkVadModelFile(opts.cutVad.modelPath, 'options.vad.modelPath');
    for (;;) {
      while (length < W && !ended) {
        if (pending === undefined) {
          pulling = true;
          const result = await next();
          pulling = false;
          if (result.done) {
            ended = true;
            break;
          }
          const chunk = decoder.decode(result.value);
          received += chunk.length;
          if (chunk.length > 0) pending = chunk;
          report();
          continue;
        }
        const take = Math.min(W - length, pending.length);
        buffer.set(pending.subarray(0, take), length);
        length += take;
        // Hold on to the caller's chunk only while part of it is unread.
        pending = take < pending.length ? pending.subarray(take) : undefined;
        report();
      }
      if (length === 0) return;
      if (signal?.aborted) throw abortedError(signal);

      const final = ended;
      let cut: CutPoint = { sample: length, clean: true };
      // The last window of a longer stream loses its trailing silence: whisper, prompted with
      // the text before, tends to continue that text over silence. (A stream of one window is
      // left as it is, so it transcribes exactly as a one-shot transcribe() would.)
      if (final && startSample > 0) cut = { sample: speechEnd(buffer.subarray(0, length), opts.silenceRms), clean: true };
      if (!final) {
        if (opts.cutVad) {
          // Silero is recurrent: a second of audio before the search region gives it context.
          const offset = Math.max(0, length - opts.searchSamples - WHISPER_SAMPLE_RATE);
          const probs = await native().vadSpeechProbabilities(
            opts.cutVad.modelPath,
            buffer.subarray(offset, length),
            // Silero is tiny: more threads only add ggml's spinning and synchronisation.
            1,
          );
          cut = vadCut(probs, offset, length, opts.searchSamples, opts.cutVad.threshold);
        } else {
          cut = energyCut(buffer.subarray(0, length), opts.searchSamples);
        }
      }
      const window = buffer.subarray(0, cut.sample);
      let transcript: Transcript | undefined;
      if (window.length > 0 && Math.sqrt(meanSquare(window)) >= opts.silenceRms) {
        // The caller's initialPrompt primes the start of the stream, as it primes the first
        // 30 s of a one-shot transcribe(); carryInitialPrompt repeats it for every window.
        const { initialPrompt, ...rest } = opts.transcribe;
        const prompt =
          opts.promptWithPrevious && previousText
            ? previousText
            : startSample === 0 || opts.transcribe.carryInitialPrompt
              ? initialPrompt
              : undefined;
        transcript = await model.transcribe(window, {
          ...rest,
          ...(language !== undefined ? { language } : {}),
          ...(prompt !== undefined ? { initialPrompt: prompt } : {}),
        });
        // Every window after the first speaks the language the first one was detected in.
        if (language === undefined || language === 'auto') language = transcript.language;
      }
      // Whisper marks the silence at the start of a window that begins in a pause as
      // [BLANK_AUDIO]: an artefact of where the cut fell, unless the whole stream is one window.
      const segments = (transcript?.segments ?? []).filter(
        (s) => (final && startSample === 0) || s.text.trim() !== '[BLANK_AUDIO]',
      );
      const { stable, carryFrom } = stablePart(segments, window, cut, final, opts.silenceRms);
      const offsetMs = startSample / SAMPLES_PER_MS;
      const emitted = segments.slice(0, stable).map((s) => shiftSegment(s, offsetMs, index++));
      if (emitted.length > 0) {
        previousText = (previousText + emitted.map((s) => s.text).join('')).slice(-PROMPT_CHARS);
      }
      const out: StreamWindow = {
        segments: emitted,
        startMs: offsetMs,
        stableEndMs: (startSample + carryFrom) / SAMPLES_PER_MS,
        transcript,
        receivedMs: received / SAMPLES_PER_MS,
        final,
      };
      if (final) {
        length = 0;
        report();
        yield out;
        return;
      }
      buffer.copyWithin(0, carryFrom, length);
      length -= carryFrom;
      startSample += carryFrom;
      report();
      yield out;
    }
  } finally {
    // Stopped early (break, an error, an abort): let the source release what it holds. A
    // source stuck in next() after an abort gets return() when that next() settles.
    if (!ended && typeof iterator.return === 'function') {
      const closing = Promise.resolve(iterator.return()).catch(() => undefined);
      if (!pulling) await closing;
    }
  }
}

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

export interface LongFileOptions extends Omit<TranscribeOptions, 'offsetMs' | 'durationMs' | 'detectLanguage'>,
  Pick<StreamOptions, 'windowMs' | 'cutSearchMs' | 'cutVad' | 'promptWithPrevious' | 'silenceRms' | 'onBuffer'> {}

/**
 * transcribe() of a WAV path without holding the whole file: it is read from disk in windows
 * (lib/audio/wav-windows.ts) and fed through the streaming transcriber. A file no longer than one
 * window (30 s by default) gives the same transcript as a one-shot transcribe(). onSegment is
 * called for each segment as it becomes stable; onProgress with the share of the file done.
 * offsetMs, durationMs and detectLanguage are not supported here (INVALID_ARGUMENT).
 */
export async function transcribeLongFile(model: StreamTranscriber, path: string, options: LongFileOptions = {}): Promise<Transcript> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object of transcribe options', options);
  const { audio, onSegment, onProgress, ...streamOptions } = options;
  for (const key of ['onSegment', 'onProgress'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'function') throw invalidArgument(`options.${key}`, 'a function', value);
  }
  const started = performance.now();
  const file = await openWavWindows(path, { ...(audio ?? {}), windowSamples: 5 * WHISPER_SAMPLE_RATE });
  const segments: Segment[] = [];
  let language = options.language ?? 'auto';
  let languageProbability: number | undefined;
  const timings = { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 0 };
  let first = true;
  try {
    for await (const window of streamWindows(model, file.windows, streamOptions)) {
      const t = window.transcript;
      if (t) {
        if (first) {
          language = t.language;
          languageProbability = t.languageProbability;
          first = false;
        }
        timings.audioMs += t.timings.audioMs;
        timings.queueMs += t.timings.queueMs;
        timings.inferenceMs += t.timings.inferenceMs;
        timings.languageDetectionMs += t.timings.languageDetectionMs;
        timings.encoderRuns += t.timings.encoderRuns;
      }
      for (const s of window.segments) {
        segments.push(s);
        onSegment?.(s);
      }
      onProgress?.(window.final ? 100 : Math.min(99, Math.round((window.stableEndMs * SAMPLES_PER_MS * 100) / file.info.outputSamples)));
    }
  } finally {
    await file.close();
  }
  const whisperMs = timings.queueMs + timings.inferenceMs;
  timings.audioMs = Math.max(0, performance.now() - started - whisperMs);
  return {
    text: segments.map((s) => s.text).join('').trim(),
    segments,
    language,
    ...(languageProbability !== undefined ? { languageProbability } : {}),
    audioDurationMs: Math.round(file.info.outputSamples / SAMPLES_PER_MS),
    timings,
  };
}
