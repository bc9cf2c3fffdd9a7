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
import { SAMPLES_PER_MS } from '../audio/pcm';
import { abortError, throwIfAborted } from '../errors/abort';
import { invalidArgument } from '../errors/whisper-error';
import { checkVadModelFile } from '../model-files/vad-file';
import type { TranscribeOptions } from '../transcription/options';
import type { Segment, Transcript } from '../transcription/transcript';
import { ChunkDecoder, sourceIterator, type PcmChunk } from './chunks';
import { findCut, speechEnd, type CutPoint } from './cut-points';
import { rms } from './energy';
import { resolveStreamOptions, type ResolvedStreamOptions, type StreamOptions } from './options';
import { shiftSegment, stablePart } from './seams';

/** What the streaming transcriber needs of a model: WhisperModel fits. */
export interface StreamTranscriber {
  transcribe(audio: Float32Array, options?: TranscribeOptions): Promise<Transcript>;
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

/** Characters of earlier text used as the next window's prompt. */
const PROMPT_CHARS = 200;
/** What aborts name in their message. */
const WHAT = 'the stream';

/**
 * One stream's windowing: a window-sized buffer filled from the source, cut, transcribed and
 * moved on. Every window goes through fill(), cutPoint(), transcribe() and emit().
 */
class StreamWindower {
  readonly #model: StreamTranscriber;
  readonly #source: AsyncIterator<unknown> | Iterator<unknown>;
  readonly #options: ResolvedStreamOptions;
  readonly #signal: AbortSignal | undefined;
  readonly #decoder: ChunkDecoder;
  /** The current window: `#buffer[0, #held)`, starting at `#windowStart` samples into the stream. */
  readonly #buffer: Float32Array;
  #held = 0;
  #windowStart = 0;
  /** The unread rest of the last chunk taken from the source. */
  #unread: Float32Array | undefined;
  #sourceEnded = false;
  /** True while the source's next() has not settled, so closing must not wait for it. */
  #pulling = false;
  #samplesReceived = 0;
  #segmentsEmitted = 0;
  #emittedText = '';
  /** The caller's language, or the one the first window was detected in. */
  #language: string | undefined;

  constructor(model: StreamTranscriber, source: AsyncIterator<unknown> | Iterator<unknown>, options: ResolvedStreamOptions) {
    this.#model = model;
    this.#source = source;
    this.#options = options;
    this.#signal = options.transcribe.signal;
    this.#decoder = new ChunkDecoder(options.format);
    this.#buffer = new Float32Array(options.windowSamples);
    this.#language = options.transcribe.language;
  }

  async *windows(): AsyncGenerator<StreamWindow, void, undefined> {
    try {
      const { cutVad } = this.#options;
      if (cutVad) await checkVadModelFile(cutVad.modelPath, cutVad.parameter);
      for (;;) {
        await this.#fill();
        if (this.#held === 0) return;
        throwIfAborted(this.#signal, WHAT);
        const final = this.#sourceEnded;
        const cut = await this.#cutPoint(final);
        const window = this.#buffer.subarray(0, cut.sample);
        const transcript = await this.#transcribe(window);
        const out = this.#emit(window, cut, transcript, final);
        yield out;
        if (final) return;
      }
    } finally {
      await this.#closeSource();
    }
  }

  #report(): void {
    this.#options.onBuffer?.(this.#held + (this.#unread?.length ?? 0));
  }

  /** Takes chunks until the window is full or the source has ended. */
  async #fill(): Promise<void> {
    const size = this.#buffer.length;
    while (this.#held < size && !this.#sourceEnded) {
      if (this.#unread === undefined) {
        await this.#pullChunk();
        continue;
      }
      const take = Math.min(size - this.#held, this.#unread.length);
      this.#buffer.set(this.#unread.subarray(0, take), this.#held);
      this.#held += take;
      // Hold on to the caller's chunk only while part of it is unread.
      this.#unread = take < this.#unread.length ? this.#unread.subarray(take) : undefined;
      this.#report();
    }
  }

  async #pullChunk(): Promise<void> {
    this.#pulling = true;
    const result = await this.#next();
    this.#pulling = false;
    if (result.done) {
      this.#sourceEnded = true;
      return;
    }
    const chunk = this.#decoder.decode(result.value);
    this.#samplesReceived += chunk.length;
    if (chunk.length > 0) this.#unread = chunk;
    this.#report();
  }

  /** The source's next(), but an abort does not wait for a source that never answers. */
  async #next(): Promise<IteratorResult<unknown>> {
    const signal = this.#signal;
    throwIfAborted(signal, WHAT);
    const pull = Promise.resolve(this.#source.next());
    if (!signal) return pull;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortError(signal, WHAT));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([pull, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  async #cutPoint(final: boolean): Promise<CutPoint> {
    const held = this.#buffer.subarray(0, this.#held);
    if (!final) return findCut(held, this.#options.searchSamples, this.#options.cutVad);
    // The last window of a longer stream loses its trailing silence: whisper, prompted with
    // the text before, tends to continue that text over silence. (A stream of one window is
    // left as it is, so it transcribes exactly as a one-shot transcribe() would.)
    if (this.#windowStart > 0) return { sample: speechEnd(held, this.#options.silenceRms), clean: true };
    return { sample: this.#held, clean: true };
  }

  /** undefined for a silent window, which is not transcribed. */
  async #transcribe(window: Float32Array): Promise<Transcript | undefined> {
    if (window.length === 0 || rms(window) < this.#options.silenceRms) return undefined;
    const { initialPrompt, ...rest } = this.#options.transcribe;
    const prompt = this.#prompt(initialPrompt);
    const transcript = await this.#model.transcribe(window, {
      ...rest,
      ...(this.#language !== undefined ? { language: this.#language } : {}),
      ...(prompt !== undefined ? { initialPrompt: prompt } : {}),
    });
    // Every window after the first speaks the language the first one was detected in.
    if (this.#language === undefined || this.#language === 'auto') this.#language = transcript.language;
    return transcript;
  }

  /**
   * The caller's initialPrompt primes the start of the stream, as it primes the first 30 s of a
   * one-shot transcribe(); carryInitialPrompt repeats it for every window.
   */
  #prompt(initialPrompt: string | undefined): string | undefined {
    if (this.#options.promptWithPrevious && this.#emittedText) return this.#emittedText;
    return this.#windowStart === 0 || this.#options.transcribe.carryInitialPrompt ? initialPrompt : undefined;
  }

  /** The window's stable segments in stream time; the buffer moves on to where the next window starts. */
  #emit(window: Float32Array, cut: CutPoint, transcript: Transcript | undefined, final: boolean): StreamWindow {
    const startSample = this.#windowStart;
    // Whisper marks the silence at the start of a window that begins in a pause as
    // [BLANK_AUDIO]: an artefact of where the cut fell, unless the whole stream is one window.
    const segments = (transcript?.segments ?? []).filter((s) => (final && startSample === 0) || s.text.trim() !== '[BLANK_AUDIO]');
    const { stable, carryFrom } = stablePart(segments, window, cut, final, this.#options.silenceRms);
    const offsetMs = startSample / SAMPLES_PER_MS;
    const emitted = segments.slice(0, stable).map((s) => shiftSegment(s, offsetMs, this.#segmentsEmitted++));
    if (emitted.length > 0) {
      this.#emittedText = (this.#emittedText + emitted.map((s) => s.text).join('')).slice(-PROMPT_CHARS);
    }
    if (final) this.#held = 0;
    else this.#advance(carryFrom);
    this.#report();
    return {
      segments: emitted,
      startMs: offsetMs,
      stableEndMs: (startSample + carryFrom) / SAMPLES_PER_MS,
      transcript,
      receivedMs: this.#samplesReceived / SAMPLES_PER_MS,
      final,
    };
  }

  /** Drops the window's audio before `carryFrom`; the rest starts the next window. */
  #advance(carryFrom: number): void {
    this.#buffer.copyWithin(0, carryFrom, this.#held);
    this.#held -= carryFrom;
    this.#windowStart += carryFrom;
  }

  /**
   * Stopped early (break, an error, an abort): let the source release what it holds. A
   * source stuck in next() after an abort gets return() when that next() settles.
   */
  async #closeSource(): Promise<void> {
    if (this.#sourceEnded || typeof this.#source.return !== 'function') return;
    const closing = Promise.resolve(this.#source.return()).catch(() => undefined);
    if (!this.#pulling) await closing;
  }
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
  const resolved = resolveStreamOptions(options);
  yield* new StreamWindower(model, sourceIterator(source), resolved).windows();
}
