import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertModel, detectSourceFormat } from '../../lib/tools/convert';
import { inspectModelFile, type ModelFileInfo, type TensorInfo } from '../../lib/model-files/inspect';
import { float32ToFloat16Bits } from '../../lib/tools/convert/float';
import { whisperMelFilters } from '../../lib/model-files/mel-filters';
import { SHARED } from '../support/paths';
import {
  TINY_DIMS,
  fullVocabulary,
  ggmlPreamble,
  ggmlVocabTokens,
  rawTokensForPublished,
  writeCt2WhisperFolder,
  type FixtureDtype,
  type FixtureTensor,
} from '../support/ct2-writer';
import { writeHfWhisperFolder } from '../support/safetensors-writer';
import { f16BitsToNumber } from '../support/f16';

const BASE_HEADER = path.join(SHARED, 'models', 'header-only-ggml-base.bin');
const TINY_EN_HEADER = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');

let tmp: string;
let baseVocab: string[];
let baseVocabRaw: string[];
let tinyEnVocab: string[];

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'convert-roundtrip-'));
  baseVocab = fullVocabulary(await ggmlVocabTokens(BASE_HEADER), TINY_DIMS.nVocab);
  baseVocabRaw = fullVocabulary(rawTokensForPublished(await ggmlVocabTokens(BASE_HEADER)), TINY_DIMS.nVocab);
  // English: a vocab.json cannot hold the header file's duplicate tokens (U+FFFD-replaced ones), so
  // use distinct raw tokens that the replacement maps back to them
  tinyEnVocab = fullVocabulary(rawTokensForPublished(await ggmlVocabTokens(TINY_EN_HEADER)), 51864);
});

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

// Reference conversions, independent of the converter's chunked ones; the one shared piece is the
// f32 -> f16 rounding (float32ToFloat16Bits), which convert-vocab-float.test.ts checks on its own.

const f16ToNumber = f16BitsToNumber;

/** Expected ggml bytes for source bytes of `dtype` stored as ggml type `outType` (0 f32, 1 f16). */
function expectedBytes(src: Buffer, dtype: FixtureDtype, outType: number): Buffer {
  const itemIn = dtype === 'f32' ? 4 : 2;
  const n = src.length / itemIn;
  const out = Buffer.alloc(n * (outType === 1 ? 2 : 4));
  for (let i = 0; i < n; i++) {
    let v: number;
    if (dtype === 'f32') v = src.readFloatLE(4 * i);
    else if (dtype === 'f16') v = f16ToNumber(src.readUInt16LE(2 * i));
    else {
      const b = Buffer.alloc(4);
      b.writeUInt32LE((src.readUInt16LE(2 * i) << 16) >>> 0, 0);
      v = b.readFloatLE(0);
    }
    if (outType === 1) out.writeUInt16LE(dtype === 'f16' ? src.readUInt16LE(2 * i) : float32ToFloat16Bits(v), 2 * i);
    else out.writeFloatLE(v, 4 * i);
  }
  return out;
}

/** The vocabulary section of `file` equals the header-only file's, byte for byte. */
async function expectSameVocabSection(file: string, header: string): Promise<void> {
  const pre = await ggmlPreamble(header);
  const vocabStart = 48 + 8 + 80 * 201 * 4;
  const fh = await fsp.open(file, 'r');
  try {
    const mine = Buffer.alloc(pre.length - vocabStart + 1);
    const { bytesRead } = await fh.read(mine, 0, mine.length, vocabStart);
    expect(bytesRead).toBe(mine.length);
    expect(mine.subarray(0, -1).equals(pre.subarray(vocabStart))).toBe(true);
  } finally {
    await fh.close();
  }
}

async function readTensor(file: string, t: TensorInfo): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(t.byteLength);
    await fh.read(buf, 0, buf.length, t.offset);
    return buf;
  } finally {
    await fh.close();
  }
}

// ---- the mapping, written out independently of lib/tools/convert -------------------------------------

type Ref = { name: string; part: number; of: number };

function ct2Ref(w: string): Ref {
  const whole = (name: string): Ref => ({ name, part: 0, of: 1 });
  const top: Record<string, string> = {
    'encoder.positional_embedding': 'encoder/position_encodings/encodings',
    'encoder.conv1.weight': 'encoder/conv1/weight',
    'encoder.conv1.bias': 'encoder/conv1/bias',
    'encoder.conv2.weight': 'encoder/conv2/weight',
    'encoder.conv2.bias': 'encoder/conv2/bias',
    'encoder.ln_post.weight': 'encoder/layer_norm/gamma',
    'encoder.ln_post.bias': 'encoder/layer_norm/beta',
    'decoder.positional_embedding': 'decoder/position_encodings/encodings',
    'decoder.token_embedding.weight': 'decoder/embeddings/weight',
    'decoder.ln.weight': 'decoder/layer_norm/gamma',
    'decoder.ln.bias': 'decoder/layer_norm/beta',
  };
  if (top[w]) return whole(top[w]);
  const [side, , layer, ...rest] = w.split('.');
  const p = `${side}/layer_${layer}`;
  const key = rest.join('.');
  const table: Array<[string, string, number, number]> = [
    ['attn.query.weight', 'self_attention/linear_0/weight', 0, 3],
    ['attn.query.bias', 'self_attention/linear_0/bias', 0, 3],
    ['attn.key.weight', 'self_attention/linear_0/weight', 1, 3],
    ['attn.value.weight', 'self_attention/linear_0/weight', 2, 3],
    ['attn.value.bias', 'self_attention/linear_0/bias', 2, 3],
    ['attn.out.weight', 'self_attention/linear_1/weight', 0, 1],
    ['attn.out.bias', 'self_attention/linear_1/bias', 0, 1],
    ['attn_ln.weight', 'self_attention/layer_norm/gamma', 0, 1],
    ['attn_ln.bias', 'self_attention/layer_norm/beta', 0, 1],
    ['cross_attn.query.weight', 'attention/linear_0/weight', 0, 1],
    ['cross_attn.query.bias', 'attention/linear_0/bias', 0, 1],
    ['cross_attn.key.weight', 'attention/linear_1/weight', 0, 2],
    ['cross_attn.value.weight', 'attention/linear_1/weight', 1, 2],
    ['cross_attn.value.bias', 'attention/linear_1/bias', 1, 2],
    ['cross_attn.out.weight', 'attention/linear_2/weight', 0, 1],
    ['cross_attn.out.bias', 'attention/linear_2/bias', 0, 1],
    ['cross_attn_ln.weight', 'attention/layer_norm/gamma', 0, 1],
    ['cross_attn_ln.bias', 'attention/layer_norm/beta', 0, 1],
    ['mlp.0.weight', 'ffn/linear_0/weight', 0, 1],
    ['mlp.0.bias', 'ffn/linear_0/bias', 0, 1],
    ['mlp.2.weight', 'ffn/linear_1/weight', 0, 1],
    ['mlp.2.bias', 'ffn/linear_1/bias', 0, 1],
    ['mlp_ln.weight', 'ffn/layer_norm/gamma', 0, 1],
    ['mlp_ln.bias', 'ffn/layer_norm/beta', 0, 1],
  ];
  const row = table.find((r) => r[0] === key);
  if (!row) throw new Error(`no CT2 reference for ${w}`);
  return { name: `${p}/${row[1]}`, part: row[2], of: row[3] };
}

function hfRef(prefix: string, w: string): Ref {
  const top: Record<string, string> = {
    'encoder.positional_embedding': 'encoder.embed_positions.weight',
    'encoder.ln_post.weight': 'encoder.layer_norm.weight',
    'encoder.ln_post.bias': 'encoder.layer_norm.bias',
    'decoder.positional_embedding': 'decoder.embed_positions.weight',
    'decoder.token_embedding.weight': 'decoder.embed_tokens.weight',
    'decoder.ln.weight': 'decoder.layer_norm.weight',
    'decoder.ln.bias': 'decoder.layer_norm.bias',
  };
  if (top[w]) return { name: prefix + top[w], part: 0, of: 1 };
  if (w.startsWith('encoder.conv')) return { name: prefix + w, part: 0, of: 1 };
  const name = w
    .replace('.blocks.', '.layers.')
    .replace('.cross_attn_ln.', '.encoder_attn_layer_norm.')
    .replace('.attn_ln.', '.self_attn_layer_norm.')
    .replace('.mlp_ln.', '.final_layer_norm.')
    .replace('.cross_attn.', '.encoder_attn.')
    .replace('.attn.', '.self_attn.')
    .replace('.query.', '.q_proj.')
    .replace('.key.', '.k_proj.')
    .replace('.value.', '.v_proj.')
    .replace('.out.', '.out_proj.')
    .replace('.mlp.0.', '.fc1.')
    .replace('.mlp.2.', '.fc2.');
  return { name: prefix + name, part: 0, of: 1 };
}

/** Every tensor of `out` equals its source part, converted (exactly for same-type copies). */
async function checkAllValues(out: ModelFileInfo, tensors: Map<string, FixtureTensor>, ref: (w: string) => Ref): Promise<void> {
  for (const t of out.tensors) {
    const r = ref(t.name);
    const src = tensors.get(r.name);
    if (!src?.data) throw new Error(`no source data for ${t.name} (${r.name})`);
    const partBytes = src.data.length / r.of;
    const part = src.data.subarray(r.part * partBytes, (r.part + 1) * partBytes);
    const want = expectedBytes(part, src.dtype, t.type);
    const got = await readTensor(out.path, t);
    if (!got.equals(want)) {
      let i = 0;
      while (got[i] === want[i]) i++;
      throw new Error(`${t.name} (from ${r.name} part ${r.part}/${r.of}) differs at byte ${i}`);
    }
    // shape: the reversed source shape (fused parts split along the first axis; conv biases [1, n])
    const srcShape = [src.shape[0] / r.of, ...src.shape.slice(1)];
    const wantShape = /conv\d\.bias$/.test(t.name) ? [1, src.shape[0]] : [...srcShape].reverse();
    expect(t.shape, t.name).toEqual(wantShape);
  }
}

function expectedOrder(nEnc: number, nDec: number): string[] {
  const attn = (p: string): string[] => ['query.weight', 'query.bias', 'key.weight', 'value.weight', 'value.bias', 'out.weight', 'out.bias'].map((s) => `${p}.${s}`);
  const mlp = (p: string): string[] => ['mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp_ln.weight', 'mlp_ln.bias'].map((s) => `${p}.${s}`);
  const names = ['encoder.positional_embedding', 'encoder.conv1.weight', 'encoder.conv1.bias', 'encoder.conv2.weight', 'encoder.conv2.bias'];
  for (let i = 0; i < nEnc; i++) {
    const p = `encoder.blocks.${i}`;
    names.push(...attn(`${p}.attn`), `${p}.attn_ln.weight`, `${p}.attn_ln.bias`, ...mlp(p));
  }
  names.push('encoder.ln_post.weight', 'encoder.ln_post.bias', 'decoder.positional_embedding', 'decoder.token_embedding.weight');
  for (let i = 0; i < nDec; i++) {
    const p = `decoder.blocks.${i}`;
    names.push(...attn(`${p}.attn`), `${p}.attn_ln.weight`, `${p}.attn_ln.bias`);
    names.push(...attn(`${p}.cross_attn`), `${p}.cross_attn_ln.weight`, `${p}.cross_attn_ln.bias`, ...mlp(p));
  }
  names.push('decoder.ln.weight', 'decoder.ln.bias');
  return names;
}

// ---- tests -------------------------------------------------------------------------------------

describe('convertModel: CTranslate2 round trip (tiny dims, seeded weights)', () => {
  let dir: string;
  let tensors: Map<string, FixtureTensor>;

  beforeAll(async () => {
    dir = path.join(tmp, 'ct2-f16');
    tensors = await writeCt2WhisperFolder(dir, { dims: TINY_DIMS, vocabulary: baseVocab, dtype: 'f16', seed: 7 });
  });

  it('detects the format', async () => {
    expect(await detectSourceFormat(dir)).toBe('ctranslate2');
  });

  it('f16 -> f16: every value exact, fused q/k/v and k/v split in order, whisper.cpp accepts the file', async () => {
    const outPath = path.join(tmp, 'ct2-f16.bin');
    const progress: Array<[number, number]> = [];
    const info = await convertModel({ source: dir, outPath, onProgress: (d, t) => progress.push([d, t]) });
    expect(info.hparams).toEqual({
      nVocab: 51865,
      nAudioCtx: 24,
      nAudioState: 64,
      nAudioHead: 4,
      nAudioLayer: 2,
      nTextCtx: 16,
      nTextState: 64,
      nTextHead: 4,
      nTextLayer: 2,
      nMels: 80,
      ftype: 1,
      quantizationVersion: 0,
    });
    expect(info.weightType).toBe('f16');
    expect(info.tensors.map((t) => t.name)).toEqual(expectedOrder(2, 2));
    await checkAllValues(info, tensors, ct2Ref);
    // inspectModelFile with checkTensors (the default) accepted every name/shape/type; convertModel returns the same
    expect(await inspectModelFile(outPath)).toEqual(info);
    expect(progress[0]).toEqual([0, info.tensors.length]);
    expect(progress[progress.length - 1]).toEqual([info.tensors.length, info.tensors.length]);
    expect(progress.length).toBe(info.tensors.length + 1);
    // types: 2-D weights and conv kernels f16; biases, norms, positional embeddings f32
    const byName = new Map(info.tensors.map((t) => [t.name, t]));
    expect(byName.get('encoder.conv1.weight')!.typeName).toBe('f16');
    expect(byName.get('encoder.conv1.bias')!.typeName).toBe('f32');
    expect(byName.get('encoder.conv1.bias')!.shape).toEqual([1, 64]);
    expect(byName.get('encoder.positional_embedding')!.typeName).toBe('f32');
    expect(byName.get('decoder.token_embedding.weight')!.typeName).toBe('f16');
    expect(byName.get('decoder.blocks.1.cross_attn.value.bias')!.typeName).toBe('f32');
    // the vocabulary section is the header-only base file's, byte for byte; the mel filters are librosa's
    const pre = await ggmlPreamble(BASE_HEADER);
    const fh = await fsp.open(outPath, 'r');
    try {
      const mine = Buffer.alloc(pre.length - 48);
      await fh.read(mine, 0, mine.length, 48);
      expect(mine.equals(pre.subarray(48))).toBe(true);
    } finally {
      await fh.close();
    }
  });

  it('f16 -> f32: every value widened exactly, ftype 0', async () => {
    const info = await convertModel({ source: dir, outPath: path.join(tmp, 'ct2-f32.bin'), weightType: 'f32', format: 'ctranslate2' });
    expect(info.hparams.ftype).toBe(0);
    expect(info.weightType).toBe('f32');
    expect(info.tensors.every((t) => t.typeName === 'f32')).toBe(true);
    await checkAllValues(info, tensors, ct2Ref);
  });

  it('float32 and bfloat16 CTranslate2 models, vocabulary.json, no num_heads scalars (heads = n_state / 64)', async () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      const d = path.join(tmp, `ct2-${dtype}`);
      const t = await writeCt2WhisperFolder(d, { dims: TINY_DIMS, vocabulary: baseVocab, dtype, seed: 11, vocabularyFormat: 'json', numHeads: false });
      for (const weightType of ['f16', 'f32'] as const) {
        const info = await convertModel({ source: d, outPath: path.join(tmp, `ct2-${dtype}-${weightType}.bin`), weightType });
        expect(info.hparams.nAudioHead).toBe(1);
        expect(info.hparams.nTextHead).toBe(1);
        await checkAllValues(info, t, ct2Ref);
      }
    }
  });

  it('copies the mel filters from melFiltersFrom, else computes the same librosa filters', async () => {
    const a = await convertModel({ source: dir, outPath: path.join(tmp, 'ct2-mel-a.bin'), melFiltersFrom: TINY_EN_HEADER });
    const b = path.join(tmp, 'ct2-f16.bin');
    const read = async (file: string, info: ModelFileInfo): Promise<Buffer> => {
      const fh = await fsp.open(file, 'r');
      try {
        const buf = Buffer.alloc(info.melFilters.byteLength);
        await fh.read(buf, 0, buf.length, info.melFilters.offset);
        return buf;
      } finally {
        await fh.close();
      }
    };
    const fromFile = await read(a.path, a);
    const computed = await read(b, await inspectModelFile(b, { checkTensors: false }));
    const header = await read(TINY_EN_HEADER, await inspectModelFile(TINY_EN_HEADER, { checkTensors: false }));
    expect(fromFile.equals(header)).toBe(true);
    expect(computed.equals(header)).toBe(true); // the same 80-mel bank either way
    const mel = whisperMelFilters(80);
    expect(computed.readFloatLE(8 + 4 * 5)).toBe(mel[5]);
  });
});

describe('convertModel: Hugging Face round trip (tiny dims, seeded weights)', () => {
  const enDims = { ...TINY_DIMS, nVocab: 51864 };

  it('float32 safetensors -> f16 and f32, English vocabulary; proj_out and k_proj biases are dropped', async () => {
    const dir = path.join(tmp, 'hf-f32');
    const tensors = await writeHfWhisperFolder(dir, { dims: enDims, vocabulary: tinyEnVocab, dtype: 'f32', seed: 3, projOut: true, keyBias: true });
    expect(await detectSourceFormat(dir)).toBe('transformers');
    for (const weightType of ['f16', 'f32'] as const) {
      const info = await convertModel({ source: dir, outPath: path.join(tmp, `hf-f32-${weightType}.bin`), weightType, replaceInvalidUtf8: true });
      expect(info.hparams.nVocab).toBe(51864);
      expect(info.multilingual).toBe(false);
      expect(info.hparams.nAudioHead).toBe(4);
      expect(info.tensors.map((t) => t.name)).toEqual(expectedOrder(2, 2));
      await checkAllValues(info, tensors, (w) => hfRef('model.', w));
      // with replaceInvalidUtf8: the tiny.en header's vocabulary, byte for byte (50257 entries, the last "<|endoftext|>")
      await expectSameVocabSection(info.path, TINY_EN_HEADER);
    }
  });

  it('by default the vocabulary keeps the raw bytes of tokens that are not valid UTF-8', async () => {
    const dir = path.join(tmp, 'hf-f32');
    const info = await convertModel({ source: dir, outPath: path.join(tmp, 'hf-raw.bin') });
    const raw = rawTokensForPublished(await ggmlVocabTokens(TINY_EN_HEADER));
    const got = await ggmlVocabTokens(info.path);
    expect(got.length).toBe(raw.length);
    for (let i = 0; i < raw.length; i++) if (!got[i].equals(raw[i])) throw new Error(`token ${i} differs`);
    expect(raw.some((t) => !Buffer.from(new TextEncoder().encode(new TextDecoder().decode(t))).equals(t))).toBe(true);
  });

  it('bfloat16 and float16 tensors, WhisperModel names (no "model." prefix), sharded with an index, tokenizer.json vocabulary', async () => {
    const dir = path.join(tmp, 'hf-sharded');
    const tensors = await writeHfWhisperFolder(dir, {
      dims: TINY_DIMS,
      vocabulary: baseVocabRaw,
      dtype: 'bf16',
      dtypes: { 'encoder.conv1.weight': 'f16', 'decoder.embed_tokens.weight': 'f16', 'encoder.layers.1.fc1.weight': 'f32' },
      seed: 5,
      prefix: '',
      shards: 3,
      tokenizerJsonOnly: true,
    });
    expect(await detectSourceFormat(dir)).toBe('transformers');
    for (const weightType of ['f16', 'f32'] as const) {
      const info = await convertModel({ source: dir, outPath: path.join(tmp, `hf-sharded-${weightType}.bin`), weightType });
      await checkAllValues(info, tensors, (w) => hfRef('', w));
      if (weightType === 'f32') {
        const replaced = await convertModel({ source: dir, outPath: path.join(tmp, 'hf-sharded-replaced.bin'), replaceInvalidUtf8: true });
        await expectSameVocabSection(replaced.path, BASE_HEADER);
      }
    }
  });
});
