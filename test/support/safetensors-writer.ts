/**
 * Test fixtures: writes safetensors files and synthetic Hugging Face transformers Whisper folders
 * (config.json, model.safetensors or shards + model.safetensors.index.json, vocab.json,
 * added_tokens.json) with seeded weights. Tensors without data are holes (zeros, no disk).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FIXTURE_DTYPE_BYTES, seededData, type FixtureDtype, type FixtureTensor, type WhisperFixtureDims } from './ct2-writer';

export const SAFETENSORS_DTYPE: Record<FixtureDtype, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16', int8: 'I8' };

export interface SafetensorsSpec {
  name: string;
  /** safetensors dtype name ('F16', ...). */
  dtype: string;
  shape: number[];
  itemBytes: number;
  data?: Uint8Array;
}

/** Writes a .safetensors file (header padded with spaces to a multiple of 8, as the reference writer does). */
export async function writeSafetensors(file: string, tensors: SafetensorsSpec[], metadata: Record<string, string> = { format: 'pt' }): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * t.itemBytes;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const fh = await fsp.open(file, 'w');
  try {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
    await fh.write(size, 0, 8, 0);
    await fh.write(jsonBytes, 0, jsonBytes.length, 8);
    const start = 8 + jsonBytes.length;
    let pos = start;
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1) * t.itemBytes;
      if (t.data) {
        if (t.data.length !== n) throw new Error(`fixture: ${t.name} has ${t.data.length} bytes, expected ${n}`);
        await fh.write(t.data, 0, n, pos);
      }
      pos += n;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

/** The Hugging Face WhisperForConditionalGeneration tensors for these dims (without prefix), name -> shape, in the model's order. */
export function hfWhisperShapes(d: WhisperFixtureDims, opts: { keyBias?: boolean } = {}): Map<string, number[]> {
  const n = d.nState;
  const m = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number, bias = true): void => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  const ln = (p: string): void => {
    m.set(`${p}.weight`, [n]);
    m.set(`${p}.bias`, [n]);
  };
  const attn = (p: string): void => {
    lin(`${p}.k_proj`, n, n, opts.keyBias ?? false);
    lin(`${p}.v_proj`, n, n);
    lin(`${p}.q_proj`, n, n);
    lin(`${p}.out_proj`, n, n);
  };
  m.set('encoder.conv1.weight', [n, d.nMels, 3]);
  m.set('encoder.conv1.bias', [n]);
  m.set('encoder.conv2.weight', [n, n, 3]);
  m.set('encoder.conv2.bias', [n]);
  m.set('encoder.embed_positions.weight', [d.nAudioCtx, n]);
  for (let i = 0; i < d.nAudioLayer; i++) {
    const p = `encoder.layers.${i}`;
    attn(`${p}.self_attn`);
    ln(`${p}.self_attn_layer_norm`);
    lin(`${p}.fc1`, 4 * n, n);
    lin(`${p}.fc2`, n, 4 * n);
    ln(`${p}.final_layer_norm`);
  }
  ln('encoder.layer_norm');
  m.set('decoder.embed_tokens.weight', [d.nVocab, n]);
  m.set('decoder.embed_positions.weight', [d.nTextCtx, n]);
  for (let i = 0; i < d.nTextLayer; i++) {
    const p = `decoder.layers.${i}`;
    attn(`${p}.self_attn`);
    ln(`${p}.self_attn_layer_norm`);
    attn(`${p}.encoder_attn`);
    ln(`${p}.encoder_attn_layer_norm`);
    lin(`${p}.fc1`, 4 * n, n);
    lin(`${p}.fc2`, n, 4 * n);
    ln(`${p}.final_layer_norm`);
  }
  ln('decoder.layer_norm');
  return m;
}

export interface HfWhisperFolderOptions {
  dims: WhisperFixtureDims;
  /** Token strings by id (byte-level spelling), n_vocab long; ids up to <|endoftext|> go to vocab.json, the rest to added_tokens.json. */
  vocabulary: string[];
  dtype?: FixtureDtype;
  seed?: number;
  zeros?: boolean;
  /** 'model.' (WhisperForConditionalGeneration, default) or '' (WhisperModel). */
  prefix?: string;
  /** Split into this many shards with model.safetensors.index.json (default 1: model.safetensors). */
  shards?: number;
  omit?: string[];
  shapes?: Record<string, number[]>;
  dtypes?: Record<string, FixtureDtype>;
  /** Add proj_out.weight (a copy of the token embedding, as save_pretrained writes tied weights). */
  projOut?: boolean;
  /** Add k_proj biases (whisper has none; the converter must drop them). */
  keyBias?: boolean;
  /** Extra config.json fields (override). */
  config?: Record<string, unknown>;
  /** Write the vocabulary as tokenizer.json only (no vocab.json / added_tokens.json). */
  tokenizerJsonOnly?: boolean;
}

/** Writes a Hugging Face Whisper folder and returns its tensors by full name (with their data unless zeros). */
export async function writeHfWhisperFolder(dir: string, opts: HfWhisperFolderOptions): Promise<Map<string, FixtureTensor>> {
  await fsp.mkdir(dir, { recursive: true });
  const d = opts.dims;
  const prefix = opts.prefix ?? 'model.';
  const seed = opts.seed ?? 1;
  const tensors = new Map<string, FixtureTensor>();
  const specs: SafetensorsSpec[] = [];
  const add = (name: string, shape: number[]): void => {
    const dtype = opts.dtypes?.[name] ?? opts.dtype ?? 'f32';
    const elements = shape.reduce((a, b) => a * b, 1);
    const data = opts.zeros ? undefined : seededData(name, elements, dtype, seed);
    tensors.set(name, { shape, dtype, data });
    specs.push({ name, dtype: SAFETENSORS_DTYPE[dtype], shape, itemBytes: FIXTURE_DTYPE_BYTES[dtype], data });
  };
  for (const [short, shape0] of hfWhisperShapes(d, { keyBias: opts.keyBias })) {
    const name = prefix + short;
    if (opts.omit?.includes(name)) continue;
    add(name, opts.shapes?.[name] ?? shape0);
  }
  if (opts.projOut) {
    const emb = tensors.get(`${prefix}decoder.embed_tokens.weight`)!;
    tensors.set('proj_out.weight', emb);
    specs.push({ name: 'proj_out.weight', dtype: SAFETENSORS_DTYPE[emb.dtype], shape: emb.shape, itemBytes: FIXTURE_DTYPE_BYTES[emb.dtype], data: emb.data });
  }

  const shards = opts.shards ?? 1;
  if (shards <= 1) {
    await writeSafetensors(path.join(dir, 'model.safetensors'), specs);
  } else {
    const per = Math.ceil(specs.length / shards);
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = specs.slice(s * per, (s + 1) * per);
      for (const t of part) weightMap[t.name] = file;
      await writeSafetensors(path.join(dir, file), part);
    }
    await fsp.writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
  }

  const config = {
    architectures: ['WhisperForConditionalGeneration'],
    model_type: 'whisper',
    d_model: d.nState,
    encoder_layers: d.nAudioLayer,
    decoder_layers: d.nTextLayer,
    encoder_attention_heads: d.nHead,
    decoder_attention_heads: d.nHead,
    encoder_ffn_dim: 4 * d.nState,
    decoder_ffn_dim: 4 * d.nState,
    num_mel_bins: d.nMels,
    max_source_positions: d.nAudioCtx,
    max_target_positions: d.nTextCtx,
    vocab_size: d.nVocab,
    torch_dtype: 'float32',
    ...opts.config,
  };
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));

  const eot = opts.vocabulary.indexOf('<|endoftext|>');
  const vocab: Record<string, number> = {};
  const added: Record<string, number> = {};
  opts.vocabulary.forEach((t, id) => {
    if (id <= eot) vocab[t] = id;
    else added[t] = id;
  });
  if (Object.keys(vocab).length !== eot + 1) throw new Error('fixture: duplicate tokens cannot go into vocab.json');
  if (opts.tokenizerJsonOnly) {
    const addedTokens = Object.entries(added).map(([content, id]) => ({ id, content, special: true }));
    await fsp.writeFile(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify({ version: '1.0', added_tokens: [{ id: eot, content: '<|endoftext|>', special: true }, ...addedTokens], model: { type: 'BPE', vocab, merges: [] } }),
    );
  } else {
    await fsp.writeFile(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
    await fsp.writeFile(path.join(dir, 'added_tokens.json'), JSON.stringify(added));
  }
  return tensors;
}
