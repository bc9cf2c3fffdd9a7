/**
 * The runtime API, `whisper-napi`: what a program that transcribes needs. Model-file tools
 * (convert, quantize, synthesize, inspect), WER scoring and the memory planner's building
 * blocks are in `whisper-napi/tools` (lib/tools/index.ts).
 */
export { loadModel, WhisperModel, type ModelInfo, type ModelStats } from './model/whisper-model';
export type { AutoConcurrency } from './model/concurrency';
export type { LoadModelOptions, TranscribeOptions, VadOptions } from './transcription/options';
export type { Transcript, Segment, Token } from './transcription/transcript';
export { loadAudio } from './audio/load';
export { decodeWav } from './audio/wav';
export { resample } from './audio/resample';
export { WHISPER_SAMPLE_RATE, type AudioInput, type AudioOptions } from './audio/pcm';
export {
  transcribeStream,
  transcribeLongFile,
  type StreamOptions,
  type StreamCutVadOptions,
  type StreamTranscriber,
  type LongFileOptions,
  type PcmChunk,
} from './stream/stream';
export { getDevices, getSystemInfo, getLanguages, setLogger, type Device, type SystemInfo, type Logger, type LogLevel } from './native/system';
export {
  loadBackend,
  backendInfo,
  GPU_PREFERENCES,
  type GpuPreference,
  type BackendInfo,
  type BinaryLocation,
  type BuildManifest,
  type CudaCheck,
  type CudaTestLoad,
} from './native/loader';
export { estimateMemory, type EstimateMemoryInput, type MemoryEstimate, type StateEstimate } from './model/planner';
export type { ModelMemory, StateMemory } from './model/memory';
export { WhisperError, isWhisperError, type WhisperErrorCode } from './errors/whisper-error';
