/**
 * The runtime API, `whisper-napi`: what a program that transcribes needs. Model-file tools
 * (convert, quantize, synthesize, inspect), WER scoring and the memory planner's building
 * blocks are in `whisper-napi/tools` (lib/tools/index.ts).
 */
export { loadModel, WhisperModel, type ModelInfo, type ModelStats } from './model/whisper-model';
export {
  loadModelGroup,
  ModelGroup,
  type LoadModelGroupOptions,
  type ModelGroupStats,
  type DeviceStats,
  type GroupDevices,
  type ModelGroupMember,
} from './model/model-group';
export type { ModelDescription } from './model-files/inspect';
export type { WhisperHparams } from './model-files/hparams';
export type { ModelType } from './model-files/tensors';
export type { AutoConcurrency } from './model/concurrency';
export type { ModelDevice } from './model/devices';
export {
  ALIGNMENT_HEADS_PRESETS,
  type AlignmentHeadsPreset,
  type LoadModelOptions,
  type TranscribeOptions,
  type VadOptions,
  type Windowing,
} from './transcription/options';
export type { Transcript, Segment, Token } from './transcription/transcript';
export type { Word } from './transcription/words';
export { formatTranscript, TRANSCRIPT_FORMATS, type TranscriptFormat, type SubtitleOptions, type FormatOptions } from './transcription/formats';
export {
  toVerboseJson,
  TRANSCRIPTION_TASKS,
  type TranscriptionTask,
  type VerboseJson,
  type VerboseJsonOptions,
  type VerboseJsonSegment,
  type VerboseJsonWord,
} from './transcription/verbose-json';
export { LANGUAGE_NAMES, languageName } from './transcription/languages';
export { isNonSpeechText } from './transcription/silence';
export { MODEL_CATALOGUE, findCatalogueEntry, addCatalogueEntry, type CatalogueEntry } from './model-files/catalogue';
export { defaultModelsDir, cachedModelPath, listModels, removeModel, type ModelListing } from './model-files/model-cache';
export { downloadModel, type DownloadOptions, type DownloadProgress } from './model-files/download';
export { loadAudio } from './audio/load';
export { WHISPER_SAMPLE_RATE, type AudioInput, type AudioOptions, type AudioByteStream } from './audio/pcm';
export { transcribeStream } from './stream/transcribe-stream';
export { transcribeLongFile, type LongFileOptions } from './stream/long-file';
export type { StreamOptions, StreamCutVadOptions } from './stream/options';
export type { StreamTranscriber } from './stream/windows';
export type { PcmChunk } from './stream/chunks';
export { getDevices, getSystemInfo, getLanguages, setLogger, type Device, type SystemInfo, type Logger, type LogLevel } from './native/system';
export { loadBackend, backendInfo, GPU_PREFERENCES, type GpuPreference, type BackendInfo } from './native/loader';
export type { BinaryLocation, BuildManifest } from './native/binaries';
export type { NativeBackend as Backend } from './native/native-api';
export type { SharedLibrarySearch } from './native/shared-libraries';
export type { CudaCheck, CudaTestLoad } from './native/cuda-probe';
export { estimateMemory, type EstimateMemoryInput, type MemoryEstimate, type StateEstimate } from './model/planner';
export type { ModelMemory, StateMemory } from './model/memory';
export { ARCHITECTURE_NAMES, type ArchitectureName, type IdentifiedArchitecture } from './model-files/architectures';
export { WhisperError, isWhisperError, WHISPER_ERROR_CODES, type WhisperErrorCode } from './errors/whisper-error';
