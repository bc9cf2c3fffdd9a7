/**
 * `whisper-napi/tools`: working on model files (convert, quantize, write synthetic models,
 * inspect), scoring transcripts (WER) and the memory planner's building blocks. Transcribing
 * needs none of it; the runtime API is `whisper-napi` (lib/index.ts).
 */
export { convertModel, detectSourceFormat, type ConvertOptions, type SourceFormat } from './convert';
export { quantizeModel, QUANTIZATION_TYPES, type QuantizationType, type QuantizeModelOptions, type QuantizeProgress } from './quantize';
export {
  writeSyntheticModel,
  planSyntheticModel,
  SYNTHETIC_WEIGHT_TYPES,
  type CommonSyntheticOptions,
  type SyntheticModelOptions,
  type SyntheticModelPlan,
  type SyntheticWeightType,
} from './synthetic-model';
export { inspectModelFile, type ModelDescription, type ModelFileInfo, type TensorInfo } from '../model-files/inspect';
export type { AudioOptions } from '../audio/pcm';
export type { WhisperHparams } from '../model-files/hparams';
export type { ModelType } from '../model-files/tensors';
export { readModelInfo, type ModelSummary } from '../model-files/summary';
export {
  ARCHITECTURES,
  ARCHITECTURE_NAMES,
  identifyArchitecture,
  type Architecture,
  type ArchitectureName,
  type ArchitectureHparams,
  type AlignmentHeads,
  ALIGNMENT_HEADS_PRESETS,
  type AlignmentHeadsPreset,
  type IdentifiedArchitecture,
} from '../model-files/architectures';
export { averageLogProbability, compressionRatio } from '../transcription/segment-measures';
export { wordsFromTokens, type Word } from '../transcription/words';
export type { Token } from '../transcription/transcript';
export { wordErrorRate, corpusWordErrorRate, normalizeWords, parseSphinxTranscription, type WordErrorRate } from './wer';
export { maxConcurrencyForBudget, kvCacheBytes, computeBufferBytes, decodersFor } from '../model/planner';
export { AUTO_SAFETY_MARGIN } from '../model/concurrency';
