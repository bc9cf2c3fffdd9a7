import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GGML_TYPES, ggmlTensorBytes } from '../../lib/model-files/ggml-format';
import { type WhisperHparams } from '../../lib/model-files/hparams';
import { expectedTensors } from '../../lib/model-files/tensors';
import { inspectModelFile, type ModelFileInfo, type TensorInfo } from '../../lib/model-files/inspect';
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { WhisperError } from '../../lib/errors/whisper-error';
import { rejectedWhisperError } from '../support/errors';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const TINY_EN_HEADER = path.join(MODELS, 'header-only-ggml-tiny.en.bin');
const BASE_HEADER = path.join(MODELS, 'header-only-ggml-base.bin');
const SILERO = path.join(MODELS, 'ggml-silero-v6.2.0.bin');

/** tiny.en / base hyperparameters as published in whisper.cpp's model table (models/README) and OpenAI's dims. */
const TINY_EN: Omit<WhisperHparams, 'ftype' | 'quantizationVersion'> = {
  nVocab: 51864,
  nAudioCtx: 1500,
  nAudioState: 384,
  nAudioHead: 6,
  nAudioLayer: 4,
  nTextCtx: 448,
  nTextState: 384,
  nTextHead: 6,
  nTextLayer: 4,
  nMels: 80,
};

async function expectInvalid(file: string, ...patterns: RegExp[]): Promise<WhisperError> {
  const err = await rejectedWhisperError(inspectModelFile(file));
  expect(err.code).toBe('INVALID_MODEL');
  expect(err.message).toContain(file);
  expect(err.message.startsWith(`invalid model file ${JSON.stringify(file)}: `)).toBe(true);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

/** Where a tensor's header starts: its data offset minus n_dims, name length, type, dims and name. */
function headerOffset(t: TensorInfo): number {
  return t.offset - (12 + 4 * t.shape.length + Buffer.byteLength(t.name));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A small deterministic PRNG for the tests' random bytes (xorshift32). */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('ggml type table', () => {
  it('has the block sizes and byte sizes of ggml.c', () => {
    expect(GGML_TYPES[0]).toEqual({ name: 'f32', blockSize: 1, typeSize: 4 });
    expect(GGML_TYPES[1]).toEqual({ name: 'f16', blockSize: 1, typeSize: 2 });
    expect(GGML_TYPES[2]).toEqual({ name: 'q4_0', blockSize: 32, typeSize: 18 });
    expect(GGML_TYPES[3]).toEqual({ name: 'q4_1', blockSize: 32, typeSize: 20 });
    expect(GGML_TYPES[6]).toEqual({ name: 'q5_0', blockSize: 32, typeSize: 22 });
    expect(GGML_TYPES[7]).toEqual({ name: 'q5_1', blockSize: 32, typeSize: 24 });
    expect(GGML_TYPES[8]).toEqual({ name: 'q8_0', blockSize: 32, typeSize: 34 });
    expect(GGML_TYPES[12]).toEqual({ name: 'q4_K', blockSize: 256, typeSize: 144 });
    expect(GGML_TYPES[14]).toEqual({ name: 'q6_K', blockSize: 256, typeSize: 210 });
    expect(GGML_TYPES[30]).toEqual({ name: 'bf16', blockSize: 1, typeSize: 2 });
    // removed / deprecated ids are not loadable
    for (const id of [4, 5, 31, 32, 33, 36, 37, 38, 42]) expect(GGML_TYPES[id]).toBeUndefined();
  });

  it('computes tensor byte sizes like ggml_nbytes', () => {
    expect(ggmlTensorBytes(0, [384, 1500])).toBe(384 * 1500 * 4);
    expect(ggmlTensorBytes(1, [3, 80, 384])).toBe(3 * 80 * 384 * 2);
    expect(ggmlTensorBytes(6, [384, 1536])).toBe((384 / 32) * 22 * 1536);
    expect(ggmlTensorBytes(8, [1536, 384])).toBe((1536 / 32) * 34 * 384);
    expect(ggmlTensorBytes(12, [1280, 5120])).toBe(5 * 144 * 5120);
  });

  it('throws a WhisperError for unknown types and impossible shapes', () => {
    for (const bad of [4, 42, 99, -1, 1.5]) {
      expect(() => ggmlTensorBytes(bad, [32])).toThrow(WhisperError);
      expect(() => ggmlTensorBytes(bad, [32])).toThrow(/unknown ggml type/);
    }
    expect(() => ggmlTensorBytes(12, [384])).toThrow(/multiple of 256/); // q4_K rows need whole 256-blocks
    expect(() => ggmlTensorBytes(0, [])).toThrow(WhisperError);
    expect(() => ggmlTensorBytes(0, [0, 4])).toThrow(WhisperError);
    expect(() => ggmlTensorBytes(0, [1, 2, 3, 4, 5])).toThrow(WhisperError);
  });
});

describe('expectedTensors', () => {
  const hp: WhisperHparams = { ...TINY_EN, ftype: 1, quantizationVersion: 0 };

  it('lists every tensor whisper.cpp creates for tiny.en, in ggml ne order', () => {
    const list = expectedTensors(hp);
    // 7 encoder globals + 15 per encoder block + 4 decoder globals + 24 per decoder block
    expect(list).toHaveLength(7 + 15 * 4 + 4 + 24 * 4);
    expect(new Set(list.map((t) => t.name)).size).toBe(list.length);
    const byName = new Map(list.map((t) => [t.name, t]));
    expect(byName.get('encoder.positional_embedding')).toMatchObject({ shape: [384, 1500], type: 0 });
    expect(byName.get('encoder.conv1.weight')).toMatchObject({ shape: [3, 80, 384], type: 1 });
    expect(byName.get('encoder.conv1.bias')).toMatchObject({ shape: [1, 384], type: 0 });
    expect(byName.get('encoder.conv2.weight')).toMatchObject({ shape: [3, 384, 384], type: 1 });
    expect(byName.get('encoder.blocks.3.mlp.0.weight')).toMatchObject({ shape: [384, 1536], type: 1 });
    expect(byName.get('encoder.blocks.3.mlp.2.weight')).toMatchObject({ shape: [1536, 384], type: 1 });
    expect(byName.get('encoder.blocks.0.attn.query.bias')).toMatchObject({ shape: [384], type: 0 });
    expect(byName.has('encoder.blocks.0.attn.key.bias')).toBe(false); // Whisper's key projections have no bias
    expect(byName.has('encoder.blocks.4.attn.query.weight')).toBe(false);
    expect(byName.get('decoder.token_embedding.weight')).toMatchObject({ shape: [384, 51864], type: 1 });
    expect(byName.get('decoder.positional_embedding')).toMatchObject({ shape: [384, 448], type: 0 });
    expect(byName.get('decoder.blocks.3.cross_attn.out.weight')).toMatchObject({ shape: [384, 384], type: 1 });
    expect(byName.get('decoder.blocks.3.cross_attn_ln.bias')).toMatchObject({ shape: [384], type: 0 });
  });

  it('uses the ftype weight type for matrices, f16 for conv kernels and f32 for the rest', () => {
    const q5 = expectedTensors({ ...hp, ftype: 8, quantizationVersion: 2 });
    const byName = new Map(q5.map((t) => [t.name, t]));
    expect(byName.get('decoder.token_embedding.weight')!.type).toBe(6);
    expect(byName.get('encoder.blocks.0.attn.out.weight')!.type).toBe(6);
    expect(byName.get('encoder.conv1.weight')!.type).toBe(1);
    expect(byName.get('encoder.conv1.bias')!.type).toBe(0);
    expect(byName.get('decoder.positional_embedding')!.type).toBe(0);

    const f32 = expectedTensors({ ...hp, ftype: 0 });
    expect(f32.every((t) => t.type === 0)).toBe(true);
  });

  it('rejects an ftype ggml cannot map', () => {
    expect(() => expectedTensors({ ...hp, ftype: 5 })).toThrow(WhisperError);
  });
});

describe('inspectModelFile on the shared files', () => {
  it('finds the shared models folder', () => {
    expect(fs.existsSync(TINY_EN_HEADER)).toBe(true);
    expect(fs.existsSync(BASE_HEADER)).toBe(true);
    expect(fs.existsSync(SILERO)).toBe(true);
  });

  it('rejects the header-only files: they have no tensors', async () => {
    for (const file of [TINY_EN_HEADER, BASE_HEADER]) {
      await expectInvalid(file, /has a header and vocab but no tensor data/);
    }
  });

  it('reads tiny.en header, mel filters and vocab with checkTensors: false', async () => {
    const info = await inspectModelFile(TINY_EN_HEADER, { checkTensors: false });
    expect(info.hparams).toEqual({ ...TINY_EN, ftype: 1, quantizationVersion: 0 });
    expect(info.modelType).toBe('tiny');
    expect(info.multilingual).toBe(false);
    expect(info.weightType).toBe('f16');
    expect(info.tensors).toEqual([]);
    expect(info.tensorBytes).toBe(0);
    expect(info.melFilters).toEqual({ nMel: 80, nFft: 201, offset: 48, byteLength: 8 + 80 * 201 * 4 });
    expect(info.vocab.offset).toBe(48 + 8 + 80 * 201 * 4);
    expect(info.vocab.count).toBe(50257); // the GPT-2 tokens; whisper.cpp adds the special tokens itself
    // header-only: the file ends right after the vocabulary
    expect(info.vocab.offset + info.vocab.byteLength).toBe(info.fileSize);
    expect(info.fileSize).toBe(fs.statSync(TINY_EN_HEADER).size);

    // cross-check against the raw bytes
    const raw = fs.readFileSync(TINY_EN_HEADER).subarray(0, 48);
    expect(raw.readUInt32LE(0)).toBe(0x67676d6c);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => raw.readInt32LE(4 * i))).toEqual([51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80]);
  });

  it('reads base header with checkTensors: false', async () => {
    const info = await inspectModelFile(BASE_HEADER, { checkTensors: false });
    expect(info.hparams).toEqual({
      nVocab: 51865,
      nAudioCtx: 1500,
      nAudioState: 512,
      nAudioHead: 8,
      nAudioLayer: 6,
      nTextCtx: 448,
      nTextState: 512,
      nTextHead: 8,
      nTextLayer: 6,
      nMels: 80,
      ftype: 1,
      quantizationVersion: 0,
    });
    expect(info.modelType).toBe('base');
    expect(info.multilingual).toBe(true);
    expect(info.vocab.offset + info.vocab.byteLength).toBe(info.fileSize);
  });

  it('rejects the Silero VAD model as a non-Whisper ggml file', async () => {
    // its header is magic, int32 10, "silero-16k", int32 6, 2, 0 (whisper.cpp's VAD model format)
    const head = fs.readFileSync(SILERO).subarray(0, 30);
    expect(head.readUInt32LE(0)).toBe(0x67676d6c);
    expect(head.subarray(8, 18).toString('latin1')).toBe('silero-16k');
    for (const checkTensors of [true, false]) {
      const err = await rejectedWhisperError(inspectModelFile(SILERO, { checkTensors }));
      expect(err.code).toBe('INVALID_MODEL');
      expect(err.message).toMatch(/voice-activity-detection \(VAD\) model/);
      expect(err.message).toMatch(/"silero-16k" version 6\.2\.0/);
      expect(err.message).toMatch(/not a Whisper/);
    }
  });
});

describe('inspectModelFile on a synthetic tiny.en model and broken copies of it', () => {
  let dir: string;
  let good: string;
  let info: ModelFileInfo;
  let bytes: Buffer;
  let counter = 0;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-model-file-'));
    good = path.join(dir, 'tiny.en-synthetic.bin');
    info = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: good, seed: 1 });
    bytes = await fsp.readFile(good);
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  /**
   * Writes a variant of the good model and returns its path: `make` gets a copy of the model's first
   * `upTo` bytes (all of it by default). Checks that fire early get a prefix, to keep the tests fast.
   */
  async function variant(make: (b: Buffer) => Buffer | Uint8Array | string, upTo = bytes.length): Promise<string> {
    const file = path.join(dir, `bad-${++counter}.bin`);
    await fsp.writeFile(file, make(Buffer.from(bytes.subarray(0, upTo))));
    return file;
  }

  /** Writes a small file with the given content. */
  async function small(content: Buffer | string): Promise<string> {
    const file = path.join(dir, `bad-${++counter}.bin`);
    await fsp.writeFile(file, content);
    return file;
  }

  /** A copy of the good model with bytes appended. */
  async function appended(tail: Buffer): Promise<string> {
    const file = path.join(dir, `bad-${++counter}.bin`);
    await fsp.copyFile(good, file);
    await fsp.appendFile(file, tail);
    return file;
  }

  /** A prefix long enough for every check up to the first tensor headers. */
  const HEAD = (): number => info.vocab.offset + info.vocab.byteLength + 4096;
  /** A prefix that ends with the given tensor. */
  const through = (t: TensorInfo): number => t.offset + t.byteLength;

  const tensor = (name: string): TensorInfo => {
    const t = info.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`no tensor ${name}`);
    return t;
  };

  it('accepts the synthetic model and describes it', async () => {
    const again = await inspectModelFile(good);
    expect(again).toEqual(info);
    expect(info.hparams).toEqual({ ...TINY_EN, ftype: 1, quantizationVersion: 0 });
    expect(info.modelType).toBe('tiny');
    expect(info.weightType).toBe('f16');
    const expected = expectedTensors(info.hparams);
    expect(info.tensors.map((t) => t.name).sort()).toEqual(expected.map((t) => t.name).sort());
    for (const e of expected) {
      const t = tensor(e.name);
      expect(t.shape).toEqual(e.shape);
      expect(t.type).toBe(e.type);
      expect(t.byteLength).toBe(ggmlTensorBytes(e.type, e.shape));
    }
    const last = info.tensors[info.tensors.length - 1];
    expect(last.offset + last.byteLength).toBe(info.fileSize);
    expect(info.tensorBytes).toBe(info.tensors.reduce((a, t) => a + t.byteLength, 0));
    expect(info.tensorBytes).toBe(77_110_272); // whisper.cpp logs "model size = 77.11 MB" for tiny.en
    expect(tensor('encoder.conv1.bias').typeName).toBe('f32');
    expect(tensor('decoder.token_embedding.weight').typeName).toBe('f16');
  });

  it('rejects a missing path with MODEL_NOT_FOUND naming the path', async () => {
    const missing = path.join(dir, 'no-such-model.bin');
    const err = await rejectedWhisperError(inspectModelFile(missing));
    expect(err.code).toBe('MODEL_NOT_FOUND');
    expect(err.message).toBe(`path: model file not found: ${missing}`);
    const err2 = await rejectedWhisperError(inspectModelFile(path.join(good, 'inside-a-file.bin')));
    expect(err2.code).toBe('MODEL_NOT_FOUND');
  });

  it('rejects a directory with INVALID_ARGUMENT naming the path', async () => {
    const err = await rejectedWhisperError(inspectModelFile(dir));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`path: expected a file (model file), got a directory: ${dir}`);
  });

  it.skipIf(process.platform === 'win32')('rejects a FIFO without blocking on it', async () => {
    const fifo = path.join(dir, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    const err = await rejectedWhisperError(inspectModelFile(fifo));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`path: expected a file (model file), got a FIFO: ${fifo}`);
  });

  it('rejects an empty file', async () => {
    await expectInvalid(await small(Buffer.alloc(0)), /empty/);
  });

  it('rejects a file shorter than the magic', async () => {
    await expectInvalid(await small(Buffer.from([0x6c, 0x6d])), /only 2 bytes/);
  });

  it('rejects a text file, quoting its beginning', async () => {
    await expectInvalid(await small('hello, I am not a model\nsecond line\n'), /text file/, /hello, I am not a model/);
  });

  it('recognises a Git LFS pointer and an HTML page', async () => {
    await expectInvalid(await small('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 77704715\n'), /Git LFS pointer/);
    await expectInvalid(await small('<!DOCTYPE html><html><body>404</body></html>'), /HTML/);
  });

  it('rejects random bytes with a bad-magic message', async () => {
    const next = xorshift32(12345);
    const b = Buffer.alloc(4096);
    for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(next(), i);
    b[0] = 0x01; // make sure it is not accidentally the ggml magic
    const file = await small(b);
    await expectInvalid(file, /bad magic 0x[0-9a-f]{8}, expected 0x67676d6c/);
  });

  it('explains GGUF, safetensors, PyTorch zip, pickle and audio files', async () => {
    const gguf = Buffer.alloc(64);
    gguf.write('GGUF', 0, 'latin1');
    gguf.writeUInt32LE(3, 4);
    await expectInvalid(await small(gguf), /GGUF/);

    const json = Buffer.from('{"__metadata__":{}}');
    const st = Buffer.alloc(8 + json.length + 100);
    st.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(st, 8);
    await expectInvalid(await small(st), /safetensors/);

    await expectInvalid(await small(Buffer.from('PK\x03\x04\x14\x00\x00\x00archive/data.pkl', 'latin1')), /ZIP archive.*PyTorch/);
    await expectInvalid(await small(Buffer.from([0x80, 0x02, 0x63, 0x00, 0x01, 0x02])), /pickle/);
    await expectInvalid(await small(Buffer.from('RIFF\x24\x08\x00\x00WAVEfmt ', 'latin1')), /audio file/);
  });

  it('rejects absurd hyperparameters, naming them', async () => {
    const withInt = (offset: number, value: number) => (b: Buffer) => {
      b.writeInt32LE(value, offset);
      return b;
    };
    await expectInvalid(await variant(withInt(40, 0), HEAD()), /implausible hyperparameters/, /n_mels = 0/);
    await expectInvalid(await variant(withInt(4, -5), HEAD()), /n_vocab = -5/);
    await expectInvalid(await variant(withInt(4, 1000), HEAD()), /n_vocab = 1000 .*at least 51864/);
    await expectInvalid(await variant(withInt(20, 100000), HEAD()), /n_audio_layer = 100000/);
    await expectInvalid(await variant(withInt(16, 7), HEAD()), /n_audio_head = 7 does not divide n_audio_state = 384/);
    await expectInvalid(await variant(withInt(28, 512), HEAD()), /n_text_state = 512 differs from n_audio_state = 384/);
    await expectInvalid(await variant(withInt(44, -1), HEAD()), /ftype = -1/);
    await expectInvalid(await variant(withInt(44, 5), HEAD()), /ggml ftype 5/); // would abort whisper.cpp (GGML_ASSERT)
    await expectInvalid(await variant(withInt(44, 3001), HEAD()), /quantization version 3/);
  });

  it('decodes the quantization version from ftype', async () => {
    // 2001: quantization version 2, ggml ftype 1 (f16): whisper.cpp loads it as f16
    const file = await variant((b) => {
      b.writeInt32LE(2001, 44);
      return b;
    });
    const got = await inspectModelFile(file);
    expect(got.hparams.ftype).toBe(1);
    expect(got.hparams.quantizationVersion).toBe(2);
  });

  it('rejects a mel filter bank that does not match', async () => {
    const withInt = (offset: number, value: number) => (b: Buffer) => {
      b.writeInt32LE(value, offset);
      return b;
    };
    await expectInvalid(await variant(withInt(52, 200), HEAD()), /n_fft = 200; whisper.cpp needs 201/);
    await expectInvalid(await variant(withInt(48, 128), HEAD()), /n_mel = 128, but the header says n_mels = 80/);
  });

  it('rejects files truncated in the header, the mel filters and the vocab', async () => {
    const same = (b: Buffer): Buffer => b;
    await expectInvalid(await variant(same, 20), /truncated header/);
    await expectInvalid(await variant(same, 30_000), /truncated mel filter section/);
    const cut = info.vocab.offset + Math.floor(info.vocab.byteLength / 2);
    await expectInvalid(await variant(same, cut), /truncated vocabulary/, /token \d+ of 50257/);
  });

  it('rejects a file truncated in the middle of a tensor, naming the tensor and the byte counts', async () => {
    const t = tensor('decoder.token_embedding.weight');
    const keep = Math.floor(t.byteLength / 2) + 3;
    const err = await expectInvalid(await variant((b) => b, t.offset + keep), /truncated/);
    expect(err.message).toContain('"decoder.token_embedding.weight"');
    expect(err.message).toContain(`needs ${t.byteLength} bytes`);
    expect(err.message).toContain(`only ${keep} bytes remain`);
    expect(err.message).toContain(`${t.byteLength - keep} bytes missing`);

    // ...but the header is still readable without the tensor check
    const light = await inspectModelFile(path.join(dir, `bad-${counter}.bin`), { checkTensors: false });
    expect(light.hparams.nVocab).toBe(51864);
  });

  it('rejects a file cut inside a tensor header or between tensors', async () => {
    const t = tensor('encoder.conv2.weight');
    await expectInvalid(await variant((b) => b, headerOffset(t) + 20), /inside the tensor header/);
    // cut exactly at a tensor boundary: the remaining tensors are missing
    const err = await expectInvalid(await variant((b) => b, headerOffset(t)), /missing \d+ of the 167 tensors a tiny model needs/);
    expect(err.message).toContain('"encoder.conv2.weight"');
  });

  it('rejects a model with one tensor removed, naming it', async () => {
    const t = tensor('encoder.blocks.1.attn.key.weight');
    const file = await variant((b) => Buffer.concat([b.subarray(0, headerOffset(t)), b.subarray(t.offset + t.byteLength)]));
    await expectInvalid(file, /missing 1 of the 167 tensors/, /"encoder\.blocks\.1\.attn\.key\.weight"/);
  });

  it('rejects a tensor with the wrong shape', async () => {
    const t = tensor('encoder.blocks.0.mlp.0.weight'); // [384, 1536]; swapping keeps the byte size
    const file = await variant((b) => {
      const h = headerOffset(t);
      b.writeInt32LE(1536, h + 12);
      b.writeInt32LE(384, h + 16);
      return b;
    }, through(t));
    await expectInvalid(file, /"encoder\.blocks\.0\.mlp\.0\.weight" has shape \[1536, 384\], but whisper\.cpp expects \[384, 1536\]/);
  });

  it('rejects an unknown ggml type id', async () => {
    const t = tensor('encoder.blocks.2.attn.value.bias');
    for (const id of [99, 4, -3]) {
      const file = await variant((b) => {
        b.writeInt32LE(id, headerOffset(t) + 8);
        return b;
      }, through(t));
      await expectInvalid(file, new RegExp(`"${escapeRe(t.name)}" has an unknown ggml type id ${id}`));
    }
  });

  it('rejects a tensor stored with another type than the header ftype implies', async () => {
    // i32 has the size of f32: whisper.cpp would load it silently as floats
    const t = tensor('encoder.blocks.2.attn.value.bias');
    const file = await variant((b) => {
      b.writeInt32LE(26, headerOffset(t) + 8);
      return b;
    }, through(t));
    await expectInvalid(file, /"encoder\.blocks\.2\.attn\.value\.bias" is stored as i32, .* whisper\.cpp expects f32/);
    // an all-f32 header (ftype 0) with f16 tensors
    const f32Header = await variant(
      (b) => {
        b.writeInt32LE(0, 44);
        return b;
      },
      through(tensor('encoder.conv1.weight')),
    );
    await expectInvalid(f32Header, /"encoder\.conv1\.weight" is stored as f16, but with the header's ftype 0 \(f32\) whisper\.cpp expects f32/);
  });

  it('rejects quantized tensors in an old quantization format', async () => {
    // header: q4_0 (ggml ftype 2) with quantization version 1; the first weight matrix in the file relabelled
    // q4_0. Version-1 q4_0 blocks were 20 bytes (v2: 18), so whisper.cpp would misread the file.
    const firstMatrix = info.tensors.find((t) => t.shape.length === 2 && t.type === 1)!;
    expect(firstMatrix.name).toBe('encoder.blocks.0.mlp.0.weight');
    const file = await variant((b) => {
      b.writeInt32LE(1002, 44);
      b.writeInt32LE(2, headerOffset(firstMatrix) + 8);
      return b;
    }, through(firstMatrix));
    await expectInvalid(file, /"encoder\.blocks\.0\.mlp\.0\.weight" is q4_0 in the old ggml quantization format version 1/);
  });

  it('rejects an impossible n_dims and name length', async () => {
    const first = info.tensors[0];
    await expectInvalid(
      await variant((b) => {
        b.writeInt32LE(7, headerOffset(first));
        return b;
      }, HEAD()),
      /tensor #0 .*impossible n_dims 7/,
    );
    await expectInvalid(
      await variant((b) => {
        b.writeInt32LE(-1, headerOffset(first) + 4);
        return b;
      }, HEAD()),
      /impossible name length -1/,
    );
    await expectInvalid(
      await variant((b) => {
        b.writeInt32LE(0, headerOffset(first) + 12);
        return b;
      }, HEAD()),
      /impossible shape \[0, 1500\]/,
    );
  });

  it('rejects unknown tensor names and non-text names', async () => {
    const t = tensor('encoder.ln_post.bias');
    const renamed = await variant((b) => {
      b.write('encoder.ln_post.bigs', t.offset - t.name.length, 'latin1');
      return b;
    }, through(t));
    await expectInvalid(renamed, /unknown tensor "encoder\.ln_post\.bigs": whisper\.cpp rejects/);
    const binary = await variant((b) => {
      b[t.offset - 3] = 0x00;
      return b;
    }, through(t));
    await expectInvalid(binary, /name is not printable/);
  });

  it('rejects a duplicated tensor and trailing garbage, tolerates < 12 stray bytes like whisper.cpp', async () => {
    const last = info.tensors[info.tensors.length - 1];
    const dup = await appended(bytes.subarray(headerOffset(last)));
    await expectInvalid(dup, new RegExp(`"${escapeRe(last.name)}" appears twice`));

    const garbage = await appended(Buffer.from('this is trailing garbage, 40 bytes long!'));
    await expectInvalid(garbage, /40 bytes of trailing data after the last tensor/);

    const zeros = await appended(Buffer.alloc(12));
    await expectInvalid(zeros, /12 bytes of trailing data/);

    // whisper.cpp hits EOF while reading the next tensor header and stops: the file loads
    const stray = await appended(Buffer.from('abcde'));
    const ok = await inspectModelFile(stray);
    expect(ok.fileSize).toBe(info.fileSize + 5);
    expect(ok.tensors).toHaveLength(167);
  });

  it('never throws anything but a WhisperError for corrupted headers and tables', async () => {
    // a prefix with the header, vocab and the first tensors, damaged at random in its structural bytes
    // (patched in place and restored after each round)
    const prefixEnd = through(info.tensors[2]);
    const base = bytes.subarray(0, prefixEnd);
    const hot: number[] = [];
    for (let i = 0; i < 56; i++) hot.push(i); // magic, hparams, n_mel, n_fft
    for (let i = info.vocab.offset; i < info.vocab.offset + 64; i++) hot.push(i);
    for (const t of info.tensors.slice(0, 3)) for (let i = headerOffset(t); i < t.offset; i++) hot.push(i);
    const next = xorshift32(2024);
    const file = path.join(dir, 'fuzz.bin');
    await fsp.writeFile(file, base);
    const fh = await fsp.open(file, 'r+');
    const seen = new Set<string>();
    try {
      for (let round = 0; round < 150; round++) {
        const touched: number[] = [];
        const flips = 1 + (next() % 3);
        for (let k = 0; k < flips; k++) {
          const at = hot[next() % hot.length];
          const value = round % 2 === 0 ? next() & 0xff : base[at] ^ (1 << (next() % 8));
          await fh.write(Buffer.from([value]), 0, 1, at);
          touched.push(at);
        }
        const len = round % 5 === 0 ? next() % base.length : base.length;
        if (len < base.length) await fh.truncate(len);
        try {
          await inspectModelFile(file);
          throw new Error('a damaged prefix can never be a complete model');
        } catch (err) {
          if (!(err instanceof WhisperError)) throw err;
          expect(err.code).toBe('INVALID_MODEL');
          expect(err.message).toMatch(/^invalid model file "[^"]*": /);
          seen.add(err.message.replace(/^invalid model file "[^"]*": /, '').slice(0, 25));
        }
        if (len < base.length) await fh.write(base, len, base.length - len, len);
        for (const at of touched) await fh.write(base, at, 1, at);
      }
    } finally {
      await fh.close();
    }
    expect(seen.size).toBeGreaterThan(5); // the damage reached several different checks
  });

  it('validates its arguments', async () => {
    expect((await rejectedWhisperError(inspectModelFile(''))).code).toBe('INVALID_ARGUMENT');
    expect((await rejectedWhisperError(inspectModelFile(42 as unknown as string))).code).toBe('INVALID_ARGUMENT');
    expect((await rejectedWhisperError(inspectModelFile(good, { checkTensors: 'yes' as unknown as boolean }))).code).toBe('INVALID_ARGUMENT');
  });
});
