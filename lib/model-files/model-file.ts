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
import { promises as fsp } from 'node:fs';
import type * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { identifyArchitecture, type IdentifiedArchitecture } from './architectures';
import { WhisperError, invalidArgument } from '../errors/whisper-error';

export interface WhisperHparams {
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
  /** The ggml ftype (the header field modulo GGML_QNT_VERSION_FACTOR), e.g. 0 = f32, 1 = f16, 8 = q5_0. */
  ftype: number;
  /** The quantization format version (the header field divided by GGML_QNT_VERSION_FACTOR). */
  quantizationVersion: number;
}

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

export interface ModelFileInfo {
  path: string;
  fileSize: number;
  hparams: WhisperHparams;
  modelType: 'tiny' | 'base' | 'small' | 'medium' | 'large' | 'unknown';
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
   * tensors ('mixed' without a majority). With `checkTensors: false`, the type the header's ftype implies.
   */
  weightType: string;
  /** The mel filter section: `offset` is where its n_mel field starts, `byteLength` covers n_mel, n_fft and the data. */
  melFilters: { nMel: number; nFft: number; offset: number; byteLength: number };
  /** The vocabulary section: `offset` is where its count field starts, `byteLength` covers the count and all tokens. */
  vocab: { count: number; offset: number; byteLength: number };
  /** In file order. Empty with `checkTensors: false`. */
  tensors: TensorInfo[];
  /** Sum of the tensors' data bytes. */
  tensorBytes: number;
}

export const GGML_FILE_MAGIC = 0x67676d6c;
export const GGML_QNT_VERSION = 2;
export const GGML_QNT_VERSION_FACTOR = 1000;

/** Byte size of the fixed header: magic + 11 int32 hparams. */
const HEADER_BYTES = 48;
/** whisper.cpp's WHISPER_N_FFT = 400: the filter bank must have 1 + 400/2 columns. */
const WHISPER_N_FFT_BINS = 201;
/** The smallest n_vocab whose token layout whisper.cpp supports (English-only models; timestamps end at 51863). */
const MIN_N_VOCAB = 51864;
const MAX_TENSOR_NAME = 512;
const MAX_TOKEN_BYTES = 65536;
const INT32_MAX = 0x7fffffff;

/**
 * ggml type traits (block size in elements, bytes per block), from ggml/src/ggml.c `type_traits` and
 * the block structs in ggml/src/ggml-common.h (ggml 0.15.1). Removed/deprecated ids (4, 5, 31-33,
 * 36-38) are absent: whisper.cpp cannot load them.
 */
export const GGML_TYPES: Record<number, { name: string; blockSize: number; typeSize: number }> = Object.freeze({
  0: { name: 'f32', blockSize: 1, typeSize: 4 },
  1: { name: 'f16', blockSize: 1, typeSize: 2 },
  2: { name: 'q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'iq2_xxs', blockSize: 256, typeSize: 66 },
  17: { name: 'iq2_xs', blockSize: 256, typeSize: 74 },
  18: { name: 'iq3_xxs', blockSize: 256, typeSize: 98 },
  19: { name: 'iq1_s', blockSize: 256, typeSize: 50 },
  20: { name: 'iq4_nl', blockSize: 32, typeSize: 18 },
  21: { name: 'iq3_s', blockSize: 256, typeSize: 110 },
  22: { name: 'iq2_s', blockSize: 256, typeSize: 82 },
  23: { name: 'iq4_xs', blockSize: 256, typeSize: 136 },
  24: { name: 'i8', blockSize: 1, typeSize: 1 },
  25: { name: 'i16', blockSize: 1, typeSize: 2 },
  26: { name: 'i32', blockSize: 1, typeSize: 4 },
  27: { name: 'i64', blockSize: 1, typeSize: 8 },
  28: { name: 'f64', blockSize: 1, typeSize: 8 },
  29: { name: 'iq1_m', blockSize: 256, typeSize: 56 },
  30: { name: 'bf16', blockSize: 1, typeSize: 2 },
  34: { name: 'tq1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'tq2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'mxfp4', blockSize: 32, typeSize: 17 },
  40: { name: 'nvfp4', blockSize: 64, typeSize: 36 },
  41: { name: 'q1_0', blockSize: 128, typeSize: 18 },
});

const T_F32 = 0;
const T_F16 = 1;

/** ggml_ftype -> ggml_type, as ggml_ftype_to_ggml_type (ggml.c). Any other ftype aborts whisper.cpp. */
const FTYPE_TO_TYPE: Record<number, number> = Object.freeze({
  0: 0, // ALL_F32
  1: 1, // MOSTLY_F16
  2: 2, // MOSTLY_Q4_0
  3: 3, // MOSTLY_Q4_1
  7: 8, // MOSTLY_Q8_0
  8: 6, // MOSTLY_Q5_0
  9: 7, // MOSTLY_Q5_1
  10: 10, // MOSTLY_Q2_K
  11: 11, // MOSTLY_Q3_K
  12: 12, // MOSTLY_Q4_K
  13: 13, // MOSTLY_Q5_K
  14: 14, // MOSTLY_Q6_K
  15: 16, // MOSTLY_IQ2_XXS
  16: 17, // MOSTLY_IQ2_XS
  17: 18, // MOSTLY_IQ3_XXS
  18: 19, // MOSTLY_IQ1_S
  19: 20, // MOSTLY_IQ4_NL
  20: 21, // MOSTLY_IQ3_S
  21: 22, // MOSTLY_IQ2_S
  22: 23, // MOSTLY_IQ4_XS
  23: 29, // MOSTLY_IQ1_M
  24: 30, // MOSTLY_BF16
  25: 39, // MOSTLY_MXFP4
  26: 40, // MOSTLY_NVFP4
  27: 41, // MOSTLY_Q1_0
});

/**
 * The ggml_type whisper.cpp uses for the big weight matrices of a model with this (decoded) ftype,
 * or undefined for an ftype whisper.cpp cannot load.
 */
export function weightTypeForFtype(ftype: number): number | undefined {
  return Object.prototype.hasOwnProperty.call(FTYPE_TO_TYPE, ftype) ? FTYPE_TO_TYPE[ftype] : undefined;
}

/** Name of a ggml type id ('f16', 'q5_0', ...), or `type<N>` for an unknown id. */
export function ggmlTypeName(type: number): string {
  const t = lookupType(type);
  return t ? t.name : `type${type}`;
}

function lookupType(type: number): { name: string; blockSize: number; typeSize: number } | undefined {
  return Number.isInteger(type) && Object.prototype.hasOwnProperty.call(GGML_TYPES, type) ? GGML_TYPES[type] : undefined;
}

/**
 * Bytes of a tensor of this ggml type and shape (ne order), as ggml_nbytes computes it for a contiguous
 * tensor. Throws a WhisperError (INVALID_ARGUMENT) for an unknown type, a non-positive or non-integer
 * dimension, a first dimension that is not a multiple of the type's block size, or a size beyond 2^53.
 */
export function ggmlTensorBytes(type: number, shape: number[]): number {
  const t = lookupType(type);
  if (!t) throw new WhisperError('INVALID_ARGUMENT', `ggmlTensorBytes: unknown ggml type id ${String(type)}`);
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4) {
    throw invalidArgument('ggmlTensorBytes: shape', 'an array of 1 to 4 dimensions', shape);
  }
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) throw invalidArgument('ggmlTensorBytes: shape', 'positive integer dimensions', d);
  }
  const ne0 = shape[0];
  if (ne0 % t.blockSize !== 0) {
    throw new WhisperError(
      'INVALID_ARGUMENT',
      `ggmlTensorBytes: a ${t.name} tensor needs its first dimension to be a multiple of ${t.blockSize}, got ${ne0}`,
    );
  }
  let bytes = (ne0 / t.blockSize) * t.typeSize;
  for (let i = 1; i < shape.length; i++) bytes *= shape[i];
  if (!Number.isSafeInteger(bytes)) {
    throw new WhisperError('INVALID_ARGUMENT', `ggmlTensorBytes: tensor of shape [${shape.join(', ')}] is too large`);
  }
  return bytes;
}

/**
 * The tensors whisper.cpp's loader defines for these hyperparameters, in the order it creates them,
 * with their shapes in ggml ne order (as stored in the file) and the ggml type the loader expects for
 * each given `hparams.ftype`: the big matrices (linear layers and the token embedding) use the ftype's
 * weight type; the conv kernels use f16 (f32 in an all-f32 model); positional embeddings, conv biases,
 * layer norms and all biases are always f32. Throws INVALID_MODEL for an ftype whisper.cpp cannot load.
 */
export function expectedTensors(hparams: WhisperHparams): Array<{ name: string; shape: number[]; type: number }> {
  const wtype = weightTypeForFtype(hparams.ftype);
  if (wtype === undefined) {
    throw new WhisperError('INVALID_MODEL', `unsupported ftype ${hparams.ftype}: ggml does not map it to a tensor type`);
  }
  const vtype = wtype === T_F32 ? T_F32 : T_F16;
  const out: Array<{ name: string; shape: number[]; type: number }> = [];
  const add = (name: string, shape: number[], type: number): void => {
    out.push({ name, shape, type });
  };

  const { nAudioState: as, nAudioCtx, nAudioLayer, nTextState: ts, nTextCtx, nTextLayer, nVocab, nMels } = hparams;

  // encoder
  add('encoder.positional_embedding', [as, nAudioCtx], T_F32);
  add('encoder.conv1.weight', [3, nMels, as], vtype);
  add('encoder.conv1.bias', [1, as], T_F32);
  add('encoder.conv2.weight', [3, as, as], vtype);
  add('encoder.conv2.bias', [1, as], T_F32);
  add('encoder.ln_post.weight', [as], T_F32);
  add('encoder.ln_post.bias', [as], T_F32);
  for (let i = 0; i < nAudioLayer; i++) {
    const p = `encoder.blocks.${i}.`;
    add(`${p}mlp_ln.weight`, [as], T_F32);
    add(`${p}mlp_ln.bias`, [as], T_F32);
    add(`${p}mlp.0.weight`, [as, 4 * as], wtype);
    add(`${p}mlp.0.bias`, [4 * as], T_F32);
    add(`${p}mlp.2.weight`, [4 * as, as], wtype);
    add(`${p}mlp.2.bias`, [as], T_F32);
    add(`${p}attn_ln.weight`, [as], T_F32);
    add(`${p}attn_ln.bias`, [as], T_F32);
    add(`${p}attn.query.weight`, [as, as], wtype);
    add(`${p}attn.query.bias`, [as], T_F32);
    add(`${p}attn.key.weight`, [as, as], wtype);
    add(`${p}attn.value.weight`, [as, as], wtype);
    add(`${p}attn.value.bias`, [as], T_F32);
    add(`${p}attn.out.weight`, [as, as], wtype);
    add(`${p}attn.out.bias`, [as], T_F32);
  }

  // decoder
  add('decoder.positional_embedding', [ts, nTextCtx], T_F32);
  add('decoder.token_embedding.weight', [ts, nVocab], wtype);
  add('decoder.ln.weight', [ts], T_F32);
  add('decoder.ln.bias', [ts], T_F32);
  for (let i = 0; i < nTextLayer; i++) {
    const p = `decoder.blocks.${i}.`;
    add(`${p}mlp_ln.weight`, [ts], T_F32);
    add(`${p}mlp_ln.bias`, [ts], T_F32);
    add(`${p}mlp.0.weight`, [ts, 4 * ts], wtype);
    add(`${p}mlp.0.bias`, [4 * ts], T_F32);
    add(`${p}mlp.2.weight`, [4 * ts, ts], wtype);
    add(`${p}mlp.2.bias`, [ts], T_F32);
    add(`${p}attn_ln.weight`, [ts], T_F32);
    add(`${p}attn_ln.bias`, [ts], T_F32);
    add(`${p}attn.query.weight`, [ts, ts], wtype);
    add(`${p}attn.query.bias`, [ts], T_F32);
    add(`${p}attn.key.weight`, [ts, ts], wtype);
    add(`${p}attn.value.weight`, [ts, ts], wtype);
    add(`${p}attn.value.bias`, [ts], T_F32);
    add(`${p}attn.out.weight`, [ts, ts], wtype);
    add(`${p}attn.out.bias`, [ts], T_F32);
    add(`${p}cross_attn_ln.weight`, [ts], T_F32);
    add(`${p}cross_attn_ln.bias`, [ts], T_F32);
    add(`${p}cross_attn.query.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.query.bias`, [ts], T_F32);
    add(`${p}cross_attn.key.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.value.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.value.bias`, [ts], T_F32);
    add(`${p}cross_attn.out.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.out.bias`, [ts], T_F32);
  }
  return out;
}

/**
 * Number of weights (tensor elements) of a Whisper model with these hyperparameters: every tensor
 * whisper.cpp loads, positional embeddings and norms included. The weight type does not matter.
 */
export function parameterCount(hparams: Omit<WhisperHparams, 'ftype' | 'quantizationVersion'>): number {
  let total = 0;
  for (const t of expectedTensors({ ...hparams, ftype: 1, quantizationVersion: 0 })) {
    total += t.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** tiny/base/small/medium/large from n_audio_layer, as whisper_model_load decides. */
export function modelTypeFromHparams(hparams: Pick<WhisperHparams, 'nAudioLayer'>): ModelFileInfo['modelType'] {
  switch (hparams.nAudioLayer) {
    case 4:
      return 'tiny';
    case 6:
      return 'base';
    case 12:
      return 'small';
    case 24:
      return 'medium';
    case 32:
      return 'large';
    default:
      return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------

/** Positioned reads through a small read-ahead window, so sequential small reads cost few syscalls. */
class WindowReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** The bytes [pos, pos+len) if they are already in the window. */
  cached(pos: number, len: number): Buffer | undefined {
    const rel = pos - this.windowStart;
    if (rel >= 0 && rel + len <= this.window.length) return this.window.subarray(rel, rel + len);
    return undefined;
  }

  /** The bytes [pos, pos+len), or null when the file ends before pos+len. Reads ahead `prefetch` bytes. */
  async bytes(pos: number, len: number, prefetch: number): Promise<Buffer | null> {
    if (pos < 0 || len < 0 || pos + len > this.size) return null;
    const hit = this.cached(pos, len);
    if (hit) return hit;
    const want = Math.min(Math.max(len, prefetch), this.size - pos);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break; // the file shrank under us
      got += bytesRead;
    }
    this.window = buf.subarray(0, got);
    this.windowStart = pos;
    return got >= len ? this.window.subarray(0, len) : null;
  }
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

function isPrintableAscii(b: Buffer): boolean {
  for (const c of b) {
    if (!((c >= 0x20 && c < 0x7f) || c === 0x09 || c === 0x0a || c === 0x0d)) return false;
  }
  return true;
}

function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let bad = 0;
  for (const c of b) {
    if (c === 0) return false;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) bad++;
  }
  if (bad > 0) return false;
  // valid UTF-8 (allowing a sequence cut at the end of the sample)
  const s = b.toString('utf8');
  const replacements = (s.match(/\uFFFD/g) ?? []).length;
  return replacements <= 1;
}

function quote(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}

/** Explains a file whose first bytes are not the ggml magic. */
function describeForeignFile(head: Buffer, fileSize: number): string {
  const magicHex = head.length >= 4 ? hex32(head.readUInt32LE(0)) : '(too short)';
  const base = `bad magic ${magicHex}, expected ${hex32(GGML_FILE_MAGIC)}, the bytes "lmgg" a whisper.cpp ggml model starts with`;
  const note = `[${base}]`;
  const ascii4 = head.subarray(0, 4).toString('latin1');

  if (ascii4 === 'GGUF') {
    return `it is a GGUF file (the container llama.cpp and newer ggml projects use), not a whisper.cpp ggml model ${note}. whisper.cpp loads only the legacy ggml-*.bin Whisper format; get a ggml Whisper model, e.g. from https://huggingface.co/ggerganov/whisper.cpp`;
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return `it is a ZIP archive, probably a PyTorch checkpoint (.pt) ${note}. Convert it with whisper.cpp's models/convert-pt-to-ggml.py first`;
  }
  if (head.length >= 10) {
    const hdrLen = head.readBigUInt64LE(0);
    if (hdrLen > 1n && hdrLen < BigInt(fileSize) && head[8] === 0x7b /* { */) {
      return `it is a safetensors file (Hugging Face format) ${note}. Convert the Hugging Face model with whisper.cpp's models/convert-h5-to-ggml.py first`;
    }
  }
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return `it looks like a Python pickle (an old-style PyTorch checkpoint) ${note}. Convert it with whisper.cpp's models/convert-pt-to-ggml.py first`;
  }
  if (head.length >= 4 && head.readUInt32BE(0) === GGML_FILE_MAGIC) {
    return `the magic is byte-swapped ${note}; this looks like a big-endian ggml file, which this build cannot read`;
  }
  if (ascii4 === 'tjgg' || ascii4 === 'fmgg' || ascii4 === 'algg') {
    return `it is an old llama.cpp-style ggml file (magic "${ascii4.split('').reverse().join('')}"), not a Whisper model ${note}`;
  }
  if (ascii4 === 'RIFF' || ascii4 === 'fLaC' || ascii4 === 'OggS' || ascii4.startsWith('ID3')) {
    return `it looks like an audio file, not a model ${note}. Did you swap the model and audio arguments?`;
  }
  if (looksLikeText(head)) {
    const text = head.toString('utf8');
    if (text.startsWith('version https://git-lfs')) {
      return `it is a Git LFS pointer file, not the model itself ${note}. Fetch the real file (git lfs pull) or download the model again`;
    }
    if (/^\s*<(!doctype html|html|\?xml)/i.test(text)) {
      return `it is an HTML/XML page, not a model; a download probably saved an error page ${note}`;
    }
    const firstLine = text.split(/\r?\n/, 1)[0];
    return `it is a text file, not a model (it begins with ${quote(firstLine, 40)}) ${note}`;
  }
  return base;
}

/**
 * For a ggml file whose hparams make no sense: is it another ggml model kind? whisper.cpp's VAD models
 * (Silero) start with int32 length + model-type string + int32 major, minor, patch.
 */
function describeOtherGgmlModel(head: Buffer): string | undefined {
  if (head.length < 12) return undefined;
  const len = head.readInt32LE(4);
  if (len < 1 || len > 64 || head.length < 8 + len) return undefined;
  const nameBytes = head.subarray(8, 8 + len);
  if (!isPrintableAscii(nameBytes)) return undefined;
  const name = nameBytes.toString('latin1');
  let version = '';
  if (head.length >= 8 + len + 12) {
    const [maj, min, pat] = [0, 1, 2].map((i) => head.readInt32LE(8 + len + 4 * i));
    if ([maj, min, pat].every((v) => v >= 0 && v < 1000)) version = ` version ${maj}.${min}.${pat}`;
  }
  if (/silero|vad/i.test(name)) {
    return `it is a voice-activity-detection (VAD) model ("${name}"${version}), not a Whisper speech-to-text model. Pass it as the VAD model, and a ggml Whisper model (ggml-*.bin) as the model`;
  }
  return `it is a ggml file for a "${name}"${version} model, not a Whisper model`;
}

interface HparamCheck {
  field: string;
  value: number;
  ok: boolean;
  expected: string;
}

function checkHparams(raw: number[], hp: WhisperHparams): string[] {
  const [nVocab, nAudioCtx, nAudioState, nAudioHead, nAudioLayer, nTextCtx, nTextState, nTextHead, nTextLayer, nMels, ftypeRaw] = raw;
  const inRange = (v: number, lo: number, hi: number): boolean => v >= lo && v <= hi;
  const checks: HparamCheck[] = [
    { field: 'n_vocab', value: nVocab, ok: inRange(nVocab, MIN_N_VOCAB, 1_000_000), expected: `${MIN_N_VOCAB}..1000000: whisper.cpp's token layout needs at least ${MIN_N_VOCAB}` },
    { field: 'n_audio_ctx', value: nAudioCtx, ok: inRange(nAudioCtx, 1, 65536), expected: '1..65536' },
    { field: 'n_audio_state', value: nAudioState, ok: inRange(nAudioState, 1, 65536), expected: '1..65536' },
    { field: 'n_audio_head', value: nAudioHead, ok: inRange(nAudioHead, 1, 1024), expected: '1..1024' },
    { field: 'n_audio_layer', value: nAudioLayer, ok: inRange(nAudioLayer, 1, 256), expected: '1..256' },
    { field: 'n_text_ctx', value: nTextCtx, ok: inRange(nTextCtx, 1, 65536), expected: '1..65536' },
    { field: 'n_text_state', value: nTextState, ok: inRange(nTextState, 1, 65536), expected: '1..65536' },
    { field: 'n_text_head', value: nTextHead, ok: inRange(nTextHead, 1, 1024), expected: '1..1024' },
    { field: 'n_text_layer', value: nTextLayer, ok: inRange(nTextLayer, 1, 256), expected: '1..256' },
    { field: 'n_mels', value: nMels, ok: inRange(nMels, 1, 512), expected: '1..512' },
  ];
  const problems = checks.filter((c) => !c.ok).map((c) => `${c.field} = ${c.value} (expected ${c.expected})`);
  const bad = new Set(checks.filter((c) => !c.ok).map((c) => c.field));

  if (!bad.has('n_audio_state') && !bad.has('n_audio_head') && nAudioState % nAudioHead !== 0) {
    problems.push(`n_audio_head = ${nAudioHead} does not divide n_audio_state = ${nAudioState}`);
  }
  if (!bad.has('n_text_state') && !bad.has('n_text_head') && nTextState % nTextHead !== 0) {
    problems.push(`n_text_head = ${nTextHead} does not divide n_text_state = ${nTextState}`);
  }
  if (!bad.has('n_text_state') && !bad.has('n_audio_state') && nTextState !== nAudioState) {
    problems.push(`n_text_state = ${nTextState} differs from n_audio_state = ${nAudioState} (whisper.cpp requires them equal)`);
  }
  if (ftypeRaw < 0) {
    problems.push(`ftype = ${ftypeRaw} is negative`);
  } else {
    if (weightTypeForFtype(hp.ftype) === undefined) {
      problems.push(
        `ftype = ${ftypeRaw} encodes ggml ftype ${hp.ftype}, which ggml cannot map to a tensor type (whisper.cpp would abort)`,
      );
    }
    if (hp.quantizationVersion > GGML_QNT_VERSION) {
      problems.push(
        `ftype = ${ftypeRaw} encodes quantization version ${hp.quantizationVersion}, newer than the version ${GGML_QNT_VERSION} this whisper.cpp reads`,
      );
    }
  }
  return problems;
}

function tensorCountError(count: number): string {
  return count === 1 ? '1 tensor' : `${count} tensors`;
}

/**
 * Reads and checks a whisper.cpp ggml model file without loading tensor data: the header, mel filters,
 * vocabulary and (unless `checkTensors` is false) the whole tensor table, hopping from tensor header to
 * tensor header. With `checkTensors: true` (the default) every tensor whisper.cpp requires must be
 * present exactly once with the right shape and type, no other tensor may be present and every
 * tensor's data must lie inside the file.
 *
 * Throws WhisperError: MODEL_NOT_FOUND for a missing path, INVALID_MODEL for anything whisper.cpp would
 * reject or misread, MODEL_LOAD_FAILED for an I/O error, INVALID_ARGUMENT for bad arguments.
 */
export async function inspectModelFile(path: string, options?: { checkTensors?: boolean }): Promise<ModelFileInfo> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a non-empty string', path);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const checkTensors = options?.checkTensors ?? true;
  if (typeof checkTensors !== 'boolean') throw invalidArgument('options.checkTensors', 'a boolean', checkTensors);

  const fail = (message: string): WhisperError => new WhisperError('INVALID_MODEL', `Invalid model file ${JSON.stringify(path)}: ${message}`);

  const openError = (err: unknown): WhisperError => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new WhisperError('MODEL_NOT_FOUND', `Model file not found: ${JSON.stringify(path)}`, { cause: err });
    }
    if (code === 'EISDIR') return fail('it is a directory, not a model file');
    return new WhisperError('MODEL_LOAD_FAILED', `Cannot open model file ${JSON.stringify(path)}: ${(err as Error).message}`, { cause: err });
  };
  // stat first: opening a FIFO for reading would block
  let pre: fs.Stats;
  try {
    pre = await fsp.stat(path);
  } catch (err) {
    throw openError(err);
  }
  if (pre.isDirectory()) throw fail('it is a directory, not a model file');
  if (!pre.isFile()) throw fail('it is not a regular file');
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    throw openError(err);
  }

  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw fail('it is a directory, not a model file');
    if (!st.isFile()) throw fail('it is not a regular file');
    const fileSize = st.size;
    if (fileSize === 0) throw fail('the file is empty (0 bytes)');

    const reader = new WindowReader(fh, fileSize);
    const read = async (pos: number, len: number, prefetch = 65536): Promise<Buffer | null> => {
      try {
        return await reader.bytes(pos, len, prefetch);
      } catch (err) {
        throw new WhisperError('MODEL_LOAD_FAILED', `Cannot read model file ${JSON.stringify(path)}: ${(err as Error).message}`, { cause: err });
      }
    };

    // ---- magic ------------------------------------------------------------------------------
    const head = (await read(0, Math.min(fileSize, 256)))!;
    if (fileSize < 4 || head.readUInt32LE(0) !== GGML_FILE_MAGIC) {
      if (fileSize < 4) throw fail(`the file is only ${fileSize} bytes, too small to be a model`);
      throw fail(describeForeignFile(head, fileSize));
    }

    // ---- hparams ----------------------------------------------------------------------------
    if (fileSize < HEADER_BYTES) {
      const other = describeOtherGgmlModel(head);
      if (other) throw fail(other);
      throw fail(`truncated header: the file is ${fileSize} bytes, the ggml magic and hyperparameters need ${HEADER_BYTES}`);
    }
    const raw: number[] = [];
    for (let i = 0; i < 11; i++) raw.push(head.readInt32LE(4 + 4 * i));
    const ftypeRaw = raw[10];
    const hparams: WhisperHparams = {
      nVocab: raw[0],
      nAudioCtx: raw[1],
      nAudioState: raw[2],
      nAudioHead: raw[3],
      nAudioLayer: raw[4],
      nTextCtx: raw[5],
      nTextState: raw[6],
      nTextHead: raw[7],
      nTextLayer: raw[8],
      nMels: raw[9],
      // C integer division/remainder, as whisper.cpp does it (ftypeRaw is checked to be >= 0 below)
      ftype: ftypeRaw % GGML_QNT_VERSION_FACTOR,
      quantizationVersion: Math.trunc(ftypeRaw / GGML_QNT_VERSION_FACTOR),
    };
    const hpProblems = checkHparams(raw, hparams);
    if (hpProblems.length > 0) {
      const other = describeOtherGgmlModel(head);
      if (other) throw fail(other);
      throw fail(`implausible hyperparameters: ${hpProblems.join('; ')}. Is this a ggml Whisper model?`);
    }
    const wtype = weightTypeForFtype(hparams.ftype)!;

    // ---- mel filters ------------------------------------------------------------------------
    const melOffset = HEADER_BYTES;
    const melHead = await read(melOffset, 8);
    if (!melHead) throw fail(`truncated mel filter section: the file ends at byte ${fileSize}, inside the mel filter header at ${melOffset}`);
    const nMel = melHead.readInt32LE(0);
    const nFft = melHead.readInt32LE(4);
    if (nMel !== hparams.nMels) {
      throw fail(`the mel filter bank has n_mel = ${nMel}, but the header says n_mels = ${hparams.nMels}`);
    }
    if (nFft !== WHISPER_N_FFT_BINS) {
      throw fail(`the mel filter bank has n_fft = ${nFft}; whisper.cpp needs ${WHISPER_N_FFT_BINS} (1 + 400/2 frequency bins)`);
    }
    const melDataBytes = nMel * nFft * 4;
    const melEnd = melOffset + 8 + melDataBytes;
    if (melEnd > fileSize) {
      throw fail(
        `truncated mel filter section: the ${nMel}x${nFft} filters need bytes ${melOffset + 8}..${melEnd}, but the file ends at ${fileSize}`,
      );
    }

    // ---- vocab ------------------------------------------------------------------------------
    const vocabOffset = melEnd;
    const countBuf = await read(vocabOffset, 4);
    if (!countBuf) throw fail(`truncated vocabulary: the file ends at ${fileSize}, before the token count at ${vocabOffset}`);
    const vocabCount = countBuf.readInt32LE(0);
    if (vocabCount < 1 || vocabCount > hparams.nVocab) {
      throw fail(`impossible vocabulary size ${vocabCount} (expected 1..n_vocab = ${hparams.nVocab})`);
    }
    let pos = vocabOffset + 4;
    for (let i = 0; i < vocabCount; i++) {
      const lenBuf = reader.cached(pos, 4) ?? (await read(pos, 4));
      if (!lenBuf) {
        throw fail(`truncated vocabulary: the file ends at ${fileSize}, inside token ${i} of ${vocabCount} (at offset ${pos})`);
      }
      const len = lenBuf.readUInt32LE(0);
      if (len > MAX_TOKEN_BYTES) throw fail(`impossible length ${len} for vocabulary token ${i} at offset ${pos}`);
      pos += 4 + len;
      if (pos > fileSize) {
        throw fail(`truncated vocabulary: token ${i} of ${vocabCount} needs bytes up to ${pos}, but the file ends at ${fileSize}`);
      }
    }
    const vocabEnd = pos;

    const base: Omit<ModelFileInfo, 'tensors' | 'tensorBytes' | 'weightType'> = {
      path,
      fileSize,
      hparams,
      modelType: modelTypeFromHparams(hparams),
      architecture: identifyArchitecture(hparams),
      multilingual: hparams.nVocab >= 51865,
      nMels: hparams.nMels,
      parameterCount: parameterCount(hparams),
      melFilters: { nMel, nFft, offset: melOffset, byteLength: 8 + melDataBytes },
      vocab: { count: vocabCount, offset: vocabOffset, byteLength: vocabEnd - vocabOffset },
    };
    if (!checkTensors) {
      return { ...base, weightType: ggmlTypeName(wtype), tensors: [], tensorBytes: 0 };
    }

    // ---- tensors ----------------------------------------------------------------------------
    const expected = expectedTensors(hparams);
    const expectedByName = new Map(expected.map((e) => [e.name, e]));
    const tensors: TensorInfo[] = [];
    const seen = new Set<string>();
    let tensorBytes = 0;

    while (fileSize - pos >= 12) {
      const headerAt = pos;
      const idx = tensors.length;
      const allSeen = seen.size === expected.length;
      const where = `tensor #${idx} (header at offset ${headerAt})`;
      // after every expected tensor, leftover bytes that do not even parse are "trailing data"
      const problem = (msg: string): WhisperError =>
        allSeen
          ? fail(
              `${fileSize - headerAt} bytes of trailing data after the last tensor (whisper.cpp would read them as another tensor and fail: ${msg})`,
            )
          : fail(`${where}: ${msg}`);

      const fixed = (await read(pos, 12, 4096))!;
      const nDims = fixed.readInt32LE(0);
      const nameLen = fixed.readInt32LE(4);
      const ttype = fixed.readInt32LE(8);
      if (nDims < 1 || nDims > 4) throw problem(`impossible n_dims ${nDims} (expected 1..4)`);
      if (nameLen < 1 || nameLen > MAX_TENSOR_NAME) throw problem(`impossible name length ${nameLen} (expected 1..${MAX_TENSOR_NAME})`);
      const rest = await read(pos + 12, 4 * nDims + nameLen, 4096);
      if (!rest) {
        throw problem(`the file ends at ${fileSize}, inside the tensor header (truncated file?)`);
      }
      const shape: number[] = [];
      for (let d = 0; d < nDims; d++) shape.push(rest.readInt32LE(4 * d));
      const nameBytes = rest.subarray(4 * nDims);
      const name = nameBytes.toString('utf8');
      if (!isPrintableAscii(nameBytes)) throw problem(`the tensor name is not printable text: ${quote(name)}`);
      if (shape.some((d) => d < 1)) throw problem(`tensor ${quote(name)} has an impossible shape [${shape.join(', ')}]`);

      const exp = expectedByName.get(name);
      if (!exp) {
        throw problem(`unknown tensor ${quote(name)}: whisper.cpp rejects tensors its Whisper model does not define`);
      }
      if (seen.has(name)) throw fail(`${where}: tensor ${quote(name)} appears twice`);
      const padded = (s: number[]): number[] => [...s, 1, 1, 1, 1].slice(0, 4);
      const got4 = padded(shape);
      const exp4 = padded(exp.shape);
      if (got4.some((v, i) => v !== exp4[i])) {
        throw fail(`tensor ${quote(name)} has shape [${shape.join(', ')}], but whisper.cpp expects [${exp.shape.join(', ')}] for these hyperparameters`);
      }
      const t = lookupType(ttype);
      if (!t) throw fail(`tensor ${quote(name)} has an unknown ggml type id ${ttype}`);
      if (ttype !== exp.type) {
        throw fail(
          `tensor ${quote(name)} is stored as ${t.name}, but with the header's ftype ${hparams.ftype} (${ggmlTypeName(wtype)}) whisper.cpp expects ${ggmlTypeName(exp.type)}`,
        );
      }
      if (hparams.quantizationVersion < GGML_QNT_VERSION && (ttype === 2 || ttype === 3 || ttype === 8 || (hparams.quantizationVersion === 0 && (ttype === 6 || ttype === 7)))) {
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
      const dataAt = pos + 12 + 4 * nDims + nameLen;
      if (dataAt + byteLength > fileSize) {
        const have = Math.max(0, fileSize - dataAt);
        throw fail(
          `the file is truncated: tensor ${quote(name)} (${t.name} [${shape.join(', ')}]) needs ${byteLength} bytes of data at offset ${dataAt}, but only ${have} bytes remain (file size ${fileSize}, ${dataAt + byteLength - fileSize} bytes missing). Download the model again`,
        );
      }
      seen.add(name);
      tensors.push({ name, type: ttype, typeName: t.name, shape, offset: dataAt, byteLength });
      tensorBytes += byteLength;
      pos = dataAt + byteLength;
    }
    const leftover = fileSize - pos; // < 12: whisper.cpp hits EOF reading the next header and stops

    if (tensors.length === 0) {
      throw fail(
        `the file has a header and vocab but no tensor data (it ends ${leftover} bytes after the vocabulary at offset ${vocabEnd}); it is a header-only file, not a usable model`,
      );
    }
    if (seen.size !== expected.length) {
      const missing = expected.filter((e) => !seen.has(e.name)).map((e) => e.name);
      const shown = missing.slice(0, 5).map((n) => quote(n)).join(', ');
      const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
      throw fail(
        `missing ${missing.length} of the ${expected.length} tensors ${base.modelType === 'unknown' ? 'this' : `a ${base.modelType}`} model needs: ${shown}${more} (the file has ${tensorCountError(tensors.length)} and ends at ${fileSize}; truncated or incomplete file?)`,
      );
    }

    // weight type: the most common type among the 2-D weight matrices
    const counts = new Map<string, number>();
    let matrices = 0;
    for (const t of tensors) {
      if (t.shape.length === 2 && t.name.endsWith('.weight')) {
        counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
        matrices++;
      }
    }
    let weightType = 'mixed';
    for (const [name, n] of counts) if (n * 2 > matrices) weightType = name;

    return { ...base, weightType, tensors, tensorBytes };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** A model file's description from its headers alone (see `readModelInfo`). */
export interface ModelSummary {
  path: string;
  fileSize: number;
  architecture: IdentifiedArchitecture;
  modelType: ModelFileInfo['modelType'];
  multilingual: boolean;
  nMels: number;
  /**
   * Type of the weight matrices ('f16', 'q5_0', ...): as stored when the tensor table is complete,
   * otherwise the type the header's ftype implies.
   */
  weightType: string;
  /** The header's ggml ftype (0 f32, 1 f16, 7 q8_0, 8 q5_0, ...) and quantization format version. */
  ftype: number;
  quantizationVersion: number;
  parameterCount: number;
  hparams: WhisperHparams;
  /** Tensors found and their data bytes; 0 when the tensor table could not be read (see `problem`). */
  tensorCount: number;
  tensorBytes: number;
  /**
   * Undefined for a complete file that `inspectModelFile` accepts. Otherwise why whisper.cpp could not
   * use it (a truncated download, a header-only file, a tensor of the wrong shape...), while the
   * header itself is readable.
   */
  problem?: string;
}

/**
 * A fast summary of a whisper.cpp ggml model file: reads the header, the mel filter and vocabulary
 * sections and the tensor headers (hopping over the tensor data, which is never read). A file whose
 * header is fine but whose tensor table is not (truncated, header-only, ...) still gets a summary,
 * with `problem` saying what is wrong. Throws like `inspectModelFile` when even the header is bad.
 */
export async function readModelInfo(path: string): Promise<ModelSummary> {
  let info: ModelFileInfo;
  let problem: string | undefined;
  try {
    info = await inspectModelFile(path, { checkTensors: true });
  } catch (err) {
    if (!(err instanceof WhisperError) || err.code !== 'INVALID_MODEL') throw err;
    try {
      info = await inspectModelFile(path, { checkTensors: false });
    } catch {
      throw err;
    }
    problem = err.message;
  }
  return {
    path: info.path,
    fileSize: info.fileSize,
    architecture: info.architecture,
    modelType: info.modelType,
    multilingual: info.multilingual,
    nMels: info.nMels,
    weightType: info.weightType,
    ftype: info.hparams.ftype,
    quantizationVersion: info.hparams.quantizationVersion,
    parameterCount: info.parameterCount,
    hparams: info.hparams,
    tensorCount: info.tensors.length,
    tensorBytes: info.tensorBytes,
    ...(problem === undefined ? {} : { problem }),
  };
}

/**
 * The raw bytes of every vocabulary token stored in a ggml model (or header-only) file, by id. Pass
 * the file's `inspectModelFile` result when you already have it.
 */
export async function readVocabTokens(file: string, info?: ModelFileInfo): Promise<Buffer[]> {
  info ??= await inspectModelFile(file, { checkTensors: false });
  const section = Buffer.alloc(info.vocab.byteLength);
  const fh = await fsp.open(file, 'r');
  try {
    let done = 0;
    while (done < section.length) {
      const { bytesRead } = await fh.read(section, done, section.length - done, info.vocab.offset + done);
      if (bytesRead === 0) throw new WhisperError('INVALID_MODEL', `unexpected end of ${JSON.stringify(file)} while reading its vocabulary`);
      done += bytesRead;
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  const tokens: Buffer[] = [];
  let pos = 4;
  for (let i = 0; i < info.vocab.count; i++) {
    const length = section.readUInt32LE(pos);
    tokens.push(section.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return tokens;
}
