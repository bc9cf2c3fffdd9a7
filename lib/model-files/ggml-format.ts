/**
 * The ggml container as whisper.cpp uses it: the file magic, the quantization-version encoding of the
 * header's ftype field, ggml's tensor types (ids, block sizes, byte sizes) and the ftype -> type map.
 * Everything that reads or writes a ggml file (Whisper models, Silero VAD models, the converter, the
 * quantizer, the planner) takes these numbers from here.
 */
import { WhisperError, invalidArgument } from '../errors/whisper-error';

/** The first four bytes of every ggml file: "lmgg" read as a little-endian uint32. */
export const GGML_FILE_MAGIC = 0x67676d6c;
/** The quantization format version whisper.cpp reads. */
export const GGML_QNT_VERSION = 2;
/** The header's ftype field is quantization_version * GGML_QNT_VERSION_FACTOR + ggml_ftype. */
export const GGML_QNT_VERSION_FACTOR = 1000;

export const GGML_TYPE_F32 = 0;
export const GGML_TYPE_F16 = 1;

export interface GgmlTypeTraits {
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * ggml type traits (block size in elements, bytes per block), from ggml/src/ggml.c `type_traits` and
 * the block structs in ggml/src/ggml-common.h (ggml 0.15.1). Removed/deprecated ids (4, 5, 31-33,
 * 36-38) are absent: whisper.cpp cannot load them.
 */
export const GGML_TYPES: Record<number, GgmlTypeTraits> = Object.freeze({
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

/** The quantization types whisper.cpp's quantize tool offers for Whisper models. */
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

/**
 * The ggml_type whisper.cpp uses for the big weight matrices of a model with this (decoded) ftype,
 * or undefined for an ftype whisper.cpp cannot load.
 */
export function weightTypeForFtype(ftype: number): number | undefined {
  return Object.prototype.hasOwnProperty.call(FTYPE_TO_TYPE, ftype) ? FTYPE_TO_TYPE[ftype] : undefined;
}

/** The traits of a ggml type id, or undefined for an id whisper.cpp cannot load. */
export function ggmlTypeTraits(type: number): GgmlTypeTraits | undefined {
  return Number.isInteger(type) && Object.prototype.hasOwnProperty.call(GGML_TYPES, type) ? GGML_TYPES[type] : undefined;
}

/** Name of a ggml type id ('f16', 'q5_0', ...), or `type<N>` for an unknown id. */
export function ggmlTypeName(type: number): string {
  return ggmlTypeTraits(type)?.name ?? `type${type}`;
}

/**
 * Bytes of a tensor of this ggml type and shape (ne order), as ggml_nbytes computes it for a contiguous
 * tensor. Throws a WhisperError (INVALID_ARGUMENT) for an unknown type, a non-positive or non-integer
 * dimension, a first dimension that is not a multiple of the type's block size, or a size beyond 2^53.
 */
export function ggmlTensorBytes(type: number, shape: number[]): number {
  const t = ggmlTypeTraits(type);
  if (!t) throw new WhisperError('INVALID_ARGUMENT', `ggmlTensorBytes: unknown ggml type id ${String(type)}`);
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4) {
    throw invalidArgument('ggmlTensorBytes: shape', 'an array of 1 to 4 dimensions', shape);
  }
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) throw invalidArgument('ggmlTensorBytes: shape', 'positive integer dimensions', d);
  }
  const ne0 = shape[0];
  if (ne0 % t.blockSize !== 0) {
    throw new WhisperError('INVALID_ARGUMENT', `ggmlTensorBytes: a ${t.name} tensor needs its first dimension to be a multiple of ${t.blockSize}, got ${ne0}`);
  }
  let bytes = (ne0 / t.blockSize) * t.typeSize;
  for (let i = 1; i < shape.length; i++) bytes *= shape[i];
  if (!Number.isSafeInteger(bytes)) {
    throw new WhisperError('INVALID_ARGUMENT', `ggmlTensorBytes: tensor of shape [${shape.join(', ')}] is too large`);
  }
  return bytes;
}
