/** WhisperModel: one loaded model serving concurrent transcriptions from a pool of states. */
import { loadAudio, WHISPER_SAMPLE_RATE, type AudioInput } from './audio';
import { WhisperError, invalidArgument } from './errors';
import { inspectModelFile, type ModelFileInfo } from './model-file';
import { checkVadModelFile } from './vad-model';
import { fromNativeError, native, type NativeModel, type NativeModelInfo, type NativeState } from './native';
import {
  defaultThreads,
  resolveLoadOptions,
  resolveTranscribeOptions,
  type LoadModelOptions,
  type ModelLimits,
  type ResolvedLoadOptions,
  type TranscribeOptions,
} from './options';
import { toSegment, toTranscript, type Transcript } from './transcript';

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

interface Waiter {
  resolve: (state: NativeState) => void;
  reject: (error: WhisperError) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Error stacks from native rejections point nowhere useful; give them the caller's frames. */
function withCallerStack(error: WhisperError, callSite: Error): WhisperError {
  const frames = callSite.stack?.split('\n').slice(1).join('\n');
  if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
  return error;
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
  readonly #options: ResolvedLoadOptions;
  readonly #limits: ModelLimits;
  readonly #idle: NativeState[] = [];
  readonly #all = new Set<NativeState>();
  readonly #waiters: Waiter[] = [];
  readonly #running = new Set<Promise<unknown>>();
  #creating = 0;
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(nativeModel: NativeModel, file: ModelFileInfo, nativeInfo: NativeModelInfo, options: ResolvedLoadOptions) {
    this.#native = nativeModel;
    this.#options = options;
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
      defaultThreads: defaultThreads(options.concurrency),
    };
  }

  /** Checks the file, then loads it off the JS thread. */
  static async load(path: string, options?: LoadModelOptions): Promise<WhisperModel> {
    const callSite = new Error();
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a path to a ggml model file', path);
    const resolved = resolveLoadOptions(options);
    const file = await inspectModelFile(path);
    assertRunnable(file, resolved);
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
    return new WhisperModel(nativeModel, file, nativeModel.info(), resolved);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The most transcriptions that run at once; more wait in FIFO order. */
  get concurrency(): number {
    return this.#options.concurrency;
  }

  async transcribe(audio: AudioInput, options: TranscribeOptions = {}): Promise<Transcript> {
    const callSite = new Error();
    try {
      const job = this.#transcribe(audio, options);
      this.#running.add(job);
      try {
        return await job;
      } finally {
        this.#running.delete(job);
      }
    } catch (error) {
      // Anything that is not a WhisperError by now is the caller's own, thrown by a listener.
      throw error instanceof WhisperError ? withCallerStack(error, callSite) : error;
    }
  }

  async #transcribe(audio: AudioInput, options: TranscribeOptions): Promise<Transcript> {
    this.#assertUsable();
    const params = resolveTranscribeOptions(options, this.#limits);
    const { signal, onProgress, onSegment } = options;
    if (signal?.aborted) throw abortedError(signal);
    if (params.vad) await checkVadModelFile(params.vadModelPath);

    const audioStart = performance.now();
    const pcm = await loadAudio(audio, options.audio);
    const audioMs = performance.now() - audioStart;
    if (signal?.aborted) throw abortedError(signal);
    params.durationMs = clampDuration(params.offsetMs, params.durationMs, pcm.length);

    const queueStart = performance.now();
    const state = await this.#acquire(signal);
    const queueMs = performance.now() - queueStart;
    if (signal?.aborted) {
      this.#release(state);
      throw abortedError(signal);
    }

    let listenerError: unknown;
    const onAbort = () => state.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
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
        throw abortedError(signal);
      }
      throw mapped;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#release(state);
    }
  }

  #assertUsable(): void {
    if (this.#disposed) throw new WhisperError('DISPOSED', 'the model has been disposed');
  }

  async #acquire(signal: AbortSignal | undefined): Promise<NativeState> {
    this.#assertUsable();
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.size + this.#creating < this.#options.concurrency) {
      this.#creating++;
      try {
        const state = await this.#native.createState();
        this.#all.add(state);
        if (this.#disposed) {
          this.#disposeState(state);
          throw new WhisperError('DISPOSED', 'the model was disposed while the transcription waited');
        }
        return state;
      } catch (error) {
        throw fromNativeError(error);
      } finally {
        this.#creating--;
      }
    }
    return new Promise<NativeState>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(abortedError(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
    });
  }

  #release(state: NativeState): void {
    if (this.#disposed || state.disposed) {
      this.#disposeState(state);
      return;
    }
    const next = this.#waiters.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(state);
    } else {
      this.#idle.push(state);
    }
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
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new WhisperError('DISPOSED', 'the model was disposed while the transcription waited'));
    }
    for (const state of this.#all) if (state.busy) state.abort();
    await Promise.allSettled([...this.#running]);
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
