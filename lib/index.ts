export { loadModel, WhisperModel, type ModelInfo } from './model';
export type { ModelStats } from './model';
export { AUTO_SAFETY_MARGIN, type AutoConcurrency } from './concurrency';
export type { LoadModelOptions, TranscribeOptions, VadOptions } from './options';
export type { Transcript, Segment, Token } from './transcript';
export { loadAudio, decodeWav, resample, WHISPER_SAMPLE_RATE, type AudioInput, type AudioOptions } from './audio';
export { inspectModelFile, readModelInfo, type ModelFileInfo, type ModelSummary } from './model-file';
export {
  writeSyntheticModel,
  planSyntheticModel,
  SYNTHETIC_WEIGHT_TYPES,
  type SyntheticModelOptions,
  type SyntheticModelPlan,
  type SyntheticWeightType,
} from './synthetic-model';
export { ARCHITECTURES, ARCHITECTURE_NAMES, identifyArchitecture, type Architecture, type ArchitectureName } from './architectures';
export { convertModel, detectSourceFormat, type ConvertOptions, type SourceFormat } from './convert';
export {
  quantizeModel,
  QUANTIZATION_TYPES,
  type QuantizationType,
  type QuantizeModelOptions,
  type QuantizeProgress,
} from './quantize';
export { wordErrorRate, corpusWordErrorRate, normalizeWords, parseSphinxTranscription, type WordErrorRate } from './wer';
export { getDevices, getSystemInfo, getLanguages, setLogger, type Device, type SystemInfo, type Logger, type LogLevel } from './system';
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
} from './loader';
export { WhisperError, isWhisperError, type WhisperErrorCode } from './errors';
export {
  estimateMemory,
  maxConcurrencyForBudget,
  kvCacheBytes,
  computeBufferBytes,
  decodersFor,
  type EstimateMemoryInput,
  type MemoryEstimate,
  type StateEstimate,
} from './planner';
export { modelMemory, stateMemory, type ModelMemory, type StateMemory } from './memory';
export {
  transcribeStream,
  transcribeLongFile,
  type StreamOptions,
  type StreamCutVadOptions,
  type StreamTranscriber,
  type LongFileOptions,
  type PcmChunk,
} from './stream';
export { openWavWindows, type WavWindows, type WavWindowOptions, type WavFileInfo } from './wav-stream';
