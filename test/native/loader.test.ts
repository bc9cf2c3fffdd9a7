/**
 * Choosing the binary with the real addon: what backendInfo() reports, `gpu: 'cuda'` failing
 * loudly where CUDA can't be used, and the CUDA test load in a child process, where a binary
 * that fails to load, or crashes the process loading it, leaves this process running.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, loadBackend } from '../../lib';
import { cudaPackageNames, findCpuBinary, findCudaPackages } from '../../lib/native/binaries';
import { checkCuda, cudaRuntimeLibraries, inspectCuda } from '../../lib/native/cuda-probe';
import { rejectedWhisperError } from '../support/errors';
import { REPO_ROOT } from '../support/paths';

const PLATFORM_ARCH = `${process.platform}-${process.arch}`;
const ourVersion = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// On CI no CUDA package exists; in a checkout where `prebuild.mjs --cuda` ran, packages/ holds
// one and this machine (no driver) gives another reason. Either way it is what inspectCuda says.
const cudaProblem = inspectCuda().problem!;
const noCudaPackage = findCudaPackages().length === 0;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-loader-native-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs node with `args` in a fresh process with the given environment (WHISPER_NAPI_BINARY removed unless given). */
function runNodeArgs(args: string[], env: Record<string, string>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('WHISPER_NAPI_BINARY' in env)) delete childEnv.WHISPER_NAPI_BINARY;
  return spawnSync(process.execPath, args, { cwd: REPO_ROOT, env: childEnv, encoding: 'utf8', timeout: 120_000 });
}

const runNode = (code: string, env: Record<string, string>) => runNodeArgs(['-e', code], env);

/**
 * A project with a fake CUDA package holding `install(dir)`'s files as its binary, and a
 * library folder where the driver and CUDA 13 runtime "exist" (empty files: only the static
 * checks look at them; the child never needs them because the binary is not really CUDA).
 */
function fakeCudaSetup(name: string, install: (prebuildDir: string) => string) {
  const root = path.join(scratch, name);
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'whisper-napi', version: ourVersion }));
  const packageDir = path.join(root, 'node_modules', ...cudaPackageNames()[0].split('/'));
  const prebuildDir = path.join(packageDir, 'prebuilds', PLATFORM_ARCH);
  fs.mkdirSync(prebuildDir, { recursive: true });
  fs.writeFileSync(path.join(packageDir, 'package.json'), JSON.stringify({ name: cudaPackageNames()[0], version: ourVersion }));
  const addon = install(prebuildDir);
  fs.writeFileSync(path.join(prebuildDir, 'build.json'), JSON.stringify({ addon, gpu: 'cuda', cuda: { major: 13, architectures: '90' } }));
  const libs = path.join(root, 'libs');
  fs.mkdirSync(libs);
  for (const library of ['libcuda.so.1', ...cudaRuntimeLibraries(13)]) fs.writeFileSync(path.join(libs, library), '');
  return { root, env: { ...process.env, LD_LIBRARY_PATH: libs }, ldCache: new Map<string, string>() };
}

describe('backendInfo', () => {
  it('names the loaded CPU binary, its CPU variant and why CUDA was not used', () => {
    const info = backendInfo();
    expect(info.binary.kind).toBe('cpu');
    expect(fs.existsSync(info.binary.path)).toBe(true);
    expect(info.backends.map((b) => b.name)).toContain('CPU');
    if (PLATFORM_ARCH === 'linux-x64') {
      expect(info.cpuVariant).toMatch(/^[a-z0-9_.]+$/);
      expect(info.backends.find((b) => b.name === 'CPU')!.path).toBe(path.join(path.dirname(info.binary.path), `libggml-cpu-${info.cpuVariant}.so`));
    }
    if (process.env.WHISPER_NAPI_BINARY) {
      // CI runs the suite this way, on the prebuild: the variable wins and CUDA is not looked at.
      expect(info.binary).toMatchObject({ path: path.resolve(process.env.WHISPER_NAPI_BINARY), source: 'WHISPER_NAPI_BINARY' });
      expect(info.cuda).toBeNull();
      expect(info.fallbackReason).toBeNull();
    } else if (info.gpu === 'auto') {
      expect(info.fallbackReason).toBe(cudaProblem);
      if (noCudaPackage) expect(cudaProblem).toBe(`the CUDA package ${cudaPackageNames()[0]} is not installed`);
    }
  });

  it('loadBackend() returns the same binary, and refuses to switch to another preference', async () => {
    const info = backendInfo();
    expect((await loadBackend()).binary).toEqual(info.binary);
    const other = info.gpu === 'cpu' ? 'cuda' : 'cpu';
    const error = await rejectedWhisperError(loadBackend({ gpu: other }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain(`already loaded (gpu: '${info.gpu}', cpu binary) and can't change to '${other}'`);
    expect((await rejectedWhisperError(loadBackend({ gpu: 'metal' as never }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('choosing a binary in a fresh process', () => {
  it("gpu: 'cuda' fails loudly, with the reason, when CUDA can't be used", () => {
    const result = runNode(`const w = require('.'); try { w.getDevices(); console.log('loaded'); } catch (e) { console.log(e.code + ': ' + e.message); }`, {
      WHISPER_NAPI_GPU: 'cuda',
    });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(
      `BACKEND_UNAVAILABLE: gpu: 'cuda' was asked for, but CUDA can't be used: ${cudaProblem}. ` +
        "Run `npx whisper-napi doctor` for details, or use gpu: 'auto' to fall back to the CPU.",
    );
  });

  it('WHISPER_NAPI_GPU must be auto, cuda or cpu', () => {
    const result = runNode(`try { require('.').getDevices(); } catch (e) { console.log(e.code + ': ' + e.message); }`, { WHISPER_NAPI_GPU: 'yes' });
    expect(result.stdout.trim()).toBe(`INVALID_ARGUMENT: WHISPER_NAPI_GPU: expected one of 'auto', 'cuda', 'cpu', got "yes"`);
  });

  it("gpu: 'cpu' loads the CPU binary without looking at CUDA", () => {
    const result = runNode(`const i = require('.').backendInfo(); console.log(JSON.stringify([i.binary.kind, i.cuda, i.fallbackReason]))`, { WHISPER_NAPI_GPU: 'cpu' });
    expect(JSON.parse(result.stdout)).toEqual(['cpu', null, null]);
  });
});

describe('one loaded binary per JS environment, however many copies of the loader', () => {
  const distLoader = path.join(REPO_ROOT, 'dist', 'native', 'loader.js');

  /** dist/ copied into a package folder of its own, with no binary beside it. */
  function copiedPackage(name: string, version: string): string {
    const root = path.join(scratch, name);
    fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(root, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'whisper-napi', version }));
    return path.join(root, 'dist', 'native', 'loader.js');
  }

  const report = `(f) => { try { return f(); } catch (e) { return e.code + ': ' + e.message; } }`;

  it('a copy from a fresh module cache, and a copy in another folder, use the binary the first copy loaded', () => {
    const copy = copiedPackage('copy-same-version', ourVersion);
    const alone = runNode(`console.log((${report})(() => require(${JSON.stringify(copy)}).backendInfo().binary.path))`, { WHISPER_NAPI_GPU: 'cpu' });
    // On its own the copy finds no binary, so whatever it reports below came from the first copy.
    expect(alone.stdout).toMatch(/^NATIVE_ERROR: could not load the whisper-napi native addon .*: no binary for /);

    const result = runNode(
      `const first = require(${JSON.stringify(distLoader)});
       const addon = first.loadedAddon();
       for (const key of Object.keys(require.cache)) if (key.startsWith(${JSON.stringify(path.join(REPO_ROOT, 'dist'))})) delete require.cache[key];
       const fresh = require(${JSON.stringify(distLoader)});
       const copy = require(${JSON.stringify(copy)});
       console.log(JSON.stringify({
         distinctModules: fresh !== first && copy !== first,
         sameAddon: [fresh.loadedAddon() === addon, copy.loadedAddon() === addon],
         sameInfo: [fresh.backendInfo(), copy.backendInfo()].every((info) => JSON.stringify(info) === JSON.stringify(first.backendInfo())),
       }));`,
      { WHISPER_NAPI_GPU: 'cpu' },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ distinctModules: true, sameAddon: [true, true], sameInfo: true });
  });

  it("refuses a second version beside the first rather than run it on the first one's libraries", () => {
    const other = copiedPackage('copy-other-version', '0.0.0-other');
    const result = runNode(
      `require(${JSON.stringify(distLoader)}).loadedAddon();
       console.log((${report})(() => require(${JSON.stringify(other)}).loadedAddon()));`,
      { WHISPER_NAPI_GPU: 'cpu' },
    );
    expect(result.stdout.trim()).toBe(
      `NATIVE_ERROR: whisper-napi@0.0.0-other (${path.dirname(path.dirname(path.dirname(other)))}) can't load its native addon: ` +
        `whisper-napi@${ourVersion} is already in use in this process; install one version`,
    );
  });
});

describe.runIf(PLATFORM_ARCH === 'linux-x64')('a binary without its CPU variants', () => {
  it('fails to load with NATIVE_ERROR naming the missing files, not at the first model', () => {
    const cpu = findCpuBinary()!;
    const dir = path.join(scratch, 'no-variants');
    fs.mkdirSync(dir);
    for (const name of fs.readdirSync(path.dirname(cpu.path)).filter((n) => n.startsWith('libwhisper-napi-'))) {
      fs.copyFileSync(path.join(path.dirname(cpu.path), name), path.join(dir, name));
    }
    fs.copyFileSync(cpu.path, path.join(dir, 'whisper-napi.node'));
    const result = runNode(`try { require('.').getDevices(); } catch (e) { console.log(e.code + ': ' + e.message); }`, {
      WHISPER_NAPI_BINARY: path.join(dir, 'whisper-napi.node'),
    });
    expect(result.stdout.trim()).toBe(
      `NATIVE_ERROR: could not load the whisper-napi native addon ${path.join(dir, 'whisper-napi.node')}: it registered no ggml CPU backend: ` +
        `the libggml-cpu-*.so files are missing from ${dir}. Reinstall the package, or build it with \`npm run build:native\`; ` +
        '`npx whisper-napi doctor` shows what was found.',
    );
  });
});

describe('the CUDA test load, in a child process', () => {
  it("reports why a binary without a loadable CUDA module has no GPU (the dynamic loader's own words)", async () => {
    const cpu = findCpuBinary()!;
    const { root, env, ldCache } = fakeCudaSetup('no-cuda-module', (dir) => {
      for (const name of fs.readdirSync(path.dirname(cpu.path)).filter((n) => /\.so$/.test(n))) {
        fs.copyFileSync(path.join(path.dirname(cpu.path), name), path.join(dir, name));
      }
      fs.copyFileSync(cpu.path, path.join(dir, 'whisper-napi.napi.glibc.node'));
      return 'whisper-napi.napi.glibc.node';
    });
    const check = await checkCuda({ root, env, ldCache });
    expect(check.testLoad?.ok).toBe(false);
    expect(check.problem).toMatch(/^the CUDA module did not load: .*libggml-cuda\.so: cannot open shared object file/);
  });

  it("reports a binary that does not load, with the loader's message", async () => {
    const { root, env, ldCache } = fakeCudaSetup('not-elf', (dir) => {
      fs.writeFileSync(path.join(dir, 'whisper-napi.napi.glibc.node'), 'this is not a shared library\n'.repeat(100));
      return 'whisper-napi.napi.glibc.node';
    });
    const check = await checkCuda({ root, env, ldCache });
    expect(check.problem).toMatch(/^the CUDA binary does not load: .*whisper-napi\.napi\.glibc\.node: invalid ELF header$/);
  });

  it('survives a truncated binary, which kills the process that maps it (SIGBUS)', async () => {
    const cpu = findCpuBinary()!;
    const { root, env, ldCache } = fakeCudaSetup('truncated', (dir) => {
      fs.writeFileSync(path.join(dir, 'whisper-napi.napi.glibc.node'), fs.readFileSync(cpu.path).subarray(0, 4096));
      return 'whisper-napi.napi.glibc.node';
    });
    const check = await checkCuda({ root, env, ldCache });
    expect(check.problem).toMatch(/^the test load crashed \(SIGBUS\)|^the CUDA binary does not load: .*(too short|ELF)/);
  });

  it.runIf(process.platform === 'linux')('survives a binary that crashes the process loading it', async () => {
    const { root, env, ldCache } = fakeCudaSetup('crashing', (dir) => {
      const source = path.join(dir, 'crash.c');
      // Stands in for a broken driver: dies inside dlopen, before any JS can catch anything.
      fs.writeFileSync(source, '#include <stdlib.h>\n__attribute__((constructor)) static void on_load(void) { abort(); }\n');
      execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(dir, 'crash.node'), source]);
      return 'crash.node';
    });
    const check = await checkCuda({ root, env, ldCache });
    expect(check.testLoad?.ok).toBe(false);
    expect(check.problem).toMatch(/^the test load crashed \(SIGABRT\)/);
  });
});

describe('whisper-napi doctor', () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');

  it('reports platform, CPU, binaries, CUDA findings, the auto choice and devices', () => {
    const result = runNodeArgs([cli, 'doctor', '--json'], {});
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as import('../../lib/native/doctor').Diagnosis;
    expect(report.platform).toMatchObject({ os: process.platform, arch: process.arch, node: process.version });
    expect(report.binaries.cpu?.path).toBe(findCpuBinary()!.path);
    expect(report.auto).toEqual({ binary: 'cpu', reason: cudaProblem });
    expect('error' in report.loaded).toBe(false);
    expect(report.devices.map((d) => d.type)).toContain('cpu');
    if (PLATFORM_ARCH === 'linux-x64') expect(report.cpu.flags).toEqual(expect.arrayContaining(['sse4_2']));

    const text = runNodeArgs([cli, 'doctor'], {});
    const escaped = cudaProblem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(text.stdout).toMatch(new RegExp(`^auto picks +cpu: ${escaped}$`, 'm'));
    expect(text.stdout).toMatch(/^device +0: CPU /m);
  });

  it("exits non-zero and says why when the asked-for backend can't be loaded", () => {
    const result = runNodeArgs([cli, 'doctor', '--gpu', 'cuda'], {});
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^loaded +nothing: gpu: 'cuda' was asked for, but CUDA can't be used: /m);
  });
});
