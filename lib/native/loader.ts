/**
 * Which native binary this process loads, and why.
 *
 * There are up to two: the CPU binary of this package (a local build in build/Release, or the
 * prebuild in prebuilds/<platform>-<arch>/), and the CUDA binary of the optional package
 * `@whisper-napi/<platform>-<arch>-cuda`. With `gpu: 'auto'` the CUDA binary is used only when
 * the package is there, an NVIDIA driver and the CUDA runtime libraries are found, and the
 * binary has loaded and seen a GPU in a child process first: a broken driver can crash the
 * process that loads it, and that process must not be the user's server.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { packageManifest, packageRoot } from './package';
import type { NativeAddon, NativeBackend } from './addon';

export const GPU_PREFERENCES = ['auto', 'cuda', 'cpu'] as const;
export type GpuPreference = (typeof GPU_PREFERENCES)[number];

/** prebuilds/<platform>-<arch>/build.json, written by scripts/prebuild.mjs. */
export interface BuildManifest {
  package: string;
  version: string;
  whisperCpp?: string;
  platform: string;
  arch: string;
  gpu: 'cpu' | 'cuda';
  cuda: { major: number; architectures: string } | null;
  cpuVariants: string[];
  addon: string;
  files: string[];
}

export interface BinaryLocation {
  kind: 'cpu' | 'cuda';
  /** The .node file. */
  path: string;
  /** Where it was found: the WHISPER_NAPI_BINARY variable, a local build, this package's prebuild, or the CUDA package. */
  source: 'WHISPER_NAPI_BINARY' | 'build' | 'prebuild' | 'cuda-package';
  manifest: BuildManifest | null;
}

export interface SharedLibrarySearch {
  /** Where the dynamic linker will find it, or null. */
  path: string | null;
  /** Found only outside the linker's search path (e.g. /usr/local/cuda/lib64): a hint for the message. */
  offPath: string | null;
}

export interface CudaTestLoad {
  ok: boolean;
  milliseconds: number;
  devices: Array<{ name: string; description: string; freeBytes: number; totalBytes: number }>;
  /** Why the test load failed (a crash, a load error, no device); absent when ok. */
  reason?: string;
}

export interface CudaCheck {
  /** The CUDA package checked (the first installed one that passes, or the first installed). */
  packageName: string;
  /** That package, or null when none is installed. */
  package: { dir: string; version: string } | null;
  binary: BinaryLocation | null;
  driver: { library: string | null; version: string | null };
  /** The CUDA runtime libraries the binary links (from its build.json), each found or not. */
  runtime: Record<string, SharedLibrarySearch>;
  testLoad: CudaTestLoad | null;
  /** Why the CUDA binary can't be used here, or null when it can. */
  problem: string | null;
}

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

const platformArch = `${process.platform}-${process.arch}`;
const TEST_LOAD_TIMEOUT_MS = 120_000;

/**
 * The CUDA packages this platform can use, in order of preference: the newest CUDA first,
 * then CUDA 12 for drivers older than CUDA 13 needs.
 */
export function cudaPackageNames(): string[] {
  return [`@whisper-napi/${platformArch}-cuda`, `@whisper-napi/${platformArch}-cuda12`];
}

export function parseGpuPreference(value: unknown, parameter: string): GpuPreference {
  if (typeof value === 'string' && (GPU_PREFERENCES as readonly string[]).includes(value)) return value as GpuPreference;
  throw invalidArgument(parameter, `one of ${GPU_PREFERENCES.map((p) => `'${p}'`).join(', ')}`, value);
}

function readManifest(dir: string): BuildManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'build.json'), 'utf8')) as BuildManifest;
  } catch {
    return null;
  }
}

/** This package's CPU binary, as node-gyp-build would pick it (build/Release first, then prebuilds/). */
export function findCpuBinary(root = packageRoot): BinaryLocation | null {
  let file: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    file = gypBuild.resolve(root);
  } catch {
    return null;
  }
  const inPrebuilds = path.relative(path.join(root, 'prebuilds'), file).split(path.sep)[0] !== '..';
  return {
    kind: 'cpu',
    path: file,
    source: inPrebuilds ? 'prebuild' : 'build',
    manifest: inPrebuilds ? readManifest(path.dirname(file)) : null,
  };
}

/**
 * The installed CUDA packages: next to this package (npm's optionalDependency), or, in a
 * checkout of this repository, packages/<name> after `prebuild.mjs --cuda`.
 */
export function findCudaPackages(root = packageRoot): Array<{ name: string; dir: string; version: string }> {
  const found: Array<{ name: string; dir: string; version: string }> = [];
  const requireFromRoot = createRequire(path.join(root, 'package.json'));
  for (const wanted of cudaPackageNames()) {
    const candidates = [path.join(root, 'packages', wanted.split('/')[1])];
    try {
      candidates.unshift(path.dirname(requireFromRoot.resolve(`${wanted}/package.json`)));
    } catch {
      // not installed
    }
    for (const dir of candidates) {
      try {
        const { name, version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
        if (name === wanted && fs.existsSync(path.join(dir, 'prebuilds', platformArch))) {
          found.push({ name, dir, version });
          break;
        }
      } catch {
        // not a package
      }
    }
  }
  return found;
}

function cudaBinaryIn(dir: string): BinaryLocation | null {
  const prebuildDir = path.join(dir, 'prebuilds', platformArch);
  const manifest = readManifest(prebuildDir);
  if (!manifest || !fs.existsSync(path.join(prebuildDir, manifest.addon))) return null;
  return { kind: 'cuda', path: path.join(prebuildDir, manifest.addon), source: 'cuda-package', manifest };
}

function ldconfigCache(): Map<string, string> {
  const libraries = new Map<string, string>();
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const listing = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      for (const line of listing.split('\n')) {
        // "	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"
        const match = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
        if (match && (process.arch !== 'x64' || match[2].includes('x86-64')) && !libraries.has(match[1])) {
          libraries.set(match[1], match[3]);
        }
      }
      return libraries;
    } catch {
      // try the next location
    }
  }
  return libraries;
}

/** Where the dynamic linker looks when LD_LIBRARY_PATH and ld.so.cache have nothing. */
export const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/lib/wsl/lib'];
const OFF_PATH_HINT_DIRS = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/local/nvidia/lib64', '/opt/cuda/lib64'];

/** Looks for a shared library the way the dynamic linker does (LD_LIBRARY_PATH, ld.so.cache, default dirs). */
export function findSharedLibrary(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  cache: Map<string, string> = ldconfigCache(),
): SharedLibrarySearch {
  const searchDirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)];
  for (const dir of searchDirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return { path: file, offPath: null };
  }
  const cached = cache.get(name);
  if (cached && fs.existsSync(cached)) return { path: cached, offPath: null };
  for (const dir of DEFAULT_LIBRARY_DIRS) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return { path: file, offPath: null };
  }
  const hint = OFF_PATH_HINT_DIRS.map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file)) ?? null;
  return { path: null, offPath: hint };
}

function nvidiaDriverVersion(): string | null {
  try {
    const text = fs.readFileSync('/proc/driver/nvidia/version', 'utf8');
    return /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(text)?.[1] ?? text.split('\n')[0].trim();
  } catch {
    return null;
  }
}

/** The libraries a CUDA binary of the given major version links dynamically (not bundled). */
export function cudaRuntimeLibraries(major: number): string[] {
  return [`libcudart.so.${major}`, `libcublas.so.${major}`, `libcublasLt.so.${major}`];
}

// Runs in a child process: load the CUDA binary, report its devices. If the CUDA module did
// not register, dlopen it directly to get the loader's own error text.
const TEST_LOAD_SCRIPT = `
const path = require('node:path');
let addon;
try { addon = require(process.argv[1]); }
catch (error) { process.stdout.write(JSON.stringify({ loadError: String(error.message).split('\\n')[0] })); process.exit(1); }
const system = addon.getSystemInfo();
const devices = addon.getDevices().filter((d) => d.type === 'gpu')
  .map(({ name, description, freeBytes, totalBytes }) => ({ name, description, freeBytes, totalBytes }));
let moduleError = null;
if (!system.cuda) {
  try { process.dlopen({ exports: {} }, path.join(path.dirname(process.argv[1]), 'libggml-cuda.so')); }
  catch (error) { moduleError = String(error.message).split('\\n')[0]; }
}
process.stdout.write(JSON.stringify({ cuda: system.cuda, devices, moduleError }));
`;

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: Error;
}

function childArgs(binary: string, baseEnv: NodeJS.ProcessEnv = process.env): { args: string[]; env: NodeJS.ProcessEnv } {
  // ELECTRON_RUN_AS_NODE: under Electron, process.execPath is the app, not node.
  return { args: ['-e', TEST_LOAD_SCRIPT, binary], env: { ...baseEnv, ELECTRON_RUN_AS_NODE: '1' } };
}

function runChildSync(binary: string, baseEnv?: NodeJS.ProcessEnv): ChildResult {
  const { args, env } = childArgs(binary, baseEnv);
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: TEST_LOAD_TIMEOUT_MS });
  return {
    status: result.status,
    signal: result.signal,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
    timedOut: (result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT',
    error: result.error,
  };
}

function runChildAsync(binary: string, baseEnv?: NodeJS.ProcessEnv): Promise<ChildResult> {
  const { args, env } = childArgs(binary, baseEnv);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TEST_LOAD_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, stdout, stderr, timedOut, error });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** Turns the child's outcome into a test-load verdict with a reason a person can act on. */
export function interpretTestLoad(result: ChildResult, milliseconds: number): CudaTestLoad {
  // Node ends an uncaught error's report with its own version line; the message is above it.
  const lastLine = (text: string) => text.trim().split('\n').filter((line) => line && !/^Node\.js v\d/.test(line)).pop() ?? '';
  const fail = (reason: string): CudaTestLoad => ({ ok: false, milliseconds, devices: [], reason });
  if (result.timedOut) return fail(`the test load did not finish in ${TEST_LOAD_TIMEOUT_MS / 1000} s`);
  if (result.error) return fail(`the test load could not start: ${result.error.message}`);
  if (result.signal) return fail(`the test load crashed (${result.signal})${result.stderr.trim() ? `: ${lastLine(result.stderr)}` : ''}`);
  let report: { cuda: boolean; devices: CudaTestLoad['devices']; moduleError: string | null; loadError?: string };
  try {
    report = JSON.parse(result.stdout) as typeof report;
  } catch {
    if (result.status !== 0) return fail(`the test load failed (exit code ${result.status}): ${lastLine(result.stderr) || 'no message'}`);
    return fail(`the test load printed no report: ${lastLine(result.stdout) || lastLine(result.stderr) || 'no output'}`);
  }
  if (report.loadError !== undefined) return fail(`the CUDA binary does not load: ${report.loadError}`);
  if (result.status !== 0) return fail(`the test load failed (exit code ${result.status}): ${lastLine(result.stderr) || 'no message'}`);
  if (!report.cuda || report.devices.length === 0) {
    const detail =
      report.moduleError && !/did not self-register/i.test(report.moduleError)
        ? `the CUDA module did not load: ${report.moduleError}`
        : 'the CUDA module loaded but found no usable GPU (is the driver new enough for this CUDA version?)';
    return fail(detail);
  }
  return { ok: true, milliseconds, devices: report.devices };
}

interface CudaCheckBase extends Omit<CudaCheck, 'testLoad' | 'problem'> {
  problem: string | null;
}

function inspectPackage(pkg: { name: string; dir: string; version: string }, env: NodeJS.ProcessEnv, cache: () => Map<string, string>): CudaCheckBase {
  const base: CudaCheckBase = {
    packageName: pkg.name,
    package: { dir: pkg.dir, version: pkg.version },
    binary: cudaBinaryIn(pkg.dir),
    driver: { library: null, version: null },
    runtime: {},
    problem: null,
  };
  if (pkg.version !== packageManifest.version) {
    return { ...base, problem: `${pkg.name}@${pkg.version} does not match whisper-napi@${packageManifest.version}; install the same version` };
  }
  if (!base.binary) return { ...base, problem: `${pkg.name} at ${pkg.dir} has no binary for ${platformArch}` };
  if (process.platform !== 'linux') return base;

  const driver = findSharedLibrary('libcuda.so.1', env, cache());
  base.driver = { library: driver.path, version: nvidiaDriverVersion() };
  if (!driver.path) return { ...base, problem: 'no NVIDIA driver: libcuda.so.1 is not on the library path' };
  const major = base.binary.manifest?.cuda?.major;
  if (major) {
    for (const library of cudaRuntimeLibraries(major)) base.runtime[library] = findSharedLibrary(library, env, cache());
    const missing = Object.entries(base.runtime).filter(([, found]) => !found.path);
    if (missing.length > 0) {
      const hints = missing.filter(([, found]) => found.offPath).map(([, found]) => path.dirname(found.offPath!));
      return {
        ...base,
        problem:
          `the CUDA ${major} runtime is missing: ${missing.map(([name]) => name).join(', ')} not found` +
          (hints.length > 0 ? ` (present in ${[...new Set(hints)].join(', ')}, which is not on the library path: add it to LD_LIBRARY_PATH)` : ''),
      };
    }
  }
  return base;
}

/** Where to look: the package root, the environment (LD_LIBRARY_PATH) and ld.so.cache; tests pass their own. */
export interface CudaSearch {
  root?: string;
  env?: NodeJS.ProcessEnv;
  ldCache?: Map<string, string>;
}

/** Everything about CUDA that can be found without loading it. */
export function inspectCuda({ root = packageRoot, env = process.env, ldCache }: CudaSearch = {}): CudaCheckBase {
  const none: CudaCheckBase = {
    packageName: cudaPackageNames()[0],
    package: null,
    binary: null,
    driver: { library: null, version: null },
    runtime: {},
    problem: null,
  };
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    return { ...none, problem: `there is no CUDA build for ${process.platform}` };
  }
  const packages = findCudaPackages(root);
  if (packages.length === 0) return { ...none, problem: `the CUDA package ${cudaPackageNames()[0]} is not installed` };
  const cache = () => (ldCache ??= ldconfigCache());
  const checks = packages.map((pkg) => inspectPackage(pkg, env, cache));
  const usable = checks.find((check) => !check.problem);
  if (usable) return usable;
  return checks.length === 1 ? checks[0] : { ...checks[0], problem: checks.map((check) => `${check.packageName}: ${check.problem}`).join('; ') };
}

export function checkCudaSync(search: CudaSearch = {}): CudaCheck {
  const base = inspectCuda(search);
  if (base.problem || !base.binary) return { ...base, testLoad: null };
  const started = Date.now();
  const testLoad = interpretTestLoad(runChildSync(base.binary.path, search.env), Date.now() - started);
  return { ...base, testLoad, problem: testLoad.ok ? null : testLoad.reason! };
}

/** inspectCuda, then the test load of the CUDA binary in a child process. */
export async function checkCuda(search: CudaSearch = {}): Promise<CudaCheck> {
  const base = inspectCuda(search);
  if (base.problem || !base.binary) return { ...base, testLoad: null };
  const started = Date.now();
  const testLoad = interpretTestLoad(await runChildAsync(base.binary.path, search.env), Date.now() - started);
  return { ...base, testLoad, problem: testLoad.ok ? null : testLoad.reason! };
}

// ---- the one loaded binary per JS environment ----------------------------------------------

interface Loaded {
  addon: NativeAddon;
  info: Omit<BackendInfo, 'backends' | 'cpuVariant'>;
}

let loaded: Loaded | undefined;

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
        'Run `npx whisper-napi doctor` for details, or use gpu: \'auto\' to fall back to the CPU.',
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

function assertCompatible(requested: GpuPreference | undefined): void {
  if (!loaded || requested === undefined || requested === loaded.info.gpu) return;
  throw new WhisperError(
    'INVALID_ARGUMENT',
    `gpu: the native backend is already loaded (gpu: '${loaded.info.gpu}', ${loaded.info.binary.kind} binary) and can't change ` +
      `to '${requested}' in this process; call loadBackend() before anything else uses the library`,
  );
}

/** The loaded addon; loads it synchronously on first use (the CUDA test load then blocks once). */
export function loadedAddon(): NativeAddon {
  if (!loaded) {
    const explicit = process.env.WHISPER_NAPI_BINARY || undefined;
    const gpu = preferenceFromEnv();
    loaded = finish(gpu, explicit || gpu === 'cpu' ? null : checkCudaSync(), explicit);
  }
  return loaded.addon;
}

let pending: Promise<BackendInfo> | undefined;

/**
 * Chooses and loads the native binary without blocking the event loop (the CUDA test load
 * runs in a child process). Call it once at startup; without it the first use of the
 * library loads synchronously with WHISPER_NAPI_GPU or 'auto'. Asking for a different `gpu`
 * after the binary is loaded is an error: a process has one.
 */
export async function loadBackend(options: { gpu?: GpuPreference } = {}): Promise<BackendInfo> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const requested = options.gpu === undefined ? undefined : parseGpuPreference(options.gpu, 'options.gpu');
  if (pending) {
    const info = await pending;
    assertCompatible(requested);
    return info;
  }
  assertCompatible(requested);
  if (loaded) return backendInfo();
  pending = (async () => {
    const explicit = process.env.WHISPER_NAPI_BINARY || undefined;
    const gpu = requested ?? preferenceFromEnv();
    const cuda = explicit || gpu === 'cpu' ? null : await checkCuda();
    // A synchronous use of the library may have loaded it while the child ran.
    loaded ??= finish(gpu, cuda, explicit);
    return backendInfo();
  })();
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

/** Which binary is loaded and why (loads it, synchronously, if nothing has yet). */
export function backendInfo(): BackendInfo {
  const addon = loadedAddon();
  const native = addon.getBackendInfo();
  const cpu = native.backends.find((backend) => backend.name === 'CPU');
  const variant = cpu && native.dynamicBackends ? /libggml-cpu-([^/\\]+)\.(so|dll|dylib)$/.exec(cpu.path)?.[1] ?? null : null;
  return { ...loaded!.info, backends: native.backends, cpuVariant: variant };
}
