/**
 * The model's device choice and the guards of lib/model/upstream-quirks.ts, on fake ggml device
 * lists: a Metal, Vulkan or CUDA device is a GPU alike, and a gpuDevice that does not exist is
 * an error rather than a silent fall back to the CPU.
 */
import { describe, expect, it } from 'vitest';
import type { NativeDevice } from '../../lib/native/native-api';
import { gpuDevices, selectDevice } from '../../lib/model/devices';
import { assertRunnable, clampDuration } from '../../lib/model/upstream-quirks';
import { mayWindow } from '../../lib/model/long-file-routing';
import { JobCounts } from '../../lib/model/stats';
import { WhisperError } from '../../lib/errors/whisper-error';
import { thrownWhisperError } from '../support/errors';

const GiB = 1024 ** 3;

function device(index: number, name: string, type: NativeDevice['type'], backend: string, freeGiB: number): NativeDevice {
  return { index, name, description: `${name} device`, type, backend, freeBytes: freeGiB * GiB, totalBytes: 2 * freeGiB * GiB };
}

const CPU = device(0, 'CPU', 'cpu', 'CPU', 8);
const BLAS = device(1, 'BLAS', 'accel', 'BLAS', 0);
const METAL = device(1, 'Metal', 'gpu', 'Metal', 20);
const CUDA0 = device(1, 'CUDA0', 'gpu', 'CUDA', 70);
const CUDA1 = device(2, 'CUDA1', 'gpu', 'CUDA', 30);
const VULKAN_IGPU = device(1, 'Vulkan0', 'igpu', 'Vulkan', 4);

describe('gpuDevices', () => {
  it('counts discrete and integrated GPUs of any backend, in ggml order, as whisper.cpp numbers gpu_device', () => {
    expect(gpuDevices([CPU, BLAS, CUDA0, VULKAN_IGPU, CUDA1]).map((d) => d.name)).toEqual(['CUDA0', 'Vulkan0', 'CUDA1']);
    expect(gpuDevices([CPU, BLAS])).toEqual([]);
  });
});

describe('selectDevice', () => {
  it('runs on a Metal device as on a CUDA one: a GPU, with its own memory', () => {
    expect(selectDevice([CPU, METAL], { gpu: true, gpuDevice: 0 })).toEqual({
      kind: 'gpu',
      name: 'Metal',
      backend: 'Metal',
      freeBytes: 20 * GiB,
      totalBytes: 40 * GiB,
    });
    expect(selectDevice([CPU, CUDA0], { gpu: true, gpuDevice: 0 })).toMatchObject({ kind: 'gpu', name: 'CUDA0', freeBytes: 70 * GiB });
    expect(selectDevice([CPU, VULKAN_IGPU], { gpu: true, gpuDevice: 0 })).toMatchObject({ kind: 'gpu', name: 'Vulkan0' });
  });

  it('picks the gpuDevice-th GPU, skipping the CPU and accelerators', () => {
    expect(selectDevice([CPU, BLAS, CUDA0, CUDA1], { gpu: true, gpuDevice: 1 })).toMatchObject({ kind: 'gpu', name: 'CUDA1', freeBytes: 30 * GiB });
  });

  it('runs on the CPU with gpu: false, or with no GPU at all and the default index', () => {
    expect(selectDevice([CPU, METAL], { gpu: false, gpuDevice: 0 })).toEqual({
      kind: 'cpu',
      name: 'CPU',
      backend: 'CPU',
      freeBytes: 8 * GiB,
      totalBytes: 16 * GiB,
    });
    expect(selectDevice([CPU, BLAS], { gpu: true, gpuDevice: 0 })).toMatchObject({ kind: 'cpu', freeBytes: 8 * GiB });
    // gpuDevice only picks among GPUs: without gpu it is not consulted.
    expect(selectDevice([CPU], { gpu: false, gpuDevice: 5 })).toMatchObject({ kind: 'cpu' });
  });

  it('falls back to the host memory os reports when ggml reports none for the CPU', () => {
    const silent = { ...CPU, freeBytes: 0, totalBytes: 0 };
    const chosen = selectDevice([silent], { gpu: true, gpuDevice: 0 });
    expect(chosen.kind).toBe('cpu');
    expect(chosen.freeBytes).toBeGreaterThan(0);
    expect(chosen.totalBytes).toBeGreaterThanOrEqual(chosen.freeBytes);
  });

  it('refuses a gpuDevice past the GPUs that exist, naming the devices that do', () => {
    const pastTwo = thrownWhisperError(() => selectDevice([CPU, CUDA0, CUDA1], { gpu: true, gpuDevice: 2 }));
    expect(pastTwo.code).toBe('INVALID_ARGUMENT');
    expect(pastTwo.message).toBe("options.gpuDevice: expected a GPU index from 0 to 1 (0: CUDA0, 1: CUDA1; ggml's devices: CPU (cpu), CUDA0 (gpu), CUDA1 (gpu)), got 2");
    const none = thrownWhisperError(() => selectDevice([CPU, BLAS], { gpu: true, gpuDevice: 5 }));
    expect(none.code).toBe('INVALID_ARGUMENT');
    expect(none.message).toBe('options.gpuDevice: expected 0, as ggml reports no GPU (its devices: CPU (cpu), BLAS (accel)), got 5');
  });
});

describe('assertRunnable (f32 conv kernels, upstream #2557)', () => {
  const file = (convType: string) => ({
    path: '/models/all-f32.bin',
    tensors: [{ name: 'encoder.conv1.weight', typeName: convType }] as never,
  });

  it('refuses f32 conv kernels on the CPU, which whisper.cpp would abort on', () => {
    const error = thrownWhisperError(() => assertRunnable(file('f32'), { kind: 'cpu' }, '1.9.1'));
    expect(error.code).toBe('INVALID_MODEL');
    expect(error.message).toMatch(/^\/models\/all-f32\.bin stores its convolution weights as f32, which whisper\.cpp 1\.9\.1 cannot run on the CPU/);
  });

  it('lets any GPU run them (Metal as well as CUDA), and lets f16 kernels run anywhere', () => {
    const metal = selectDevice([CPU, METAL], { gpu: true, gpuDevice: 0 });
    expect(() => assertRunnable(file('f32'), metal, '1.9.1')).not.toThrow();
    expect(() => assertRunnable(file('f16'), { kind: 'cpu' }, '1.9.1')).not.toThrow();
  });
});

describe('clampDuration (decoding past the end of the audio)', () => {
  it('turns a duration that reaches the end into 0 (to the end), and keeps shorter ones', () => {
    const threeSeconds = 3 * 16000;
    expect(clampDuration(0, 600_000, threeSeconds)).toBe(0);
    expect(clampDuration(1000, 2000, threeSeconds)).toBe(0);
    expect(clampDuration(1000, 1999, threeSeconds)).toBe(1999);
    expect(clampDuration(0, 0, threeSeconds)).toBe(0);
  });
});

describe('mayWindow', () => {
  it('windows only without offsetMs, durationMs or detectLanguage', () => {
    expect(mayWindow({})).toBe(true);
    expect(mayWindow({ offsetMs: 0 })).toBe(false);
    expect(mayWindow({ durationMs: 1000 })).toBe(false);
    expect(mayWindow({ detectLanguage: true })).toBe(false);
    expect(mayWindow(null as never)).toBe(false);
  });
});

describe('JobCounts', () => {
  it('counts QUEUE_FULL as rejected and ABORTED/TIMEOUT as failures of their own kind', () => {
    const counts = new JobCounts();
    counts.completed();
    counts.failed(new WhisperError('QUEUE_FULL', 'full'));
    counts.failed(new WhisperError('ABORTED', 'aborted'));
    counts.failed(new WhisperError('TIMEOUT', 'late'));
    counts.failed(new Error('a listener threw'));
    const queue = { running: 1, queued: 2, peakRunning: 3, peakQueued: 4, concurrency: 5, maxQueue: Number.POSITIVE_INFINITY };
    expect(counts.snapshot(queue, 3)).toEqual({
      running: 1,
      queued: 2,
      completed: 1,
      failed: 3,
      aborted: 1,
      timedOut: 1,
      rejected: 1,
      peakRunning: 3,
      peakQueued: 4,
      concurrency: 5,
      maxQueue: Number.POSITIVE_INFINITY,
      states: 3,
    });
  });
});
