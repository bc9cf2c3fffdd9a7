/**
 * Writes a valid whisper.cpp ggml Whisper model with seeded pseudo-random weights, for tests: the
 * header, mel filters and vocabulary are copied byte-for-byte from an existing model (or header-only)
 * file, followed by every tensor whisper.cpp requires (see `expectedTensors`) with deterministic
 * weights. The network's outputs are meaningless but finite; whisper.cpp loads and runs the file.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import { WhisperError, invalidArgument } from './errors';
import { expectedTensors, inspectModelFile, GGML_QNT_VERSION_FACTOR, type ModelFileInfo, type WhisperHparams } from './model-file';

export interface SyntheticModelOptions {
  /** A whisper.cpp ggml model or header-only file whose header, mel filters and vocab are copied. */
  headerFrom: string;
  outPath: string;
  /** PRNG seed (an integer; used modulo 2^32). Default 1. */
  seed?: number;
  /** Type of the big weight matrices. 'f16' (default) keeps whisper.cpp's f16 layout; 'f32' writes ftype 0. */
  weightType?: 'f16' | 'f32';
}

/** Byte offset of the ftype field: magic + 10 int32 hparams. */
const FTYPE_OFFSET = 44;
const COPY_CHUNK = 1 << 20;
/** Elements generated per write. */
const GEN_CHUNK = 1 << 18;

const LITTLE_ENDIAN = os.endianness() === 'LE';

// ---- float32 -> float16 --------------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of a number (first rounded to float32), rounding to nearest, ties to even. */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;

  if (exp === 0xff) {
    // Inf or NaN (NaN stays a quiet NaN with the top payload bits)
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> infinity
  if (e <= 0) {
    // subnormal half (or zero): value = m * 2^-24
    if (e < -10) return sign; // below half the smallest subnormal -> zero
    mant |= 0x800000; // implicit leading 1
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may roll into the exponent / to infinity: correct
  return sign | half;
}

// ---- seeded PRNG -----------------------------------------------------------------------------

/** 32-bit integer mixer (avalanche), used to turn (seed, tensor name) into PRNG state. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function hashString(s: string, seed: number): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (let i = 0; i < s.length; i++) h = mix32(h ^ s.charCodeAt(i));
  return h;
}

/**
 * Marsaglia's xorshift128 (four 32-bit words of state, period 2^128 - 1), producing approximately
 * normal values: each output is the sum of four 16-bit uniforms (the halves of two 32-bit draws),
 * centred and scaled to unit variance (Irwin-Hall). Integer and exactly-rounded float arithmetic only,
 * so the stream is bit-identical on every platform.
 */
class NormalStream {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    const s = this.s;
    s[0] = mix32(seed + 0x243f6a88);
    s[1] = mix32(s[0] + 0x85a308d3);
    s[2] = mix32(s[1] + 0x13198a2e);
    s[3] = mix32(s[2] + 0x03707344);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[3] = 1;
  }

  /** Writes n values of normal(0, std) (as float32, or as float16 bits when `asF16`) into out[0..n). */
  fill(out: Float32Array | Uint16Array, n: number, std: number, asF16: boolean): void {
    const s = this.s;
    let x = s[0] | 0;
    let y = s[1] | 0;
    let z = s[2] | 0;
    let w = s[3] | 0;
    // (sum of four 16-bit uniforms, each + 0.5 to centre its cell) -> mean 2, variance 1/3 per unit
    const scale = (std * 1.7320508075688772) / 65536;
    for (let i = 0; i < n; i++) {
      let t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      const a = w >>> 0;
      t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      const b = w >>> 0;
      const sum = (a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16) + 2 - 131072;
      const v = sum * scale;
      out[i] = asF16 ? float32ToFloat16Bits(v) : v;
    }
    s[0] = x;
    s[1] = y;
    s[2] = z;
    s[3] = w;
  }
}

// ---- weights -------------------------------------------------------------------------------

type Init = { kind: 'const'; value: number } | { kind: 'normal'; std: number };

/** How each tensor is initialised: layer norms 1/0, positional embeddings small, the rest normal(0, 0.02). */
function initFor(name: string): Init {
  if (/(^|\.)(ln|ln_post|attn_ln|mlp_ln|cross_attn_ln)\.weight$/.test(name)) return { kind: 'const', value: 1 };
  if (/(^|\.)(ln|ln_post|attn_ln|mlp_ln|cross_attn_ln)\.bias$/.test(name)) return { kind: 'const', value: 0 };
  if (name.endsWith('positional_embedding')) return { kind: 'normal', std: 0.01 };
  if (name.endsWith('.bias')) return { kind: 'normal', std: 0.01 };
  return { kind: 'normal', std: 0.02 };
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new WhisperError('INVALID_MODEL', `unexpected end of file while copying the model header`);
    done += bytesRead;
  }
}

function tensorHeader(name: string, shape: number[], type: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const buf = Buffer.alloc(12 + 4 * shape.length + nameBytes.length);
  buf.writeInt32LE(shape.length, 0);
  buf.writeInt32LE(nameBytes.length, 4);
  buf.writeInt32LE(type, 8);
  shape.forEach((d, i) => buf.writeInt32LE(d, 12 + 4 * i));
  nameBytes.copy(buf, 12 + 4 * shape.length);
  return buf;
}

/**
 * Writes a synthetic whisper.cpp model to `outPath` (through a temporary file renamed into place) and
 * returns `inspectModelFile(outPath)`. Same options, same seed: byte-identical file.
 */
export async function writeSyntheticModel(options: SyntheticModelOptions): Promise<ModelFileInfo> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const { headerFrom, outPath } = options;
  const seed = options.seed ?? 1;
  const weightType = options.weightType ?? 'f16';
  if (typeof headerFrom !== 'string' || headerFrom.length === 0) throw invalidArgument('options.headerFrom', 'a non-empty string', headerFrom);
  if (typeof outPath !== 'string' || outPath.length === 0) throw invalidArgument('options.outPath', 'a non-empty string', outPath);
  if (!Number.isSafeInteger(seed)) throw invalidArgument('options.seed', 'an integer', seed);
  if (weightType !== 'f16' && weightType !== 'f32') throw invalidArgument('options.weightType', "'f16' or 'f32'", weightType);

  const source = await inspectModelFile(headerFrom, { checkTensors: false });
  const preambleBytes = source.vocab.offset + source.vocab.byteLength;
  const ftype = weightType === 'f32' ? 0 : 1;
  // keep the quantization-version part of the field; only the ftype itself changes (if at all)
  const ftypeRaw = source.hparams.quantizationVersion * GGML_QNT_VERSION_FACTOR + ftype;
  const hparams: WhisperHparams = { ...source.hparams, ftype };
  const tensors = expectedTensors(hparams);
  const seed32 = seed >>> 0;

  const tmpPath = `${outPath}.tmp-${process.pid}-${Date.now()}`;
  const src = await fsp.open(headerFrom, 'r');
  let out: FileHandle | undefined;
  try {
    try {
      out = await fsp.open(tmpPath, 'w');
    } catch (err) {
      throw new WhisperError('INVALID_ARGUMENT', `options.outPath: cannot write ${JSON.stringify(outPath)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    let pos = 0;

    // header + mel filters + vocab, byte for byte (except the ftype field when it has to change)
    const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, preambleBytes));
    while (pos < preambleBytes) {
      const n = Math.min(chunk.length, preambleBytes - pos);
      const part = chunk.subarray(0, n);
      await readExactly(src, part, pos);
      if (pos <= FTYPE_OFFSET && FTYPE_OFFSET + 4 <= pos + n && part.readInt32LE(FTYPE_OFFSET - pos) % GGML_QNT_VERSION_FACTOR !== ftype) {
        part.writeInt32LE(ftypeRaw, FTYPE_OFFSET - pos);
      }
      await writeAll(out, part, pos);
      pos += n;
    }

    // tensors
    const f16 = new Uint16Array(GEN_CHUNK);
    const f32 = new Float32Array(GEN_CHUNK);
    const f16Bytes = Buffer.from(f16.buffer, f16.byteOffset, f16.byteLength);
    const f32Bytes = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
    for (const t of tensors) {
      const header = tensorHeader(t.name, t.shape, t.type);
      await writeAll(out, header, pos);
      pos += header.length;

      const isF16 = t.type === 1;
      if (!isF16 && t.type !== 0) throw new Error(`internal error: unexpected tensor type ${t.type} for ${t.name}`);
      const init = initFor(t.name);
      const rng = new NormalStream(hashString(t.name, seed32));
      const total = t.shape.reduce((a, b) => a * b, 1);
      for (let done = 0; done < total; ) {
        const n = Math.min(GEN_CHUNK, total - done);
        if (isF16) {
          if (init.kind === 'const') f16.fill(float32ToFloat16Bits(init.value), 0, n);
          else rng.fill(f16, n, init.std, true);
          const bytes = f16Bytes.subarray(0, 2 * n);
          if (!LITTLE_ENDIAN) bytes.swap16();
          await writeAll(out, bytes, pos);
          pos += bytes.length;
        } else {
          if (init.kind === 'const') f32.fill(init.value, 0, n);
          else rng.fill(f32, n, init.std, false);
          const bytes = f32Bytes.subarray(0, 4 * n);
          if (!LITTLE_ENDIAN) bytes.swap32();
          await writeAll(out, bytes, pos);
          pos += bytes.length;
        }
        done += n;
      }
    }
    await out.close();
    out = undefined;
    await fsp.rename(tmpPath, outPath);
  } catch (err) {
    await out?.close().catch(() => undefined);
    await fsp.rm(tmpPath, { force: true }).catch(() => undefined);
    throw err;
  } finally {
    await src.close().catch(() => undefined);
  }
  return inspectModelFile(outPath);
}
