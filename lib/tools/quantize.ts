/**
 * Quantizing Whisper models the way whisper.cpp's own `quantize` tool does
 * (examples/quantize/quantize.cpp with examples/common-ggml.cpp `ggml_common_quantize_0`), with
 * ggml's quantizers (`ggml_quantize_chunk`, through binding/quantize.cpp) off the JS thread.
 *
 * The tool's rules, which `quantizeModel` follows:
 *  - header: every hparam copied; the ftype field becomes GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR
 *    + the target ftype (e.g. 2008 for q5_0), whatever the source's quantization version was;
 *  - mel filters and vocabulary: copied byte for byte;
 *  - tensors, in file order: a tensor is quantized when its name matches a `to_quant` regex (".*")
 *    and no `to_skip` regex (the two conv biases and the two positional embeddings), and it has
 *    exactly 2 dimensions. A quantized tensor is read as f32 (f16 sources converted exactly with
 *    ggml_fp16_to_fp32), quantized row by row (ne[0] values per row, no importance matrix) and
 *    stored with the target type; its header keeps n_dims, shape and name. Every other tensor is
 *    copied unchanged;
 *  - anything after the last complete tensor (fewer than 12 bytes; more is an invalid model) is dropped.
 *
 * One deliberate difference: in an all-f32 source (ftype 0) the 3-D conv kernels are f32, and the
 * tool copies them unchanged into a file whose header promises a quantized model, for which
 * whisper.cpp's loader expects f16 kernels and fails ("tensor 'encoder.conv1.weight' has wrong
 * size"). Here they are converted to f16 (ggml_fp32_to_fp16_row), so the result loads. For f16
 * sources (every published ggml model) the output is byte-identical to the tool's.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { throwIfAborted } from '../errors/abort';
import { INT32_MAX, isNonEmptyString } from '../errors/validate';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import {
  GGML_QNT_VERSION,
  GGML_QNT_VERSION_FACTOR,
  GGML_TYPES,
  GGML_TYPE_F16,
  GGML_TYPE_F32,
  QUANTIZATION_TYPES,
  QUANTIZATION_TYPE_IDS,
  ggmlTypeName,
  type QuantizationType,
} from '../model-files/ggml-format';
import type { WhisperHparams } from '../model-files/hparams';
import { inspectModelFileFor, type ModelFileInfo } from '../model-files/inspect';
import { openForReading } from '../errors/file-errors';
import { modelFileRole, readModelBytes } from '../model-files/open-file';
import { expectedTensors } from '../model-files/tensors';
import { GgmlFileWriter, encodeTensorHeader } from '../model-files/writer';
import { fromNativeError, native } from '../native/addon';
import { ChunkPipeline } from './chunk-pipeline';

export { QUANTIZATION_TYPES, type QuantizationType } from '../model-files/ggml-format';

/** Byte offset of the header's ftype field: magic + 10 int32 hparams. */
const FTYPE_OFFSET = 44;
/** Source bytes per native call (whole rows; at least one row). */
const CHUNK_BYTES = 8 << 20;

export function isQuantizationType(value: unknown): value is QuantizationType {
  return typeof value === 'string' && (QUANTIZATION_TYPES as readonly string[]).includes(value);
}

/** The `type` argument checked: an INVALID_ARGUMENT naming the parameter, the allowed values and what was given. */
export function checkQuantizationType(value: unknown, parameter: string): QuantizationType {
  if (isQuantizationType(value)) return value;
  throw invalidArgument(parameter, `one of ${QUANTIZATION_TYPES.map((t) => `'${t}'`).join(', ')}`, value);
}

// examples/quantize/quantize.cpp passes { ".*" } as to_quant and these as to_skip; common-ggml.cpp
// tests each with std::regex_match (the whole name, ECMAScript grammar, as JavaScript's RegExp).
const TO_QUANT = ['.*'].map((s) => new RegExp(`^(?:${s})$`));
const TO_SKIP = ['encoder.conv1.bias', 'encoder.conv2.bias', 'encoder.positional_embedding', 'decoder.positional_embedding'].map((s) => new RegExp(`^(?:${s})$`));

/**
 * Whether whisper.cpp's quantize tool quantizes a tensor with this name and this number of stored
 * dimensions. The one rule shared by `quantizeModel` and the synthetic-model generator.
 */
export function isQuantizedTensor(name: string, nDims: number): boolean {
  let quantize = TO_QUANT.some((re) => re.test(name));
  if (TO_SKIP.some((re) => re.test(name))) quantize = false;
  return quantize && nDims === 2;
}

/**
 * The header (hparams) of the quantized model: the source's hparams with the target ftype and the
 * current quantization format version, as the tool writes them.
 */
export function quantizedHparams(hparams: WhisperHparams, type: QuantizationType): WhisperHparams {
  return { ...hparams, ftype: QUANTIZATION_TYPE_IDS[type].ftype, quantizationVersion: GGML_QNT_VERSION };
}

/**
 * The ggml type a tensor of a quantized model is stored with: the target type when the tool's rules
 * quantize it; f16 for a tensor whisper.cpp needs in f16 but the (all-f32) source has in f32 (the conv
 * kernels); otherwise its source type.
 */
export function quantizedTensorType(tensor: { name: string; shape: number[]; type: number }, type: QuantizationType, expectedType: number | undefined): number {
  if (isQuantizedTensor(tensor.name, tensor.shape.length)) return QUANTIZATION_TYPE_IDS[type].type;
  if (tensor.type === GGML_TYPE_F32 && expectedType === GGML_TYPE_F16) return GGML_TYPE_F16;
  return tensor.type;
}

/**
 * Quantizes whole rows of `nPerRow` values with ggml (or, with `dstType` 'f16', converts them to f16
 * with ggml_fp32_to_fp16_row). `data` holds the source values: a Float32Array (f32), a Uint16Array of
 * f16 bit patterns, or little-endian bytes of either (`srcType` says which). The input is copied
 * before this returns, so the caller may reuse it at once. Resolves to the packed ggml blocks,
 * `nRows * ggml_row_size(type, nPerRow)` bytes.
 */
export async function quantizeRows(
  data: Float32Array | Uint16Array | Uint8Array,
  srcType: 'f32' | 'f16',
  dstType: QuantizationType | 'f16',
  nPerRow: number,
): Promise<Buffer> {
  if (srcType !== 'f32' && srcType !== 'f16') throw invalidArgument('srcType', "'f32' or 'f16'", srcType);
  if (dstType !== 'f16' && !isQuantizationType(dstType)) {
    throw invalidArgument('dstType', `'f16' or one of ${QUANTIZATION_TYPES.map((t) => `'${t}'`).join(', ')}`, dstType);
  }
  const isBytes = data instanceof Uint8Array;
  if (!isBytes && !(data instanceof Float32Array) && !(data instanceof Uint16Array)) {
    throw invalidArgument('data', 'a Float32Array, a Uint16Array of f16 bits or a Uint8Array of bytes', data);
  }
  if (!isBytes && data instanceof Float32Array !== (srcType === 'f32')) {
    throw invalidArgument('data', `values matching srcType '${srcType}'`, data);
  }
  const dstId = dstType === 'f16' ? GGML_TYPE_F16 : QUANTIZATION_TYPE_IDS[dstType].type;
  const block = GGML_TYPES[dstId].blockSize;
  if (!Number.isSafeInteger(nPerRow) || nPerRow < 1 || nPerRow > INT32_MAX || nPerRow % block !== 0) {
    throw invalidArgument('nPerRow', `a positive integer multiple of ${block} (the ${dstType} block size)`, nPerRow);
  }
  const elemSize = srcType === 'f32' ? 4 : 2;
  if (data.byteLength % elemSize !== 0) {
    throw invalidArgument('data', `a whole number of ${srcType} values`, `${data.byteLength} bytes`);
  }
  const count = data.byteLength / elemSize;
  if (count % nPerRow !== 0) {
    throw invalidArgument('data', `a whole number of rows of ${nPerRow} values`, `${count} values`);
  }
  try {
    return await native().quantize(data, srcType === 'f32' ? GGML_TYPE_F32 : GGML_TYPE_F16, dstId, nPerRow);
  } catch (error) {
    throw fromNativeError(error);
  }
}

export interface QuantizeProgress {
  /** The tensor being written. */
  tensor: string;
  /** Its position in the file (0-based) and the number of tensors. */
  tensorIndex: number;
  tensorCount: number;
  /** Source tensor bytes processed so far, and in all. */
  bytesDone: number;
  bytesTotal: number;
}

export interface QuantizeModelOptions {
  /** An f16 or f32 whisper.cpp ggml model. */
  inPath: string;
  /** Where to write the quantized model (through a temporary file renamed into place). Must differ from inPath. */
  outPath: string;
  type: QuantizationType;
  /** Called after each chunk is written. A listener that throws ends the job with its error. */
  onProgress?: (progress: QuantizeProgress) => void;
  signal?: AbortSignal;
}

/**
 * Quantizes an f16 or f32 whisper.cpp ggml model to q8_0, q5_0, q5_1, q4_0 or q4_1, exactly as
 * whisper.cpp's `quantize` tool does (see the module comment), streaming tensor by tensor in chunks
 * of rows, so memory stays small even for large-v3. Returns `inspectModelFile(outPath)`.
 *
 * Throws WhisperError: INVALID_ARGUMENT for bad options (an unknown type, an out path that cannot be
 * written, the same path twice) or a source that is already quantized; MODEL_NOT_FOUND / INVALID_MODEL
 * for a missing or broken source; ABORTED when `signal` fires. No partial output file is left behind.
 */
export async function quantizeModel(options: QuantizeModelOptions): Promise<ModelFileInfo> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const { inPath, outPath, onProgress, signal } = options;
  isNonEmptyString('options.inPath', inPath);
  isNonEmptyString('options.outPath', outPath);
  const type = checkQuantizationType(options.type, 'options.type');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', onProgress);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('options.signal', 'an AbortSignal', signal);
  if (path.resolve(inPath) === path.resolve(outPath)) {
    throw invalidArgument('options.outPath', 'a path other than options.inPath', outPath);
  }
  throwIfAborted(signal, 'quantizeModel');
  const existing = await fsp.stat(outPath).catch(() => undefined);
  if (existing?.isDirectory()) throw invalidArgument('options.outPath', 'a file path, not a directory', outPath);

  const source = await inspectModelFileFor('options.inPath', inPath);
  const srcFtype = source.hparams.ftype;
  if (srcFtype !== 0 && srcFtype !== 1) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `options.inPath: ${JSON.stringify(inPath)} is already quantized (weights ${source.weightType}, ftype ${srcFtype}); ` +
        `quantize needs an f16 or f32 model (quantizing twice would only lose precision)`,
    );
  }
  const hparams = quantizedHparams(source.hparams, type);
  const expectedType = new Map(expectedTensors(hparams).map((t) => [t.name, t.type]));
  const plan = source.tensors.map((t) => ({ tensor: t, outType: quantizedTensorType(t, type, expectedType.get(t.name)) }));
  const block = GGML_TYPES[QUANTIZATION_TYPE_IDS[type].type].blockSize;
  for (const { tensor, outType } of plan) {
    if (outType === QUANTIZATION_TYPE_IDS[type].type && tensor.shape[0] % block !== 0) {
      // the tool would trip a GGML_ASSERT here; no standard Whisper model has such rows
      throw new WhisperError(
        'INVALID_ARGUMENT',
        `options.type: ${JSON.stringify(inPath)} cannot be quantized to ${type}: tensor ${JSON.stringify(tensor.name)} has rows of ` +
          `${tensor.shape[0]} values, not a multiple of the ${type} block size ${block}`,
      );
    }
    if (outType !== expectedType.get(tensor.name)) {
      throw new Error(`internal error: ${tensor.name} would be ${ggmlTypeName(outType)}, whisper.cpp expects ${ggmlTypeName(expectedType.get(tensor.name) ?? -1)}`);
    }
  }

  const role = modelFileRole('options.inPath');
  const { fh } = await openForReading(inPath, role);
  let writer: GgmlFileWriter | undefined;
  let pipeline: ChunkPipeline | undefined;
  try {
    writer = await GgmlFileWriter.open(outPath, 'options.outPath');
    pipeline = new ChunkPipeline(writer, 3);

    // header, mel filters, vocab: copied, with the new ftype field
    const preamble = await readModelBytes(fh, inPath, role, source.vocab.offset + source.vocab.byteLength, 0, 'its header');
    preamble.writeInt32LE(GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + hparams.ftype, FTYPE_OFFSET);
    await pipeline.push(preamble);

    const bytesTotal = source.tensorBytes;
    let bytesDone = 0;
    for (let index = 0; index < plan.length; index++) {
      const { tensor, outType } = plan[index];
      await pipeline.push(encodeTensorHeader(tensor.name, tensor.shape, outType));
      const rowElements = tensor.shape[0];
      const nRows = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
      const rowBytes = tensor.byteLength / nRows;
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
      for (let row = 0; row < nRows; row += rowsPerChunk) {
        throwIfAborted(signal, 'quantizeModel');
        const rows = Math.min(rowsPerChunk, nRows - row);
        const chunk = await readModelBytes(fh, inPath, role, rows * rowBytes, tensor.offset + row * rowBytes, `tensor ${JSON.stringify(tensor.name)}`);
        const srcType = tensor.type === GGML_TYPE_F32 ? 'f32' : 'f16';
        let out: Uint8Array | Promise<Uint8Array> = chunk;
        if (outType !== tensor.type) {
          out = quantizeRows(chunk, srcType, outType === GGML_TYPE_F16 ? 'f16' : type, rowElements);
          out.catch(() => undefined); // observed by the pipeline
        }
        bytesDone += chunk.length;
        const progress: QuantizeProgress = { tensor: tensor.name, tensorIndex: index, tensorCount: plan.length, bytesDone, bytesTotal };
        await pipeline.push(out, onProgress && (() => onProgress(progress)));
      }
    }
    await pipeline.drain();
    throwIfAborted(signal, 'quantizeModel');
    await writer.commit();
    writer = undefined;
  } catch (err) {
    await pipeline?.settle();
    await writer?.abort();
    throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
  return inspectModelFileFor('options.outPath', outPath);
}
