/**
 * Memory queries through the native layer, checked against the planner, which loads nothing: on
 * synthetic tiny .. large-v3 models (f16 for tiny, q5_0 above to save time and disk), flash attention
 * on and off, every figure agrees within 10 %. A beam-search job grows the self-attention KV cache the
 * way whisper_full does, and the report follows. With word timestamps (DTW alignment heads) the
 * decode buffer and the DTW bytes agree as well.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getDevices } from '../../lib';
import { modelMemory, stateMemory } from '../../lib/model/memory';
import { native } from '../../lib/native/addon';
import type { NativeModel } from '../../lib/native/native-api';
import { resolveTranscribeOptions } from '../../lib/transcription/options';
import { dtwMemoryBytes, estimateMemory, kvCacheBytes } from '../../lib/model/planner';
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { alignmentHeadsFor, type ArchitectureName } from '../../lib/model-files/architectures';
import { inspectModelFile } from '../../lib/model-files/inspect';

const CASES: Array<{ architecture: ArchitectureName; weightType: 'f16' | 'q5_0' }> = [
  { architecture: 'tiny', weightType: 'f16' },
  { architecture: 'base', weightType: 'q5_0' },
  { architecture: 'small', weightType: 'q5_0' },
  { architecture: 'medium', weightType: 'q5_0' },
  { architecture: 'large-v3', weightType: 'q5_0' },
];

const within = (measured: number, estimated: number, label: string): void => {
  expect(measured, label).toBeGreaterThan(0);
  const ratio = estimated / measured;
  expect(ratio, `${label}: estimated ${estimated} vs measured ${measured}`).toBeGreaterThan(0.9);
  expect(ratio, `${label}: estimated ${estimated} vs measured ${measured}`).toBeLessThan(1.1);
};

let dir: string;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(inject('workDir'), 'memory-'));
});

afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('getDevices', () => {
  it('reports numeric free and total memory for every ggml device', () => {
    const devices = getDevices();
    expect(devices.length).toBeGreaterThan(0);
    for (const device of devices) {
      expect(Number.isSafeInteger(device.freeBytes), device.name).toBe(true);
      expect(Number.isSafeInteger(device.totalBytes), device.name).toBe(true);
      expect(device.totalBytes).toBeGreaterThan(0);
      expect(device.freeBytes).toBeLessThanOrEqual(device.totalBytes);
    }
  });
});

describe.each(CASES)('$architecture $weightType: native figures vs the planner', ({ architecture, weightType }) => {
  let file: string;

  beforeAll(async () => {
    file = path.join(dir, `${architecture}-${weightType}.bin`);
    await writeSyntheticModel({ architecture, outPath: file, weightType, seed: 7 });
  });

  afterAll(async () => {
    await fsp.rm(file, { force: true });
  });

  it.each([true, false])('flash attention %s: weights, each state component and totals within 10 percent', async (flashAttn) => {
    const model = await native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn });
    try {
      const state = await model.createState();
      const report = modelMemory(model, [state]);
      // A fresh state has run no job: plan for one decoder.
      const estimate = await estimateMemory({ model: file, flashAttention: flashAttn, temperatureFallback: false });

      expect(report.weights.buffers.map((b) => b.buffer)).toContain('CPU');
      within(report.weights.total, estimate.weightsBytes, 'weights');
      const measured = report.states[0];
      expect(measured.decoders).toBe(1);
      within(measured.kvSelf, estimate.perState.kvSelf, 'kvSelf');
      within(measured.kvCross, estimate.perState.kvCross, 'kvCross');
      within(measured.kvPad, estimate.perState.kvPad, 'kvPad');
      for (const key of ['conv', 'encode', 'cross', 'decode'] as const) {
        within(measured.compute[key], estimate.perState.compute[key], `compute.${key}`);
      }
      within(measured.total, estimate.perState.total, 'state total');
      within(report.total, estimate.totalBytes, 'total');
      // The KV figures are exact by construction; whisper.cpp's log rounds them to 10 kB.
      expect(Math.abs(measured.kvSelf - estimate.perState.kvSelf)).toBeLessThanOrEqual(5_000);
      state.dispose();
      expect(() => stateMemory(state)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    } finally {
      model.dispose();
    }
  });
});

describe('self-attention KV growth after a job', () => {
  let file: string;
  let model: NativeModel;

  beforeAll(async () => {
    file = path.join(dir, 'tiny-growth.bin');
    await writeSyntheticModel({ architecture: 'tiny', outPath: file, weightType: 'f16', seed: 3 });
    model = await native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn: true });
  });

  afterAll(async () => {
    model?.dispose();
    await fsp.rm(file, { force: true });
  });

  it('reports the (n + 2)x cache whisper_full re-creates for n beam decoders', async () => {
    const info = model.info();
    const state = await model.createState();
    const before = stateMemory(state);
    const limits = { multilingual: info.multilingual, nAudioCtx: info.nAudioCtx, languages: new Set(['en']), defaultThreads: 2, wordTimestamps: false };
    const params = resolveTranscribeOptions({ strategy: 'beam', beamSize: 3, temperatureIncrement: 0, language: 'en', maxTokensPerSegment: 4, threads: 2 }, limits);
    // One second of a quiet tone: the synthetic model decodes garbage, but it decodes.
    const pcm = new Float32Array(16_000).map((_, i) => 0.1 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
    await state.transcribe(pcm, params);
    const after = stateMemory(state);
    expect(after.decoders).toBe(3);
    expect(after.kvSelf).toBe(before.kvSelf * 5);
    const hparams = { nTextState: info.nTextState, nTextLayer: info.nTextLayer, nTextCtx: info.nTextCtx, nAudioState: info.nAudioState, nAudioCtx: info.nAudioCtx };
    expect(Math.abs(after.kvSelf - kvCacheBytes(hparams, 3).kvSelf)).toBeLessThanOrEqual(25_000);
    expect(after.kvCross).toBe(before.kvCross);
    const planned = await estimateMemory({ model: file, strategy: 'beam', beamSize: 3, temperatureFallback: false });
    within(after.total, planned.perState.total, 'state total after a beam job');
    state.dispose();
  });

  it('counts best-of decoders only when a temperature above zero can occur', async () => {
    const info = model.info();
    const state = await model.createState();
    const limits = { multilingual: info.multilingual, nAudioCtx: info.nAudioCtx, languages: new Set(['en']), defaultThreads: 2, wordTimestamps: false };
    const pcm = new Float32Array(8_000).map((_, i) => 0.1 * Math.sin((2 * Math.PI * 300 * i) / 16_000));
    const base = { language: 'en', maxTokensPerSegment: 4, threads: 2, bestOf: 4 };
    await state.transcribe(pcm, resolveTranscribeOptions({ ...base, temperatureIncrement: 0 }, limits));
    expect(stateMemory(state).decoders).toBe(1);
    await state.transcribe(pcm, resolveTranscribeOptions({ ...base, temperature: 0.5, temperatureIncrement: 0 }, limits));
    expect(stateMemory(state).decoders).toBe(4);
    // The cache never shrinks: a later one-decoder job leaves the figure alone.
    await state.transcribe(pcm, resolveTranscribeOptions({ ...base, temperatureIncrement: 0 }, limits));
    expect(stateMemory(state).decoders).toBe(4);
    state.dispose();
  });
});

describe('word timestamps (DTW alignment heads): native figures vs the planner', () => {
  const DTW_CASES: Array<{ architecture: ArchitectureName; weightType: 'f16' | 'q5_0'; preset: string }> = [
    { architecture: 'tiny.en', weightType: 'f16', preset: 'tiny.en' },
    { architecture: 'tiny', weightType: 'f16', preset: 'tiny' },
    { architecture: 'base', weightType: 'q5_0', preset: 'base' },
    { architecture: 'small', weightType: 'q5_0', preset: 'small' },
  ];

  it.each(DTW_CASES)('$architecture with the $preset preset: decode buffer and DTW bytes within 10 percent', async ({ architecture, weightType, preset }) => {
    const file = path.join(dir, `dtw-${architecture}-${weightType}.bin`);
    await writeSyntheticModel({ architecture, outPath: file, weightType, seed: 5 });
    try {
      const estimate = await estimateMemory({ model: file, wordTimestamps: true, temperatureFallback: false });
      const plain = await estimateMemory({ model: file, flashAttention: false, temperatureFallback: false });
      const info = await inspectModelFile(file);
      const heads = alignmentHeadsFor('auto', info.hparams)!;
      expect(heads.heads).toBe(preset);
      const model = await native().loadModel(file, {
        useGpu: false,
        gpuDevice: 0,
        flashAttn: false,
        alignmentHeads: heads.heads,
        dtwMemoryBytes: dtwMemoryBytes(info.hparams, heads.count),
      });
      try {
        const state = await model.createState();
        const measured = stateMemory(state);
        // The alignment heads grow the decode graph well beyond its plain size, and the planner follows.
        expect(measured.compute.decode).toBeGreaterThan(plain.perState.compute.decode * 1.1);
        within(measured.compute.decode, estimate.perState.compute.decode, 'compute.decode');
        within(measured.dtw, estimate.perState.dtw, 'dtw');
        within(measured.total, estimate.perState.total, 'state total');
        expect(plain.perState.dtw).toBe(0);
        state.dispose();
      } finally {
        model.dispose();
      }
    } finally {
      await fsp.rm(file, { force: true });
    }
  });

  it('a model loaded without alignment heads reports no DTW bytes', async () => {
    const file = path.join(dir, 'dtw-none-tiny.bin');
    await writeSyntheticModel({ architecture: 'tiny', outPath: file, weightType: 'f16', seed: 5 });
    const model = await native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn: false });
    try {
      const state = await model.createState();
      expect(stateMemory(state).dtw).toBe(0);
      state.dispose();
    } finally {
      model.dispose();
      await fsp.rm(file, { force: true });
    }
  });
});
