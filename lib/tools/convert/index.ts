/**
 * Converts a CTranslate2 Whisper model folder (faster-whisper's format) or a Hugging Face transformers
 * Whisper folder into whisper.cpp's ggml model format, f16 or f32, in TypeScript.
 *
 * The output is laid out as whisper.cpp's own converters (convert-pt-to-ggml.py, convert-h5-to-ggml.py)
 * write it: the 11 header fields and the mel filter bank (computed as librosa does, or copied from a
 * given ggml file) are byte-identical to the published ggml files of the same model size; the
 * vocabulary holds the same 50257 tokens (raw bytes by default, see vocab.ts); the tensors come in the
 * order of OpenAI's PyTorch state dict, with whisper.cpp's names and types (2-D weights and conv kernels
 * in the chosen type; biases, layer norms and positional embeddings in f32). Converting
 * faster-whisper-base gives a file of exactly the published ggml-base.bin's size (147,951,465 bytes).
 *
 * Conversion streams tensor by tensor in chunks (positioned reads, never a whole file in memory) and
 * yields to the event loop between chunks. The output is written to a temporary file next to `outPath`
 * and renamed into place when complete.
 *
 * Dropped on purpose: attention key biases (whisper.cpp has none; the CTranslate2 converter stores them
 * as zeros, and a key bias b adds q·b to every attention logit of a query, which softmax cancels), the
 * Hugging Face proj_out.weight (tied to the token embedding), and CTranslate2's flag scalars.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import { isBoolean, isNonEmptyString, oneOf, optionsObject, pick } from '../../errors/validate';
import { WhisperError, invalidArgument } from '../../errors/whisper-error';
import { GGML_TYPE_F16 } from '../../model-files/ggml-format';
import { WHISPER_N_FFT_BINS, whisperMelFilters } from '../../model-files/mel-filters';
import { openForReading } from '../../errors/file-errors';
import { modelFileRole, readModelBytes } from '../../model-files/open-file';
import { GgmlFileWriter, encodePreamble, encodeTensorHeader, float16Bytes, float32Bytes } from '../../model-files/writer';
import { type WhisperHparams } from '../../model-files/hparams';
import { inspectModelFileFor, type ModelFileInfo } from '../../model-files/inspect';
import { loadCt2Source } from './ctranslate2';
import { bf16ToF32Bits, f16ToF32Bits, f32ToF16Bits } from './float';
import { DTYPE_BYTES, planTensors, readExactly, type PlannedTensor, type SourceModel } from './source';
import { loadTransformersSource } from './transformers';

export { readCt2ModelFile, type Ct2ModelFile, type Ct2Variable } from './ctranslate2';
export { readSafetensorsFile, type SafetensorsFile } from './safetensors';
export { byteLevelToBytes, bytesToByteLevel } from './vocab';
export { float16BitsToFloat32Bits } from './float';
export { whisperTensorOrder } from './source';

export type SourceFormat = 'ctranslate2' | 'transformers';

export interface ConvertOptions {
  /**
   * A CTranslate2 Whisper model folder (model.bin + config.json + vocabulary.{txt,json}) or a Hugging Face
   * transformers folder (model.safetensors or sharded model-0000x-of-0000y.safetensors with
   * model.safetensors.index.json, + config.json + vocab.json [+ added_tokens.json / tokenizer.json]).
   */
  source: string;
  /** Where to write the ggml model (replaced if it exists). */
  outPath: string;
  /** 'f16' (default) or 'f32': the type of the weight matrices and conv kernels. */
  weightType?: 'f16' | 'f32';
  /** 'auto' (default) detects from the folder's files. */
  format?: 'auto' | SourceFormat;
  /** Optional: a ggml model/header-only file whose mel filters are copied instead of computing them. */
  melFiltersFrom?: string;
  /**
   * Store each vocabulary token decoded as UTF-8 with invalid sequences replaced by U+FFFD, re-encoded,
   * instead of its raw bytes (the default, as whisper.cpp's converters and the published ggml models
   * have them). Lossy: a character split across tokens (common in CJK text) comes out as U+FFFD. Only
   * for byte-compatibility with ggml files written that way (the header-only files in shared/models).
   */
  replaceInvalidUtf8?: boolean;
  /** Optional progress callback (tensors done / total), called once before the first tensor and after each. */
  onProgress?: (done: number, total: number) => void;
}

/** Elements converted per chunk: at most 4 MiB read and 4 MiB written per step. */
const CHUNK_ELEMENTS = 1 << 20;
const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Lets other work run between the synchronous steps of a conversion. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function statOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new WhisperError('INVALID_ARGUMENT', `cannot access ${JSON.stringify(p)}: ${(err as Error).message}`, { cause: err });
  }
}

async function checkSourceDir(dir: string, param: string): Promise<void> {
  const st = await statOrUndefined(dir);
  if (!st) throw new WhisperError('MODEL_NOT_FOUND', `${param}: model folder not found: ${JSON.stringify(dir)}`);
  if (!st.isDirectory()) {
    throw new WhisperError('INVALID_ARGUMENT', `${param}: expected a model folder (CTranslate2 or Hugging Face), got a file: ${JSON.stringify(dir)}`);
  }
}

function listing(files: string[]): string {
  if (files.length === 0) return 'the folder is empty';
  const shown = files.slice(0, 12).join(', ');
  return `found ${files.length === 1 ? '1 entry' : `${files.length} entries`}: ${shown}${files.length > 12 ? `, and ${files.length - 12} more` : ''}`;
}

/**
 * Which kind of model folder `dir` is: 'ctranslate2' (has model.bin) or 'transformers' (has
 * model.safetensors or model.safetensors.index.json). Throws MODEL_NOT_FOUND for a missing folder,
 * INVALID_ARGUMENT for a file or a folder with both, INVALID_MODEL for a folder with neither (the message
 * says which files were expected and lists what is there).
 */
export async function detectSourceFormat(dir: string): Promise<SourceFormat> {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('dir', 'a non-empty string', dir);
  await checkSourceDir(dir, 'source');
  let files: string[];
  try {
    files = (await fsp.readdir(dir)).sort();
  } catch (err) {
    throw new WhisperError('INVALID_ARGUMENT', `source: cannot list ${JSON.stringify(dir)}: ${(err as Error).message}`, { cause: err });
  }
  const has = new Set(files);
  const ct2 = has.has('model.bin');
  const hf = has.has('model.safetensors') || has.has('model.safetensors.index.json');
  if (ct2 && hf) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `source: ${JSON.stringify(dir)} holds both a CTranslate2 model.bin and Hugging Face safetensors; pass options.format ('ctranslate2' or 'transformers')`,
    );
  }
  if (ct2) return 'ctranslate2';
  if (hf) return 'transformers';
  let hint = '';
  if (has.has('pytorch_model.bin')) hint = ' (pytorch_model.bin is a PyTorch pickle, which the converter does not read: save the model with safetensors)';
  else if (files.some((f) => f.endsWith('.pt'))) hint = ' (OpenAI .pt checkpoints are PyTorch pickles, which the converter does not read)';
  else if (files.some((f) => /^ggml-.*\.bin$/.test(f))) hint = ' (a ggml-*.bin file is already in whisper.cpp format)';
  throw new WhisperError(
    'INVALID_MODEL',
    `source: ${JSON.stringify(dir)} is neither a CTranslate2 Whisper model (expected model.bin + vocabulary.txt or vocabulary.json) nor a Hugging Face transformers Whisper model (expected config.json + model.safetensors or model.safetensors.index.json + vocab.json); ${listing(files)}${hint}`,
  );
}

/** The mel filter bank from a ggml model or header-only file. */
async function melFiltersFromFile(file: string, nMels: number): Promise<Float32Array> {
  const parameter = 'options.melFiltersFrom';
  const info = await inspectModelFileFor(parameter, file, false);
  if (info.melFilters.nMel !== nMels) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `${parameter}: ${JSON.stringify(file)} has ${info.melFilters.nMel} mel filters, but the model needs ${nMels} (n_mels from its conv1 weight)`,
    );
  }
  const role = modelFileRole(parameter);
  const { fh } = await openForReading(file, role);
  try {
    const buf = await readModelBytes(fh, file, role, info.melFilters.byteLength - 8, info.melFilters.offset + 8, 'its mel filters');
    const out = new Float32Array(buf.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
    return out;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

const checkWeightType = oneOf(['f16', 'f32']);
const checkFormat = oneOf(['auto', 'ctranslate2', 'transformers']);

function validateOptions(options: ConvertOptions): Required<Pick<ConvertOptions, 'source' | 'outPath' | 'weightType' | 'format'>> {
  if (options === undefined) throw invalidArgument('options', 'an object', options);
  const o = optionsObject('options', options);
  const source = isNonEmptyString('options.source', o.source);
  const outPath = isNonEmptyString('options.outPath', o.outPath);
  const weightType = pick(o, 'weightType', checkWeightType, 'f16');
  const format = pick(o, 'format', checkFormat, 'auto');
  if (o.melFiltersFrom !== undefined) isNonEmptyString('options.melFiltersFrom', o.melFiltersFrom);
  if (o.replaceInvalidUtf8 !== undefined) isBoolean('options.replaceInvalidUtf8', o.replaceInvalidUtf8);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', o.onProgress);
  return { source, outPath, weightType, format };
}

/** Scratch buffers for one conversion, aligned for typed-array views. */
class Scratch {
  readonly inBuf = new ArrayBuffer(CHUNK_ELEMENTS * 4);
  readonly outBuf = new ArrayBuffer(CHUNK_ELEMENTS * 4);
  readonly inU8 = new Uint8Array(this.inBuf);
  readonly inU16 = new Uint16Array(this.inBuf);
  readonly inF32 = new Float32Array(this.inBuf);
  readonly outU16 = new Uint16Array(this.outBuf);
  readonly outU32 = new Uint32Array(this.outBuf);
  /** Second scratch for bf16 -> f16 (via float32). */
  readonly midU32 = new Uint32Array(CHUNK_ELEMENTS);
  readonly midF32 = new Float32Array(this.midU32.buffer);
}

/** Writes one tensor's data: reads the source range chunk by chunk, converts, writes. */
async function writeTensorData(t: PlannedTensor, fh: FileHandle, write: (bytes: Uint8Array) => Promise<void>, s: Scratch): Promise<void> {
  const src = t.source;
  const inBytes = DTYPE_BYTES[src.dtype];
  const outF16 = t.type === GGML_TYPE_F16;
  for (let done = 0; done < t.elements;) {
    const n = Math.min(CHUNK_ELEMENTS, t.elements - done);
    const nIn = n * inBytes;
    await readExactly(fh, src.file, s.inU8, 0, nIn, t.offset + done * inBytes);
    let out: Uint8Array;
    if ((src.dtype === 'f16' && outF16) || (src.dtype === 'f32' && !outF16)) {
      out = s.inU8.subarray(0, nIn); // same type: the little-endian bytes pass through
    } else {
      if (!LITTLE_ENDIAN) {
        const b = Buffer.from(s.inBuf, 0, nIn);
        if (inBytes === 2) b.swap16();
        else b.swap32();
      }
      if (outF16) {
        if (src.dtype === 'f32') {
          f32ToF16Bits(s.inF32, s.outU16, n);
        } else {
          // bf16 -> f32 -> f16 (rounded once: every bf16 value is exact in f32)
          bf16ToF32Bits(s.inU16, s.midU32, n);
          f32ToF16Bits(s.midF32, s.outU16, n);
        }
        out = float16Bytes(s.outU16.subarray(0, n));
      } else {
        if (src.dtype === 'f16') f16ToF32Bits(s.inU16, s.outU32, n);
        else bf16ToF32Bits(s.inU16, s.outU32, n);
        out = float32Bytes(new Float32Array(s.outBuf, 0, n));
      }
    }
    await write(out);
    done += n;
  }
}

async function loadSource(dir: string, format: SourceFormat, replaceInvalidUtf8: boolean): Promise<SourceModel> {
  return format === 'ctranslate2' ? loadCt2Source(dir, replaceInvalidUtf8) : loadTransformersSource(dir, replaceInvalidUtf8);
}

/**
 * Converts a CTranslate2 or Hugging Face Whisper model folder to a whisper.cpp ggml model at
 * `options.outPath` and returns `inspectModelFile(outPath)`.
 *
 * Throws WhisperError: MODEL_NOT_FOUND for a missing source folder (or melFiltersFrom file);
 * INVALID_ARGUMENT for bad options, an output path that cannot be written, or a source that is a file;
 * INVALID_MODEL for a folder that is neither format, or a model the converter cannot convert (a
 * truncated file, a missing tensor, a wrong shape, quantized weights, a vocabulary that does not fit
 * whisper.cpp). Nothing is left at `outPath` (or beside it) when it fails.
 */
export async function convertModel(options: ConvertOptions): Promise<ModelFileInfo> {
  const { source, outPath, weightType, format } = validateOptions(options);
  await checkSourceDir(source, 'options.source');
  const fmt: SourceFormat = format === 'auto' ? await detectSourceFormat(source) : format;

  const out = await statOrUndefined(outPath);
  if (out?.isDirectory()) throw new WhisperError('INVALID_ARGUMENT', `options.outPath: ${JSON.stringify(outPath)} is a directory; expected a file path`);

  const src = await loadSource(source, fmt, options.replaceInvalidUtf8 ?? false);
  const hparams: WhisperHparams = { ...src.dims, ftype: weightType === 'f16' ? 1 : 0, quantizationVersion: 0 };
  await yieldToEventLoop();
  const plan = planTensors(src, hparams);
  const mel = options.melFiltersFrom !== undefined ? await melFiltersFromFile(options.melFiltersFrom, hparams.nMels) : whisperMelFilters(hparams.nMels);
  await yieldToEventLoop();
  const preamble = encodePreamble({ hparams, melFilters: { nMel: hparams.nMels, nFft: WHISPER_N_FFT_BINS, data: mel }, vocab: src.vocab });

  const handles = new Map<string, FileHandle>();
  const writer = await GgmlFileWriter.open(outPath, 'options.outPath');
  try {
    for (const t of plan) {
      if (!handles.has(t.source.file)) {
        try {
          handles.set(t.source.file, await fsp.open(t.source.file, 'r'));
        } catch (err) {
          throw new WhisperError('INVALID_MODEL', `${src.label}: cannot open ${JSON.stringify(t.source.file)}: ${(err as Error).message}`, { cause: err });
        }
      }
    }
    const write = async (bytes: Uint8Array): Promise<void> => {
      try {
        await writer.write(bytes);
      } catch (err) {
        throw new WhisperError('INVALID_ARGUMENT', `options.outPath: writing ${JSON.stringify(outPath)} failed: ${(err as Error).message}`, { cause: err });
      }
    };
    await write(preamble);
    const scratch = new Scratch();
    options.onProgress?.(0, plan.length);
    for (let i = 0; i < plan.length; i++) {
      const t = plan[i];
      await write(encodeTensorHeader(t.name, t.shape, t.type));
      await writeTensorData(t, handles.get(t.source.file)!, write, scratch);
      options.onProgress?.(i + 1, plan.length);
    }
    try {
      await writer.commit();
    } catch (err) {
      throw new WhisperError('INVALID_ARGUMENT', `options.outPath: cannot write ${JSON.stringify(outPath)}: ${(err as Error).message}`, { cause: err });
    }
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    for (const fh of handles.values()) await fh.close().catch(() => undefined);
  }
  return inspectModelFileFor('options.outPath', outPath);
}
