export { loadModel, WhisperModel, type ModelInfo } from './model/whisper-model';
export type { ModelStats } from './model/whisper-model';
export { AUTO_SAFETY_MARGIN, type AutoConcurrency } from './model/concurrency';
export type { LoadModelOptions, TranscribeOptions, VadOptions } from './transcription/options';
export type { Transcript, Segment, Token } from './transcription/transcript';
export { loadAudio, decodeWav, resample, WHISPER_SAMPLE_RATE, type AudioInput, type AudioOptions } from './audio/audio';
export { inspectModelFile, readModelInfo, type ModelFileInfo, type ModelSummary } from './model-files/model-file';
export {
  writeSyntheticModel,
  planSyntheticModel,
  SYNTHETIC_WEIGHT_TYPES,
  type SyntheticModelOptions,
  type SyntheticModelPlan,
  type SyntheticWeightType,
} from './tools/synthetic-model';
export { ARCHITECTURES, ARCHITECTURE_NAMES, identifyArchitecture, type Architecture, type ArchitectureName } from './model-files/architectures';
export { convertModel, detectSourceFormat, type ConvertOptions, type SourceFormat } from './tools/convert';
export {
  quantizeModel,
  QUANTIZATION_TYPES,
  type QuantizationType,
  type QuantizeModelOptions,
  type QuantizeProgress,
} from './tools/quantize';
export { wordErrorRate, corpusWordErrorRate, normalizeWords, parseSphinxTranscription, type WordErrorRate } from './tools/wer';
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
export { WhisperError, isWhisperError, type WhisperErrorCode } from './errors/whisper-error';
export {
  estimateMemory,
  maxConcurrencyForBudget,
  kvCacheBytes,
  computeBufferBytes,
  decodersFor,
  type EstimateMemoryInput,
  type MemoryEstimate,
  type StateEstimate,
} from './model/planner';
export { modelMemory, stateMemory, type ModelMemory, type StateMemory } from './model/memory';
export {
  transcribeStream,
  transcribeLongFile,
  type StreamOptions,
  type StreamCutVadOptions,
  type StreamTranscriber,
  type LongFileOptions,
  type PcmChunk,
} from './stream/stream';
export { openWavWindows, type WavWindows, type WavWindowOptions, type WavFileInfo } from './audio/wav-windows';
