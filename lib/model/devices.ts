/**
 * Which ggml device a model runs on. whisper.cpp offloads to the `gpu_device`-th device of
 * kind GPU or integrated GPU, whatever its backend (CUDA, Metal, Vulkan, ...), and falls back
 * to the CPU when there is none; this mirrors that choice so the library can plan for, and
 * check against, the device that will really run the model.
 */
import os from 'node:os';
import { invalidArgument } from '../errors/whisper-error';
import type { NativeDevice } from '../native/native-api';
import type { ResolvedLoadOptions } from '../transcription/options';

/** The ggml device kinds whisper_backend_init_gpu counts when it picks gpu_device. */
const GPU_KINDS: ReadonlySet<NativeDevice['type']> = new Set(['gpu', 'igpu']);

export interface ModelDevice {
  kind: 'cpu' | 'gpu';
  /** ggml's name for the device: 'CPU', 'CUDA0', 'Metal', 'Vulkan0', ... */
  name: string;
  /** The ggml backend that drives it: 'CPU', 'CUDA', 'Metal', ... */
  backend: string;
  freeBytes: number;
  totalBytes: number;
}

/** The GPUs in the order whisper.cpp numbers them for gpuDevice. */
export function gpuDevices(devices: readonly NativeDevice[]): NativeDevice[] {
  return devices.filter((device) => GPU_KINDS.has(device.type));
}

/**
 * The device a model loaded with these options runs on. With `gpu` the `gpuDevice`-th GPU;
 * the CPU when `gpu` is false, or when there is no GPU at all and the default index 0 was
 * asked for. An index past the GPUs that exist is INVALID_ARGUMENT: whisper.cpp would
 * silently run on the CPU, and concurrency 'auto' would plan against host memory.
 */
export function selectDevice(devices: readonly NativeDevice[], options: Pick<ResolvedLoadOptions, 'gpu' | 'gpuDevice'>): ModelDevice {
  if (options.gpu) {
    const gpus = gpuDevices(devices);
    const gpu = gpus[options.gpuDevice];
    if (gpu) return { kind: 'gpu', name: gpu.name, backend: gpu.backend, freeBytes: gpu.freeBytes, totalBytes: gpu.totalBytes };
    if (options.gpuDevice > 0) throw noSuchGpu(options.gpuDevice, devices, gpus);
  }
  const cpu = devices.find((device) => device.type === 'cpu');
  // ggml's CPU device reports host memory; os is the fallback if it reports nothing.
  return {
    kind: 'cpu',
    name: cpu?.name ?? 'CPU',
    backend: cpu?.backend ?? 'CPU',
    freeBytes: cpu && cpu.freeBytes > 0 ? cpu.freeBytes : os.freemem(),
    totalBytes: cpu && cpu.totalBytes > 0 ? cpu.totalBytes : os.totalmem(),
  };
}

function noSuchGpu(gpuDevice: number, devices: readonly NativeDevice[], gpus: readonly NativeDevice[]) {
  const present = devices.map((device) => `${device.name} (${device.type})`).join(', ') || 'none';
  const expected =
    gpus.length === 0
      ? `0, as ggml reports no GPU (its devices: ${present})`
      : `a GPU index from 0 to ${gpus.length - 1} (${gpus.map((gpu, index) => `${index}: ${gpu.name}`).join(', ')}; ggml's devices: ${present})`;
  return invalidArgument('options.gpuDevice', expected, gpuDevice);
}
