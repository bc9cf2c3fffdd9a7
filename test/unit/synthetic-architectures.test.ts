/**
 * writeSyntheticModel({ architecture }) for every standard Whisper architecture (f16/f32; the
 * quantized weight types need the addon and are in test/native/synthetic-quantized.test.ts).
 *
 * What is written for real: tiny, tiny.en, base, base.en and small (77 to 487 MB, a few seconds
 * each on 2 cores). medium and large (1.5 to 3 GB in f16) are checked through their plan: the
 * tensor table and file size are compared with an independent computation, and a sparse
 * "skeleton" file (preamble and tensor headers at the planned offsets, holes for the data) goes
 * through inspectModelFile's full tensor-table check. WHISPER_NAPI_HEAVY_TESTS=1 also writes and
 * inspects large-v3-turbo in f16 (1.6 GB, about half a minute).
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES, ARCHITECTURE_NAMES, type ArchitectureName } from '../../lib/model-files/architectures';
import { WHISPER_N_FFT_BINS, whisperMelFilters } from '../../lib/model-files/mel-filters';
import { ggmlTensorBytes } from '../../lib/model-files/ggml-format';
import { expectedTensors, parameterCount } from '../../lib/model-files/tensors';
import { inspectModelFile } from '../../lib/model-files/inspect';
import { SYNTHETIC_WEIGHT_TYPES, byteLevelVocab, planSyntheticModel, writeSyntheticModel, type SyntheticWeightType } from '../../lib/tools/synthetic-model';
import { rejectedWhisperError } from '../support/errors';
import { writeSkeletonModel } from '../support/model-skeleton';
import { SHARED } from '../support/paths';
import { readVocabBytes } from '../support/vocab';
import { sha256File as sha256 } from '../support/files';

const TINY_EN_HEADER = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');
const BASE_HEADER = path.join(SHARED, 'models', 'header-only-ggml-base.bin');
const HEAVY = process.env.WHISPER_NAPI_HEAVY_TESTS === '1';

const FTYPE: Record<SyntheticWeightType, number> = { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 7, q5_0: 8, q5_1: 9 };

/** File size computed from the format description, independently of the writer. */
function expectedSize(arch: ArchitectureName, weightType: SyntheticWeightType, vocab: Uint8Array[]): number {
  const hp = { ...ARCHITECTURES[arch].hparams, ftype: FTYPE[weightType], quantizationVersion: 0 };
  let size = 48 + 8 + 4 * hp.nMels * 201 + 4;
  for (const token of vocab) size += 4 + token.length;
  for (const t of expectedTensors(hp)) size += 12 + 4 * t.shape.length + t.name.length + ggmlTensorBytes(t.type, t.shape);
  return size;
}

describe('the architecture table', () => {
  it("has OpenAI's hyperparameters", () => {
    const dims = (a: ArchitectureName) => {
      const h = ARCHITECTURES[a].hparams;
      return [h.nVocab, h.nMels, h.nAudioState, h.nAudioHead, h.nAudioLayer, h.nTextState, h.nTextHead, h.nTextLayer];
    };
    expect(dims('tiny.en')).toEqual([51864, 80, 384, 6, 4, 384, 6, 4]);
    expect(dims('tiny')).toEqual([51865, 80, 384, 6, 4, 384, 6, 4]);
    expect(dims('base')).toEqual([51865, 80, 512, 8, 6, 512, 8, 6]);
    expect(dims('small.en')).toEqual([51864, 80, 768, 12, 12, 768, 12, 12]);
    expect(dims('medium')).toEqual([51865, 80, 1024, 16, 24, 1024, 16, 24]);
    expect(dims('large-v2')).toEqual([51865, 80, 1280, 20, 32, 1280, 20, 32]);
    expect(dims('large-v3')).toEqual([51866, 128, 1280, 20, 32, 1280, 20, 32]);
    expect(dims('large-v3-turbo')).toEqual([51866, 128, 1280, 20, 32, 1280, 20, 4]);
    for (const name of ARCHITECTURE_NAMES) {
      expect(ARCHITECTURES[name].hparams.nAudioCtx).toBe(1500);
      expect(ARCHITECTURES[name].hparams.nTextCtx).toBe(448);
      expect(ARCHITECTURES[name].multilingual).toBe(!name.endsWith('.en'));
    }
  });

  it('parameter counts: every tensor whisper.cpp loads (near the published 39M, 74M, 244M, 769M, 1550M, 809M)', () => {
    const millions = (a: ArchitectureName) => Math.round(parameterCount(ARCHITECTURES[a].hparams) / 1e6);
    expect(millions('tiny')).toBe(38);
    expect(millions('base')).toBe(73);
    expect(millions('small')).toBe(242);
    expect(millions('medium')).toBe(764);
    expect(millions('large-v3')).toBe(1543);
    expect(millions('large-v3-turbo')).toBe(809);
  });
});

describe('byteLevelVocab', () => {
  it("is the 256 bytes in GPT-2's bytes_to_unicode order, as the first 256 ids of the real vocabulary", async () => {
    const vocab = byteLevelVocab();
    expect(vocab).toHaveLength(256);
    expect(vocab.every((t) => t.length === 1)).toBe(true);
    expect(new Set(vocab.map((t) => t[0])).size).toBe(256);
    const order = vocab.map((t) => t[0]);
    expect(order.slice(0, 4)).toEqual([0x21, 0x22, 0x23, 0x24]);
    expect(order.slice(93, 96)).toEqual([0x7e, 0xa1, 0xa2]);
    expect(order.slice(186, 190)).toEqual([0xfe, 0xff, 0x00, 0x01]);
    expect(order.slice(219, 224)).toEqual([0x1f, 0x20, 0x7f, 0x80, 0x81]);
    expect(order.slice(253, 256)).toEqual([0x9f, 0xa0, 0xad]);
    // whisper.cpp's converter stored the non-UTF-8 single bytes (0x80..0xff) of the real files as
    // U+FFFD; every other one of the first 256 tokens is exactly our byte
    for (const file of [TINY_EN_HEADER, BASE_HEADER]) {
      const real = (await readVocabBytes(file)).slice(0, 256);
      real.forEach((token, i) => {
        if (token.equals(Buffer.from([0xef, 0xbf, 0xbd]))) expect(order[i]).toBeGreaterThanOrEqual(0x80);
        else expect([...token]).toEqual([order[i]]);
      });
    }
  });
});

describe('planSyntheticModel: every architecture and weight type', () => {
  for (const arch of ARCHITECTURE_NAMES) {
    it(`${arch}`, async () => {
      for (const weightType of SYNTHETIC_WEIGHT_TYPES) {
        const plan = await planSyntheticModel({ architecture: arch, weightType, outPath: 'unused' });
        const quantized = weightType !== 'f16' && weightType !== 'f32';
        expect(plan.hparams).toEqual({ ...ARCHITECTURES[arch].hparams, ftype: FTYPE[weightType], quantizationVersion: quantized ? 2 : 0 });
        const expected = expectedTensors(plan.hparams);
        expect(plan.tensors.map(({ name, shape, type }) => ({ name, shape, type }))).toEqual(expected);
        const headerFtype = plan.preamble.readInt32LE(44);
        expect(headerFtype).toBe((quantized ? 2000 : 0) + FTYPE[weightType]);
        expect(plan.fileSize).toBe(expectedSize(arch, weightType, byteLevelVocab()));
        const last = plan.tensors[plan.tensors.length - 1];
        expect(last.offset + last.byteLength).toBe(plan.fileSize);
      }
    });
  }

  it('published sizes: large-v3 q5_0 is 1.08 GB, turbo f16 1.62 GB, large-v3 f16 3.10 GB', async () => {
    const size = async (architecture: ArchitectureName, weightType: SyntheticWeightType) =>
      (await planSyntheticModel({ architecture, weightType, outPath: 'unused', vocabFrom: BASE_HEADER })).fileSize;
    expect((await size('large-v3', 'q5_0')) / 1e9).toBeCloseTo(1.08, 2);
    expect((await size('large-v3-turbo', 'f16')) / 1e9).toBeCloseTo(1.62, 2);
    expect((await size('large-v3', 'f16')) / 1e9).toBeCloseTo(3.1, 2);
  });

  it('large-v3: a 128-mel header with the computed Slaney filters and n_vocab 51866', async () => {
    const plan = await planSyntheticModel({ architecture: 'large-v3', outPath: 'unused', vocabFrom: BASE_HEADER });
    const p = plan.preamble;
    expect(p.readUInt32LE(0)).toBe(0x67676d6c);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => p.readInt32LE(4 * i))).toEqual([51866, 1500, 1280, 20, 32, 448, 1280, 20, 32, 128, 1]);
    expect(p.readInt32LE(48)).toBe(128);
    expect(p.readInt32LE(52)).toBe(WHISPER_N_FFT_BINS);
    const filters = new Float32Array(128 * 201);
    for (let i = 0; i < filters.length; i++) filters[i] = p.readFloatLE(56 + 4 * i);
    expect(filters).toEqual(whisperMelFilters(128));
    const vocabAt = 56 + 4 * 128 * 201;
    const baseVocab = await readVocabBytes(BASE_HEADER);
    expect(p.readInt32LE(vocabAt)).toBe(baseVocab.length);
    expect(p.length).toBe(vocabAt + 4 + baseVocab.reduce((a, t) => a + 4 + t.length, 0));
  });
});

describe('writeSyntheticModel({ architecture })', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-arch-'));
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  for (const arch of ['tiny', 'tiny.en', 'base', 'base.en', 'small'] as const) {
    it(`${arch} f16: written for real, passes inspectModelFile`, async () => {
      const out = path.join(dir, `${arch}.bin`);
      const plan = await planSyntheticModel({ architecture: arch, outPath: out });
      const info = await writeSyntheticModel({ architecture: arch, outPath: out, seed: 3 });
      const again = await inspectModelFile(out, { checkTensors: true });
      expect(again).toEqual(info);
      expect(info.architecture).toBe(arch);
      expect(info.weightType).toBe('f16');
      expect(info.fileSize).toBe(plan.fileSize);
      expect(info.fileSize).toBe(expectedSize(arch, 'f16', byteLevelVocab()));
      expect(info.vocab.count).toBe(256);
      expect(info.nMels).toBe(80);
      expect(info.multilingual).toBe(ARCHITECTURES[arch].multilingual);
      expect(info.tensors.map((t) => t.name)).toEqual(plan.tensors.map((t) => t.name));
      expect(fs.readdirSync(dir)).toEqual([`${arch}.bin`]);
      await fsp.rm(out);
    });
  }

  it.runIf(HEAVY)(
    'large-v3-turbo f16 (1.6 GB): written for real, passes inspectModelFile',
    async () => {
      const out = path.join(dir, 'turbo.bin');
      const t0 = performance.now();
      const info = await writeSyntheticModel({ architecture: 'large-v3-turbo', outPath: out, vocabFrom: BASE_HEADER });
      console.log(`large-v3-turbo f16: ${(info.fileSize / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(info.architecture).toBe('large-v3-turbo');
      expect(info.nMels).toBe(128);
      expect(info.fileSize).toBe(expectedSize('large-v3-turbo', 'f16', await readVocabBytes(BASE_HEADER)));
      await fsp.rm(out);
    },
    600_000,
  );

  it('medium, large-v1/v2/v3 and turbo: the tensor table passes inspectModelFile (sparse skeleton files)', async () => {
    for (const arch of ['small.en', 'medium', 'medium.en', 'large-v1', 'large-v2', 'large-v3', 'large-v3-turbo'] as const) {
      for (const weightType of ['f16', 'q5_0'] as const) {
        const out = path.join(dir, `${arch}-${weightType}-skeleton.bin`);
        const plan = await planSyntheticModel({ architecture: arch, weightType, outPath: out });
        await writeSkeletonModel(plan, out);
        const info = await inspectModelFile(out, { checkTensors: true });
        expect(info.architecture).toBe(arch.startsWith('large-v1') || arch.startsWith('large-v2') ? 'large-v1/v2' : arch);
        expect(info.weightType).toBe(weightType);
        expect(info.fileSize).toBe(plan.fileSize);
        expect(info.tensors).toHaveLength(plan.tensors.length);
        expect(info.parameterCount).toBe(parameterCount(ARCHITECTURES[arch].hparams));
        await fsp.rm(out);
      }
    }
  });

  it('tiny.en with the vocabulary of the real header-only file: the same bytes as writing from that header', async () => {
    const fromArch = path.join(dir, 'arch.bin');
    const fromHeader = path.join(dir, 'header.bin');
    await writeSyntheticModel({ architecture: 'tiny.en', vocabFrom: TINY_EN_HEADER, outPath: fromArch, seed: 5 });
    await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: fromHeader, seed: 5 });
    expect(await sha256(fromArch)).toBe(await sha256(fromHeader));
    await fsp.rm(fromArch);
    await fsp.rm(fromHeader);
  });

  it('same seed, same bytes; another seed, other weights', async () => {
    const a = path.join(dir, 'a.bin');
    const b = path.join(dir, 'b.bin');
    const c = path.join(dir, 'c.bin');
    await writeSyntheticModel({ architecture: 'tiny', outPath: a, seed: 7, weightType: 'f32' });
    await writeSyntheticModel({ architecture: 'tiny', outPath: b, seed: 7, weightType: 'f32' });
    await writeSyntheticModel({ architecture: 'tiny', outPath: c, seed: 8, weightType: 'f32' });
    const [ha, hb, hc] = await Promise.all([a, b, c].map(sha256));
    expect(hb).toBe(ha);
    expect(hc).not.toBe(ha);
    expect(fs.statSync(c).size).toBe(fs.statSync(a).size);
    const info = await inspectModelFile(a);
    expect(info.weightType).toBe('f32');
    expect(info.hparams.ftype).toBe(0);
    await Promise.all([a, b, c].map((f) => fsp.rm(f)));
  });

  it('reports progress up to the file size', async () => {
    const out = path.join(dir, 'progress.bin');
    const seen: number[] = [];
    const totals = new Set<number>();
    const info = await writeSyntheticModel({
      architecture: 'tiny.en',
      outPath: out,
      onProgress: ({ bytesWritten, bytesTotal }) => {
        totals.add(bytesTotal);
        seen.push(bytesWritten);
      },
    });
    expect([...totals]).toEqual([info.fileSize]);
    expect(seen[seen.length - 1]).toBe(info.fileSize);
    expect([...seen].sort((x, y) => x - y)).toEqual(seen);
    await fsp.rm(out);
  });

  it('rejects bad options with INVALID_ARGUMENT naming the option, and leaves no file', async () => {
    const out = path.join(dir, 'never.bin');
    const cases: Array<[() => Promise<unknown>, string, RegExp]> = [
      [
        () => writeSyntheticModel({ architecture: 'huge' as 'tiny', outPath: out }),
        'INVALID_ARGUMENT',
        /^options\.architecture: expected one of 'tiny', 'tiny.en', .* got "huge"/,
      ],
      [
        () => writeSyntheticModel({ architecture: 'tiny', headerFrom: TINY_EN_HEADER, outPath: out } as unknown as Parameters<typeof writeSyntheticModel>[0]),
        'INVALID_ARGUMENT',
        /^options\.headerFrom: /,
      ],
      [
        () => writeSyntheticModel({ headerFrom: TINY_EN_HEADER, vocabFrom: TINY_EN_HEADER, outPath: out } as unknown as Parameters<typeof writeSyntheticModel>[0]),
        'INVALID_ARGUMENT',
        /^options\.vocabFrom: /,
      ],
      [() => writeSyntheticModel({ outPath: out } as unknown as Parameters<typeof writeSyntheticModel>[0]), 'INVALID_ARGUMENT', /^options\.headerFrom: /],
      [
        () => writeSyntheticModel({ architecture: 'tiny', outPath: out, weightType: 'q3_k' as 'f16' }),
        'INVALID_ARGUMENT',
        /^options\.weightType: expected one of 'f16', 'f32', 'q8_0', 'q5_0', 'q5_1', 'q4_0', 'q4_1', got "q3_k"/,
      ],
      [
        () => writeSyntheticModel({ architecture: 'large-v3', vocabFrom: TINY_EN_HEADER, outPath: out }),
        'INVALID_ARGUMENT',
        /^options\.vocabFrom: .* English-only vocabulary .* large-v3 is multilingual/,
      ],
      [
        () => writeSyntheticModel({ architecture: 'base.en', vocabFrom: BASE_HEADER, outPath: out }),
        'INVALID_ARGUMENT',
        /^options\.vocabFrom: .* multilingual vocabulary .* base\.en is English-only/,
      ],
      [() => writeSyntheticModel({ architecture: 'tiny', vocabFrom: path.join(dir, 'missing.bin'), outPath: out }), 'MODEL_NOT_FOUND', /not found/],
      [() => writeSyntheticModel({ architecture: 'tiny', vocabFrom: '', outPath: out }), 'INVALID_ARGUMENT', /^options\.vocabFrom: /],
      [() => writeSyntheticModel({ architecture: 'tiny', outPath: path.join(dir, 'no', 'dir.bin') }), 'INVALID_ARGUMENT', /^options\.outPath: cannot write/],
    ];
    for (const [attempt, code, message] of cases) {
      const error = await rejectedWhisperError(attempt());
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
