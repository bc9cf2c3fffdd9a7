/**
 * The binary loader's decisions without loading anything: where CUDA packages, drivers and
 * runtime libraries are found, and what a test load's outcome means.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cudaPackageNames } from '../../lib/native/binaries';
import { cudaRuntimeLibraries, inspectCuda, interpretTestLoad, type ChildResult } from '../../lib/native/cuda-probe';
import { parseGpuPreference } from '../../lib/native/loader';
import { DEFAULT_LIBRARY_DIRS, findSharedLibrary } from '../../lib/native/shared-libraries';
import { thrownWhisperError } from '../support/errors';

const ourVersion = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
const platformArch = `${process.platform}-${process.arch}`;
const scratch: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-loader-'));
  scratch.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function touch(file: string, content = ''): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** A project whose node_modules holds a CUDA package (name, version and build.json as given). */
function projectWithCudaPackage(options: { name?: string; version?: string; cudaMajor?: number; withBinary?: boolean } = {}): string {
  const root = tempDir();
  touch(path.join(root, 'package.json'), JSON.stringify({ name: 'whisper-napi', version: ourVersion }));
  const name = options.name ?? cudaPackageNames()[0];
  const dir = path.join(root, 'node_modules', ...name.split('/'));
  touch(path.join(dir, 'package.json'), JSON.stringify({ name, version: options.version ?? ourVersion }));
  const prebuilds = path.join(dir, 'prebuilds', platformArch);
  fs.mkdirSync(prebuilds, { recursive: true });
  if (options.withBinary !== false) {
    touch(path.join(prebuilds, 'whisper-napi.napi.glibc.node'), 'not really a binary');
    touch(
      path.join(prebuilds, 'build.json'),
      JSON.stringify({ addon: 'whisper-napi.napi.glibc.node', gpu: 'cuda', cuda: { major: options.cudaMajor ?? 13, architectures: '90' } }),
    );
  }
  return root;
}

const noLdCache = () => new Map<string, string>();

describe('parseGpuPreference', () => {
  it('accepts auto, cuda and cpu', () => {
    for (const value of ['auto', 'cuda', 'cpu']) expect(parseGpuPreference(value, 'gpu')).toBe(value);
  });

  it('rejects anything else with INVALID_ARGUMENT naming the parameter and the choices', () => {
    const error = thrownWhisperError(() => parseGpuPreference('gpu', 'WHISPER_NAPI_GPU'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(`WHISPER_NAPI_GPU: expected one of 'auto', 'cuda', 'cpu', got "gpu"`);
    expect(thrownWhisperError(() => parseGpuPreference(true, 'options.gpu')).message).toContain('got true');
  });
});

describe('findSharedLibrary', () => {
  it('finds a library in LD_LIBRARY_PATH, in order, before the ld.so cache', () => {
    const first = tempDir();
    const second = tempDir();
    const inSecond = touch(path.join(second, 'libexample.so.7'));
    const cached = touch(path.join(tempDir(), 'libexample.so.7'));
    const found = findSharedLibrary('libexample.so.7', { LD_LIBRARY_PATH: `${first}:${second}` }, new Map([['libexample.so.7', cached]]));
    expect(found).toEqual({ path: inSecond, offPath: null });
  });

  it('uses the ld.so cache entry when LD_LIBRARY_PATH has nothing', () => {
    const cached = touch(path.join(tempDir(), 'libexample.so.7'));
    expect(findSharedLibrary('libexample.so.7', {}, new Map([['libexample.so.7', cached]])).path).toBe(cached);
  });

  it('ignores a cache entry whose file is gone, and reports not found', () => {
    const gone = path.join(tempDir(), 'libexample.so.7');
    expect(findSharedLibrary('libexample.so.7', {}, new Map([['libexample.so.7', gone]]))).toEqual({ path: null, offPath: null });
  });
});

describe.runIf(process.platform === 'linux')('inspectCuda', () => {
  it('says the package is not installed when it is not', () => {
    const root = tempDir();
    touch(path.join(root, 'package.json'), JSON.stringify({ name: 'whisper-napi', version: ourVersion }));
    const check = inspectCuda({ root, env: {}, ldCache: noLdCache() });
    expect(check.package).toBeNull();
    expect(check.problem).toBe(`the CUDA package ${cudaPackageNames()[0]} is not installed`);
  });

  it('refuses a CUDA package of another version', () => {
    const root = projectWithCudaPackage({ version: '0.0.1' });
    const check = inspectCuda({ root, env: {}, ldCache: noLdCache() });
    expect(check.problem).toBe(`${cudaPackageNames()[0]}@0.0.1 does not match whisper-napi@${ourVersion}; install the same version`);
  });

  it('refuses a package without a binary for this platform', () => {
    const root = projectWithCudaPackage({ withBinary: false });
    expect(inspectCuda({ root, env: {}, ldCache: noLdCache() }).problem).toMatch(/has no binary for/);
  });

  // A machine with a real driver in a default library folder finds it there, whatever the test passes.
  const realDriver = DEFAULT_LIBRARY_DIRS.some((dir) => fs.existsSync(path.join(dir, 'libcuda.so.1')));

  it.skipIf(realDriver)('needs the driver library libcuda.so.1', () => {
    const root = projectWithCudaPackage();
    const check = inspectCuda({ root, env: { LD_LIBRARY_PATH: tempDir() }, ldCache: noLdCache() });
    expect(check.driver.library).toBeNull();
    expect(check.problem).toBe('no NVIDIA driver: libcuda.so.1 is not on the library path');
  });

  it('names each missing runtime library of the CUDA major the binary was built with', () => {
    const root = projectWithCudaPackage({ cudaMajor: 13 });
    const libs = tempDir();
    touch(path.join(libs, 'libcuda.so.1'));
    touch(path.join(libs, 'libcudart.so.13'));
    const check = inspectCuda({ root, env: { LD_LIBRARY_PATH: libs }, ldCache: noLdCache() });
    expect(check.driver.library).toBe(path.join(libs, 'libcuda.so.1'));
    expect(check.runtime['libcudart.so.13'].path).toBe(path.join(libs, 'libcudart.so.13'));
    expect(check.problem).toBe('the CUDA 13 runtime is missing: libcublas.so.13, libcublasLt.so.13 not found');
  });

  it('passes the static checks when driver and runtime are on the library path', () => {
    const root = projectWithCudaPackage({ cudaMajor: 12, name: cudaPackageNames()[1] });
    const libs = tempDir();
    for (const library of ['libcuda.so.1', ...cudaRuntimeLibraries(12)]) touch(path.join(libs, library));
    const check = inspectCuda({ root, env: { LD_LIBRARY_PATH: libs }, ldCache: noLdCache() });
    expect(check.problem).toBeNull();
    expect(check.packageName).toBe(cudaPackageNames()[1]);
    expect(check.binary?.path).toBe(path.join(root, 'node_modules', ...cudaPackageNames()[1].split('/'), 'prebuilds', platformArch, 'whisper-napi.napi.glibc.node'));
  });

  it('prefers the first CUDA package whose checks pass, and reports every problem when none does', () => {
    const root = projectWithCudaPackage({ cudaMajor: 13 });
    const second = cudaPackageNames()[1];
    const dir = path.join(root, 'node_modules', ...second.split('/'));
    touch(path.join(dir, 'package.json'), JSON.stringify({ name: second, version: ourVersion }));
    touch(path.join(dir, 'prebuilds', platformArch, 'whisper-napi.napi.glibc.node'));
    touch(path.join(dir, 'prebuilds', platformArch, 'build.json'), JSON.stringify({ addon: 'whisper-napi.napi.glibc.node', gpu: 'cuda', cuda: { major: 12 } }));
    const libs = tempDir();
    for (const library of ['libcuda.so.1', ...cudaRuntimeLibraries(12)]) touch(path.join(libs, library));
    // Only the CUDA 12 runtime is here: the CUDA 13 package fails, the CUDA 12 one is chosen.
    expect(inspectCuda({ root, env: { LD_LIBRARY_PATH: libs }, ldCache: noLdCache() }).packageName).toBe(second);
    fs.rmSync(path.join(libs, 'libcublas.so.12'));
    const neither = inspectCuda({ root, env: { LD_LIBRARY_PATH: libs }, ldCache: noLdCache() });
    expect(neither.problem).toBe(
      `${cudaPackageNames()[0]}: the CUDA 13 runtime is missing: libcudart.so.13, libcublas.so.13, libcublasLt.so.13 not found; ` +
        `${second}: the CUDA 12 runtime is missing: libcublas.so.12 not found`,
    );
  });
});

describe('interpretTestLoad', () => {
  const base: ChildResult = { status: 0, signal: null, stdout: '', stderr: '', timedOut: false };
  const report = (value: object) => ({ ...base, stdout: JSON.stringify(value) });
  const gpu = { name: 'CUDA0', description: 'NVIDIA H100', freeBytes: 8e10, totalBytes: 8.5e10 };

  it('is ok when the CUDA backend registered a device', () => {
    expect(interpretTestLoad(report({ cuda: true, devices: [gpu], moduleError: null }), 812)).toEqual({ ok: true, milliseconds: 812, devices: [gpu] });
  });

  it('reports a crash with its signal and the last line the child wrote', () => {
    const verdict = interpretTestLoad({ ...base, status: null, signal: 'SIGSEGV', stderr: 'CUDA error: unknown\nSegmentation fault\n' }, 5);
    expect(verdict).toEqual({ ok: false, milliseconds: 5, devices: [], reason: 'the test load crashed (SIGSEGV): Segmentation fault' });
  });

  it("reports a binary that does not load with the loader's message", () => {
    const verdict = interpretTestLoad({ ...base, status: 1, stdout: JSON.stringify({ loadError: 'libcudart.so.13: cannot open shared object file' }) }, 5);
    expect(verdict.reason).toBe('the CUDA binary does not load: libcudart.so.13: cannot open shared object file');
  });

  it("reports any other failure with the exit code and the last line before Node's version line", () => {
    const verdict = interpretTestLoad({ ...base, status: 7, stderr: 'Error: out of memory\n    at x\nError: boom\n\nNode.js v20.19.5\n' }, 5);
    expect(verdict.reason).toBe('the test load failed (exit code 7): Error: boom');
  });

  it('reports why the CUDA module did not register, from the dynamic loader', () => {
    const verdict = interpretTestLoad(report({ cuda: false, devices: [], moduleError: 'libcublas.so.13: cannot open shared object file: No such file or directory' }), 5);
    expect(verdict.reason).toBe('the CUDA module did not load: libcublas.so.13: cannot open shared object file: No such file or directory');
  });

  it('says "no usable GPU" when the module loads but sees no device', () => {
    const verdict = interpretTestLoad(report({ cuda: false, devices: [], moduleError: 'Module did not self-register: libggml-cuda.so' }), 5);
    expect(verdict.reason).toMatch(/^the CUDA module loaded but found no usable GPU/);
  });

  it('reports a timeout and output that is not a report', () => {
    expect(interpretTestLoad({ ...base, status: null, signal: 'SIGKILL', timedOut: true }, 120000).reason).toBe('the test load did not finish in 120 s');
    expect(interpretTestLoad({ ...base, stdout: 'hello' }, 5).reason).toBe('the test load printed no report: hello');
  });
});
