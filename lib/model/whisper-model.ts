/** WhisperModel: one loaded model serving concurrent transcriptions from a pool of states. */
import { loadAudio } from '../audio/load';
import { WHISPER_SAMPLE_RATE, type AudioInput } from '../audio/pcm';
import { WhisperError, invalidArgument, isWhisperError } from '../errors/whisper-error';
import { inspectModelFile, type ModelFileInfo } from '../model-files/inspect';
import { checkVadModelFile } from '../model-files/vad-file';
import { fromNativeError, native } from '../native/addon';
import type { NativeModel, NativeModelInfo, NativeState, NativeTranscribeParams } from '../native/native-api';
import { planConcurrency, type AutoConcurrency } from './concurrency';
import { modelMemory, type ModelMemory } from './memory';
import { Semaphore, abortReasonToError } from './semaphore';
import {
  defaultThreads,
  resolveJobOptions,
  resolveLoadOptions,
  resolveTranscribeOptions,
  type LoadModelOptions,
  type ModelLimits,
  type ResolvedLoadOptions,
  type TranscribeOptions,
} from '../transcription/options';
import { toSegment, toTranscript, type Segment, type Transcript } from '../transcription/transcript';
import { transcribeLongFile, transcribeStream, type PcmChunk, type StreamOptions } from '../stream/stream';
import { openWavWindows } from '../audio/wav-windows';

export interface ModelInfo {
  path: string;
  /** 'tiny', 'base', 'small', 'medium', 'large' as whisper.cpp names it. */
  type: string;
  multilingual: boolean;
  /** Weight type of the big matrices: 'f16', 'q5_0', ... */
  weightType: string;
  fileBytes: number;
  nMels: number;
  nVocab: number;
  audioLayers: number;
  textLayers: number;
  audioContext: number;
  textContext: number;
}

/**
 * What happened to the jobs a model was given. Every transcribe() call that passes option
 * validation is counted once, when it settles, in exactly one of completed, failed and
 * rejected.
 */
export interface ModelStats {
  /** Jobs running on a state now (audio decoding included once a state is theirs). */
  running: number;
  /** Jobs waiting for a state. */
  queued: number;
  /** Resolved with a transcript. */
  completed: number;
  /**
   * Admitted, then rejected for any reason: aborted, timed out, disposed, bad audio, a
   * whisper failure or a listener that threw. `aborted` and `timedOut` are part of it.
   */
  failed: number;
  /** Failed with ABORTED (the caller's signal). */
  aborted: number;
  /** Failed with TIMEOUT (options.timeoutMs). */
  timedOut: number;
  /** Refused with QUEUE_FULL, never admitted. */
  rejected: number;
  /** The most jobs that ever ran at once; never more than concurrency. */
  peakRunning: number;
  /** The longest the queue has ever been. */
  peakQueued: number;
  /** The most jobs that run at once (resolved when 'auto' was asked for). */
  concurrency: number;
  /** Infinity when unlimited. */
  maxQueue: number;
  /** whisper states created so far; never more than concurrency. */
  states: number;
}

/** Error stacks from native rejections point nowhere useful; give them the caller's frames. */
function withCallerStack(error: WhisperError, callSite: Error): WhisperError {
  const frames = callSite.stack?.split('\n').slice(1).join('\n');
  if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
  return error;
}

/** Above this many 16 kHz samples (30 s, whisper's window), a WAV path is read in windows. */
const LONG_FILE_SAMPLES = 30 * WHISPER_SAMPLE_RATE;

/** Whether a WAV path holds more than one window of audio; false for anything unreadable, which the one-shot path then reports. */
async function isLongWavFile(path: string, audioOptions: TranscribeOptions['audio']): Promise<boolean> {
  let file: Awaited<ReturnType<typeof openWavWindows>> | undefined;
  try {
    file = await openWavWindows(path, audioOptions ?? {});
    return file.info.outputSamples > LONG_FILE_SAMPLES;
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

function abortedError(signal: AbortSignal | undefined): WhisperError {
  const reason: unknown = signal?.reason;
  const detail = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new WhisperError('ABORTED', `the transcription was aborted${detail}`, { cause: reason });
}

/**
 * whisper.cpp decodes up to offset + duration even past the end of the audio, window after
 * window of padding (a 10-minute duration on 3 s of audio took minutes here). A duration
 * that reaches past the end means "to the end" (0).
 */
function clampDuration(offsetMs: number, durationMs: number, samples: number): number {
  const audioMs = (samples / WHISPER_SAMPLE_RATE) * 1000;
  return durationMs > 0 && offsetMs + durationMs >= audioMs ? 0 : durationMs;
}

/**
 * whisper.cpp 1.9.1's CPU convolution asserts (and so aborts the process) on f32 conv
 * kernels, which all-f32 model files have (upstream issue #2557). Refuse them up front
 * unless a GPU backend will run the encoder.
 */
function assertRunnable(file: ModelFileInfo, options: ResolvedLoadOptions): void {
  const conv = file.tensors.find((t) => t.name === 'encoder.conv1.weight');
  if (conv?.typeName !== 'f32') return;
  const system = native().getSystemInfo();
  if (options.gpu && system.cuda) return;
  throw new WhisperError(
    'INVALID_MODEL',
    `${file.path} stores its convolution weights as f32, which whisper.cpp ${system.whisperVersion} ` +
      'cannot run on the CPU (it would abort the process). Convert or quantize the model to f16 (or q8_0/q5_0) first.',
  );
}

export class WhisperModel implements AsyncDisposable {
  readonly info: ModelInfo;
  readonly #native: NativeModel;
  readonly #concurrency: number;
  readonly #limits: ModelLimits;
  readonly #semaphore: Semaphore;
  readonly #idle: NativeState[] = [];
  readonly #all = new Set<NativeState>();
  readonly #jobs = new Set<Promise<unknown>>();
  readonly #counts = { completed: 0, failed: 0, aborted: 0, timedOut: 0, rejected: 0 };
  readonly #auto: AutoConcurrency | undefined;
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(
    nativeModel: NativeModel,
    file: ModelFileInfo,
    nativeInfo: NativeModelInfo,
    options: ResolvedLoadOptions,
    concurrency: number,
    auto: AutoConcurrency | undefined,
  ) {
    this.#auto = auto;
    this.#native = nativeModel;
    this.#concurrency = concurrency;
    this.#semaphore = new Semaphore({ concurrency, maxQueue: options.maxQueue });
    this.info = {
      path: file.path,
      type: nativeInfo.type,
      multilingual: nativeInfo.multilingual,
      weightType: file.weightType,
      fileBytes: file.fileSize,
      nMels: nativeInfo.nMels,
      nVocab: nativeInfo.nVocab,
      audioLayers: nativeInfo.nAudioLayer,
      textLayers: nativeInfo.nTextLayer,
      audioContext: nativeInfo.nAudioCtx,
      textContext: nativeInfo.nTextCtx,
    };
    this.#limits = {
      multilingual: nativeInfo.multilingual,
      nAudioCtx: nativeInfo.nAudioCtx,
      languages: new Set(native().getLanguages().map((l) => l.code)),
      defaultThreads: defaultThreads(concurrency),
    };
  }

  /** Checks the file, then loads it off the JS thread. */
  static async load(path: string, options?: LoadModelOptions): Promise<WhisperModel> {
    const callSite = new Error();
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a path to a ggml model file', path);
    const resolved = resolveLoadOptions(options);
    const file = await inspectModelFile(path);
    assertRunnable(file, resolved);
    // Planned before loading: the device's free memory must still include the weights' share.
    const auto = resolved.concurrency === 'auto' ? await planConcurrency(file, resolved) : undefined;
    const concurrency = auto?.concurrency ?? (resolved.concurrency as number);
    let nativeModel: NativeModel;
    try {
      nativeModel = await native().loadModel(path, {
        useGpu: resolved.gpu,
        gpuDevice: resolved.gpuDevice,
        flashAttn: resolved.flashAttention,
      });
    } catch (error) {
      throw withCallerStack(fromNativeError(error), callSite);
    }
    return new WhisperModel(nativeModel, file, nativeModel.info(), resolved, concurrency, auto);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The most transcriptions that run at once; more wait by priority, then in call order. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Bytes of the weights and of each state created so far, as whisper.cpp allocated them. */
  memory(): ModelMemory {
    this.#assertUsable();
    return modelMemory(this.#native, [...this.#all]);
  }

  /** How concurrency 'auto' was decided; undefined when concurrency was given. */
  get autoConcurrency(): AutoConcurrency | undefined {
    return this.#auto;
  }

  stats(): ModelStats {
    const { running, queued, peakRunning, peakQueued, maxQueue } = this.#semaphore.stats();
    return {
      running,
      queued,
      ...this.#counts,
      peakRunning,
      peakQueued,
      concurrency: this.#concurrency,
      maxQueue,
      states: this.#all.size,
    };
  }

  /**
   * Live audio of any length: 16 kHz mono chunks of any size in, stable segments with absolute
   * times out (see lib/stream/stream.ts). At most one window plus one chunk of audio is held, and the
   * source is pulled only as fast as it is transcribed.
   */
  transcribeStream(source: AsyncIterable<PcmChunk> | Iterable<PcmChunk>, options?: StreamOptions): AsyncGenerator<Segment> {
    return transcribeStream(this, source, options);
  }

  /**
   * Transcribes 16 kHz mono PCM, WAV bytes or a WAV path. A WAV file longer than one window
   * (LONG_FILE_SAMPLES) is read from disk window by window through the streaming transcriber,
   * unless offsetMs, durationMs or detectLanguage ask for the one-shot path; each window is then
   * a job of its own in the pool (its timeoutMs and priority apply per window).
   */
  async transcribe(audio: AudioInput, options: TranscribeOptions = {}): Promise<Transcript> {
    if (typeof audio === 'string' && options !== null && typeof options === 'object' && options.offsetMs === undefined && options.durationMs === undefined && !options.detectLanguage) {
      if (await isLongWavFile(audio, options.audio)) return transcribeLongFile(this, audio, options);
    }
    const callSite = new Error();
    let counted = false;
    try {
      const job = this.#transcribe(audio, options, () => (counted = true));
      this.#jobs.add(job);
      try {
        const transcript = await job;
        this.#counts.completed++;
        return transcript;
      } finally {
        this.#jobs.delete(job);
      }
    } catch (error) {
      if (counted) this.#countFailure(error);
      // Anything that is not a WhisperError by now is the caller's own, thrown by a listener.
      throw error instanceof WhisperError ? withCallerStack(error, callSite) : error;
    }
  }

  #countFailure(error: unknown): void {
    if (isWhisperError(error, 'QUEUE_FULL')) {
      this.#counts.rejected++;
      return;
    }
    this.#counts.failed++;
    if (isWhisperError(error, 'ABORTED')) this.#counts.aborted++;
    else if (isWhisperError(error, 'TIMEOUT')) this.#counts.timedOut++;
  }

  async #transcribe(audio: AudioInput, options: TranscribeOptions, admitted: () => void): Promise<Transcript> {
    this.#assertUsable();
    const params = resolveTranscribeOptions(options, this.#limits);
    const { priority, timeoutMs } = resolveJobOptions(options);
    const { signal, onProgress, onSegment } = options;
    admitted();
    if (signal?.aborted) throw abortedError(signal);

    // One signal for everything that ends this job early: the caller's abort or the deadline.
    const job = new AbortController();
    const onCallerAbort = () => job.abort(abortedError(signal));
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const deadline = Number.isFinite(timeoutMs)
      ? setTimeout(
          () => job.abort(new WhisperError('TIMEOUT', `the transcription did not finish within options.timeoutMs (${timeoutMs} ms)`)),
          timeoutMs,
        )
      : undefined;
    try {
      const queueStart = performance.now();
      // Queued before the audio is decoded, so call order (not decode time) sets the order,
      // and a full queue refuses the job before any work.
      const permit = this.#semaphore.acquire({ priority, signal: job.signal });
      // It may reject while the audio decodes; it is awaited below, so that is no crash.
      permit.catch(() => undefined);
      let pcm: Float32Array;
      let audioMs: number;
      try {
        if (params.vad) await checkVadModelFile(params.vadModelPath, 'options.vad.modelPath');
        const audioStart = performance.now();
        pcm = await loadAudio(audio, options.audio);
        audioMs = performance.now() - audioStart;
      } catch (error) {
        // Give up the place in the queue, or the permit if it came meanwhile.
        job.abort(error);
        await permit.then((release) => release(), () => undefined);
        throw error;
      }
      const release = await permit;
      const queueMs = performance.now() - queueStart;
      try {
        // Checked before a state is created: a disposing model drains its queue this way.
        if (this.#disposed) throw new WhisperError('DISPOSED', 'the model was disposed while the transcription waited');
        params.durationMs = clampDuration(params.offsetMs, params.durationMs, pcm.length);
        const state = await this.#takeState();
        try {
          return await this.#run(state, pcm, params, { onProgress, onSegment }, job.signal, audioMs, queueMs);
        } finally {
          this.#returnState(state);
        }
      } finally {
        release();
      }
    } finally {
      if (deadline !== undefined) clearTimeout(deadline);
      signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  async #run(
    state: NativeState,
    pcm: Float32Array,
    params: NativeTranscribeParams,
    listeners: Pick<TranscribeOptions, 'onProgress' | 'onSegment'>,
    signal: AbortSignal,
    audioMs: number,
    queueMs: number,
  ): Promise<Transcript> {
    if (this.#disposed) throw new WhisperError('DISPOSED', 'the model was disposed while the transcription waited');
    if (signal.aborted) throw abortReasonToError(signal);
    const { onProgress, onSegment } = listeners;
    let listenerError: unknown;
    const onAbort = () => state.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const wantsEvents = onProgress !== undefined || onSegment !== undefined;
      const result = await state.transcribe(
        pcm,
        params,
        wantsEvents
          ? (kind, payload) => {
              if (listenerError !== undefined) return;
              try {
                if (kind === 'progress') onProgress?.(payload as number);
                else onSegment?.(toSegment(payload as Parameters<typeof toSegment>[0]));
              } catch (error) {
                // A throwing listener ends its own job, and the caller gets its error back.
                listenerError = error;
                state.abort();
              }
            }
          : undefined,
      );
      if (listenerError !== undefined) throw listenerError;
      return toTranscript(result, { audioSamples: pcm.length, sampleRate: WHISPER_SAMPLE_RATE, audioMs, queueMs });
    } catch (error) {
      if (listenerError !== undefined) throw listenerError;
      const mapped = fromNativeError(error);
      if (mapped.code === 'ABORTED') {
        if (this.#disposed) throw new WhisperError('DISPOSED', 'the model was disposed while the transcription ran', { cause: mapped });
        // The caller's ABORTED or the deadline's TIMEOUT.
        throw abortReasonToError(signal);
      }
      throw mapped;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #assertUsable(): void {
    if (this.#disposed) throw new WhisperError('DISPOSED', 'the model has been disposed');
  }

  /** Only called while holding a permit, so states never outnumber permits. */
  async #takeState(): Promise<NativeState> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    let state: NativeState;
    try {
      state = await this.#native.createState();
    } catch (error) {
      throw fromNativeError(error);
    }
    this.#all.add(state);
    return state;
  }

  #returnState(state: NativeState): void {
    if (this.#disposed || state.disposed) {
      this.#disposeState(state);
      return;
    }
    this.#idle.push(state);
  }

  #disposeState(state: NativeState): void {
    state.dispose();
    this.#all.delete(state);
  }

  /**
   * Stops new work, rejects queued jobs with DISPOSED, aborts running ones and waits for
   * them, then frees the states and the model. Safe to call more than once.
   */
  dispose(): Promise<void> {
    this.#disposing ??= this.#dispose();
    return this.#disposing;
  }

  async #dispose(): Promise<void> {
    this.#disposed = true;
    for (const state of this.#all) if (state.busy) state.abort();
    // Queued jobs are not rejected here but as the aborted ones hand their states back: each
    // then fails with DISPOSED before it touches native code. That way every job settles in
    // the same turn as the running ones, so a caller that awaits dispose() and only then
    // collects its jobs never sees a rejection that went unhandled meanwhile.
    await Promise.allSettled([...this.#jobs]);
    this.#semaphore.close(() => new WhisperError('DISPOSED', 'the model has been disposed'));
    for (const state of [...this.#all]) this.#disposeState(state);
    this.#idle.length = 0;
    this.#native.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

export function loadModel(path: string, options?: LoadModelOptions): Promise<WhisperModel> {
  return WhisperModel.load(path, options);
}
