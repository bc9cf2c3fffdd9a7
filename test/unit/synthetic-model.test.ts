import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ggmlTensorBytes } from '../../lib/model-files/ggml-format';
import { expectedTensors } from '../../lib/model-files/tensors';
import { inspectModelFile, type ModelFileInfo, type TensorInfo } from '../../lib/model-files/inspect';
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { float32ToFloat16Bits } from '../../lib/tools/convert/float';
import { WhisperError } from '../../lib/errors/whisper-error';
import { f16BitsToNumber } from '../support/f16';
import { sha256File as sha256, readRange } from '../support/files';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const TINY_EN_HEADER = path.join(MODELS, 'header-only-ggml-tiny.en.bin');
const SILERO = path.join(MODELS, 'ggml-silero-v6.2.0.bin');

const f16ToNumber = f16BitsToNumber;

async function tensorValues(file: string, t: TensorInfo): Promise<number[]> {
  const raw = await readRange(file, t.offset, t.byteLength);
  const out: number[] = [];
  if (t.typeName === 'f16') for (let i = 0; i < raw.length; i += 2) out.push(f16ToNumber(raw.readUInt16LE(i)));
  else if (t.typeName === 'f32') for (let i = 0; i < raw.length; i += 4) out.push(raw.readFloatLE(i));
  else throw new Error(`unexpected type ${t.typeName}`);
  return out;
}

function stats(values: number[]): { mean: number; std: number; min: number; max: number; finite: boolean } {
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  let finite = true;
  for (const v of values) {
    if (!Number.isFinite(v)) finite = false;
    sum += v;
    sq += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(sq / values.length - mean * mean), min, max, finite };
}

describe('float32ToFloat16Bits', () => {
  it('converts exactly representable values', () => {
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(0.5)).toBe(0x3800);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff); // largest half
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(float32ToFloat16Bits(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
  });

  it('rounds to nearest, ties to even', () => {
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // subnormal tie rounds to even 0
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // subnormal tie rounds to even 2
    expect(float32ToFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(float32ToFloat16Bits(2 ** -26)).toBe(0x0000);
    expect(float32ToFloat16Bits(0x3ff * 2 ** -24 + 2 ** -25 + 2 ** -30)).toBe(0x0400); // subnormal carries into normal
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff); // below the overflow tie
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // tie at the top rounds to infinity
  });

  it('handles infinities and NaN', () => {
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    const nan = float32ToFloat16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it('round-trips every finite half value', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (float32ToFloat16Bits(f16ToNumber(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });
});

describe('writeSyntheticModel', () => {
  let dir: string;
  let first: string;
  let info: ModelFileInfo;
  let firstHash: string;
  let generationMs: number;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-synthetic-'));
    first = path.join(dir, 'tiny.en-seed1.bin');
    const t0 = performance.now();
    info = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: first, seed: 1 });
    generationMs = performance.now() - t0;
    firstHash = await sha256(first);
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes a complete tiny.en model quickly', async () => {
    expect(generationMs).toBeLessThan(10_000);
    expect(info.path).toBe(first);
    expect(info.modelType).toBe('tiny');
    expect(info.multilingual).toBe(false);
    expect(info.weightType).toBe('f16');
    expect(info.hparams.ftype).toBe(1);

    // expected size, computed independently of the writer
    const source = await inspectModelFile(TINY_EN_HEADER, { checkTensors: false });
    const preamble = source.vocab.offset + source.vocab.byteLength;
    let size = preamble;
    for (const t of expectedTensors(info.hparams)) {
      size += 12 + 4 * t.shape.length + Buffer.byteLength(t.name) + ggmlTensorBytes(t.type, t.shape);
    }
    expect(info.fileSize).toBe(size);
    expect(fs.statSync(first).size).toBe(size);
    expect(size).toBe(77_705_316);

    // every expected tensor, in the loader's order, ending exactly at the end of the file
    const expected = expectedTensors(info.hparams);
    expect(info.tensors.map((t) => t.name)).toEqual(expected.map((t) => t.name));
    info.tensors.forEach((t, i) => {
      expect(t.shape).toEqual(expected[i].shape);
      expect(t.type).toBe(expected[i].type);
    });
    const last = info.tensors[info.tensors.length - 1];
    expect(last.offset + last.byteLength).toBe(info.fileSize);
    // no temporary files left behind
    expect(fs.readdirSync(dir)).toEqual([path.basename(first)]);
  });

  it('copies header, mel filters and vocab byte for byte', async () => {
    const source = await inspectModelFile(TINY_EN_HEADER, { checkTensors: false });
    const preamble = source.vocab.offset + source.vocab.byteLength;
    const a = await readRange(TINY_EN_HEADER, 0, preamble);
    const b = await readRange(first, 0, preamble);
    expect(b.equals(a)).toBe(true);
    expect(info.melFilters).toEqual(source.melFilters);
    expect(info.vocab).toEqual(source.vocab);
    expect(info.hparams).toEqual(source.hparams);
  });

  it('is deterministic: the same seed gives a byte-identical file', async () => {
    const again = path.join(dir, 'tiny.en-seed1-again.bin');
    await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: again, seed: 1 });
    expect(await sha256(again)).toBe(firstHash);
    // the default seed is 1, and a full model works as the header source too (only its preamble is copied)
    const fromModel = path.join(dir, 'tiny.en-from-model.bin');
    await writeSyntheticModel({ headerFrom: first, outPath: fromModel });
    expect(await sha256(fromModel)).toBe(firstHash);
    await fsp.rm(again);
    await fsp.rm(fromModel);
  });

  it('gives a different file for a different seed', async () => {
    const other = path.join(dir, 'tiny.en-seed2.bin');
    const info2 = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: other, seed: 2 });
    expect(info2.fileSize).toBe(info.fileSize);
    expect(info2.tensors).toEqual(info.tensors.map((t) => ({ ...t })));
    expect(await sha256(other)).not.toBe(firstHash);
    const t = info.tensors.find((x) => x.name === 'encoder.blocks.0.attn.query.weight')!;
    const a = await readRange(first, t.offset, 64);
    const b = await readRange(other, t.offset, 64);
    expect(a.equals(b)).toBe(false);
    await fsp.rm(other);
  });

  it('writes numerically sane weights', async () => {
    const get = (name: string): TensorInfo => info.tensors.find((t) => t.name === name)!;

    for (const name of ['encoder.ln_post.weight', 'decoder.blocks.2.cross_attn_ln.weight', 'encoder.blocks.0.mlp_ln.weight']) {
      expect(new Set(await tensorValues(first, get(name)))).toEqual(new Set([1]));
    }
    for (const name of ['encoder.ln_post.bias', 'decoder.ln.bias', 'decoder.blocks.3.attn_ln.bias']) {
      expect(new Set(await tensorValues(first, get(name)))).toEqual(new Set([0]));
    }
    for (const name of ['encoder.blocks.1.mlp.0.weight', 'decoder.blocks.0.cross_attn.key.weight', 'encoder.conv1.weight']) {
      const s = stats(await tensorValues(first, get(name)));
      expect(s.finite).toBe(true);
      expect(Math.abs(s.mean)).toBeLessThan(0.002);
      expect(s.std).toBeGreaterThan(0.018);
      expect(s.std).toBeLessThan(0.022);
      expect(Math.max(-s.min, s.max)).toBeLessThan(0.08);
    }
    const pe = stats(await tensorValues(first, get('encoder.positional_embedding')));
    expect(pe.finite).toBe(true);
    expect(pe.std).toBeLessThan(0.02);
    const bias = stats(await tensorValues(first, get('decoder.blocks.1.mlp.0.bias')));
    expect(bias.finite).toBe(true);
    expect(bias.std).toBeLessThan(0.02);
  });

  it("writes an all-f32 model with ftype 0 when weightType is 'f32'", async () => {
    const out = path.join(dir, 'tiny.en-f32.bin');
    const f32 = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: out, seed: 1, weightType: 'f32' });
    try {
      expect(f32.hparams.ftype).toBe(0);
      expect(f32.weightType).toBe('f32');
      expect(f32.tensors.every((t) => t.typeName === 'f32')).toBe(true);
      expect(f32.tensorBytes).toBe(info.tensorBytes + (info.tensorBytes - info.tensors.filter((t) => t.type === 0).reduce((a, t) => a + t.byteLength, 0)));
      // only the ftype field (bytes 44..47) differs from the source preamble
      const source = await inspectModelFile(TINY_EN_HEADER, { checkTensors: false });
      const preamble = source.vocab.offset + source.vocab.byteLength;
      const a = await readRange(TINY_EN_HEADER, 0, preamble);
      const b = await readRange(out, 0, preamble);
      expect(b.readInt32LE(44)).toBe(0);
      a.writeInt32LE(0, 44);
      expect(b.equals(a)).toBe(true);
      // the f32 matrices hold the same values the f16 model rounds to f16
      const t16 = info.tensors.find((t) => t.name === 'encoder.blocks.0.attn.out.weight')!;
      const t32 = f32.tensors.find((t) => t.name === 'encoder.blocks.0.attn.out.weight')!;
      const v16 = await readRange(first, t16.offset, 2 * 256);
      const v32 = await readRange(out, t32.offset, 4 * 256);
      for (let i = 0; i < 256; i++) expect(float32ToFloat16Bits(v32.readFloatLE(4 * i))).toBe(v16.readUInt16LE(2 * i));
    } finally {
      await fsp.rm(out, { force: true });
    }
  });

  it('rejects bad options and bad header sources without leaving files behind', async () => {
    const out = path.join(dir, 'never.bin');
    const attempts: Array<[Promise<unknown>, string]> = [
      [writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: out, weightType: 'q8' as unknown as 'f16' }), 'INVALID_ARGUMENT'],
      [writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: out, seed: 1.5 }), 'INVALID_ARGUMENT'],
      [writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: '' }), 'INVALID_ARGUMENT'],
      [writeSyntheticModel({ headerFrom: path.join(dir, 'missing.bin'), outPath: out }), 'MODEL_NOT_FOUND'],
      [writeSyntheticModel({ headerFrom: SILERO, outPath: out }), 'INVALID_MODEL'],
    ];
    for (const [attempt, code] of attempts) {
      let error: unknown;
      await attempt.catch((err: unknown) => {
        error = err;
      });
      expect(error).toBeInstanceOf(WhisperError);
      expect((error as WhisperError).code).toBe(code);
    }
    // an output folder that does not exist
    const noDir = path.join(dir, 'no', 'such', 'dir.bin');
    const err = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: noDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperError);
    expect((err as WhisperError).code).toBe('INVALID_ARGUMENT');
    expect((err as WhisperError).message).toContain(noDir);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(first)]);
  });
});
