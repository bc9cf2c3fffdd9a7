/**
 * Whether the CUDA binary can be used here. First everything that can be found without loading
 * it (the package, its version, the driver, the CUDA runtime libraries), then a test load in a
 * child process: a broken driver can crash the process that loads it, and that process must not
 * be the user's server.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageManifest, packageRoot } from './package';
import { cudaBinaryIn, cudaPackageNames, findCudaPackages, platformArch, type BinaryLocation, type CudaPackage } from './binaries';
import { findSharedLibrary, ldconfigCache, nvidiaDriverVersion, type SharedLibrarySearch } from './shared-libraries';

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

/** What inspectCuda finds: a CudaCheck before any test load. */
export type CudaInspection = Omit<CudaCheck, 'testLoad'>;

/** Where to look: the package root, the environment (LD_LIBRARY_PATH) and ld.so.cache; tests pass their own. */
export interface CudaSearch {
  root?: string;
  env?: NodeJS.ProcessEnv;
  ldCache?: Map<string, string>;
}

/** How the test-load child ended. */
export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: Error;
}

const TEST_LOAD_TIMEOUT_MS = 120_000;

/** The libraries a CUDA binary of the given major version links dynamically (not bundled). */
export function cudaRuntimeLibraries(major: number): string[] {
  return [`libcudart.so.${major}`, `libcublas.so.${major}`, `libcublasLt.so.${major}`];
}

function inspectPackage(pkg: CudaPackage, env: NodeJS.ProcessEnv, cache: () => Map<string, string>): CudaInspection {
  const base: CudaInspection = {
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

/** Everything about CUDA that can be found without loading it. */
export function inspectCuda({ root = packageRoot, env = process.env, ldCache }: CudaSearch = {}): CudaInspection {
  const none: CudaInspection = {
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
  const lastLine = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter((line) => line && !/^Node\.js v\d/.test(line))
      .pop() ?? '';
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

/**
 * The one body of checkCuda and checkCudaSync: inspectCuda, then, when it found nothing wrong,
 * the test load. It yields the binary to test-load and is resumed with how the child ended, so
 * the two differ only in how they run the child.
 */
function* cudaCheckSteps(search: CudaSearch): Generator<string, CudaCheck, ChildResult> {
  const inspection = inspectCuda(search);
  if (inspection.problem || !inspection.binary) return { ...inspection, testLoad: null };
  const started = Date.now();
  const child = yield inspection.binary.path;
  const testLoad = interpretTestLoad(child, Date.now() - started);
  return { ...inspection, testLoad, problem: testLoad.ok ? null : testLoad.reason! };
}

/** checkCuda, blocking while the child runs: for the library's first synchronous use. */
export function checkCudaSync(search: CudaSearch = {}): CudaCheck {
  const steps = cudaCheckSteps(search);
  let step = steps.next();
  while (!step.done) step = steps.next(runChildSync(step.value, search.env));
  return step.value;
}

/** inspectCuda, then the test load of the CUDA binary in a child process. */
export async function checkCuda(search: CudaSearch = {}): Promise<CudaCheck> {
  const steps = cudaCheckSteps(search);
  let step = steps.next();
  while (!step.done) step = steps.next(await runChildAsync(step.value, search.env));
  return step.value;
}
