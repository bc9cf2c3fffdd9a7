/**
 * The memory planner without the addon: input validation, and the properties its formulas must have
 * whatever their coefficients (exact KV sizes, the decoders' growth factor, what flash attention
 * changes, totals and budgets adding up, a model file agreeing with its architecture).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_NAMES, ARCHITECTURES, alignmentHeadsFor, presetForArchitecture, type ArchitectureName } from '../../lib/model-files/architectures';
import { WhisperError } from '../../lib/errors/whisper-error';
import { ggmlTensorBytes } from '../../lib/model-files/ggml-format';
import { expectedTensors } from '../../lib/model-files/tensors';
import { alignmentDecodeBytes, computeBufferBytes, decodersFor, dtwMemoryBytes, estimateMemory, kvCacheBytes, maxConcurrencyForBudget } from '../../lib/model/planner';
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { planConcurrency } from '../../lib/model/concurrency';
import { selectDevice } from '../../lib/model/devices';
import { inspectModelFile } from '../../lib/model-files/inspect';
import type { NativeDevice } from '../../lib/native/native-api';

/** An INVALID_ARGUMENT WhisperError whose message matches `pattern` (an asymmetric matcher). */
const invalid = (pattern: RegExp): Partial<WhisperError> =>
  expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(pattern) }) as Partial<WhisperError>;

describe('estimateMemory validation', () => {
  it.each([
    [{}, /exactly one of model .* and architecture; got neither/],
    [{ architecture: 'tiny', model: '/x.bin' }, /got both/],
    [{ architecture: 'huge' }, /input\.architecture: expected one of 'tiny', 'tiny\.en'/],
    [{ architecture: 'tiny', weightType: 'q3_k' }, /input\.weightType: expected one of 'f32', 'f16'/],
    [{ architecture: 'tiny', concurrency: 0 }, /input\.concurrency.*integer from 1/],
    [{ architecture: 'tiny', concurrency: 1.5 }, /input\.concurrency/],
    [{ architecture: 'tiny', beamSize: 9 }, /input\.beamSize.*1 to 8/],
    [{ architecture: 'tiny', bestOf: '2' }, /input\.bestOf/],
    [{ architecture: 'tiny', audioCtx: 1501 }, /input\.audioCtx.*1 to 1500/],
    [{ architecture: 'tiny', flashAttention: 'yes' }, /input\.flashAttention.*a boolean/],
    [{ architecture: 'tiny', strategy: 'sampling' }, /input\.strategy/],
    [{ architecture: 'tiny', gpu: 1 }, /input\.gpu/],
    [{ architecture: 'tiny', beams: 2 }, /input\.beams: expected one of the known options \(model, architecture/],
    [{ model: '' }, /input\.model.*non-empty/],
  ])('rejects %j', async (input, pattern) => {
    await expect(estimateMemory(input as never)).rejects.toThrow(WhisperError);
    await expect(estimateMemory(input as never)).rejects.toEqual(invalid(pattern));
  });

  it('rejects a non-object input and a missing model file', async () => {
    await expect(estimateMemory(null as never)).rejects.toEqual(invalid(/input/));
    await expect(estimateMemory({ model: path.join(os.tmpdir(), 'no-such-model-file.bin') })).rejects.toEqual(expect.objectContaining({ code: 'MODEL_NOT_FOUND' }));
  });

  it('rejects weightType together with a model file', async () => {
    await expect(estimateMemory({ model: '/x.bin', weightType: 'f16' })).rejects.toEqual(invalid(/input\.weightType/));
  });
});

describe('planner formulas', () => {
  it('sizes the KV caches exactly as whisper_kv_cache_init does (f16, contexts padded to 256)', () => {
    const tiny = ARCHITECTURES.tiny.hparams;
    expect(kvCacheBytes(tiny)).toEqual({
      kvSelf: 2 * 384 * 4 * 512 * 2,
      kvCross: 2 * 384 * 4 * 1536 * 2,
      kvPad: 2 * 384 * 1 * 1536 * 2,
    });
    // n > 1 decoders: whisper_full re-creates the self cache with (n + 2) x the padded context.
    expect(kvCacheBytes(tiny, 5).kvSelf).toBe(7 * kvCacheBytes(tiny).kvSelf);
    expect(kvCacheBytes(tiny, 5).kvCross).toBe(kvCacheBytes(tiny).kvCross);
  });

  it('counts decoders as whisper_full does over its temperature ladder', () => {
    expect(decodersFor({ strategy: 'greedy', bestOf: 5, beamSize: 5, temperatureFallback: false })).toBe(1);
    expect(decodersFor({ strategy: 'greedy', bestOf: 5, beamSize: 5, temperatureFallback: true })).toBe(5);
    expect(decodersFor({ strategy: 'beam', bestOf: 2, beamSize: 4, temperatureFallback: true })).toBe(4);
    expect(decodersFor({ strategy: 'beam', bestOf: 6, beamSize: 4, temperatureFallback: true })).toBe(6);
    expect(decodersFor({ strategy: 'beam', bestOf: 6, beamSize: 4, temperatureFallback: false })).toBe(4);
  });

  it('changes only the encoder buffer with flash attention, and makes it smaller', () => {
    for (const name of ['tiny', 'small', 'large-v3'] as const) {
      const on = computeBufferBytes(ARCHITECTURES[name].hparams, true);
      const off = computeBufferBytes(ARCHITECTURES[name].hparams, false);
      expect(off.conv).toBe(on.conv);
      expect(off.cross).toBe(on.cross);
      expect(off.decode).toBe(on.decode);
      expect(off.encode).toBeGreaterThan(on.encode);
    }
  });

  it('adds up: totals, concurrency and the budget', async () => {
    const one = await estimateMemory({ architecture: 'base', weightType: 'q8_0' });
    const four = await estimateMemory({ architecture: 'base', weightType: 'q8_0', concurrency: 4 });
    const s = one.perState;
    expect(s.total).toBe(s.kvSelf + s.kvCross + s.kvPad + s.compute.conv + s.compute.encode + s.compute.cross + s.compute.decode);
    expect(four.weightsBytes).toBe(one.weightsBytes);
    expect(four.totalBytes).toBe(one.weightsBytes + 4 * s.total);
    expect(maxConcurrencyForBudget(one, four.totalBytes)).toBe(4);
    expect(maxConcurrencyForBudget(one, four.totalBytes - 1)).toBe(3);
    expect(maxConcurrencyForBudget(one, one.weightsBytes)).toBe(0);
    expect(maxConcurrencyForBudget(one, 4 * s.total, { weightsLoaded: true })).toBe(4);
    expect(() => maxConcurrencyForBudget(one, -1)).toThrow(invalid(/budgetBytes/));
    expect(() => maxConcurrencyForBudget({} as never, 1)).toThrow(invalid(/estimate/));
  });

  it('defaults to the options transcribe defaults to (greedy, best of 5 with fallback) and flash attention on', async () => {
    const byDefault = await estimateMemory({ architecture: 'small' });
    const explicit = await estimateMemory({
      architecture: 'small',
      weightType: 'f16',
      flashAttention: true,
      strategy: 'greedy',
      bestOf: 5,
      temperatureFallback: true,
      concurrency: 1,
    });
    expect(byDefault).toEqual(explicit);
    expect(byDefault.perState.decoders).toBe(5);
  });

  it('weighs quantized weights below f16 and f16 below f32, from the loader tensor table', async () => {
    const bytes = async (weightType: string) => (await estimateMemory({ architecture: 'medium', weightType })).weightsBytes;
    const [f32, f16, q8, q5, q4] = await Promise.all(['f32', 'f16', 'q8_0', 'q5_0', 'q4_0'].map(bytes));
    expect(f32).toBeGreaterThan(f16);
    expect(f16).toBeGreaterThan(q8);
    expect(q8).toBeGreaterThan(q5);
    expect(q5).toBeGreaterThan(q4);
    const raw = expectedTensors({ ...ARCHITECTURES.medium.hparams, ftype: 1, quantizationVersion: 2 }).reduce((sum, t) => sum + ggmlTensorBytes(t.type, t.shape), 0);
    expect(f16).toBeGreaterThanOrEqual(raw);
    expect(f16 - raw).toBeLessThan(32 * 1000);
  });

  it('shrinks the audio-context terms with a smaller audioCtx and leaves the text ones alone', async () => {
    const full = await estimateMemory({ architecture: 'tiny' });
    const half = await estimateMemory({ architecture: 'tiny', audioCtx: 750 });
    expect(half.perState.kvSelf).toBe(full.perState.kvSelf);
    expect(half.perState.kvCross).toBeLessThan(full.perState.kvCross);
    expect(half.perState.compute.encode).toBeLessThan(full.perState.compute.encode);
    expect(half.perState.compute.decode).toBe(full.perState.compute.decode);
  });
});

describe('estimateMemory on a model file', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'planner-'));
    file = path.join(dir, 'tiny.en-f16.bin');
    await writeSyntheticModel({ architecture: 'tiny.en', outPath: file, weightType: 'f16', seed: 1 });
  });

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('agrees with the same architecture and weight type given by name', async () => {
    const fromFile = await estimateMemory({ model: file, beamSize: 3, strategy: 'beam', concurrency: 2 });
    const byName = await estimateMemory({ architecture: 'tiny.en', weightType: 'f16', beamSize: 3, strategy: 'beam', concurrency: 2 });
    expect(fromFile).toEqual(byName);
  });

  it("plans concurrency 'auto' on a Metal GPU as on any GPU: its memory, capped at 64 rather than by cores", async () => {
    const GiB = 1024 ** 3;
    const devices: NativeDevice[] = [
      { index: 0, name: 'CPU', description: 'host', type: 'cpu', backend: 'CPU', freeBytes: 64 * GiB, totalBytes: 64 * GiB },
      { index: 1, name: 'Metal', description: 'Apple M4', type: 'gpu', backend: 'Metal', freeBytes: 64 * GiB, totalBytes: 64 * GiB },
    ];
    const info = await inspectModelFile(file);
    const options = { flashAttention: true, memoryBudget: 0 };
    const onMetal = await planConcurrency(info, options, selectDevice(devices, { gpu: true, gpuDevice: 0 }));
    expect(onMetal).toMatchObject({ concurrency: 64, limitedBy: 'max' });
    const onCpu = await planConcurrency(info, options, selectDevice(devices, { gpu: false, gpuDevice: 0 }));
    expect(onCpu.limitedBy).toBe(os.availableParallelism() >= 64 ? 'max' : 'cores');
    // The budget is the chosen device's: 1 GiB of free GPU memory plans fewer states than 64 GiB.
    const small = devices.map((d) => (d.type === 'gpu' ? { ...d, freeBytes: GiB, totalBytes: GiB } : d));
    const tight = await planConcurrency(info, options, selectDevice(small, { gpu: true, gpuDevice: 0 }));
    expect(tight.limitedBy).toBe('memory');
    expect(tight.concurrency).toBeLessThan(64);
  });

  it('refuses a gpuDevice that does not exist instead of planning against host memory', () => {
    const cpuOnly: NativeDevice[] = [{ index: 0, name: 'CPU', description: 'host', type: 'cpu', backend: 'CPU', freeBytes: 1, totalBytes: 1 }];
    expect(() => selectDevice(cpuOnly, { gpu: true, gpuDevice: 5 })).toThrow(
      invalid(/^options\.gpuDevice: expected 0, as ggml reports no GPU \(its devices: CPU \(cpu\)\), got 5$/),
    );
  });
});

describe('word timestamps (DTW alignment heads)', () => {
  it('picks the preset from the decoder shape of every standard architecture', () => {
    const expected: Record<ArchitectureName, string> = {
      tiny: 'tiny',
      'tiny.en': 'tiny.en',
      base: 'base',
      'base.en': 'base.en',
      small: 'small',
      'small.en': 'small.en',
      medium: 'medium',
      'medium.en': 'medium.en',
      // A header cannot tell large-v1 from large-v2: large-v1 users name 'large.v1'.
      'large-v1': 'large.v2',
      'large-v2': 'large.v2',
      'large-v3': 'large.v3',
      'large-v3-turbo': 'large.v3.turbo',
    };
    for (const name of ARCHITECTURE_NAMES) {
      expect(presetForArchitecture(ARCHITECTURES[name].hparams), name).toBe(expected[name]);
      expect(alignmentHeadsFor('auto', ARCHITECTURES[name].hparams)).toMatchObject({ heads: expected[name], topLayers: 0 });
    }
  });

  it('takes every head of the last half of the text layers for a shape no preset fits, and refuses a preset that does not fit', () => {
    const distilled = { ...ARCHITECTURES['large-v3'].hparams, nTextLayer: 2 };
    expect(presetForArchitecture(distilled)).toBeUndefined();
    expect(alignmentHeadsFor('auto', distilled)).toEqual({ heads: 'top-most', topLayers: 1, count: 20, lastLayerHeads: 20 });
    const odd = { ...ARCHITECTURES['tiny.en'].hparams, nTextLayer: 5, nTextHead: 2, nTextState: 64, nAudioState: 64 };
    expect(alignmentHeadsFor('auto', odd)).toMatchObject({ heads: 'top-most', topLayers: 3, count: 6 });
    // large-v2's heads reach text layer 27; base has 6 layers.
    expect(alignmentHeadsFor('large.v2', ARCHITECTURES.base.hparams)).toBeUndefined();
    expect(alignmentHeadsFor('large.v3', ARCHITECTURES['large-v2'].hparams)).toMatchObject({ heads: 'large.v3', count: 10 });
  });

  it('sizes dtw_mem_size for the worst window: 224 tokens x 1500 positions x heads, three times, and the rest', () => {
    const bytes = dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 8);
    const bigTensors = 3 * 4 * 224 * 1500 * 8;
    expect(bytes).toBeGreaterThan(bigTensors + 2 * 4 * 224 * 1500 + 2 * 4 * 225 * 1501);
    expect(bytes).toBeLessThan(bigTensors * 1.25);
    // Linear in the heads.
    expect(dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 16) - bytes).toBe(3 * 4 * 224 * 1500 * 8);
    // whisper.cpp's default of 128 MiB holds the largest preset (large-v2, 23 heads), not 80 top-most heads.
    expect(dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 23)).toBeLessThan(128 * 1024 * 1024);
    expect(dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 80)).toBeGreaterThan(128 * 1024 * 1024);
  });

  it('plans the larger decode buffer and the DTW bytes, and turns flash attention off', async () => {
    const plain = await estimateMemory({ architecture: 'base', flashAttention: false });
    const dtw = await estimateMemory({ architecture: 'base', wordTimestamps: true });
    expect(plain.perState.dtw).toBe(0);
    expect(dtw.perState.compute.encode).toBe(plain.perState.compute.encode);
    expect(dtw.perState.compute.decode - plain.perState.compute.decode).toBe(43_920_000);
    const heads = 8;
    expect(dtw.perState.dtw).toBe(4 * 8 * heads + 4 * 224 * 1500 * heads + dtwMemoryBytes(ARCHITECTURES.base.hparams, heads));
    expect(dtw.perState.total - plain.perState.total).toBe(43_920_000 + dtw.perState.dtw);
    expect(await estimateMemory({ architecture: 'base', wordTimestamps: 'base.en' })).not.toEqual(dtw);
    await expect(estimateMemory({ architecture: 'base', wordTimestamps: true, flashAttention: true })).rejects.toThrow(
      invalid(/^estimateMemory: input\.flashAttention: expected false or unset with wordTimestamps/),
    );
    await expect(estimateMemory({ architecture: 'base', wordTimestamps: 'large.v2' })).rejects.toThrow(
      invalid(/^estimateMemory: input\.wordTimestamps: expected true or a preset whose heads this model has \(6 text layers of 8 heads\)/),
    );
    await expect(estimateMemory({ architecture: 'base', wordTimestamps: 'huge' as never })).rejects.toThrow(invalid(/^estimateMemory: input\.wordTimestamps: /));
    // 'top-most' heads are planned with an upper bound: more than their own maps.
    const odd = { nAudioCtx: 1500, nTextHead: 2 };
    expect(alignmentDecodeBytes(odd, { heads: 'top-most', count: 4 })).toBe(4 * 1500 * 448 * (4 + 8));
  });
});
