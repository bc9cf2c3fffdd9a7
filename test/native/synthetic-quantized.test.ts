/**
 * Synthetic models with quantized weights (generated as f16, quantized by ggml through the addon,
 * chunk by chunk): identical to quantizing the f16 synthetic model, loadable and runnable.
 * WHISPER_NAPI_HEAVY_TESTS=1 also writes a large-v3 q5_0 model (1.08 GB, about a minute on 2 cores)
 * and loads it.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel } from '../../lib';
import { inspectModelFile } from '../../lib/model-files/inspect';
import { QUANTIZATION_TYPES, quantizeModel } from '../../lib/tools/quantize';
import { planSyntheticModel, writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { SHARED } from '../support/paths';
import { sha256File as sha256 } from '../support/files';

const execFileAsync = promisify(execFile);
const TINY_EN_HEADER = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');
const BASE_HEADER = path.join(SHARED, 'models', 'header-only-ggml-base.bin');
const CARDS_WAV = path.join(SHARED, 'audio', 'cards', '002.wav');
const HEAVY = process.env.WHISPER_NAPI_HEAVY_TESTS === '1';

describe('quantized synthetic models', () => {
  const f16Model = inject('syntheticTinyEn'); // headerFrom tiny.en, seed 1, f16
  let dir: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(inject('workDir'), 'synthetic-q-'));
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  for (const type of QUANTIZATION_TYPES) {
    it(`${type}: byte-identical to quantizing the f16 synthetic model with the same seed`, async () => {
      const synthesized = path.join(dir, `synth-${type}.bin`);
      const quantized = path.join(dir, `quant-${type}.bin`);
      const info = await writeSyntheticModel({ headerFrom: TINY_EN_HEADER, outPath: synthesized, seed: 1, weightType: type });
      await quantizeModel({ inPath: f16Model, outPath: quantized, type });
      expect(info.weightType).toBe(type);
      expect(await sha256(synthesized)).toBe(await sha256(quantized));
      if (type === 'q5_0') {
        // and therefore to whisper.cpp's own tool
        const tool = path.join(dir, 'tool-q5_0.bin');
        await execFileAsync(inject('whisperQuantize'), [f16Model, tool, 'q5_0'], { maxBuffer: 64 * 1024 * 1024 });
        expect(await sha256(tool)).toBe(await sha256(synthesized));
        await fsp.rm(tool);
      }
      await fsp.rm(synthesized);
      await fsp.rm(quantized);
    });
  }

  it('a q5_0 tiny (multilingual, 256-token vocabulary) loads and transcribes', async () => {
    const out = path.join(dir, 'tiny-q5_0.bin');
    const info = await writeSyntheticModel({ architecture: 'tiny', outPath: out, seed: 2, weightType: 'q5_0' });
    expect(info).toMatchObject({ architecture: 'tiny', weightType: 'q5_0', multilingual: true });
    await using model = await loadModel(out);
    expect(model.info).toMatchObject({ modelType: 'tiny', weightType: 'q5_0', multilingual: true, hparams: { nVocab: 51865 } });
    // random weights: the text is nonsense (random bytes may read as a "(…)" caption), but the whole pipeline runs
    const transcript = await model.transcribe(CARDS_WAV, { language: 'en', threads: 2, temperatureIncrement: 0, noTimestamps: true, keepNonSpeech: true });
    expect(transcript.segments.length).toBeGreaterThan(0);
    expect(transcript.language).toBe('en');
    await model.dispose();
    await fsp.rm(out);
  });

  it('a q8_0 base with the real multilingual vocabulary loads, without blocking the event loop while it is written', async () => {
    const out = path.join(dir, 'base-q8_0.bin');
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    let info;
    try {
      info = await writeSyntheticModel({ architecture: 'base', vocabFrom: BASE_HEADER, outPath: out, seed: 1, weightType: 'q8_0' });
    } finally {
      clearInterval(timer);
    }
    console.log(`base q8_0 synthesis: longest event-loop stall ${worstGap.toFixed(0)} ms`);
    expect(worstGap).toBeLessThan(250);
    expect(info).toMatchObject({ architecture: 'base', weightType: 'q8_0', nMels: 80 });
    expect(info.fileSize).toBe((await planSyntheticModel({ architecture: 'base', vocabFrom: BASE_HEADER, outPath: out, weightType: 'q8_0' })).fileSize);
    await using model = await loadModel(out);
    expect(model.info).toMatchObject({ modelType: 'base', weightType: 'q8_0', multilingual: true, hparams: { nAudioLayer: 6, nTextLayer: 6 } });
    await model.dispose();
    await fsp.rm(out);
  });

  it.runIf(HEAVY)('large-v3 q5_0 (1.08 GB) is written without an f16 intermediate, passes inspectModelFile and loads', async () => {
    const out = path.join(dir, 'large-v3-q5_0.bin');
    const t0 = performance.now();
    const info = await writeSyntheticModel({ architecture: 'large-v3', vocabFrom: BASE_HEADER, outPath: out, weightType: 'q5_0' });
    console.log(`large-v3 q5_0: ${(info.fileSize / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(info).toMatchObject({ architecture: 'large-v3', weightType: 'q5_0', nMels: 128 });
    expect((await inspectModelFile(out)).tensorBytes).toBe(info.tensorBytes);
    await using model = await loadModel(out);
    expect(model.info).toMatchObject({ modelType: 'large', weightType: 'q5_0', nMels: 128, hparams: { nVocab: 51866 } });
    await model.dispose();
    await fsp.rm(out);
  });
});
