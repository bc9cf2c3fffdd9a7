#!/usr/bin/env node
// Builds whisper.cpp's own tools from deps/whisper.cpp, with the ggml options the addon uses
// (cmake/ggml-options.cmake): whisper-cli (the parity oracle), whisper-quantize (the oracle
// for lib/tools/quantize.ts) and whisper-bench.
//
//   node scripts/build-whisper-cli.mjs                 prints the whisper-cli path
//   node scripts/build-whisper-cli.mjs quantize bench  prints one path per line, in order
//
// Tool names: whisper-cli (or cli), whisper-quantize (or quantize), whisper-bench (or bench).
// The binaries are cached outside the clone, keyed by the pinned source, the shared options
// and the compiler, so CI builds them once per machine. When one is missing, every missing
// tool is built in the same cmake run (ggml is compiled once for all of them).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = process.env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi');
const manifestText = fs.readFileSync(path.join(root, 'deps', 'whisper.cpp.json'), 'utf8');
const optionsFile = path.join(root, 'cmake', 'ggml-options.cmake');
const sourceDir = path.join(root, 'deps', 'whisper.cpp');
/** CMake target names (examples/cli, examples/quantize, examples/bench); the binary has the same name. */
const ALL_TARGETS = ['whisper-cli', 'whisper-quantize', 'whisper-bench'];
const ALIASES = { cli: 'whisper-cli', quantize: 'whisper-quantize', bench: 'whisper-bench' };

function log(message) {
  process.stderr.write(`[build-whisper-cli] ${message}\n`);
}

const requested = process.argv.slice(2).map((arg) => ALIASES[arg] ?? arg);
if (requested.length === 0) requested.push('whisper-cli');
for (const target of requested) {
  if (!ALL_TARGETS.includes(target)) {
    log(`unknown tool "${target}"; expected one of ${ALL_TARGETS.join(', ')} (or ${Object.keys(ALIASES).join(', ')})`);
    process.exit(2);
  }
}

function compilerId() {
  try {
    return execFileSync(process.env.CXX || 'c++', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return 'unknown-compiler';
  }
}

/** Every x86 feature switch that ggml_add_cpu_backend_variant() sets, in ggml/src/CMakeLists.txt. */
const X86_FEATURES = [
  'SSE42',
  'AVX',
  'AVX2',
  'BMI2',
  'AVX_VNNI',
  'FMA',
  'F16C',
  'AVX512',
  'AVX512_VBMI',
  'AVX512_VNNI',
  'AVX512_BF16',
  'AMX_TILE',
  'AMX_INT8',
  'AMX_BF16',
];

/**
 * The ggml CPU variant the addon picks on this machine ('haswell', 'zen4', ...), or null for an
 * addon with its CPU code linked in (or none built yet). Asked of the addon itself, in a child
 * process, because ggml's own scoring of the CPU decides it.
 */
function addonCpuVariant() {
  const binary = process.env.WHISPER_NAPI_BINARY || path.join(root, 'build', 'Release', 'whisper_napi.node');
  if (!fs.existsSync(binary)) return null;
  const probe =
    'const i = require(process.argv[1]).getBackendInfo(); const cpu = i.backends.find((b) => b.name === "CPU"); process.stdout.write(i.dynamicBackends && cpu ? cpu.path : "");';
  try {
    const cpuModule = execFileSync(process.execPath, ['-e', probe, binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /libggml-cpu-([^/\\]+)\.(so|dll|dylib)$/.exec(cpuModule)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The features ggml compiles the named CPU variant with, read from ggml's own variant list. */
function variantFeatures(variant) {
  const cmake = fs.readFileSync(path.join(sourceDir, 'ggml', 'src', 'CMakeLists.txt'), 'utf8');
  for (const match of cmake.matchAll(/ggml_add_cpu_backend_variant\(\s*([\w.]+)([^)]*)\)/g)) {
    if (match[1] === variant) return match[2].trim().split(/\s+/).filter(Boolean);
  }
  return null;
}

// The addon runs the CPU variant ggml picks for this CPU; the oracle is compiled for exactly that
// variant's features, so that parity holds on an AVX-512 machine as on an AVX2 one.
const cpuVariant = process.platform === 'linux' && process.arch === 'x64' ? addonCpuVariant() : null;
const features = cpuVariant ? variantFeatures(cpuVariant) : null;
const featureArgs = features ? X86_FEATURES.map((feature) => `-DGGML_${feature}=${features.includes(feature) ? 'ON' : 'OFF'}`) : [];

// The key does not depend on which tools are requested, so all of them share one folder; the
// trailing 'whisper-cli' keeps the key of caches made when this script built only whisper-cli.
const keyHash = createHash('sha256').update(manifestText).update(fs.readFileSync(optionsFile)).update(compilerId()).update('whisper-cli');
if (features) keyHash.update(`cpu-variant:${cpuVariant}`);
const key = keyHash.digest('hex').slice(0, 16);
const installDir = path.join(cacheRoot, 'whisper-cli', key);
const exe = process.platform === 'win32' ? '.exe' : '';
const binaryOf = (target) => path.join(installDir, `${target}${exe}`);

const missing = ALL_TARGETS.filter((target) => !fs.existsSync(binaryOf(target)));
if (requested.some((target) => missing.includes(target))) {
  if (!fs.existsSync(path.join(sourceDir, 'include', 'whisper.h'))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-whisper.mjs')], { stdio: 'inherit' });
  }
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-cli-build-'));
  try {
    log(`building ${missing.join(', ')} for the ${cpuVariant ?? 'default'} CPU features into ${installDir} (cached afterwards)`);
    const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
    execFileSync(
      'cmake',
      ['-S', sourceDir, '-B', buildDir, '-C', optionsFile, '-DCMAKE_BUILD_TYPE=Release', '-DWHISPER_BUILD_EXAMPLES=ON', '-DGGML_CUDA=OFF', ...featureArgs],
      quiet,
    );
    const jobs = String(Math.max(1, os.availableParallelism()));
    execFileSync('cmake', ['--build', buildDir, '--config', 'Release', '-j', jobs, '--target', ...missing], quiet);
    fs.mkdirSync(installDir, { recursive: true });
    for (const target of missing) {
      const candidates = [path.join(buildDir, 'bin', `${target}${exe}`), path.join(buildDir, 'bin', 'Release', `${target}${exe}`)];
      const built = candidates.find((file) => fs.existsSync(file));
      if (!built) throw new Error(`cmake built ${target} but it is not in ${path.join(buildDir, 'bin')}`);
      const partial = `${binaryOf(target)}.partial-${process.pid}`;
      fs.copyFileSync(built, partial);
      fs.chmodSync(partial, 0o755);
      fs.renameSync(partial, binaryOf(target));
    }
  } finally {
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
}
process.stdout.write(requested.map((target) => `${binaryOf(target)}\n`).join(''));
