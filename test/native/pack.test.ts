/**
 * What `npm install whisper-napi` gives a user: the packed tarball installs offline into a fresh
 * project on a machine with no compiler on PATH (so the prebuild, not a build, must be used),
 * and transcribes a real clip from there.
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
    project = path.join(scratch, 'app');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  });

  it('holds the prebuild, the compiled library and the whisper.cpp source, and nothing of the repository besides', () => {
    const files = new Set(packed.files.map((f) => f.path));
    const prebuild = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'prebuilds', PLATFORM_ARCH, 'build.json'), 'utf8')) as { files: string[] };
    for (const name of [...prebuild.files, 'build.json']) expect(files).toContain(`prebuilds/${PLATFORM_ARCH}/${name}`);
    for (const name of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/cli.js', 'scripts/install.mjs', 'scripts/build-native.mjs', 'CMakeLists.txt', 'binding/addon.cpp']) {
      expect(files).toContain(name);
    }
    for (const name of ['deps/whisper.cpp/.whisper-napi-source', 'deps/whisper.cpp/src/whisper.cpp', 'deps/whisper.cpp/ggml/src/ggml.c', 'deps/whisper.cpp/ggml/src/ggml-cuda/ggml-cuda.cu']) {
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
    const install = spawnSync(process.execPath, [npmCli(), 'install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
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

  it('without a prebuild for the platform, refuses to install and names the missing build tools', () => {
    // The same package minus prebuilds/: what a user on a platform without a prebuild gets.
    const unpacked = path.join(scratch, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true });
    const stripped = path.join(scratch, 'no-prebuild.tgz');
    execFileSync('tar', ['-czf', stripped, '-C', unpacked, 'package']);
    const otherProject = path.join(scratch, 'app-without-prebuild');
    fs.mkdirSync(otherProject);
    fs.writeFileSync(path.join(otherProject, 'package.json'), JSON.stringify({ name: 'app2', version: '1.0.0', private: true }));
    const install = spawnSync(process.execPath, [npmCli(), 'install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', stripped], {
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
