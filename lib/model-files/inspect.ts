/**
 * Reads and checks a whisper.cpp ggml model file (the legacy "ggml" container, magic 0x67676d6c,
 * the format of ggml-*.bin Whisper models) WITHOUT loading the tensor data.
 *
 * whisper.cpp v1.9.1 aborts, reads out of bounds or silently loads garbage for several kinds of bad
 * files (see the notes below), so the library checks a file here before the native loader sees it.
 * Everything this module accepts is accepted by `whisper_model_load` (src/whisper.cpp); it is
 * stricter than the loader where the loader would misbehave.
 *
 * File layout (all integers little-endian, no alignment padding anywhere):
 *   uint32 magic = 0x67676d6c (bytes "lmgg")
 *   int32  n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
 *          n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype
 *          (ftype = quantization_version * 1000 + ggml_ftype)
 *   int32  n_mel, n_fft, then n_mel * n_fft float32           (mel filter bank)
 *   int32  n_tokens, then per token: uint32 length + bytes     (vocabulary)
 *   tensors until end of file, each:
 *          int32 n_dims, int32 name_length, int32 ggml_type, n_dims * int32 ne (ggml order, ne[0] first),
 *          name bytes, then the raw data: ggml_nbytes bytes, immediately (no padding)
 *
 * Notes on whisper.cpp's loader (v1.9.1) that shape the checks here:
 *  - the tensor table is read until EOF; a tensor name the model does not define is an error, and so
 *    is a model that loads some but not all tensors. A file with NO tensors is accepted with a
 *    warning ("assuming empty model for testing") and then produces nonsense, so it is rejected here.
 *  - the loader never checks that a tensor's data is complete: a file cut inside the last tensor loads
 *    with uninitialised weights. Rejected here.
 *  - fewer than 12 stray bytes after the last tensor are ignored by the loader (the next header read
 *    hits EOF); 12 or more are parsed as another tensor header and fail. Same here.
 *  - a tensor's stored type is only checked indirectly (its byte size must match the type whisper.cpp
 *    expects from the header's ftype); same-size types (f16/bf16, q4_0/iq4_nl) would be read as the
 *    wrong type. Here the stored type must equal the expected type.
 *  - an ftype that ggml does not map to a tensor type trips a GGML_ASSERT (process abort); n_dims > 4
 *    overflows a stack array; a mel filter bank whose n_fft is not 201 is read out of bounds. All
 *    rejected here.
 */
import { fileError, openForReading } from '../errors/file-errors';
import { isBoolean, isNonEmptyString, INT32_MAX } from '../errors/validate';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { identifyArchitecture, type IdentifiedArchitecture } from './architectures';
import { describeForeignFile, describeOtherGgmlModel } from './foreign-files';
import { GGML_FILE_MAGIC, GGML_QNT_VERSION, QUANTIZATION_TYPE_IDS, ggmlTensorBytes, ggmlTypeName, ggmlTypeTraits, weightTypeForFtype } from './ggml-format';
import { HEADER_BYTES, checkHparams, decodeHparams, readRawHparams, type WhisperHparams } from './hparams';
import { WHISPER_N_FFT_BINS } from './mel-filters';
import { modelFileRole } from './open-file';
import { expectedTensors, modelTypeFromHparams, parameterCount, type ExpectedTensor, type ModelType } from './tensors';
import { isPrintableAscii, quote } from './text';
import { WindowReader } from './window-reader';

export interface TensorInfo {
  name: string;
  /** ggml_type id as stored in the file. */
  type: number;
  typeName: string;
  /** Dimensions as stored in the file, in ggml ne order (ne[0] = the contiguous dimension). */
  shape: number[];
  /** File offset of the tensor's data (its header precedes it). */
  offset: number;
  byteLength: number;
}

/**
 * What a model file is, from its headers: the one description that inspectModelFile,
 * readModelInfo and WhisperModel.info share.
 */
export interface ModelDescription {
  path: string;
  fileSize: number;
  hparams: WhisperHparams;
  modelType: ModelType;
  /**
   * The standard architecture whose hyperparameters the header has ('tiny.en', 'large-v3-turbo', ...;
   * see lib/model-files/architectures.ts), 'large-v1/v2' (the two share hyperparameters) or 'unknown'.
   */
  architecture: IdentifiedArchitecture;
  /** n_vocab >= 51865, as whisper.cpp decides. */
  multilingual: boolean;
  /** Mel bins of the input spectrogram: 80, or 128 for large-v3 and large-v3-turbo. */
  nMels: number;
  /** Weights in all the tensors whisper.cpp loads for these hparams (see `parameterCount`). */
  parameterCount: number;
  /**
   * Type name of the weight matrices, e.g. 'f16', 'q5_0': the most common type among the 2-D `.weight`
   * tensors ('mixed' without a majority). Without a tensor table read, the type the header's ftype implies.
   */
  weightType: string;
  /** Tensors in the table and the sum of their data bytes; 0 when the table was not read. */
  tensorCount: number;
  tensorBytes: number;
}

/** A ModelDescription with the file's layout: where each section and tensor lies. */
export interface ModelFileInfo extends ModelDescription {
  /** The mel filter section: `offset` is where its n_mel field starts, `byteLength` covers n_mel, n_fft and the data. */
  melFilters: { nMel: number; nFft: number; offset: number; byteLength: number };
  /** The vocabulary section: `offset` is where its count field starts, `byteLength` covers the count and all tokens. */
  vocab: { count: number; offset: number; byteLength: number };
  /** In file order. Empty with `checkTensors: false`. */
  tensors: TensorInfo[];
}

/** The description part of an inspection, without the layout. */
export function describeModel(info: ModelFileInfo): ModelDescription {
  const { path, fileSize, hparams, modelType, architecture, multilingual, nMels, parameterCount, weightType, tensorCount, tensorBytes } = info;
  return { path, fileSize, hparams, modelType, architecture, multilingual, nMels, parameterCount, weightType, tensorCount, tensorBytes };
}

const MAX_TENSOR_NAME = 512;
const MAX_TOKEN_BYTES = 65536;

/** One file being inspected: where it is, how big, how to read it, how to fail. */
interface Inspection {
  path: string;
  fileSize: number;
  reader: WindowReader;
  /** The bytes [pos, pos+len), or null when the file ends first. */
  read(pos: number, len: number, prefetch?: number): Promise<Buffer | null>;
  /** INVALID_MODEL naming the file. */
  fail(message: string): WhisperError;
}

/** The header: magic and hyperparameters, and the first bytes (kept to explain a foreign file). */
async function readHeader(file: Inspection): Promise<{ hparams: WhisperHparams; head: Buffer }> {
  const { fileSize, fail } = file;
  const head = (await file.read(0, Math.min(fileSize, 256)))!;
  if (fileSize < 4) throw fail(`the file is only ${fileSize} bytes, too small to be a model`);
  if (head.readUInt32LE(0) !== GGML_FILE_MAGIC) throw fail(describeForeignFile(head, fileSize));
  if (fileSize < HEADER_BYTES) {
    const other = describeOtherGgmlModel(head);
    if (other) throw fail(other);
    throw fail(`truncated header: the file is ${fileSize} bytes, the ggml magic and hyperparameters need ${HEADER_BYTES}`);
  }
  const raw = readRawHparams(head);
  const hparams = decodeHparams(raw);
  const problems = checkHparams(raw, hparams);
  if (problems.length > 0) {
    const other = describeOtherGgmlModel(head);
    if (other) throw fail(other);
    throw fail(`implausible hyperparameters: ${problems.join('; ')}. Is this a ggml Whisper model?`);
  }
  return { hparams, head };
}

/** The mel filter section right after the header: n_mel x 201 float32 weights. */
async function readMelFilters(file: Inspection, hparams: WhisperHparams): Promise<ModelFileInfo['melFilters']> {
  const { fileSize, fail } = file;
  const offset = HEADER_BYTES;
  const melHead = await file.read(offset, 8);
  if (!melHead) throw fail(`truncated mel filter section: the file ends at byte ${fileSize}, inside the mel filter header at ${offset}`);
  const nMel = melHead.readInt32LE(0);
  const nFft = melHead.readInt32LE(4);
  if (nMel !== hparams.nMels) {
    throw fail(`the mel filter bank has n_mel = ${nMel}, but the header says n_mels = ${hparams.nMels}`);
  }
  if (nFft !== WHISPER_N_FFT_BINS) {
    throw fail(`the mel filter bank has n_fft = ${nFft}; whisper.cpp needs ${WHISPER_N_FFT_BINS} (1 + 400/2 frequency bins)`);
  }
  const dataBytes = nMel * nFft * 4;
  const end = offset + 8 + dataBytes;
  if (end > fileSize) {
    throw fail(`truncated mel filter section: the ${nMel}x${nFft} filters need bytes ${offset + 8}..${end}, but the file ends at ${fileSize}`);
  }
  return { nMel, nFft, offset, byteLength: 8 + dataBytes };
}

/** The vocabulary section at `offset`: a count, then each token as a uint32 length and its bytes. */
async function readVocabulary(file: Inspection, hparams: WhisperHparams, offset: number): Promise<ModelFileInfo['vocab']> {
  const { fileSize, fail } = file;
  const countBuf = await file.read(offset, 4);
  if (!countBuf) throw fail(`truncated vocabulary: the file ends at ${fileSize}, before the token count at ${offset}`);
  const count = countBuf.readInt32LE(0);
  if (count < 1 || count > hparams.nVocab) {
    throw fail(`impossible vocabulary size ${count} (expected 1..n_vocab = ${hparams.nVocab})`);
  }
  let pos = offset + 4;
  for (let i = 0; i < count; i++) {
    const lenBuf = file.reader.cached(pos, 4) ?? (await file.read(pos, 4));
    if (!lenBuf) throw fail(`truncated vocabulary: the file ends at ${fileSize}, inside token ${i} of ${count} (at offset ${pos})`);
    const len = lenBuf.readUInt32LE(0);
    if (len > MAX_TOKEN_BYTES) throw fail(`impossible length ${len} for vocabulary token ${i} at offset ${pos}`);
    pos += 4 + len;
    if (pos > fileSize) throw fail(`truncated vocabulary: token ${i} of ${count} needs bytes up to ${pos}, but the file ends at ${fileSize}`);
  }
  return { count, offset, byteLength: pos - offset };
}

function tensorCountText(count: number): string {
  return count === 1 ? '1 tensor' : `${count} tensors`;
}

function padTo4(shape: number[]): number[] {
  return [...shape, 1, 1, 1, 1].slice(0, 4);
}

/**
 * One tensor header at `pos` and where its data lies, checked against what whisper.cpp expects:
 * `problem` builds the error for a header that does not parse, `fail` the one for a tensor that is wrong.
 */
async function readTensor(
  file: Inspection,
  hparams: WhisperHparams,
  expected: Map<string, ExpectedTensor>,
  seen: Set<string>,
  pos: number,
  problem: (message: string) => WhisperError,
  where: string,
): Promise<TensorInfo> {
  const { fileSize, fail } = file;
  const fixed = (await file.read(pos, 12, 4096))!;
  const nDims = fixed.readInt32LE(0);
  const nameLen = fixed.readInt32LE(4);
  const ttype = fixed.readInt32LE(8);
  if (nDims < 1 || nDims > 4) throw problem(`impossible n_dims ${nDims} (expected 1..4)`);
  if (nameLen < 1 || nameLen > MAX_TENSOR_NAME) throw problem(`impossible name length ${nameLen} (expected 1..${MAX_TENSOR_NAME})`);
  const rest = await file.read(pos + 12, 4 * nDims + nameLen, 4096);
  if (!rest) throw problem(`the file ends at ${fileSize}, inside the tensor header (truncated file?)`);
  const shape: number[] = [];
  for (let d = 0; d < nDims; d++) shape.push(rest.readInt32LE(4 * d));
  const nameBytes = rest.subarray(4 * nDims);
  const name = nameBytes.toString('utf8');
  if (!isPrintableAscii(nameBytes)) throw problem(`the tensor name is not printable text: ${quote(name)}`);
  if (shape.some((d) => d < 1)) throw problem(`tensor ${quote(name)} has an impossible shape [${shape.join(', ')}]`);

  const exp = expected.get(name);
  if (!exp) throw problem(`unknown tensor ${quote(name)}: whisper.cpp rejects tensors its Whisper model does not define`);
  if (seen.has(name)) throw fail(`${where}: tensor ${quote(name)} appears twice`);
  const got4 = padTo4(shape);
  const exp4 = padTo4(exp.shape);
  if (got4.some((v, i) => v !== exp4[i])) {
    throw fail(`tensor ${quote(name)} has shape [${shape.join(', ')}], but whisper.cpp expects [${exp.shape.join(', ')}] for these hyperparameters`);
  }
  const t = ggmlTypeTraits(ttype);
  if (!t) throw fail(`tensor ${quote(name)} has an unknown ggml type id ${ttype}`);
  if (ttype !== exp.type) {
    const wtype = weightTypeForFtype(hparams.ftype)!;
    throw fail(
      `tensor ${quote(name)} is stored as ${t.name}, but with the header's ftype ${hparams.ftype} (${ggmlTypeName(wtype)}) whisper.cpp expects ${ggmlTypeName(exp.type)}`,
    );
  }
  if (isOldQuantization(ttype, hparams.quantizationVersion)) {
    throw fail(
      `tensor ${quote(name)} is ${t.name} in the old ggml quantization format version ${hparams.quantizationVersion}; whisper.cpp reads only version ${GGML_QNT_VERSION}. Quantize the model again with a current whisper.cpp`,
    );
  }
  const nElements = shape.reduce((a, b) => a * b, 1);
  if (nElements > INT32_MAX) {
    throw fail(`tensor ${quote(name)} has ${nElements} elements; whisper.cpp's loader handles at most ${INT32_MAX}`);
  }
  let byteLength: number;
  try {
    byteLength = ggmlTensorBytes(ttype, shape);
  } catch (err) {
    throw fail(`tensor ${quote(name)}: ${(err as Error).message.replace(/^ggmlTensorBytes: /, '')}`);
  }
  const offset = pos + 12 + 4 * nDims + nameLen;
  if (offset + byteLength > fileSize) {
    const have = Math.max(0, fileSize - offset);
    throw fail(
      `the file is truncated: tensor ${quote(name)} (${t.name} [${shape.join(', ')}]) needs ${byteLength} bytes of data at offset ${offset}, but only ${have} bytes remain (file size ${fileSize}, ${offset + byteLength - fileSize} bytes missing). Download the model again`,
    );
  }
  return { name, type: ttype, typeName: t.name, shape, offset, byteLength };
}

/** whisper.cpp reads q4_0, q4_1 and q8_0 blocks only in quantization version 2, q5_0 and q5_1 from version 1 on. */
function isOldQuantization(type: number, version: number): boolean {
  if (version >= GGML_QNT_VERSION) return false;
  const { q4_0, q4_1, q5_0, q5_1, q8_0 } = QUANTIZATION_TYPE_IDS;
  return type === q4_0.type || type === q4_1.type || type === q8_0.type || (version === 0 && (type === q5_0.type || type === q5_1.type));
}

/**
 * The tensor table from `pos` to the end of the file: every tensor whisper.cpp requires exactly once,
 * nothing else, every tensor's data inside the file.
 */
async function readTensorTable(file: Inspection, hparams: WhisperHparams, vocabEnd: number): Promise<{ tensors: TensorInfo[]; tensorBytes: number }> {
  const { fileSize, fail } = file;
  const expected = expectedTensors(hparams);
  const expectedByName = new Map(expected.map((e) => [e.name, e]));
  const tensors: TensorInfo[] = [];
  const seen = new Set<string>();
  let tensorBytes = 0;
  let pos = vocabEnd;

  while (fileSize - pos >= 12) {
    const headerAt = pos;
    const where = `tensor #${tensors.length} (header at offset ${headerAt})`;
    const allSeen = seen.size === expected.length;
    // after every expected tensor, leftover bytes that do not even parse are "trailing data"
    const problem = (message: string): WhisperError =>
      allSeen
        ? fail(`${fileSize - headerAt} bytes of trailing data after the last tensor (whisper.cpp would read them as another tensor and fail: ${message})`)
        : fail(`${where}: ${message}`);
    const tensor = await readTensor(file, hparams, expectedByName, seen, pos, problem, where);
    seen.add(tensor.name);
    tensors.push(tensor);
    tensorBytes += tensor.byteLength;
    pos = tensor.offset + tensor.byteLength;
  }
  const leftover = fileSize - pos; // < 12: whisper.cpp hits EOF reading the next header and stops

  if (tensors.length === 0) {
    throw fail(
      `the file has a header and vocab but no tensor data (it ends ${leftover} bytes after the vocabulary at offset ${vocabEnd}); it is a header-only file, not a usable model`,
    );
  }
  if (seen.size !== expected.length) {
    const missing = expected.filter((e) => !seen.has(e.name)).map((e) => e.name);
    const shown = missing
      .slice(0, 5)
      .map((n) => quote(n))
      .join(', ');
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    const modelType = modelTypeFromHparams(hparams);
    throw fail(
      `missing ${missing.length} of the ${expected.length} tensors ${modelType === 'unknown' ? 'this' : `a ${modelType}`} model needs: ${shown}${more} (the file has ${tensorCountText(tensors.length)} and ends at ${fileSize}; truncated or incomplete file?)`,
    );
  }
  return { tensors, tensorBytes };
}

/** The most common type among the 2-D weight matrices, or 'mixed' without a majority. */
function majorityWeightType(tensors: TensorInfo[]): string {
  const counts = new Map<string, number>();
  let matrices = 0;
  for (const t of tensors) {
    if (t.shape.length === 2 && t.name.endsWith('.weight')) {
      counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
      matrices++;
    }
  }
  for (const [name, n] of counts) if (n * 2 > matrices) return name;
  return 'mixed';
}

/**
 * inspectModelFile for a path that a caller's `parameter` named (e.g. 'options.inPath'): the same
 * checks, with that name in the messages of a missing or unreadable file. The arguments are not checked.
 */
export async function inspectModelFileFor(parameter: string, path: string, checkTensors = true): Promise<ModelFileInfo> {
  const role = modelFileRole(parameter);
  const fail = (message: string): WhisperError => new WhisperError('INVALID_MODEL', `invalid model file ${JSON.stringify(path)}: ${message}`);
  const { fh, size: fileSize } = await openForReading(path, role);
  try {
    if (fileSize === 0) throw fail('the file is empty (0 bytes)');
    const reader = new WindowReader(fh, fileSize);
    const read = async (pos: number, len: number, prefetch = 65536): Promise<Buffer | null> => {
      try {
        return await reader.bytes(pos, len, prefetch);
      } catch (error) {
        throw fileError(error, path, role);
      }
    };
    const file: Inspection = { path, fileSize, reader, read, fail };

    const { hparams } = await readHeader(file);
    const melFilters = await readMelFilters(file, hparams);
    const vocab = await readVocabulary(file, hparams, melFilters.offset + melFilters.byteLength);
    const vocabEnd = vocab.offset + vocab.byteLength;
    const base: Omit<ModelFileInfo, 'tensors' | 'tensorCount' | 'tensorBytes' | 'weightType'> = {
      path,
      fileSize,
      hparams,
      modelType: modelTypeFromHparams(hparams),
      architecture: identifyArchitecture(hparams),
      multilingual: hparams.nVocab >= 51865,
      nMels: hparams.nMels,
      parameterCount: parameterCount(hparams),
      melFilters,
      vocab,
    };
    if (!checkTensors) {
      return { ...base, weightType: ggmlTypeName(weightTypeForFtype(hparams.ftype)!), tensors: [], tensorCount: 0, tensorBytes: 0 };
    }
    const { tensors, tensorBytes } = await readTensorTable(file, hparams, vocabEnd);
    return { ...base, weightType: majorityWeightType(tensors), tensors, tensorCount: tensors.length, tensorBytes };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Reads and checks a whisper.cpp ggml model file without loading tensor data: the header, mel filters,
 * vocabulary and (unless `checkTensors` is false) the whole tensor table, hopping from tensor header to
 * tensor header. With `checkTensors: true` (the default) every tensor whisper.cpp requires must be
 * present exactly once with the right shape and type, no other tensor may be present and every
 * tensor's data must lie inside the file.
 *
 * Throws WhisperError: MODEL_NOT_FOUND for a missing path, INVALID_MODEL for anything whisper.cpp would
 * reject or misread, FILE_UNREADABLE for a file that cannot be read, INVALID_ARGUMENT for bad
 * arguments or a path that is a directory, FIFO or device.
 */
export async function inspectModelFile(path: string, options?: { checkTensors?: boolean }): Promise<ModelFileInfo> {
  isNonEmptyString('path', path);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const checkTensors = options?.checkTensors === undefined ? true : isBoolean('options.checkTensors', options.checkTensors);
  return inspectModelFileFor('path', path, checkTensors);
}
