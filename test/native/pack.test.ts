/**
 * What `npm install whisper-napi` gives a user: the packed tarball installs offline into a fresh
 * project on a machine with no compiler on PATH (so the prebuild, not a build, must be used),
 * and transcribes a real clip from there. "Offline" means no compiler and no build, not no
 * registry: the test fills an npm cache of its own with the locked versions of the runtime
 * dependencies first, so it passes on a machine whose npm cache has never seen them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JFK_WAV, REPO_ROOT } from '../support/paths';
import { realModels } from '../support/real-models';

const PLATFORM_ARCH = `${process.platform}-${process.arch}`;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-pack-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function npmCli(): string {
  const fromEnv = process.env.npm_execpath;
  if (fromEnv && /npm-cli\.js$/.test(fromEnv)) return fromEnv;
  const npm = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  return path.join(path.dirname(npm), 'npm-cli.js');
}

/** The environment of a user's shell without npm's lifecycle variables and our test switches. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('WHISPER_NAPI_') && key !== 'PATH') env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * The runtime dependencies, with theirs, at the versions package-lock.json pins: what the
 * installs below need in the cache, and (as overrides) what they install, so that a release
 * of a dependency after the cache was filled can't make them reach for one that isn't there.
 */
function lockedRuntimePackages(): Map<string, string> {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { name?: string; version?: string; dev?: boolean; link?: boolean }>;
  };
  const versions = new Map<string, Set<string>>();
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.dev || entry.link || !entry.version) continue;
    const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
    versions.set(name, (versions.get(name) ?? new Set()).add(entry.version));
  }
  return new Map([...versions].flatMap(([name, set]) => [...set].map((version) => [`${name}@${version}`, name] as [string, string])));
}

/** A fresh project whose overrides pin every runtime dependency that the lock has at one version. */
function writeProject(dir: string, name: string, locked: Map<string, string>): void {
  const counts = new Map<string, number>();
  for (const packageName of locked.values()) counts.set(packageName, (counts.get(packageName) ?? 0) + 1);
  const overrides: Record<string, string> = {};
  for (const [spec, packageName] of locked) {
    if (counts.get(packageName) === 1) overrides[packageName] = spec.slice(packageName.length + 1);
  }
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, overrides }));
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: Array<{ path: string; size: number }>;
}

describe.runIf(PLATFORM_ARCH === 'linux-x64')('the packed package', () => {
  let packed: PackResult;
  let tarball: string;
  let project: string;
  let bareBin: string;
  let npmCache: string;
  let locked: Map<string, string>;

  beforeAll(() => {
    if (!fs.existsSync(path.join(REPO_ROOT, 'prebuilds', PLATFORM_ARCH, 'build.json'))) {
      throw new Error(`prebuilds/${PLATFORM_ARCH} is missing: run \`npm run prebuilds\` first`);
    }
    const output = execFileSync(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', scratch], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: cleanEnv({ PATH: process.env.PATH ?? '' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    packed = (JSON.parse(output.slice(output.indexOf('['))) as PackResult[])[0];
    tarball = path.join(scratch, packed.filename);

    // A PATH with node and a shell and nothing else: no cc, c++, cmake or make.
    bareBin = path.join(scratch, 'bin');
    fs.mkdirSync(bareBin);
    fs.symlinkSync(process.execPath, path.join(bareBin, 'node'));
    fs.symlinkSync('/bin/sh', path.join(bareBin, 'sh'));
    locked = lockedRuntimePackages();
    project = path.join(scratch, 'app');
    writeProject(project, 'app', locked);

    // An npm cache of the test's own, holding exactly the locked runtime dependencies (this
    // step may use the registry; the installs after it may not).
    npmCache = path.join(scratch, 'npm-cache');
    const fill = spawnSync(process.execPath, [npmCli(), 'cache', 'add', ...locked.keys(), '--cache', npmCache], {
      env: cleanEnv({ PATH: process.env.PATH ?? '' }),
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (fill.status !== 0) throw new Error(`npm cache add failed:\n${fill.stdout}\n${fill.stderr}`);
  });

  it('holds the prebuild, the compiled library and the whisper.cpp source, and nothing of the repository besides', () => {
    const files = new Set(packed.files.map((f) => f.path));
    const prebuild = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'prebuilds', PLATFORM_ARCH, 'build.json'), 'utf8')) as { files: string[] };
    for (const name of [...prebuild.files, 'build.json']) expect(files).toContain(`prebuilds/${PLATFORM_ARCH}/${name}`);
    for (const name of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/esm/index.mjs',
      'dist/esm/index.d.mts',
      'dist/tools/index.js',
      'dist/tools/index.d.ts',
      'dist/esm/tools.mjs',
      'dist/esm/tools.d.mts',
      'dist/cli/cli.js',
      'scripts/install.mjs',
      'scripts/build-native.mjs',
      'CMakeLists.txt',
      'binding/addon.cpp',
      'LICENSE',
      'deps/whisper.cpp/LICENSE',
    ]) {
      expect(files).toContain(name);
    }
    for (const name of [
      'deps/whisper.cpp/.whisper-napi-source',
      'deps/whisper.cpp/src/whisper.cpp',
      'deps/whisper.cpp/ggml/src/ggml.c',
      'deps/whisper.cpp/ggml/src/ggml-cuda/ggml-cuda.cu',
    ]) {
      expect(files).toContain(name);
    }
    const unexpected = [...files].filter((name) => /^(test|lib|packages|build|\.ci|\.github)\/|^deps\/whisper\.cpp\/examples\//.test(name));
    expect(unexpected).toEqual([]);
    process.stdout.write(`packed ${packed.filename}: ${packed.size} B compressed, ${packed.unpackedSize} B unpacked, ${packed.entryCount} files\n`);
  });

  it('installs offline with no compiler on PATH, using the prebuild', () => {
    const compilers = spawnSync('sh', ['-c', 'for t in cc c++ gcc g++ clang cmake make ninja; do command -v $t; done'], {
      env: { PATH: bareBin },
      encoding: 'utf8',
    });
    expect(compilers.stdout.trim()).toBe('');
    const install = spawnSync(process.execPath, [npmCli(), 'install', '--offline', '--cache', npmCache, '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
      cwd: project,
      env: cleanEnv({ PATH: bareBin }),
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stderr).not.toMatch(/building it from the bundled/);
    const installed = path.join(project, 'node_modules', 'whisper-napi');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    const bytes = execFileSync('du', ['-sb', installed], { encoding: 'utf8' }).split('\t')[0];
    process.stdout.write(`installed node_modules/whisper-napi: ${bytes} B\n`);
  });

  it('transcribes a real clip from the installed package, on the prebuilt binary', () => {
    const model = realModels().models.base.files.q5_0.path;
    const installed = path.join(project, 'node_modules', 'whisper-napi');
    const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'test', 'support', 'smoke-transcribe.cjs'), installed, model, JFK_WAV], {
      cwd: project,
      env: cleanEnv({ PATH: bareBin }),
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim()) as { text: string; binary: { path: string; source: string } };
    expect(result.text).toMatch(/^And so,? my fellow Americans,? ask not what your country can do for you,? ask what you can do for your country\.$/);
    expect(result.binary.source).toBe('prebuild');
    expect(result.binary.path).toBe(path.join(installed, 'prebuilds', PLATFORM_ARCH, 'whisper-napi.napi.glibc.node'));
  });

  it('resolves by name from the project, as ESM and CommonJS, through its exports map only', () => {
    // Run from the project, as its own code would: bare specifiers resolve in its node_modules.
    const script = `
      import { createRequire } from 'node:module';
      import * as esm from 'whisper-napi';
      import * as esmTools from 'whisper-napi/tools';
      const require = createRequire(process.cwd() + '/package.json');
      let deep;
      try { require.resolve('whisper-napi/dist/tools/wer.js'); deep = 'resolved'; } catch (error) { deep = error.code; }
      process.stdout.write(JSON.stringify({
        cjs: require.resolve('whisper-napi'),
        tools: require.resolve('whisper-napi/tools'),
        deep,
        sameClass: esm.WhisperError === require('whisper-napi').WhisperError,
        esmTools: typeof esmTools.convertModel,
      }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env: cleanEnv({ PATH: bareBin }), encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const installed = path.join(project, 'node_modules', 'whisper-napi');
    expect(JSON.parse(child.stdout)).toEqual({
      cjs: path.join(installed, 'dist', 'index.js'),
      tools: path.join(installed, 'dist', 'tools', 'index.js'),
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      sameClass: true,
      esmTools: 'function',
    });
  });

  it('without a prebuild for the platform, refuses to install and names the missing build tools', () => {
    // The same package minus prebuilds/: what a user on a platform without a prebuild gets.
    const unpacked = path.join(scratch, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true });
    const stripped = path.join(scratch, 'no-prebuild.tgz');
    execFileSync('tar', ['-czf', stripped, '-C', unpacked, 'package']);
    const otherProject = path.join(scratch, 'app-without-prebuild');
    writeProject(otherProject, 'app2', locked);
    const install = spawnSync(process.execPath, [npmCli(), 'install', '--offline', '--cache', npmCache, '--no-audit', '--no-fund', '--foreground-scripts', stripped], {
      cwd: otherProject,
      env: cleanEnv({ PATH: bareBin }),
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(install.status).not.toBe(0);
    const output = `${install.stdout}\n${install.stderr}`;
    expect(output).toContain(`[whisper-napi] there is no prebuilt binary for ${PLATFORM_ARCH} (glibc) in this package; building it from the bundled whisper.cpp source.`);
    expect(output).toContain("[whisper-napi] can't build: missing cmake >= 3.21 (not found on PATH); a C++17 compiler (none of c++, g++, clang++ runs); make or ninja.");
    expect(output).toContain('This package has prebuilt binaries for: none; this machine is linux-x64.');
    expect(fs.existsSync(path.join(otherProject, 'node_modules', 'whisper-napi'))).toBe(false);
  });
});
