/**
 * WhisperModel: one loaded model serving concurrent transcriptions from a pool of states. The
 * class wires the parts: the device choice (devices.ts), the state pool (state-pool.ts), each
 * job's life (job.ts, long audio included), the counts (stats.ts) and the
 * guards against upstream behaviour (upstream-quirks.ts).
 */
import type { AudioInput } from '../audio/pcm';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { describeModel, inspectModelFile, type ModelDescription, type ModelFileInfo } from '../model-files/inspect';
import { resolveModelPath } from '../model-files/resolve-model';
import { fromNativeError, native } from '../native/addon';
import type { NativeModel } from '../native/native-api';
import { defaultThreads, resolveLoadOptions, type LoadModelOptions, type ModelLimits, type TranscribeOptions } from '../transcription/options';
import type { Segment, Transcript } from '../transcription/transcript';
import type { PcmChunk } from '../stream/chunks';
import type { StreamOptions } from '../stream/options';
import { transcribeStream } from '../stream/transcribe-stream';
import { alignmentLoadOptions, planConcurrency, type AutoConcurrency } from './concurrency';
import { selectDevice } from './devices';
import { runJob, type JobHost } from './job';
import { modelMemory, type ModelMemory } from './memory';
import { StatePool } from './state-pool';
import { JobCounts, type ModelStats } from './stats';
import { assertRunnable } from './upstream-quirks';

export type { ModelStats } from './stats';

/** What the loaded model is: its file's description (see inspectModelFile in whisper-napi/tools). */
export type ModelInfo = ModelDescription;

/** Error stacks from native rejections point nowhere useful; give them the caller's frames. */
function withCallerStack(error: WhisperError, callSite: Error): WhisperError {
  const frames = callSite.stack?.split('\n').slice(1).join('\n');
  if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
  return error;
}

export class WhisperModel implements AsyncDisposable {
  readonly info: ModelInfo;
  readonly #native: NativeModel;
  readonly #pool: StatePool;
  readonly #host: JobHost;
  readonly #jobs = new Set<Promise<unknown>>();
  readonly #counts = new JobCounts();
  readonly #concurrency: number;
  readonly #auto: AutoConcurrency | undefined;
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(
    nativeModel: NativeModel,
    file: ModelFileInfo,
    options: { concurrency: number; maxQueue: number; auto: AutoConcurrency | undefined; wordTimestamps: boolean },
  ) {
    const nativeInfo = nativeModel.info();
    this.info = describeModel(file);
    this.#native = nativeModel;
    this.#concurrency = options.concurrency;
    this.#auto = options.auto;
    this.#pool = new StatePool(nativeModel, options);
    const limits: ModelLimits = {
      multilingual: nativeInfo.multilingual,
      nAudioCtx: nativeInfo.nAudioCtx,
      languages: new Set(
        native()
          .getLanguages()
          .map((l) => l.code),
      ),
      defaultThreads: defaultThreads(options.concurrency),
      wordTimestamps: options.wordTimestamps,
    };
    this.#host = { pool: this.#pool, limits, isDisposed: () => this.#disposed };
  }

  /** Checks the file and the device, then loads it off the JS thread. */
  static async load(pathOrName: string, options?: LoadModelOptions): Promise<WhisperModel> {
    const callSite = new Error();
    if (typeof pathOrName !== 'string' || pathOrName.length === 0) {
      throw invalidArgument('path', 'a path to a ggml model file or a model name (see MODEL_CATALOGUE)', pathOrName);
    }
    const resolved = resolveLoadOptions(options);
    const path = await resolveModelPath(pathOrName, resolved);
    const file = await inspectModelFile(path);
    const device = selectDevice(native().getDevices(), resolved);
    assertRunnable(file, device, native().getSystemInfo().whisperVersion);
    const alignment = alignmentLoadOptions(resolved.alignmentHeads, file);
    // Planned before loading: the device's free memory must still include the weights' share.
    const auto = resolved.concurrency === 'auto' ? await planConcurrency(file, resolved, device) : undefined;
    const concurrency = auto?.concurrency ?? (resolved.concurrency as number);
    let nativeModel: NativeModel;
    try {
      nativeModel = await native().loadModel(path, {
        useGpu: resolved.gpu,
        gpuDevice: resolved.gpuDevice,
        flashAttn: resolved.flashAttention,
        ...alignment,
      });
    } catch (error) {
      throw withCallerStack(fromNativeError(error), callSite);
    }
    return new WhisperModel(nativeModel, file, { concurrency, maxQueue: resolved.maxQueue, auto, wordTimestamps: resolved.alignmentHeads !== '' });
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
    return modelMemory(this.#native, this.#pool.states());
  }

  /** How concurrency 'auto' was decided; undefined when concurrency was given. */
  get autoConcurrency(): AutoConcurrency | undefined {
    return this.#auto;
  }

  stats(): ModelStats {
    return this.#counts.snapshot(this.#pool.queueStats(), this.#pool.states().length);
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
   * Transcribes audio: 16 kHz mono PCM, or an audio file as a path, bytes or a stream of bytes
   * (WAV, FLAC, MP3 and Ogg Vorbis decoded here, anything else through ffmpeg). Audio longer
   * than one window (LONG_FILE_SAMPLES) that is not already in memory is decoded and
   * transcribed window by window on one state, unless offsetMs, durationMs or detectLanguage
   * ask for it whole. Either way it is one job: its priority, timeoutMs and signal cover the
   * whole call, and stats() counts it once.
   */
  async transcribe(audio: AudioInput, options: TranscribeOptions = {}): Promise<Transcript> {
    const callSite = new Error();
    let counted = false;
    try {
      const job = runJob(this.#host, audio, options, () => (counted = true));
      this.#jobs.add(job);
      try {
        const transcript = await job;
        this.#counts.completed();
        return transcript;
      } finally {
        this.#jobs.delete(job);
      }
    } catch (error) {
      if (counted) this.#counts.failed(error);
      // Anything that is not a WhisperError by now is the caller's own, thrown by a listener.
      throw error instanceof WhisperError ? withCallerStack(error, callSite) : error;
    }
  }

  #assertUsable(): void {
    if (this.#disposed) throw new WhisperError('DISPOSED', 'the model has been disposed');
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
    this.#pool.stop();
    // Queued jobs are not rejected here but as the aborted ones hand their states back: each
    // then fails with DISPOSED before it touches native code. That way every job settles in
    // the same turn as the running ones, so a caller that awaits dispose() and only then
    // collects its jobs never sees a rejection that went unhandled meanwhile.
    await Promise.allSettled([...this.#jobs]);
    this.#pool.close(() => new WhisperError('DISPOSED', 'the model has been disposed'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

export function loadModel(pathOrName: string, options?: LoadModelOptions): Promise<WhisperModel> {
  return WhisperModel.load(pathOrName, options);
}
