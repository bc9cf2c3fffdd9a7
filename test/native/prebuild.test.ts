/**
 * The linux-x64 prebuild as users get it (prebuilds/linux-x64/, made by `npm run prebuilds`):
 * plain files that find each other by $ORIGIN and carry no path of the build machine, and a
 * binary that runs on any x86-64 CPU: natively with the best CPU variant this machine has, and
 * under qemu-user emulating older CPUs with the variant those support, giving the same text.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths';
import { realModels } from '../support/real-models';
import type { BuildManifest } from '../../lib/native/binaries';

const PLATFORM_ARCH = `${process.platform}-${process.arch}`;
const PREBUILD_DIR = path.join(REPO_ROOT, 'prebuilds', PLATFORM_ARCH);
const SMOKE = path.join(REPO_ROOT, 'test', 'support', 'smoke-transcribe.cjs');
// A short real clip with the encoder cut to 128 frames (2.56 s): under emulation a full
// 30 s window of base takes minutes, this takes seconds.
const CLIP = path.join(REPO_ROOT, '..', 'shared', 'audio', 'cards', '001.wav');
const AUDIO_CONTEXT = '128';

interface SmokeResult {
  text: string;
  binary: { path: string; source: string };
  cpuVariant: string | null;
  cpuFeatures: Record<string, string>;
}

function readManifest(): BuildManifest {
  const file = path.join(PREBUILD_DIR, 'build.json');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run prebuilds\` (node scripts/prebuild.mjs) first`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BuildManifest;
}

function smoke(command: string[], model: string): SmokeResult {
  const output = execFileSync(command[0], [...command.slice(1), SMOKE, REPO_ROOT, model, CLIP, AUDIO_CONTEXT], {
    encoding: 'utf8',
    env: { ...process.env, WHISPER_NAPI_BINARY: path.join(PREBUILD_DIR, readManifest().addon), WHISPER_NAPI_GPU: 'cpu' },
    timeout: 300_000,
  });
  return JSON.parse(output.trim().split('\n').pop()!) as SmokeResult;
}

function hostCpuFlags(): Set<string> {
  const line =
    fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags')) ?? '';
  return new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
}

describe.runIf(PLATFORM_ARCH === 'linux-x64')('the linux-x64 CPU prebuild', () => {
  const model = realModels().models.base.files.q5_0.path;
  let native: SmokeResult;

  beforeAll(() => {
    native = smoke([process.execPath], model);
  });

  it('is the addon, whisper, ggml and every CPU variant, as plain files listed in build.json', () => {
    const manifest = readManifest();
    const files = fs.readdirSync(PREBUILD_DIR).sort();
    expect(files).toEqual([...manifest.files, 'build.json'].sort());
    for (const name of files) expect(fs.lstatSync(path.join(PREBUILD_DIR, name)).isFile()).toBe(true);
    expect(manifest.addon).toBe('whisper-napi.napi.glibc.node');
    expect(manifest.gpu).toBe('cpu');
    for (const variant of ['x64', 'sse42', 'sandybridge', 'haswell', 'skylakex', 'zen4']) {
      expect(files).toContain(`libggml-cpu-${variant}.so`);
      expect(manifest.cpuVariants).toContain(variant);
    }
  });

  it('links only its own libraries (found through $ORIGIN) and the C/C++ runtime', () => {
    const dynamic = execFileSync('readelf', ['-d', path.join(PREBUILD_DIR, readManifest().addon)], { encoding: 'utf8' });
    const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    const own = needed.filter((name) => name.startsWith('libwhisper-napi-'));
    expect(own.sort()).toEqual(['libwhisper-napi-ggml-base.so', 'libwhisper-napi-ggml.so', 'libwhisper-napi-whisper.so']);
    for (const name of own) expect(fs.existsSync(path.join(PREBUILD_DIR, name))).toBe(true);
    expect(needed.filter((name) => !name.startsWith('libwhisper-napi-')).sort()).toEqual([
      'ld-linux-x86-64.so.2',
      'libc.so.6',
      'libgcc_s.so.1',
      'libm.so.6',
      'libstdc++.so.6',
    ]);
    expect(dynamic).toMatch(/\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]/);
  });

  it('holds no path of the machine that built it', () => {
    const needle = Buffer.from(REPO_ROOT);
    const leaking = fs.readdirSync(PREBUILD_DIR).filter((name) => fs.readFileSync(path.join(PREBUILD_DIR, name)).includes(needle));
    expect(leaking).toEqual([]);
  });

  it('runs natively on the best CPU variant this machine supports', () => {
    expect(native.binary).toMatchObject({ path: path.join(PREBUILD_DIR, readManifest().addon), source: 'WHISPER_NAPI_BINARY' });
    expect(native.text.toLowerCase()).toMatch(/\b(10|ten) of clubs\b/);
    const flags = hostCpuFlags();
    if (flags.has('avx2')) {
      expect(native.cpuFeatures.AVX2).toBe('1');
      expect(['x64', 'sse42', 'sandybridge', 'ivybridge', 'piledriver']).not.toContain(native.cpuVariant);
    }
    if (flags.has('avx512f')) expect(native.cpuFeatures.AVX512).toBe('1');
  });

  // qemu64: x86-64 baseline (SSE2); Nehalem: adds SSE4.2 but no AVX.
  it.each([
    ['qemu64', 'x64'],
    ['Nehalem', 'sse42'],
  ])('runs under qemu-user with a %s CPU on the %s variant, with the same text', (cpu, variant) => {
    const qemu = ['qemu-x86_64', '/usr/bin/qemu-x86_64'].find((file) => {
      try {
        execFileSync(file, ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!qemu) throw new Error('qemu-x86_64 is missing: apt-get install qemu-user (.ci/run installs it)');
    const emulated = smoke([qemu, '-cpu', cpu, process.execPath], model);
    expect(emulated.cpuVariant).toBe(variant);
    expect(emulated.cpuFeatures.AVX ?? '0').not.toBe('1');
    expect(emulated.text).toBe(native.text);
  });
});
