/**
 * Which native binary this JS environment loads, and why.
 *
 * There are up to two: the CPU binary of this package and the CUDA binary of the optional CUDA
 * package (lib/native/binaries.ts finds them). With `gpu: 'auto'` the CUDA binary is used only
 * when lib/native/cuda-probe.ts found nothing wrong and the binary loaded and saw a GPU in a
 * child process first. Once loaded, the binary stays: a process has one.
 */
import path from 'node:path';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { packageManifest, packageRoot } from './package';
import { findCpuBinary, platformArch, readManifest, type BinaryLocation } from './binaries';
import { checkCuda, checkCudaSync, type CudaCheck } from './cuda-probe';
import type { NativeAddon, NativeBackend } from './native-api';

export const GPU_PREFERENCES = ['auto', 'cuda', 'cpu'] as const;
export type GpuPreference = (typeof GPU_PREFERENCES)[number];

export interface BackendInfo {
  /** What was asked for: `loadBackend({ gpu })`, else WHISPER_NAPI_GPU, else 'auto'. */
  gpu: GpuPreference;
  /** The binary this process loaded. */
  binary: BinaryLocation;
  /** Why 'auto' did not use CUDA; null when CUDA is used, or when 'cpu' was asked for. */
  fallbackReason: string | null;
  /** What was found about CUDA; null when it was not looked at ('cpu', or WHISPER_NAPI_BINARY). */
  cuda: CudaCheck | null;
  /** ggml backends registered by the loaded binary, with the library each came from. */
  backends: NativeBackend[];
  /** The ggml CPU variant chosen for this CPU (e.g. "haswell"), or null when the CPU code is linked in. */
  cpuVariant: string | null;
}

export function parseGpuPreference(value: unknown, parameter: string): GpuPreference {
  if (typeof value === 'string' && (GPU_PREFERENCES as readonly string[]).includes(value)) return value as GpuPreference;
  throw invalidArgument(parameter, `one of ${GPU_PREFERENCES.map((p) => `'${p}'`).join(', ')}`, value);
}

interface Loaded {
  addon: NativeAddon;
  info: Omit<BackendInfo, 'backends' | 'cpuVariant'>;
}

/** What this JS environment has loaded or is loading; one per environment, whichever copy of this module asks. */
interface LoaderState {
  version: string;
  loaded?: Loaded;
  pending?: Promise<BackendInfo>;
}

/**
 * The state lives on globalThis under a registered symbol rather than in this module, because
 * one environment can hold several copies of this module (two installs of the package, a
 * bundled copy beside an installed one, a test runner's fresh module registry; the ESM form
 * only wraps the CommonJS one, so importing both forms makes no second copy), and each would
 * make its own choice of binary and load it again: for a file already loaded, Node reuses the
 * library but runs the addon's init once more, which replaces the environment's constructors
 * and log sink under the first copy; another install's file is a second library. globalThis
 * is per environment, as the addon's own data is: a worker thread loads its own.
 */
const STATE_KEY = Symbol.for('whisper-napi.loader');

function loaderState(): LoaderState {
  const registry = globalThis as typeof globalThis & { [STATE_KEY]?: LoaderState };
  const state = (registry[STATE_KEY] ??= { version: packageManifest.version });
  if (state.version !== packageManifest.version) {
    // Their binaries share library names, so the second would run on the first one's libraries.
    throw new WhisperError(
      'NATIVE_ERROR',
      `whisper-napi@${packageManifest.version} (${packageRoot}) can't load its native addon: whisper-napi@${state.version} ` +
        'is already in use in this process; install one version',
    );
  }
  return state;
}

function requireBinary(file: string): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(file) as NativeAddon;
  // With run-time CPU variants, a binary copied without its libggml-cpu-*.so files loads but
  // has nothing to compute with; say so now rather than fail obscurely at the first model.
  const info = addon.getBackendInfo();
  if (!info.backends.some((backend) => backend.name === 'CPU')) {
    throw new Error(`it registered no ggml CPU backend: the libggml-cpu-*.so files are missing from ${path.dirname(file)}`);
  }
  return addon;
}

function preferenceFromEnv(): GpuPreference {
  const value = process.env.WHISPER_NAPI_GPU;
  return value === undefined || value === '' ? 'auto' : parseGpuPreference(value, 'WHISPER_NAPI_GPU');
}

function loadFailure(file: string, error: unknown): WhisperError {
  return new WhisperError(
    'NATIVE_ERROR',
    `could not load the whisper-napi native addon ${file}: ${(error as Error).message}. ` +
      'Reinstall the package, or build it with `npm run build:native`; `npx whisper-napi doctor` shows what was found.',
    { cause: error },
  );
}

function finish(gpu: GpuPreference, cuda: CudaCheck | null, explicit: string | undefined): Loaded {
  if (explicit) {
    const file = path.resolve(explicit);
    let addon: NativeAddon;
    try {
      addon = requireBinary(file);
    } catch (error) {
      throw loadFailure(file, error);
    }
    const kind = addon.getSystemInfo().cudaBuild ? 'cuda' : 'cpu';
    return { addon, info: { gpu, binary: { kind, path: file, source: 'WHISPER_NAPI_BINARY', manifest: readManifest(path.dirname(file)) }, fallbackReason: null, cuda } };
  }
  if (gpu !== 'cpu' && cuda && !cuda.problem && cuda.binary) {
    try {
      return { addon: requireBinary(cuda.binary.path), info: { gpu, binary: cuda.binary, fallbackReason: null, cuda } };
    } catch (error) {
      // It loaded in the child, so this is unexpected; still, never worse than the CPU.
      if (gpu === 'cuda') throw new WhisperError('BACKEND_UNAVAILABLE', `gpu: 'cuda': ${(error as Error).message}`, { cause: error });
      cuda = { ...cuda, problem: `the CUDA binary passed its test load but failed here: ${(error as Error).message}` };
    }
  }
  if (gpu === 'cuda') {
    throw new WhisperError(
      'BACKEND_UNAVAILABLE',
      `gpu: 'cuda' was asked for, but CUDA can't be used: ${cuda?.problem ?? 'unknown reason'}. ` +
        "Run `npx whisper-napi doctor` for details, or use gpu: 'auto' to fall back to the CPU.",
    );
  }
  const cpu = findCpuBinary();
  if (!cpu) {
    throw loadFailure(
      packageRoot,
      new Error(`no binary for ${platformArch} in ${path.join(packageRoot, 'build', 'Release')} or ${path.join(packageRoot, 'prebuilds', platformArch)}`),
    );
  }
  let addon: NativeAddon;
  try {
    addon = requireBinary(cpu.path);
  } catch (error) {
    throw loadFailure(cpu.path, error);
  }
  return { addon, info: { gpu, binary: cpu, fallbackReason: gpu === 'auto' ? (cuda?.problem ?? null) : null, cuda } };
}

function assertCompatible(loaded: Loaded | undefined, requested: GpuPreference | undefined): void {
  if (!loaded || requested === undefined || requested === loaded.info.gpu) return;
  throw new WhisperError(
    'INVALID_ARGUMENT',
    `gpu: the native backend is already loaded (gpu: '${loaded.info.gpu}', ${loaded.info.binary.kind} binary) and can't change ` +
      `to '${requested}' in this process; call loadBackend() before anything else uses the library`,
  );
}

/** The loaded addon; loads it synchronously on first use (the CUDA test load then blocks once). */
export function loadedAddon(): NativeAddon {
  const state = loaderState();
  if (!state.loaded) {
    const explicit = process.env.WHISPER_NAPI_BINARY || undefined;
    const gpu = preferenceFromEnv();
    state.loaded = finish(gpu, explicit || gpu === 'cpu' ? null : checkCudaSync(), explicit);
  }
  return state.loaded.addon;
}

/**
 * Chooses and loads the native binary without blocking the event loop (the CUDA test load
 * runs in a child process). Call it once at startup; without it the first use of the
 * library loads synchronously with WHISPER_NAPI_GPU or 'auto'. Asking for a different `gpu`
 * after the binary is loaded is an error: a process has one.
 */
export async function loadBackend(options: { gpu?: GpuPreference } = {}): Promise<BackendInfo> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const requested = options.gpu === undefined ? undefined : parseGpuPreference(options.gpu, 'options.gpu');
  const state = loaderState();
  if (state.pending) {
    const info = await state.pending;
    assertCompatible(state.loaded, requested);
    return info;
  }
  assertCompatible(state.loaded, requested);
  if (state.loaded) return backendInfo();
  state.pending = (async () => {
    const explicit = process.env.WHISPER_NAPI_BINARY || undefined;
    const gpu = requested ?? preferenceFromEnv();
    const cuda = explicit || gpu === 'cpu' ? null : await checkCuda();
    // A synchronous use of the library may have loaded it while the child ran.
    state.loaded ??= finish(gpu, cuda, explicit);
    return backendInfo();
  })();
  try {
    return await state.pending;
  } finally {
    state.pending = undefined;
  }
}

/** Which binary is loaded and why (loads it, synchronously, if nothing has yet). */
export function backendInfo(): BackendInfo {
  const addon = loadedAddon();
  const native = addon.getBackendInfo();
  const cpu = native.backends.find((backend) => backend.name === 'CPU');
  const variant = cpu && native.dynamicBackends ? (/libggml-cpu-([^/\\]+)\.(so|dll|dylib)$/.exec(cpu.path)?.[1] ?? null) : null;
  return { ...loaderState().loaded!.info, backends: native.backends, cpuVariant: variant };
}
