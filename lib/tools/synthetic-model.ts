/**
 * Writes a valid whisper.cpp ggml Whisper model with seeded pseudo-random weights, for tests and for
 * planning memory and speed. The network's outputs are meaningless but finite; whisper.cpp loads and
 * runs the file.
 *
 * Two ways to get the header, mel filters and vocabulary:
 *  - `headerFrom`: copied byte for byte from an existing model (or header-only) file (only the ftype
 *    field changes when the weight type does);
 *  - `architecture`: one of the standard Whisper architectures (lib/model-files/architectures.ts) with OpenAI's
 *    hyperparameters, the Slaney mel filter bank computed by `whisperMelFilters`, and the vocabulary
 *    of `vocabFrom` (a ggml model or header-only file of the same English-only/multilingual kind) or,
 *    without it, just the 256 single-byte tokens (whisper.cpp fills the rest of the ids with
 *    placeholder tokens).
 *
 * Then every tensor whisper.cpp requires (see `expectedTensors`), in the loader's order, with
 * deterministic weights. Quantized weight types (q8_0, q5_0, ...) are produced the way whisper.cpp's
 * quantize tool would produce them from the f16 model with the same seed (same tensor rules, the
 * same f16 values quantized by ggml), chunk by chunk, so even a large-v3 never needs an f16
 * intermediate file: a synthesized q5_0 model is byte-identical to `quantizeModel` of the
 * synthesized f16 one.
 */
import { integerIn, isNonEmptyString, oneOf, optionsObject } from '../errors/validate';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { ARCHITECTURES, ARCHITECTURE_NAMES, type ArchitectureName } from '../model-files/architectures';
import {
  GGML_QNT_VERSION,
  GGML_QNT_VERSION_FACTOR,
  GGML_TYPE_F16,
  GGML_TYPE_F32,
  QUANTIZATION_TYPES,
  QUANTIZATION_TYPE_IDS,
  ggmlTensorBytes,
  type QuantizationType,
} from '../model-files/ggml-format';
import type { WhisperHparams } from '../model-files/hparams';
import { inspectModelFileFor, type ModelFileInfo } from '../model-files/inspect';
import { WHISPER_N_FFT_BINS, whisperMelFilters } from '../model-files/mel-filters';
import { openForReading } from '../errors/file-errors';
import { modelFileRole, readModelBytes } from '../model-files/open-file';
import { expectedTensors } from '../model-files/tensors';
import { readVocabTokens } from '../model-files/vocabulary';
import { GgmlFileWriter, encodePreamble, encodeTensorHeader, float16Bytes, float32Bytes } from '../model-files/writer';
import { float32ToFloat16Bits } from './convert/float';
import { byteTokensInVocabularyOrder } from './convert/vocab';
import { ChunkPipeline } from './chunk-pipeline';
import { NormalStream, hashString } from './normal-stream';
import { isQuantizationType, isQuantizedTensor, quantizeRows } from './quantize';

export type SyntheticWeightType = 'f16' | 'f32' | QuantizationType;
export const SYNTHETIC_WEIGHT_TYPES: readonly SyntheticWeightType[] = Object.freeze(['f16', 'f32', ...QUANTIZATION_TYPES] as const);

export interface CommonSyntheticOptions {
  outPath: string;
  /** PRNG seed (an integer; used modulo 2^32). Default 1. */
  seed?: number;
  /**
   * Type of the big weight matrices. 'f16' (default) keeps whisper.cpp's f16 layout; 'f32' writes
   * ftype 0; a quantization type writes what whisper.cpp's quantize tool makes of the f16 model.
   */
  weightType?: SyntheticWeightType;
  /** Called after each chunk is written. A listener that throws ends the job with its error. */
  onProgress?: (progress: { bytesWritten: number; bytesTotal: number }) => void;
}

export type SyntheticModelOptions = CommonSyntheticOptions &
  (
    | {
        /** A whisper.cpp ggml model or header-only file whose header, mel filters and vocab are copied. */
        headerFrom: string;
        architecture?: undefined;
        vocabFrom?: undefined;
      }
    | {
        /** A standard Whisper architecture: its hparams, computed mel filters, and a vocabulary (see `vocabFrom`). */
        architecture: ArchitectureName;
        /**
         * A whisper.cpp ggml model or header-only file whose vocabulary is copied; it must be English-only
         * for a '.en' architecture and multilingual otherwise. Default: the 256 single-byte tokens.
         */
        vocabFrom?: string;
        headerFrom?: undefined;
      }
  );

/** What `writeSyntheticModel` will write, without writing it. */
export interface SyntheticModelPlan {
  hparams: WhisperHparams;
  /** Header, mel filters and vocabulary: the bytes before the first tensor. */
  preamble: Buffer;
  /** In file order, with the byte offset of each tensor's header and data. */
  tensors: Array<{ name: string; shape: number[]; type: number; headerOffset: number; offset: number; byteLength: number }>;
  fileSize: number;
}

/** Byte offset of the ftype field: magic + 10 int32 hparams. */
const FTYPE_OFFSET = 44;
/** Elements generated per write for f16/f32 tensors. */
const GEN_CHUNK = 1 << 18;
/** Elements generated (as f16) per native quantization call. */
const QUANT_CHUNK = 1 << 20;

type Init = { kind: 'const'; value: number } | { kind: 'normal'; std: number };

/** How each tensor is initialised: layer norms 1/0, positional embeddings small, the rest normal(0, 0.02). */
function initFor(name: string): Init {
  if (/(^|\.)(ln|ln_post|attn_ln|mlp_ln|cross_attn_ln)\.weight$/.test(name)) return { kind: 'const', value: 1 };
  if (/(^|\.)(ln|ln_post|attn_ln|mlp_ln|cross_attn_ln)\.bias$/.test(name)) return { kind: 'const', value: 0 };
  if (name.endsWith('positional_embedding')) return { kind: 'normal', std: 0.01 };
  if (name.endsWith('.bias')) return { kind: 'normal', std: 0.01 };
  return { kind: 'normal', std: 0.02 };
}

/**
 * The default vocabulary of a synthesized model: the 256 single-byte tokens that are the first ids
 * of Whisper's real vocabulary, as raw bytes (whisper.cpp names the ids beyond them itself).
 */
export function byteLevelVocab(): Uint8Array[] {
  return byteTokensInVocabularyOrder();
}

/** The bytes of `file` before its first tensor: header, mel filters and vocabulary. */
async function readPreamble(file: string, parameter: string, length: number): Promise<Buffer> {
  const role = modelFileRole(parameter);
  const { fh } = await openForReading(file, role);
  try {
    return await readModelBytes(fh, file, role, length, 0, 'its header');
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function ftypeOf(weightType: SyntheticWeightType): number {
  if (weightType === 'f32') return 0;
  if (weightType === 'f16') return 1;
  return QUANTIZATION_TYPE_IDS[weightType].ftype;
}

interface CheckedOptions {
  outPath: string;
  seed: number;
  weightType: SyntheticWeightType;
  headerFrom?: string;
  architecture?: ArchitectureName;
  vocabFrom?: string;
  onProgress?: (progress: { bytesWritten: number; bytesTotal: number }) => void;
}

const checkWeightType = oneOf(SYNTHETIC_WEIGHT_TYPES);
const checkArchitecture = oneOf(ARCHITECTURE_NAMES);
/** Any safe integer: the seed is used modulo 2^32. */
const checkSeed = integerIn(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

function checkOptions(options: SyntheticModelOptions, needOutPath: boolean): CheckedOptions {
  if (options === undefined) throw invalidArgument('options', 'an object', options);
  const o = optionsObject('options', options);
  const { headerFrom, architecture, vocabFrom, outPath, onProgress } = o;
  if (headerFrom !== undefined && architecture !== undefined) {
    throw invalidArgument('options.headerFrom', 'to be left out when options.architecture is given (use one of the two)', headerFrom);
  }
  const checked: CheckedOptions = {
    // planning writes nothing, so it does not need a path
    outPath: needOutPath ? isNonEmptyString('options.outPath', outPath) : '',
    seed: o.seed === undefined ? 1 : checkSeed('options.seed', o.seed),
    weightType: o.weightType === undefined ? 'f16' : checkWeightType('options.weightType', o.weightType),
  };
  if (architecture !== undefined) {
    checked.architecture = checkArchitecture('options.architecture', architecture);
    if (vocabFrom !== undefined) checked.vocabFrom = isNonEmptyString('options.vocabFrom', vocabFrom);
  } else {
    if (vocabFrom !== undefined) throw invalidArgument('options.vocabFrom', 'to be used only with options.architecture', vocabFrom);
    if (typeof headerFrom !== 'string' || headerFrom.length === 0) {
      throw invalidArgument('options.headerFrom', 'a non-empty string (or options.architecture instead)', headerFrom);
    }
    checked.headerFrom = headerFrom;
  }
  if (onProgress !== undefined) {
    if (typeof onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', onProgress);
    checked.onProgress = onProgress as CheckedOptions['onProgress'];
  }
  return checked;
}

async function plan(options: CheckedOptions): Promise<SyntheticModelPlan> {
  const { weightType } = options;
  const ftype = ftypeOf(weightType);
  const quantized = isQuantizationType(weightType);
  let hparams: WhisperHparams;
  let preamble: Buffer;
  if (options.headerFrom !== undefined) {
    const source = await inspectModelFileFor('options.headerFrom', options.headerFrom, false);
    // quantized: the quantize tool's header (current quantization version); otherwise keep the
    // quantization-version part of the field and change only the ftype itself (if at all)
    const quantizationVersion = quantized ? GGML_QNT_VERSION : source.hparams.quantizationVersion;
    hparams = { ...source.hparams, ftype, quantizationVersion };
    preamble = await readPreamble(options.headerFrom, 'options.headerFrom', source.vocab.offset + source.vocab.byteLength);
    if (source.hparams.ftype !== ftype || quantized) {
      preamble.writeInt32LE(quantizationVersion * GGML_QNT_VERSION_FACTOR + ftype, FTYPE_OFFSET);
    }
  } else {
    const arch = ARCHITECTURES[options.architecture!];
    hparams = { ...arch.hparams, ftype, quantizationVersion: quantized ? GGML_QNT_VERSION : 0 };
    let vocab: Uint8Array[];
    if (options.vocabFrom !== undefined) {
      const source = await inspectModelFileFor('options.vocabFrom', options.vocabFrom, false);
      if (source.multilingual !== arch.multilingual) {
        const kind = (m: boolean): string => (m ? 'multilingual' : 'English-only');
        throw new WhisperError(
          'INVALID_ARGUMENT',
          `options.vocabFrom: ${JSON.stringify(options.vocabFrom)} has an ${kind(source.multilingual)} vocabulary (n_vocab ${source.hparams.nVocab}), ` +
            `but ${arch.name} is ${kind(arch.multilingual)} (n_vocab ${arch.hparams.nVocab}); take the vocabulary from a ${kind(arch.multilingual)} model`,
        );
      }
      if (source.vocab.count > arch.hparams.nVocab) {
        throw new WhisperError(
          'INVALID_ARGUMENT',
          `options.vocabFrom: ${JSON.stringify(options.vocabFrom)} has ${source.vocab.count} tokens, more than ${arch.name}'s n_vocab ${arch.hparams.nVocab}`,
        );
      }
      vocab = await readVocabTokens(options.vocabFrom, source, 'options.vocabFrom');
    } else {
      vocab = byteLevelVocab();
    }
    preamble = encodePreamble({
      hparams,
      melFilters: { nMel: hparams.nMels, nFft: WHISPER_N_FFT_BINS, data: whisperMelFilters(hparams.nMels) },
      vocab,
    });
  }

  const tensors: SyntheticModelPlan['tensors'] = [];
  let pos = preamble.length;
  for (const t of expectedTensors(hparams)) {
    if (quantized && isQuantizedTensor(t.name, t.shape.length) !== (t.type === QUANTIZATION_TYPE_IDS[weightType].type)) {
      throw new Error(`internal error: the quantize rules and whisper.cpp's loader disagree about ${t.name}`);
    }
    const headerOffset = pos;
    const offset = headerOffset + 12 + 4 * t.shape.length + Buffer.byteLength(t.name);
    const byteLength = ggmlTensorBytes(t.type, t.shape);
    tensors.push({ name: t.name, shape: t.shape, type: t.type, headerOffset, offset, byteLength });
    pos = offset + byteLength;
  }
  return { hparams, preamble, tensors, fileSize: pos };
}

/**
 * What `writeSyntheticModel(options)` would write: hparams, preamble bytes, the tensor table with
 * offsets, and the file size. Reads `headerFrom` / `vocabFrom` (headers only); writes nothing.
 */
export async function planSyntheticModel(options: SyntheticModelOptions): Promise<SyntheticModelPlan> {
  return plan(checkOptions(options, false));
}

/**
 * Writes a synthetic whisper.cpp model to `outPath` (through a temporary file renamed into place) and
 * returns `inspectModelFile(outPath)`. Same options, same seed: byte-identical file. Memory stays
 * small whatever the size (weights are generated, quantized and written in chunks), and the event
 * loop is never blocked for more than one chunk's generation (a few milliseconds).
 */
export async function writeSyntheticModel(options: SyntheticModelOptions): Promise<ModelFileInfo> {
  const checked = checkOptions(options, true);
  const layout = await plan(checked);
  const { weightType, onProgress } = checked;
  const seed32 = checked.seed >>> 0;

  const writer = await GgmlFileWriter.open(checked.outPath, 'options.outPath');
  // depth 2: one chunk quantizing on the libuv pool while this thread generates the next (2 cores busy)
  const pipeline = new ChunkPipeline(writer, 2);
  const bytesTotal = layout.fileSize;
  const progress = onProgress && ((): void => onProgress({ bytesWritten: writer.position, bytesTotal }));
  try {
    await pipeline.push(layout.preamble, progress);
    for (const t of layout.tensors) {
      await pipeline.push(encodeTensorHeader(t.name, t.shape, t.type));
      const init = initFor(t.name);
      const rng = new NormalStream(hashString(t.name, seed32));
      const total = t.shape.reduce((a, b) => a * b, 1);
      if (t.type === GGML_TYPE_F16 || t.type === GGML_TYPE_F32) {
        const isF16 = t.type === GGML_TYPE_F16;
        for (let done = 0; done < total;) {
          const n = Math.min(GEN_CHUNK, total - done);
          if (isF16) {
            const f16 = new Uint16Array(n);
            if (init.kind === 'const') f16.fill(float32ToFloat16Bits(init.value));
            else rng.fill(f16, n, init.std, true);
            await pipeline.push(float16Bytes(f16), progress);
          } else {
            const f32 = new Float32Array(n);
            if (init.kind === 'const') f32.fill(init.value);
            else rng.fill(f32, n, init.std, false);
            await pipeline.push(float32Bytes(f32), progress);
          }
          done += n;
        }
        continue;
      }
      // a quantized matrix: the f16 values the f16 model would hold, quantized row chunk by row chunk
      const qtype = weightType as QuantizationType;
      if (init.kind !== 'normal' || t.type !== QUANTIZATION_TYPE_IDS[qtype].type) {
        throw new Error(`internal error: unexpected tensor type ${t.type} for ${t.name}`);
      }
      const rowElements = t.shape[0];
      const rowsPerChunk = Math.max(1, Math.floor(QUANT_CHUNK / rowElements));
      const f16 = new Uint16Array(rowsPerChunk * rowElements); // reused: quantizeRows copies its input
      for (let done = 0; done < total;) {
        const n = Math.min(rowsPerChunk * rowElements, total - done);
        rng.fill(f16, n, init.std, true);
        const quantized = quantizeRows(f16.subarray(0, n), 'f16', qtype, rowElements);
        quantized.catch(() => undefined); // observed by the pipeline
        await pipeline.push(quantized, progress);
        done += n;
      }
    }
    await pipeline.drain();
    await writer.commit();
  } catch (err) {
    await pipeline.settle();
    await writer.abort();
    throw err;
  }
  return inspectModelFileFor('options.outPath', checked.outPath);
}
