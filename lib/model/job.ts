/**
 * One transcription job's life in a model's pool: its options resolved, its place in the
 * queue (priority), its deadline (timeoutMs) and the caller's abort joined into one signal,
 * the audio decoded while it waits, then a state, the native call (or one per window of long
 * audio), and the transcript.
 */
import { resolveAudioOptions, type ResolvedAudioOptions } from '../audio/audio-options';
import { openAudioSource } from '../audio/open-source';
import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE, type AudioInput } from '../audio/pcm';
import { pcmSource, readHead, readRemainingPcm } from '../audio/pcm-source';
import type { AudioSource } from '../audio/source';
import { abortError } from '../errors/abort';
import { WhisperError } from '../errors/whisper-error';
import { resolveVadModelPath } from '../model-files/resolve-model';
import { checkVadModelFile } from '../model-files/vad-file';
import { fromNativeError } from '../native/addon';
import { callWithFittedContext, type NativeCall, type NativeEvent } from './fitted-context';
import type { NativeSegment, NativeState, NativeTranscribeParams, NativeTranscript } from '../native/native-api';
import {
  fitsAudioContext,
  resolveJobOptions,
  resolveResultShaping,
  resolveTranscribeOptions,
  type ModelLimits,
  type ResultShaping,
  type TranscribeOptions,
} from '../transcription/options';
import { isNonSpeechSegment } from '../transcription/silence';
import { toSegment, toTranscript, type Transcript } from '../transcription/transcript';
import { sourcePieces, transcribeWindowed } from '../stream/long-file';
import { PackedWindowPlanner, sileroProbabilities } from '../stream/packed-windows';
import { shiftSegment } from '../stream/seams';
import type { StreamTranscriber } from '../stream/windows';
import { LONG_FILE_SAMPLES, mayWindow } from './long-file-routing';
import { transcribeParallelWindows } from './parallel-windows';
import type { StatePool } from './state-pool';
import { clampDuration } from './upstream-quirks';

/** What a job needs of the model that runs it. */
export interface JobHost {
  readonly pool: StatePool;
  readonly limits: ModelLimits;
  /** True from the moment the model's dispose() was called. */
  isDisposed(): boolean;
}

/** What a native call delivers to, and whether its encoder context is fitted to its audio (audioContext 'auto'). */
type CallOptions = Pick<TranscribeOptions, 'onProgress' | 'onSegment'> & { fitContext: boolean };

const disposedWhile = (what: 'waited' | 'ran', cause?: unknown) =>
  new WhisperError('DISPOSED', `the model was disposed while the transcription ${what}`, cause === undefined ? undefined : { cause });

/**
 * Runs one transcription through the pool. `admitted` is called once the options are valid,
 * before anything else can fail: from then on the job counts in the model's stats. Long audio
 * is windowed here, under the pool: one job, one state, one deadline for all its windows.
 */
export async function runJob(host: JobHost, audio: AudioInput, options: TranscribeOptions, admitted: () => void): Promise<Transcript> {
  if (host.isDisposed()) throw new WhisperError('DISPOSED', 'the model has been disposed');
  const params = resolveTranscribeOptions(options, host.limits);
  const shaping = resolveResultShaping(options, host.limits);
  const { priority, timeoutMs, windowing } = resolveJobOptions(options);
  const audioOptions = resolveAudioOptions(options.audio);
  const { signal: callerSignal, onProgress, onSegment } = options;
  admitted();
  if (callerSignal?.aborted) throw abortError(callerSignal);

  const job = jobSignal(callerSignal, timeoutMs);
  let prepared: PreparedAudio | undefined;
  try {
    const queueStart = performance.now();
    // Queued before the audio is decoded, so call order (not decode time) sets the order,
    // and a full queue refuses the job before any work.
    const permit = host.pool.reserve({ priority, signal: job.signal });
    // It may reject while the audio decodes; it is awaited below, so that is no crash.
    permit.catch(() => undefined);
    let audioMs: number;
    try {
      if (params.vad) {
        params.vadModelPath = await resolveVadModelPath(params.vadModelPath, 'options.vad.modelPath');
        await checkVadModelFile(params.vadModelPath, 'options.vad.modelPath');
      }
      const audioStart = performance.now();
      prepared = await prepareAudio(audio, audioOptions, mayWindow(options), params, job.signal);
      if (host.limits.wordTimestamps && prepared.kind === 'whole') prepared = windowedForAlignment(prepared.pcm, params);
      audioMs = performance.now() - audioStart;
    } catch (error) {
      // Give up the place in the queue, or the permit if it came meanwhile.
      job.abort(error);
      await permit.then(
        (release) => release(),
        () => undefined,
      );
      throw error;
    }
    const release = await permit;
    const queueMs = performance.now() - queueStart;
    try {
      // Checked before a state is created: a disposing model drains its queue this way.
      if (host.isDisposed()) throw disposedWhile('waited');
      const audioToRun = prepared;
      return await host.pool.withState(async (state) => {
        if (audioToRun.kind === 'windows') {
          const decodeStart = performance.now();
          // Each window resolves its options again: give them the VAD file found for the job.
          const windowedOptions = params.vad && options.vad ? { ...options, vad: { ...options.vad, modelPath: params.vadModelPath } } : options;
          if (windowing === 'parallel') {
            // Windows overlap, so the audio's share is what planning them took (decoding and Silero).
            const transcript = await transcribeParallelOnState(host, state, audioToRun, options, params, job.signal);
            transcript.timings.audioMs += audioMs;
            transcript.timings.queueMs = queueMs;
            return transcript;
          }
          const transcript = await transcribeWindowsOnState(host, state, audioToRun, windowedOptions, job.signal);
          const whisperMs = transcript.timings.inferenceMs;
          transcript.timings.audioMs = audioMs + Math.max(0, performance.now() - decodeStart - whisperMs);
          transcript.timings.queueMs = queueMs;
          return transcript;
        }
        const pcm = audioToRun.pcm;
        params.durationMs = clampDuration(params.offsetMs, params.durationMs, pcm.length);
        const call = { onProgress, onSegment, fitContext: fitsAudioContext(options, host.limits) };
        const result = await transcribeOnState(host, state, pcm, params, shaping, call, job.signal);
        return toTranscript(result, { audioSamples: pcm.length, sampleRate: WHISPER_SAMPLE_RATE, audioMs, queueMs }, shaping);
      });
    } finally {
      release();
    }
  } finally {
    job.end();
    if (prepared?.kind === 'windows') await prepared.source.close();
  }
}

/**
 * The audio as the job runs it: whole, or a source to window with what was read of it so far
 * (starting `offsetMs` into the input when it is a range of audio already in memory).
 */
type PreparedAudio = { kind: 'whole'; pcm: Float32Array } | { kind: 'windows'; source: AudioSource; head: Float32Array; offsetMs: number; totalSamples?: number };

/**
 * whisper.cpp's DTW aborts the process on a final window under 160 ms. The worker's guard
 * (binding/transcribe_worker.cpp) locates whisper's position from its 1 % progress steps, which
 * rules that out only while one call spans at most this much audio.
 */
const ALIGNED_CALL_SAMPLES = 60 * WHISPER_SAMPLE_RATE;

/**
 * For a model with word timestamps, audio in memory longer than ALIGNED_CALL_SAMPLES (the
 * offsetMs/durationMs range of it) is windowed like long files, so no native call is longer.
 */
function windowedForAlignment(pcm: Float32Array, params: NativeTranscribeParams): PreparedAudio {
  if (params.detectLanguage) return { kind: 'whole', pcm };
  const start = Math.min(pcm.length, Math.round(params.offsetMs * SAMPLES_PER_MS));
  const end = params.durationMs > 0 ? Math.min(pcm.length, start + Math.round(params.durationMs * SAMPLES_PER_MS)) : pcm.length;
  if (end - start <= ALIGNED_CALL_SAMPLES) return { kind: 'whole', pcm };
  return { kind: 'windows', source: pcmSource(pcm.subarray(start, end), 'pcm'), head: new Float32Array(0), offsetMs: params.offsetMs, totalSamples: pcm.length };
}

/**
 * Decodes the audio while the job waits in the queue, never past what the job will use, and
 * checking the job's signal between pieces (so abort and timeoutMs end a long decode). PCM
 * already in memory (a Float32Array) runs in one whisper_full call, as whisper-cli would.
 * Options that need the audio as one piece (offsetMs, durationMs, detectLanguage) read it
 * whole, up to the end of the range they use. Anything else is read up to one window: audio
 * that ends within it runs in one call too, longer audio in windows (LONG_FILE_SAMPLES),
 * decoded as the windows go, so a waiting job holds at most one window of PCM.
 */
async function prepareAudio(
  audio: AudioInput,
  options: ResolvedAudioOptions,
  mayWindow: boolean,
  params: NativeTranscribeParams,
  signal: AbortSignal,
): Promise<PreparedAudio> {
  const source = await openAudioSource(audio, options, signal);
  let keepOpen = false;
  try {
    if (audio instanceof Float32Array) return { kind: 'whole', pcm: audio };
    if (!mayWindow) return { kind: 'whole', pcm: await readRemainingPcm(source, undefined, { maxSamples: samplesUsed(params), signal }) };
    const { head, ended } = await readHead(source, LONG_FILE_SAMPLES + 1);
    if (ended) return { kind: 'whole', pcm: await readRemainingPcm(source, head, { signal }) };
    keepOpen = true;
    return { kind: 'windows', source, head, offsetMs: 0 };
  } finally {
    if (!keepOpen) await source.close();
  }
}

/**
 * How many samples from the start a call on audio read whole will look at: up to the end of
 * `durationMs`, or the one window language detection reads, or (offsetMs alone) all of it.
 */
function samplesUsed(params: NativeTranscribeParams): number | undefined {
  const offset = Math.round(params.offsetMs * SAMPLES_PER_MS);
  if (params.durationMs > 0) return offset + Math.round(params.durationMs * SAMPLES_PER_MS);
  if (params.detectLanguage) return offset + LONG_FILE_SAMPLES;
  return undefined;
}

/**
 * Long audio on the one state this job holds: each window is a native call on it, so the
 * job's signal (abort, timeoutMs, dispose) covers all of them, and stats() counts one job.
 */
async function transcribeWindowsOnState(
  host: JobHost,
  state: NativeState,
  audio: Extract<PreparedAudio, { kind: 'windows' }>,
  options: TranscribeOptions,
  signal: AbortSignal,
): Promise<Transcript> {
  const onState: StreamTranscriber = {
    transcribe: async (pcm, windowOptions) => {
      const params = resolveTranscribeOptions(windowOptions ?? {}, host.limits);
      const shaping = resolveResultShaping(windowOptions ?? {}, host.limits);
      const result = await transcribeOnState(host, state, pcm, params, shaping, { fitContext: fitsAudioContext(windowOptions, host.limits) }, signal);
      return toTranscript(result, { audioSamples: pcm.length, sampleRate: WHISPER_SAMPLE_RATE, audioMs: 0, queueMs: 0 }, shaping);
    },
  };
  const transcript = await transcribeWindowed(
    onState,
    { pieces: sourcePieces(audio.source, audio.head), statedSamples: audio.source.statedSamples, format: audio.source.format },
    { ...windowTranscribeOptions(options), signal },
  );
  if (audio.offsetMs > 0) transcript.segments = transcript.segments.map((segment, index) => shiftSegment(segment, audio.offsetMs, index));
  if (audio.totalSamples !== undefined) transcript.audioDurationMs = Math.round(audio.totalSamples / SAMPLES_PER_MS);
  return transcript;
}

/** A job's options less what only the job uses (the range is already cut out of the audio): what its windows are transcribed with. */
function windowTranscribeOptions(options: TranscribeOptions): TranscribeOptions {
  const {
    audio: _audio,
    signal: _signal,
    timeoutMs: _timeoutMs,
    priority: _priority,
    offsetMs: _offsetMs,
    durationMs: _durationMs,
    detectLanguage: _detectLanguage,
    ...windowOptions
  } = options;
  return windowOptions;
}

/**
 * Long audio in windows planned by Silero and run at once (windowing 'parallel'): the job's
 * state and, while windows are ready, free permits nobody waits for. `params` are the job's
 * own, VAD file resolved; the windows are decoded without VAD (they are speech already) and
 * without text from one another (noContext), each with the caller's own prompt if any.
 */
async function transcribeParallelOnState(
  host: JobHost,
  state: NativeState,
  audio: Extract<PreparedAudio, { kind: 'windows' }>,
  options: TranscribeOptions,
  params: NativeTranscribeParams,
  signal: AbortSignal,
): Promise<Transcript> {
  const { onProgress, onSegment, windowing: _windowing, vad: _vad, ...windowOptions } = windowTranscribeOptions(options);
  const windowParams = resolveTranscribeOptions(windowOptions, host.limits);
  const shaping = resolveResultShaping(windowOptions, host.limits);
  const fitContext = fitsAudioContext(windowOptions, host.limits);
  const planner = new PackedWindowPlanner(sourcePieces(audio.source, audio.head), {
    threshold: params.vadThreshold,
    minSpeechDurationMs: params.vadMinSpeechDurationMs,
    minSilenceDurationMs: params.vadMinSilenceDurationMs,
    speechPadMs: params.vadSpeechPadMs,
    speechProbabilities: sileroProbabilities(params.vadModelPath),
  });
  try {
    const transcript = await transcribeParallelWindows({
      planner,
      pool: host.pool,
      ownState: state,
      language: windowParams.language,
      signal,
      statedSamples: audio.source.statedSamples,
      onSegment,
      onProgress,
      transcribeWindow: async (windowState, window, language, windowSignal) => {
        // noContext: a state's previous text would be whichever window it ran before, not the one before this.
        const result = await transcribeOnState(host, windowState, window.pcm, { ...windowParams, language, noContext: true }, shaping, { fitContext }, windowSignal);
        return toTranscript(result, { audioSamples: window.pcm.length, sampleRate: WHISPER_SAMPLE_RATE, audioMs: 0, queueMs: 0 }, shaping);
      },
    });
    if (audio.offsetMs > 0) transcript.segments = transcript.segments.map((segment, index) => shiftSegment(segment, audio.offsetMs, index));
    if (audio.totalSamples !== undefined) transcript.audioDurationMs = Math.round(audio.totalSamples / SAMPLES_PER_MS);
    return transcript;
  } finally {
    await planner.close();
  }
}

/**
 * One signal for everything that ends a job early: the caller's abort (ABORTED) or the
 * deadline (TIMEOUT), whichever comes first; its reason is the job's error. end() detaches
 * it from the caller's signal and stops the clock.
 */
function jobSignal(callerSignal: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(abortError(callerSignal));
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const deadline = Number.isFinite(timeoutMs)
    ? setTimeout(() => controller.abort(new WhisperError('TIMEOUT', `the transcription did not finish within options.timeoutMs (${timeoutMs} ms)`)), timeoutMs)
    : undefined;
  return {
    signal: controller.signal,
    abort: (reason: unknown) => controller.abort(reason),
    end: () => {
      if (deadline !== undefined) clearTimeout(deadline);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

/**
 * The native call on a state this job holds: the job's signal aborts it, listener events
 * are delivered, and a listener that throws ends its own job with its own error.
 */
async function transcribeOnState(
  host: JobHost,
  state: NativeState,
  pcm: Float32Array,
  params: NativeTranscribeParams,
  shaping: ResultShaping,
  call: CallOptions,
  signal: AbortSignal,
): Promise<NativeTranscript> {
  if (host.isDisposed()) throw disposedWhile('waited');
  if (signal.aborted) throw abortError(signal);
  const { onProgress, onSegment, fitContext } = call;
  let listenerError: unknown;
  const onAbort = () => state.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const wantsEvents = onProgress !== undefined || onSegment !== undefined;
  let outcome: { result: NativeTranscript } | { error: WhisperError };
  try {
    const onEvent: NativeEvent | undefined = wantsEvents
      ? (kind, payload) => {
          if (listenerError !== undefined) return;
          try {
            if (kind === 'progress') onProgress?.(payload as number);
            else {
              const segment = toSegment(payload as NativeSegment, shaping);
              if (shaping.keepNonSpeech || !isNonSpeechSegment(segment)) onSegment?.(segment);
            }
          } catch (error) {
            listenerError = error;
            state.abort();
          }
        }
      : undefined;
    const native: NativeCall = (callParams, events) => state.transcribe(pcm, callParams, events);
    const result = fitContext ? (await callWithFittedContext(native, params, pcm.length, host.limits.nAudioCtx, onEvent)).result : await native(params, onEvent);
    outcome = { result };
  } catch (error) {
    outcome = { error: nativeFailure(host, error, signal) };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  // A listener that threw ended its own job: the caller gets its own error back, as thrown.
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  if (listenerError !== undefined) throw listenerError;
  if ('error' in outcome) throw outcome.error;
  return outcome.result;
}

/** The error for a failed native call: an abort is the job's own reason, or DISPOSED when dispose() caused it. */
function nativeFailure(host: JobHost, error: unknown, signal: AbortSignal): WhisperError {
  const mapped = fromNativeError(error);
  if (mapped.code !== 'ABORTED') return mapped;
  if (host.isDisposed()) return disposedWhile('ran', mapped);
  // The caller's ABORTED or the deadline's TIMEOUT.
  return abortError(signal);
}
