/** Model information from headers alone: inspectModelFile's architecture fields and readModelInfo. */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES, ARCHITECTURE_NAMES, identifyArchitecture, matchingArchitectures, type ArchitectureName } from '../../lib/model-files/architectures';
import { type WhisperHparams } from '../../lib/model-files/hparams';
import { parameterCount } from '../../lib/model-files/tensors';
import { inspectModelFile } from '../../lib/model-files/inspect';
import { readModelInfo } from '../../lib/model-files/summary';
import { planSyntheticModel, writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { rejectedWhisperError } from '../support/errors';
import { writeSkeletonModel } from '../support/model-skeleton';
import { SHARED } from '../support/paths';

const MODELS = path.join(SHARED, 'models');
const TINY_EN_HEADER = path.join(MODELS, 'header-only-ggml-tiny.en.bin');
const BASE_HEADER = path.join(MODELS, 'header-only-ggml-base.bin');

/** Parameter count from the architecture's formula, independently of expectedTensors. */
function formulaParameters(a: ArchitectureName): number {
  const h = ARCHITECTURES[a].hparams;
  const d = h.nAudioState;
  const attention = 4 * d * d + 3 * d; // q, k, v, out weights; q, v, out biases
  const mlp = 8 * d * d + 5 * d; // d -> 4d -> d with biases
  const norm = 2 * d;
  const encoderBlock = norm + attention + norm + mlp;
  const decoderBlock = encoderBlock + norm + attention;
  const encoder = h.nAudioCtx * d + 3 * h.nMels * d + d + 3 * d * d + d + norm + h.nAudioLayer * encoderBlock;
  const decoder = h.nTextCtx * d + h.nVocab * d + norm + h.nTextLayer * decoderBlock;
  return encoder + decoder;
}

describe('identifyArchitecture', () => {
  it('names every architecture from its hparams, whatever the weight type', () => {
    for (const name of ARCHITECTURE_NAMES) {
      const hp: WhisperHparams = { ...ARCHITECTURES[name].hparams, ftype: 8, quantizationVersion: 2 };
      const expected = name === 'large-v1' || name === 'large-v2' ? 'large-v1/v2' : name;
      expect(identifyArchitecture(hp)).toBe(expected);
      expect(matchingArchitectures(hp)).toEqual(expected === 'large-v1/v2' ? ['large-v1', 'large-v2'] : [name]);
    }
  });

  it("is 'unknown' for shapes no standard model has (distil-large-v3: 2 decoder layers; a changed context)", () => {
    expect(identifyArchitecture({ ...ARCHITECTURES['large-v3'].hparams, nTextLayer: 2 })).toBe('unknown');
    expect(identifyArchitecture({ ...ARCHITECTURES['tiny.en'].hparams, nAudioCtx: 750 })).toBe('unknown');
    expect(identifyArchitecture({ ...ARCHITECTURES['base'].hparams, nVocab: 51866 })).toBe('unknown');
  });

  it('parameterCount agrees with the architecture formula', () => {
    for (const name of ARCHITECTURE_NAMES) expect(parameterCount(ARCHITECTURES[name].hparams)).toBe(formulaParameters(name));
    expect(parameterCount(ARCHITECTURES['tiny.en'].hparams)).toBe(37_760_256);
    expect(parameterCount(ARCHITECTURES['large-v3'].hparams)).toBe(1_543_490_560);
  });
});

describe('inspectModelFile: architecture fields', () => {
  it('header-only files', async () => {
    const tiny = await inspectModelFile(TINY_EN_HEADER, { checkTensors: false });
    expect(tiny).toMatchObject({
      architecture: 'tiny.en',
      modelType: 'tiny',
      multilingual: false,
      nMels: 80,
      parameterCount: 37_760_256,
      weightType: 'f16',
      fileSize: fs.statSync(TINY_EN_HEADER).size,
    });
    const base = await inspectModelFile(BASE_HEADER, { checkTensors: false });
    expect(base).toMatchObject({ architecture: 'base', multilingual: true, nMels: 80, parameterCount: formulaParameters('base') });
  });
});

describe('readModelInfo', () => {
  let dir: string;
  let model: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-info-'));
    model = path.join(dir, 'tiny.en.bin');
    await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: model });
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it('summarises a complete model', async () => {
    const info = await readModelInfo(model);
    const full = await inspectModelFile(model);
    expect(info).toEqual({
      path: model,
      fileSize: full.fileSize,
      architecture: 'tiny.en',
      modelType: 'tiny',
      multilingual: false,
      nMels: 80,
      weightType: 'f16',
      parameterCount: 37_760_256,
      hparams: full.hparams,
      tensorCount: 4 * 15 + 7 + 4 * 24 + 4,
      tensorBytes: full.tensorBytes,
    });
    expect(info.hparams).toMatchObject({ ftype: 1, quantizationVersion: 0 });
    expect(full.tensorCount).toBe(full.tensors.length);
    expect(info.problem).toBeUndefined();
  });

  it('reads only headers: a 3 GB large-v3 layout (a sparse file) in well under a second', async () => {
    const file = path.join(dir, 'large-v3-skeleton.bin');
    const plan = await planSyntheticModel({ architecture: 'large-v3', outPath: file, vocabFrom: BASE_HEADER });
    await writeSkeletonModel(plan, file);
    const t0 = performance.now();
    const info = await readModelInfo(file);
    const ms = performance.now() - t0;
    expect(info).toMatchObject({
      architecture: 'large-v3',
      modelType: 'large',
      multilingual: true,
      nMels: 128,
      weightType: 'f16',
      parameterCount: 1_543_490_560,
      tensorCount: plan.tensors.length,
      fileSize: plan.fileSize,
    });
    expect(info.problem).toBeUndefined();
    expect(ms).toBeLessThan(1000);
    await fsp.rm(file);
  });

  it('still describes a header-only or truncated file, saying what is wrong', async () => {
    const header = await readModelInfo(TINY_EN_HEADER);
    expect(header).toMatchObject({ architecture: 'tiny.en', weightType: 'f16', tensorCount: 0, tensorBytes: 0, parameterCount: 37_760_256 });
    expect(header.problem).toMatch(/header-only/);

    const truncated = path.join(dir, 'truncated.bin');
    const fh = await fsp.open(model, 'r');
    const part = Buffer.alloc(20_000_000);
    await fh.read(part, 0, part.length, 0);
    await fh.close();
    await fsp.writeFile(truncated, part);
    const cut = await readModelInfo(truncated);
    expect(cut).toMatchObject({ architecture: 'tiny.en', fileSize: 20_000_000, tensorCount: 0 });
    expect(cut.problem).toMatch(/truncated/);
  });

  it('throws for files that are not whisper models, or missing', async () => {
    const silero = await rejectedWhisperError(readModelInfo(path.join(MODELS, 'ggml-silero-v6.2.0.bin')));
    expect(silero.code).toBe('INVALID_MODEL');
    expect(silero.message).toMatch(/voice-activity-detection/);
    const missing = await rejectedWhisperError(readModelInfo(path.join(dir, 'missing.bin')));
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    const bad = await rejectedWhisperError(readModelInfo(''));
    expect(bad.code).toBe('INVALID_ARGUMENT');
  });
});
