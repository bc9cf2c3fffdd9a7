/**
 * Test fixtures: writes synthetic CTranslate2 Whisper model folders (model.bin + config.json +
 * vocabulary.txt/json) with seeded weights, plus the pieces the Hugging Face fixture shares (dimensions,
 * seeded tensor data, a GPT-2 byte-level encoder written independently of lib/tools/convert/vocab.ts, and
 * vocabularies built from the header-only ggml files).
 *
 * A variable without data is left as a hole in the file (reads as zeros, costs no disk), so base-sized
 * fixtures are cheap.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readVocabTokens } from '../../lib/model-files/vocabulary';
import { mulberry32 as prng } from './prng';
export { prng };

export interface WhisperFixtureDims {
  nVocab: number;
  nAudioCtx: number;
  nState: number;
  nHead: number;
  nAudioLayer: number;
  nTextLayer: number;
  nTextCtx: number;
  nMels: number;
}

/** Small dims for round trips (whisper.cpp needs n_vocab >= 51864, so the embedding stays large). */
export const TINY_DIMS: WhisperFixtureDims = { nVocab: 51865, nAudioCtx: 24, nState: 64, nHead: 4, nAudioLayer: 2, nTextLayer: 2, nTextCtx: 16, nMels: 80 };
export const BASE_DIMS: WhisperFixtureDims = { nVocab: 51865, nAudioCtx: 1500, nState: 512, nHead: 8, nAudioLayer: 6, nTextLayer: 6, nTextCtx: 448, nMels: 80 };
export const TINY_EN_DIMS: WhisperFixtureDims = { nVocab: 51864, nAudioCtx: 1500, nState: 384, nHead: 6, nAudioLayer: 4, nTextLayer: 4, nTextCtx: 448, nMels: 80 };

export type FixtureDtype = 'f32' | 'f16' | 'bf16' | 'int8';

export const FIXTURE_DTYPE_BYTES: Record<FixtureDtype, number> = { f32: 4, f16: 2, bf16: 2, int8: 1 };

export function hashName(name: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Seeded little-endian data for a tensor: random finite bit patterns of the dtype (f16 / bf16 / f32
 * including subnormals and signed zeros, never inf/NaN), or int8 bytes.
 */
export function seededData(name: string, elements: number, dtype: FixtureDtype, seed: number): Buffer {
  const rnd = prng(hashName(name, seed));
  const buf = Buffer.alloc(elements * FIXTURE_DTYPE_BYTES[dtype]);
  for (let i = 0; i < elements; i++) {
    const r = rnd();
    switch (dtype) {
      case 'f16': {
        let h = r & 0xffff;
        if (((h >>> 10) & 0x1f) === 0x1f) h &= ~0x4000; // avoid inf/NaN
        buf.writeUInt16LE(h, 2 * i);
        break;
      }
      case 'bf16': {
        let h = r & 0xffff;
        if (((h >>> 7) & 0xff) === 0xff) h &= ~0x4000;
        buf.writeUInt16LE(h, 2 * i);
        break;
      }
      case 'f32': {
        // mostly values in the f16 range (and some far outside it, to exercise overflow/underflow)
        const sign = r & 1 ? -1 : 1;
        const mag = (r >>> 1) % 7 === 0 ? 2 ** (((r >>> 4) % 60) - 30) : ((r >>> 8) / 0x1000000) * 4;
        buf.writeFloatLE(sign * mag, 4 * i);
        break;
      }
      case 'int8':
        buf[i] = r & 0xff;
        break;
    }
  }
  return buf;
}

/** GPT-2's bytes_to_unicode, written out again for the fixtures (independent of lib/tools/convert/vocab.ts). */
export function byteLevelSpelling(bytes: Uint8Array): string {
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table.push(String.fromCharCode(printable ? b : 256 + extra++));
  }
  let s = '';
  for (const b of bytes) s += table[b];
  return s;
}

/** The raw bytes of every vocabulary token in a ggml (header-only) file, by id. */
export async function ggmlVocabTokens(file: string): Promise<Buffer[]> {
  return readVocabTokens(file);
}

/** The bytes before the first tensor of a ggml (header-only) file. */
export async function ggmlPreamble(file: string): Promise<Buffer> {
  const buf = await fsp.readFile(file);
  const tokens = await ggmlVocabTokens(file);
  let end = 48 + 8 + 4 * buf.readInt32LE(48) * buf.readInt32LE(52) + 4;
  for (const t of tokens) end += 4 + t.length;
  return buf.subarray(0, end);
}

/** Whisper's special tokens after <|endoftext|> up to n_vocab (names are not checked by the converter). */
function specialTokens(firstId: number, nVocab: number, multilingual: boolean): string[] {
  const out = ['<|endoftext|>', '<|startoftranscript|>'];
  const nLang = multilingual ? 99 : 0;
  for (let i = 0; i < nLang; i++) out.push(`<|lang${i}|>`);
  out.push('<|translate|>', '<|transcribe|>', '<|startoflm|>', '<|startofprev|>', '<|nospeech|>', '<|notimestamps|>');
  for (let t = 0; out.length < nVocab - firstId; t++) out.push(`<|${(t * 0.02).toFixed(2)}|>`);
  return out.slice(0, nVocab - firstId);
}

/**
 * A full token list (byte-level strings by id, n_vocab long) whose base part is the given token bytes:
 * for a multilingual model the base tokens then <|endoftext|> and the special tokens; for an English
 * model the header's last entry already is <|endoftext|>, and the special tokens follow it.
 */
export function fullVocabulary(baseTokens: Uint8Array[], nVocab: number): string[] {
  const multilingual = nVocab >= 51865;
  const base = baseTokens.map((t) => byteLevelSpelling(t));
  if (!multilingual) {
    if (base[base.length - 1] !== '<|endoftext|>') throw new Error('fixture: an English vocabulary must end with <|endoftext|>');
    base.pop();
  }
  return [...base, ...specialTokens(base.length, nVocab, multilingual)];
}

/**
 * Raw token bytes that the published-file rule (UTF-8 decode with U+FFFD replacement, re-encode) maps
 * to the given published bytes, all distinct: each U+FFFD becomes an invalid byte sequence picked so
 * that no two tokens end up equal (a vocab.json object cannot hold duplicate tokens, and the published
 * files have many, e.g. every stray high byte reads EF BF BD).
 */
export function rawTokensForPublished(published: Uint8Array[]): Buffer[] {
  // each candidate decodes to exactly one U+FFFD whatever follows it, as long as the next byte is not a
  // continuation byte (0x80-0xBF): a lone lead byte, or a 3-byte lead with one continuation
  const candidates: number[][] = [];
  for (let b = 0xc2; b <= 0xdf; b++) candidates.push([b]);
  for (let b = 0xe1; b <= 0xec; b++) candidates.push([b]);
  for (let b = 0xe1; b <= 0xec; b++) for (let c = 0x80; c <= 0xbf; c++) candidates.push([b, c]);
  for (let b = 0xf5; b <= 0xff; b++) candidates.push([b]);
  const fffd = Buffer.from([0xef, 0xbf, 0xbd]);
  const seen = new Set<string>();
  for (const t of published) if (!Buffer.from(t).includes(fffd)) seen.add(Buffer.from(t).toString('latin1'));
  const decoder = new TextDecoder('utf-8');
  const encoder = new TextEncoder();
  let next = 0;
  return published.map((t) => {
    const tok = Buffer.from(t);
    if (!tok.includes(fffd)) return tok;
    const parts: Buffer[] = [];
    let rest = tok;
    for (let i = rest.indexOf(fffd); i !== -1; i = rest.indexOf(fffd)) {
      parts.push(rest.subarray(0, i));
      rest = rest.subarray(i + 3);
    }
    parts.push(rest);
    for (;;) {
      const pieces: Buffer[] = [parts[0]];
      for (let k = 1; k < parts.length; k++) pieces.push(Buffer.from(candidates[next++ % candidates.length]), parts[k]);
      const raw = Buffer.concat(pieces);
      const key = raw.toString('latin1');
      if (!seen.has(key) && Buffer.from(encoder.encode(decoder.decode(raw))).equals(tok)) {
        seen.add(key);
        return raw;
      }
      if (next > 10 * candidates.length * published.length) throw new Error('fixture: cannot make the raw tokens unique');
    }
  });
}

export const CT2_DTYPE_ID: Record<FixtureDtype | 'int16' | 'int32', number> = { f32: 0, int8: 1, int16: 2, int32: 3, f16: 4, bf16: 5 };

export interface Ct2VariableSpec {
  name: string;
  shape: number[];
  /** CTranslate2 DataType id. */
  dtypeId: number;
  /** Element size in bytes (for the byte count). */
  itemBytes: number;
  /** Little-endian data; undefined leaves a hole of zeros. */
  data?: Uint8Array;
}

function ct2String(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const buf = Buffer.alloc(2 + bytes.length + 1);
  buf.writeUInt16LE(bytes.length + 1, 0);
  bytes.copy(buf, 2);
  return buf;
}

/** Writes a CTranslate2 model.bin (binary version 6 unless given). Returns the file size. */
export async function writeCt2ModelBin(
  file: string,
  opts: { variables: Ct2VariableSpec[]; aliases?: Array<[string, string]>; binaryVersion?: number; spec?: string; revision?: number },
): Promise<number> {
  const fh = await fsp.open(file, 'w');
  try {
    let pos = 0;
    const put = async (b: Buffer): Promise<void> => {
      await fh.write(b, 0, b.length, pos);
      pos += b.length;
    };
    const u32 = (v: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v, 0);
      return b;
    };
    await put(u32(opts.binaryVersion ?? 6));
    await put(ct2String(opts.spec ?? 'WhisperSpec'));
    await put(u32(opts.revision ?? 3));
    await put(u32(opts.variables.length));
    for (const v of opts.variables) {
      const elements = v.shape.reduce((a, b) => a * b, 1);
      const nBytes = elements * v.itemBytes;
      const head = [ct2String(v.name), Buffer.from([v.shape.length]), ...v.shape.map(u32), Buffer.from([v.dtypeId]), u32(nBytes)];
      await put(Buffer.concat(head));
      if (v.data) {
        if (v.data.length !== nBytes) throw new Error(`fixture: ${v.name} has ${v.data.length} bytes, expected ${nBytes}`);
        await put(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
      } else {
        pos += nBytes; // hole
      }
    }
    const aliases = opts.aliases ?? [];
    await put(u32(aliases.length));
    for (const [a, t] of aliases) await put(Buffer.concat([ct2String(a), ct2String(t)]));
    await fh.truncate(pos);
    return pos;
  } finally {
    await fh.close();
  }
}

export interface FixtureTensor {
  shape: number[];
  dtype: FixtureDtype;
  /** Undefined when written as zeros (a hole). */
  data?: Buffer;
}

export interface Ct2WhisperFolderOptions {
  dims: WhisperFixtureDims;
  /** Token strings by id (byte-level spelling), n_vocab long. */
  vocabulary: string[];
  dtype?: FixtureDtype;
  seed?: number;
  /** Leave every variable's data as zeros (sparse file): for big fixtures. */
  zeros?: boolean;
  vocabularyFormat?: 'txt' | 'json';
  /** Leave these variables out. */
  omit?: string[];
  /** Override shapes (data is generated for the new shape). */
  shapes?: Record<string, number[]>;
  /** Override the dtype of single variables. */
  dtypes?: Record<string, FixtureDtype>;
  /** Write encoder/decoder num_heads scalars (default true). */
  numHeads?: boolean;
}

/** The CTranslate2 WhisperSpec variables (float ones) for these dims, name -> shape. */
export function ct2WhisperShapes(d: WhisperFixtureDims): Map<string, number[]> {
  const n = d.nState;
  const m = new Map<string, number[]>();
  m.set('encoder/conv1/weight', [n, d.nMels, 3]);
  m.set('encoder/conv1/bias', [n]);
  m.set('encoder/conv2/weight', [n, n, 3]);
  m.set('encoder/conv2/bias', [n]);
  m.set('encoder/position_encodings/encodings', [d.nAudioCtx, n]);
  const ln = (p: string): void => {
    m.set(`${p}/layer_norm/gamma`, [n]);
    m.set(`${p}/layer_norm/beta`, [n]);
  };
  const lin = (p: string, out: number, inp: number): void => {
    m.set(`${p}/weight`, [out, inp]);
    m.set(`${p}/bias`, [out]);
  };
  for (let i = 0; i < d.nAudioLayer; i++) {
    const p = `encoder/layer_${i}`;
    ln(`${p}/self_attention`);
    lin(`${p}/self_attention/linear_0`, 3 * n, n);
    lin(`${p}/self_attention/linear_1`, n, n);
    ln(`${p}/ffn`);
    lin(`${p}/ffn/linear_0`, 4 * n, n);
    lin(`${p}/ffn/linear_1`, n, 4 * n);
  }
  ln('encoder');
  m.set('decoder/embeddings/weight', [d.nVocab, n]);
  m.set('decoder/position_encodings/encodings', [d.nTextCtx, n]);
  for (let i = 0; i < d.nTextLayer; i++) {
    const p = `decoder/layer_${i}`;
    ln(`${p}/self_attention`);
    lin(`${p}/self_attention/linear_0`, 3 * n, n);
    lin(`${p}/self_attention/linear_1`, n, n);
    ln(`${p}/attention`);
    lin(`${p}/attention/linear_0`, n, n);
    lin(`${p}/attention/linear_1`, 2 * n, n);
    lin(`${p}/attention/linear_2`, n, n);
    ln(`${p}/ffn`);
    lin(`${p}/ffn/linear_0`, 4 * n, n);
    lin(`${p}/ffn/linear_1`, n, 4 * n);
  }
  ln('decoder');
  return m;
}

/**
 * Writes a CTranslate2 Whisper folder and returns its float variables (with their data unless zeros).
 * Like CTranslate2's converter, the key part of each fused self-attention bias is zero, the variables
 * are sorted by name, the flags are int8/int16 scalars and decoder/projection/weight is an alias.
 */
export async function writeCt2WhisperFolder(dir: string, opts: Ct2WhisperFolderOptions): Promise<Map<string, FixtureTensor>> {
  await fsp.mkdir(dir, { recursive: true });
  const seed = opts.seed ?? 1;
  const dtypeDefault = opts.dtype ?? 'f16';
  const tensors = new Map<string, FixtureTensor>();
  const vars: Ct2VariableSpec[] = [];
  for (const [name, shape0] of ct2WhisperShapes(opts.dims)) {
    if (opts.omit?.includes(name)) continue;
    const shape = opts.shapes?.[name] ?? shape0;
    const dtype = opts.dtypes?.[name] ?? dtypeDefault;
    const elements = shape.reduce((a, b) => a * b, 1);
    let data: Buffer | undefined;
    if (!opts.zeros) {
      data = seededData(name, elements, dtype, seed);
      if (/self_attention\/linear_0\/bias$/.test(name) && shape[0] % 3 === 0) {
        const third = (shape[0] / 3) * FIXTURE_DTYPE_BYTES[dtype];
        data.fill(0, third, 2 * third); // the key bias: CTranslate2 stores zeros
      }
    }
    tensors.set(name, { shape, dtype, data });
    vars.push({ name, shape, dtypeId: CT2_DTYPE_ID[dtype], itemBytes: FIXTURE_DTYPE_BYTES[dtype], data });
  }
  const scalar = (name: string, dtype: 'int8' | 'int16', value: number): Ct2VariableSpec => {
    const b = Buffer.alloc(dtype === 'int8' ? 1 : 2);
    if (dtype === 'int8') b.writeInt8(value, 0);
    else b.writeInt16LE(value, 0);
    return { name, shape: [], dtypeId: CT2_DTYPE_ID[dtype], itemBytes: b.length, data: b };
  };
  vars.push(scalar('decoder/activation', 'int8', 3), scalar('decoder/alibi', 'int8', 0), scalar('decoder/alignment_heads', 'int16', 1));
  vars.push(scalar('decoder/pre_norm', 'int8', 1), scalar('decoder/scale_embeddings', 'int8', 0));
  if (opts.numHeads ?? true) vars.push(scalar('decoder/num_heads', 'int16', opts.dims.nHead), scalar('encoder/num_heads', 'int16', opts.dims.nHead));
  vars.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await writeCt2ModelBin(path.join(dir, 'model.bin'), { variables: vars, aliases: [['decoder/projection/weight', 'decoder/embeddings/weight']] });
  await fsp.writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({ alignment_heads: [[1, 0]], lang_ids: [], suppress_ids: [], suppress_ids_begin: [220, 50257] }, null, 2),
  );
  if ((opts.vocabularyFormat ?? 'txt') === 'txt') {
    await fsp.writeFile(path.join(dir, 'vocabulary.txt'), opts.vocabulary.join('\n') + '\n', 'utf8');
  } else {
    await fsp.writeFile(path.join(dir, 'vocabulary.json'), JSON.stringify(opts.vocabulary), 'utf8');
  }
  return tensors;
}
