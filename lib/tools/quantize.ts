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
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { GgmlFileWriter, encodeTensorHeader } from '../model-files/writer';
import {
  GGML_QNT_VERSION,
  GGML_QNT_VERSION_FACTOR,
  GGML_TYPES,
  expectedTensors,
  ggmlTypeName,
  inspectModelFile,
  type ModelFileInfo,
  type WhisperHparams,
} from '../model-files/model-file';
import { fromNativeError, native } from '../native/addon';

export const QUANTIZATION_TYPES = ['q8_0', 'q5_0', 'q5_1', 'q4_0', 'q4_1'] as const;
export type QuantizationType = (typeof QUANTIZATION_TYPES)[number];

/** ggml_type id and ggml_ftype (the header's "mostly" type) of each quantization type. */
export const QUANTIZATION_TYPE_IDS: Readonly<Record<QuantizationType, { type: number; ftype: number }>> = Object.freeze({
  q4_0: { type: 2, ftype: 2 },
  q4_1: { type: 3, ftype: 3 },
  q5_0: { type: 6, ftype: 8 },
  q5_1: { type: 7, ftype: 9 },
  q8_0: { type: 8, ftype: 7 },
});

const T_F32 = 0;
const T_F16 = 1;
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

// ---- which tensors are quantized -------------------------------------------------------------

// examples/quantize/quantize.cpp passes { ".*" } as to_quant and these as to_skip; common-ggml.cpp
// tests each with std::regex_match (the whole name, ECMAScript grammar, as JavaScript's RegExp).
const TO_QUANT = ['.*'].map((s) => new RegExp(`^(?:${s})$`));
const TO_SKIP = ['encoder.conv1.bias', 'encoder.conv2.bias', 'encoder.positional_embedding', 'decoder.positional_embedding'].map(
  (s) => new RegExp(`^(?:${s})$`),
);

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
export function quantizedTensorType(
  tensor: { name: string; shape: number[]; type: number },
  type: QuantizationType,
  expectedType: number | undefined,
): number {
  if (isQuantizedTensor(tensor.name, tensor.shape.length)) return QUANTIZATION_TYPE_IDS[type].type;
  if (tensor.type === T_F32 && expectedType === T_F16) return T_F16;
  return tensor.type;
}

// ---- native row quantization ---------------------------------------------------------------

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
  if (!isBytes && (data instanceof Float32Array) !== (srcType === 'f32')) {
    throw invalidArgument('data', `values matching srcType '${srcType}'`, data);
  }
  const dstId = dstType === 'f16' ? T_F16 : QUANTIZATION_TYPE_IDS[dstType].type;
  const block = GGML_TYPES[dstId].blockSize;
  if (!Number.isSafeInteger(nPerRow) || nPerRow < 1 || nPerRow > 0x7fffffff || nPerRow % block !== 0) {
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
    return await native().quantize(data, srcType === 'f32' ? T_F32 : T_F16, dstId, nPerRow);
  } catch (error) {
    throw fromNativeError(error);
  }
}

// ---- ordered, overlapped writing --------------------------------------------------------------

/**
 * Writes chunks to a GgmlFileWriter in the order they are pushed while their bytes may still be
 * computed (native quantization runs on the libuv pool): producing chunk k+1 overlaps quantizing
 * chunk k and writing chunk k-1. `push` waits while `depth` chunks are outstanding, so memory stays
 * bounded. After a failure every later chunk fails too; call `settle()` before discarding the file.
 */
export class ChunkPipeline {
  private tail: Promise<void> = Promise.resolve();
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(
    private readonly writer: GgmlFileWriter,
    private readonly depth = 2,
  ) {}

  async push(bytes: Uint8Array | Promise<Uint8Array>, afterWrite?: () => void): Promise<void> {
    const previous = this.tail;
    const job = (async () => {
      const ready = await bytes;
      await previous;
      await this.writer.write(ready);
      afterWrite?.();
    })();
    job.catch(() => undefined); // observed through `tail` / `inFlight`
    this.tail = job;
    this.inFlight.push(job);
    while (this.inFlight.length >= this.depth) await this.inFlight.shift();
  }

  /** Waits for every pushed chunk to be written; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    this.inFlight.length = 0;
  }

  /** Waits for every pushed chunk to finish, ignoring failures (before aborting the writer). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight, this.tail]);
    this.inFlight.length = 0;
  }
}

// ---- quantizeModel -----------------------------------------------------------------------------

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

async function readExactly(fh: FileHandle, length: number, position: number, file: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, done, length - done, position + done));
    } catch (err) {
      throw new WhisperError('MODEL_LOAD_FAILED', `Cannot read model file ${JSON.stringify(file)}: ${(err as Error).message}`, { cause: err });
    }
    if (bytesRead === 0) {
      throw new WhisperError('INVALID_MODEL', `Invalid model file ${JSON.stringify(file)}: it ended at byte ${position + done} while being read (did it change?)`);
    }
    done += bytesRead;
  }
  return buf;
}

function abortError(what: string): WhisperError {
  return new WhisperError('ABORTED', `${what} was aborted`);
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
  if (typeof inPath !== 'string' || inPath.length === 0) throw invalidArgument('options.inPath', 'a non-empty string', inPath);
  if (typeof outPath !== 'string' || outPath.length === 0) throw invalidArgument('options.outPath', 'a non-empty string', outPath);
  const type = checkQuantizationType(options.type, 'options.type');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', onProgress);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('options.signal', 'an AbortSignal', signal);
  if (path.resolve(inPath) === path.resolve(outPath)) {
    throw invalidArgument('options.outPath', 'a path other than options.inPath', outPath);
  }
  if (signal?.aborted) throw abortError('quantizeModel');
  const existing = await fsp.stat(outPath).catch(() => undefined);
  if (existing?.isDirectory()) throw invalidArgument('options.outPath', 'a file path, not a directory', outPath);

  const source = await inspectModelFile(inPath, { checkTensors: true });
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

  const fh = await fsp.open(inPath, 'r').catch((err: unknown) => {
    throw new WhisperError('MODEL_LOAD_FAILED', `Cannot open model file ${JSON.stringify(inPath)}: ${(err as Error).message}`, { cause: err });
  });
  let writer: GgmlFileWriter | undefined;
  let pipeline: ChunkPipeline | undefined;
  try {
    writer = await GgmlFileWriter.open(outPath, 'options.outPath');
    pipeline = new ChunkPipeline(writer, 3);

    // header, mel filters, vocab: copied, with the new ftype field
    const preamble = await readExactly(fh, source.vocab.offset + source.vocab.byteLength, 0, inPath);
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
        if (signal?.aborted) throw abortError('quantizeModel');
        const rows = Math.min(rowsPerChunk, nRows - row);
        const chunk = await readExactly(fh, rows * rowBytes, tensor.offset + row * rowBytes, inPath);
        const srcType = tensor.type === T_F32 ? 'f32' : 'f16';
        let out: Uint8Array | Promise<Uint8Array> = chunk;
        if (outType !== tensor.type) {
          out = quantizeRows(chunk, srcType, outType === T_F16 ? 'f16' : type, rowElements);
          out.catch(() => undefined); // observed by the pipeline
        }
        bytesDone += chunk.length;
        const progress: QuantizeProgress = { tensor: tensor.name, tensorIndex: index, tensorCount: plan.length, bytesDone, bytesTotal };
        await pipeline.push(out, onProgress && (() => onProgress(progress)));
      }
    }
    await pipeline.drain();
    if (signal?.aborted) throw abortError('quantizeModel');
    await writer.commit();
    writer = undefined;
  } catch (err) {
    await pipeline?.settle();
    await writer?.abort();
    throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
  return inspectModelFile(outPath);
}

