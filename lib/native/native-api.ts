/**
 * The whole native surface in one place: what binding/ exports, typed. Types only, so that
 * every file of lib/native/ can name them without importing the code that loads the addon.
 * Which binary provides this surface is lib/native/loader.ts's decision.
 */
export interface NativeLoadOptions {
  useGpu: boolean;
  gpuDevice: number;
  flashAttn: boolean;
  /**
   * DTW token timestamps with whisper.cpp's alignment heads: a preset name ('base', 'large.v3.turbo',
   * ...) or 'top-most' (every head of the last `alignmentTopLayers` text layers). Absent or '': off.
   * Needs flashAttn false (whisper.cpp would silently drop DTW).
   */
  alignmentHeads?: string;
  /** With 'top-most': how many of the last text layers, 1 to the model's. */
  alignmentTopLayers?: number;
  /** With alignment heads: whisper.cpp's dtw_mem_size, the DTW work context (1 MiB to 16 GiB). */
  dtwMemoryBytes?: number;
}

/** The hyperparameters whisper.cpp loaded, as it reports them. */
export interface NativeModelInfo {
  multilingual: boolean;
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
}

/** Every field is required: lib/transcription/options.ts resolves defaults before the native call. */
export interface NativeTranscribeParams {
  strategy: 'greedy' | 'beam';
  bestOf: number;
  beamSize: number;
  threads: number;
  maxTextContext: number;
  offsetMs: number;
  durationMs: number;
  translate: boolean;
  noContext: boolean;
  noTimestamps: boolean;
  singleSegment: boolean;
  tokenTimestamps: boolean;
  tokenTimestampThreshold: number;
  tokenTimestampSumThreshold: number;
  maxSegmentLength: number;
  splitOnWord: boolean;
  maxTokensPerSegment: number;
  audioContext: number;
  tinydiarize: boolean;
  suppressRegex: string;
  initialPrompt: string;
  carryInitialPrompt: boolean;
  language: string;
  detectLanguage: boolean;
  suppressBlank: boolean;
  suppressNonSpeechTokens: boolean;
  temperature: number;
  maxInitialTimestamp: number;
  lengthPenalty: number;
  temperatureIncrement: number;
  entropyThreshold: number;
  logprobThreshold: number;
  noSpeechThreshold: number;
  vad: boolean;
  vadModelPath: string;
  vadThreshold: number;
  vadMinSpeechDurationMs: number;
  vadMinSilenceDurationMs: number;
  vadMaxSpeechDurationS: number;
  vadSpeechPadMs: number;
  vadSamplesOverlap: number;
}

export interface NativeToken {
  id: number;
  text: string;
  probability: number;
  logProbability: number;
  timestampProbability: number;
  timestampProbabilitySum: number;
  /** -1 unless token timestamps were requested. */
  startMs: number;
  endMs: number;
  /** The DTW alignment time; -1 unless the model was loaded with alignment heads. */
  dtwMs: number;
  special: boolean;
}

export interface NativeSegment {
  index: number;
  startMs: number;
  endMs: number;
  text: string;
  noSpeechProbability: number;
  speakerTurnNext: boolean;
  /** The temperature of the decoding attempt whisper_full kept for this segment's window. */
  temperature: number;
  /** Where the 30 s window this segment was decoded from starts. */
  windowStartMs: number;
  tokens: NativeToken[];
}

export interface NativeTranscript {
  segments: NativeSegment[];
  language: string;
  /** -1 when the language was given rather than detected. */
  languageProbability: number;
  timings: { totalMs: number; languageDetectionMs: number; encoderRuns: number };
}

export interface NativeState {
  transcribe(
    pcm: Float32Array,
    params: NativeTranscribeParams,
    onEvent?: (kind: 'progress' | 'segment', payload: number | NativeSegment) => void,
  ): Promise<NativeTranscript>;
  /** Asks the running job, if any, to stop at the next ggml graph boundary. */
  abort(): void;
  /** What whisper_init_state logged it allocated; throws DISPOSED once disposed. */
  memory(): NativeStateMemory;
  /** Releases the state; a running job aborts and frees it when it ends. Idempotent. */
  dispose(): void;
  readonly busy: boolean;
  readonly disposed: boolean;
}

export interface NativeModel {
  info(): NativeModelInfo;
  createState(): Promise<NativeState>;
  /** The weights' backend buffers as whisper.cpp logged them while loading. */
  memory(): NativeWeightsMemory;
  /** Drops the model's reference; whisper_free runs after the last state lets go. Idempotent. */
  dispose(): void;
  readonly disposed: boolean;
}

/** Bytes, read from whisper.cpp's "%.2f MB" log lines (10 kB resolution); -1 where it logged nothing. */
export interface NativeStateMemory {
  kvSelf: number;
  kvCross: number;
  kvPad: number;
  conv: number;
  encode: number;
  cross: number;
  decode: number;
  /** The most decoders a job started on this state may have used (1 until such a job). */
  maxDecoders: number;
  /**
   * Bytes DTW uses beyond the logged buffers, 0 for a model loaded without alignment heads: the
   * heads' masks, the copy of their attention the state keeps, and the dtw_mem_size context each
   * window's alignment allocates while it runs.
   */
  dtw: number;
}

export interface NativeWeightsMemory {
  /** One entry per backend buffer holding weights, named as ggml names it ("CPU", "CUDA0", ...). */
  buffers: Array<{ buffer: string; bytes: number }>;
  /** The sum of the loaded tensors' sizes ("model size"); -1 if not logged. */
  tensorBytes: number;
}

export interface NativeDevice {
  index: number;
  name: string;
  description: string;
  type: 'cpu' | 'gpu' | 'igpu' | 'accel' | 'other';
  backend: string;
  freeBytes: number;
  totalBytes: number;
}

export interface NativeSystemInfo {
  whisperVersion: string;
  systemInfo: string;
  /** A CUDA backend is registered with at least one device. */
  cuda: boolean;
  /** The binary was compiled with the CUDA backend (it may still have failed to load). */
  cudaBuild: boolean;
}

export interface NativeBackend {
  /** ggml's registry name: "CPU", "CUDA", ... */
  name: string;
  /** The library the backend lives in (a CPU variant such as libggml-cpu-haswell.so, or the addon itself). */
  path: string;
  devices: number;
  /** ggml's feature list for the backend, e.g. { AVX2: "1" } for a CPU variant. */
  features: Record<string, string>;
}

export interface NativeBackendInfo {
  /** The backends are modules loaded at run time (ggml's CPU variants) rather than linked in. */
  dynamicBackends: boolean;
  addonPath: string;
  backends: NativeBackend[];
}

export interface NativeLanguage {
  id: number;
  code: string;
  name: string;
}

/** A format the addon decodes itself (miniaudio's dr_wav, dr_flac, dr_mp3 and stb_vorbis). */
export type NativeAudioFormat = 'wav' | 'flac' | 'mp3' | 'vorbis';

export interface NativeAudioDecoderInfo {
  format: NativeAudioFormat;
  /** The stream's own sample rate and channel count. */
  sourceSampleRate: number;
  sourceChannels: number;
  /**
   * Output (16 kHz) frames as the container states them, or -1 when it does not. Never used to
   * allocate. An MP3 without a Xing/Info or VBRI header states none (finding it would read the whole file).
   */
  statedFrames: number;
}

/** An open native decoder: 16 kHz mono float32 PCM, a piece at a time. */
export interface NativeAudioDecoder {
  /** What was opened; still answers after close(). */
  info(): NativeAudioDecoderInfo;
  /**
   * Up to maxFrames (1..16000*60) samples of 16 kHz mono float32, decoded on a libuv worker thread;
   * an empty Float32Array at the end. Reads are serialised: concurrent reads get consecutive pieces
   * in call order. A damaged stream rejects with INVALID_AUDIO, and so does every later read.
   */
  read(maxFrames: number): Promise<Float32Array>;
  /**
   * Frees the decoder once no read is in flight (shared ownership): reads asked for before close()
   * still finish. Safe to call twice; a read after close rejects with INVALID_ARGUMENT 'decoder: closed'.
   */
  close(): void;
}

export type NativeLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface NativeAddon {
  loadModel(path: string, options: NativeLoadOptions): Promise<NativeModel>;
  getDevices(): NativeDevice[];
  getSystemInfo(): NativeSystemInfo;
  getBackendInfo(): NativeBackendInfo;
  getLanguages(): NativeLanguage[];
  /**
   * Quantizes whole rows with ggml_quantize_chunk on a worker thread. `src` holds little-endian f32
   * (srcType 0) or f16 (srcType 1) values and is copied before the call returns. dstType is a ggml
   * type id: 2 q4_0, 3 q4_1, 6 q5_0, 7 q5_1, 8 q8_0, or 1 f16. nPerRow must be a multiple of the
   * type's block size and divide the value count. Bad arguments throw (code INVALID_ARGUMENT).
   */
  quantize(src: ArrayBufferView, srcType: 0 | 1, dstType: number, nPerRow: number): Promise<Buffer>;
  /**
   * Throws INVALID_ARGUMENT naming options.suppressRegex unless transcribe accepts `pattern` as its
   * suppressRegex: std::regex (ECMAScript) compiles it within the addon's bounds (binding/params.cpp
   * owns them). Synchronous and cheap (milliseconds at most).
   */
  checkSuppressRegex(pattern: string): void;
  /** minLevel: 0 debug, 1 info, 2 warn, 3 error. */
  setLogger(logger: ((level: NativeLogLevel, message: string) => void) | null, minLevel: number): void;
  /**
   * Silero speech probability (0..1) of each 512-sample frame of 16 kHz `pcm` (the last frame
   * zero-padded), on a worker thread. The model is loaded for the call; `pcm` is copied first.
   */
  vadSpeechProbabilities(modelPath: string, pcm: Float32Array, threads: number): Promise<Float32Array>;
  /**
   * Opens `source` (a file path, or bytes, which are copied) as `format`, decoding on a worker thread.
   * channel: -1 mixes all channels (miniaudio's downmix, as whisper-cli), n picks channel n.
   * Rejects with INVALID_AUDIO (not that format, or empty), AUDIO_NOT_FOUND, FILE_UNREADABLE, or
   * INVALID_ARGUMENT for a path that is not a regular file or a channel the audio does not have;
   * badly typed arguments throw INVALID_ARGUMENT.
   */
  openAudioDecoder(source: string | Uint8Array, options: { format: NativeAudioFormat; channel: number }): Promise<NativeAudioDecoder>;
}
