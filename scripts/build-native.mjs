#!/usr/bin/env node
// Builds the addon from deps/whisper.cpp with cmake-js into build/Release (where the loader
// looks first), or reuses an identical earlier build.
//
// Options come from the environment (or the same names as npm config, e.g.
// `npm install --whisper-napi-cuda=off`):
//   WHISPER_NAPI_CUDA=auto|on|off           CUDA backend (auto: on when nvcc + cuBLAS are found)
//   WHISPER_NAPI_CUDA_ARCHITECTURES=...     e.g. "90" or "native"; default: 75..90 + PTX
//   WHISPER_NAPI_CPU_VARIANTS=on|off        every ggml CPU variant, chosen at run time
//                                           (default: on for Linux x86-64; about 7 min on 2 cores)
//   WHISPER_NAPI_METAL=on|off               Metal backend (default: on for Apple silicon)
//   WHISPER_NAPI_NATIVE=1                   -march=native (fast here, not portable; needs
//                                           WHISPER_NAPI_CPU_VARIANTS=off)
//   WHISPER_NAPI_BUILD_JOBS=N               parallel compile jobs (default: CPU count)
//   WHISPER_NAPI_DEBUG=1                    Debug build
//   WHISPER_NAPI_BUILD_DIR=dir              build tree (default: build/)
//   WHISPER_NAPI_BUILD_CACHE=0              don't reuse or store builds in the cache
//
// The finished binaries are also kept in ~/.cache/whisper-napi/addon/<key>/ (or
// $WHISPER_NAPI_CACHE), keyed by everything that goes into them: binding/, CMakeLists.txt,
// cmake/, the whisper.cpp pin, the options and the toolchain. A fresh clone with an
// unchanged key copies them instead of compiling for minutes.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const KEEP_CACHED_BUILDS = 4;

function setting(name) {
  const npmName = `npm_config_${name.toLowerCase()}`;
  return process.env[name] ?? process.env[npmName];
}

function isOn(value) {
  return ['1', 'true', 'on', 'yes'].includes(String(value ?? '').toLowerCase());
}

function log(message) {
  process.stderr.write(`[whisper-napi] ${message}\n`);
}

function run(file, args) {
  const result = spawnSync(file, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(
      '\n[whisper-napi] building the native addon failed. It needs cmake >= 3.21, a C++17 compiler ' +
        '(g++ >= 9 or clang >= 10; MSVC 2022 on Windows) and, for CUDA, nvcc with cuBLAS. ' +
        'See docs/building.md.\n',
    );
    process.exit(result.status ?? 1);
  }
}

function toolVersion(file, args = ['--version']) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0];
  } catch {
    return 'none';
  }
}

function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

run(process.execPath, [path.join(root, 'scripts', 'fetch-whisper.mjs')]);

const cuda = (setting('WHISPER_NAPI_CUDA') ?? 'auto').toLowerCase();
if (!['auto', 'on', 'off'].includes(cuda)) {
  log(`WHISPER_NAPI_CUDA must be auto, on or off (got "${cuda}")`);
  process.exit(1);
}
const args = [
  require.resolve('cmake-js/bin/cmake-js'),
  'build',
  '--directory',
  root,
  '--parallel',
  setting('WHISPER_NAPI_BUILD_JOBS') ?? String(os.availableParallelism()),
  `--CDWHISPER_NAPI_CUDA=${cuda}`,
];
const architectures = setting('WHISPER_NAPI_CUDA_ARCHITECTURES');
if (architectures) args.push(`--CDWHISPER_NAPI_CUDA_ARCHITECTURES=${architectures}`);
const cpuVariants = setting('WHISPER_NAPI_CPU_VARIANTS');
if (cpuVariants !== undefined) args.push(`--CDWHISPER_NAPI_CPU_VARIANTS=${isOn(cpuVariants) ? 'ON' : 'OFF'}`);
const metal = setting('WHISPER_NAPI_METAL');
if (metal !== undefined) args.push(`--CDWHISPER_NAPI_METAL=${isOn(metal) ? 'ON' : 'OFF'}`);
if (isOn(setting('WHISPER_NAPI_NATIVE'))) args.push('--CDWHISPER_NAPI_NATIVE=ON');
if (isOn(setting('WHISPER_NAPI_DEBUG'))) args.push('--debug');
const buildDir = path.resolve(root, setting('WHISPER_NAPI_BUILD_DIR') ?? 'build');
args.push('--out', buildDir);
const outputDir = path.join(buildDir, isOn(setting('WHISPER_NAPI_DEBUG')) ? 'Debug' : 'Release');

// -march=native output depends on the machine, so it is never shared through the cache.
const cacheable = setting('WHISPER_NAPI_BUILD_CACHE') !== '0' && !isOn(setting('WHISPER_NAPI_NATIVE'));
const hash = createHash('sha256');
for (const file of [
  ...filesUnder(path.join(root, 'binding')),
  ...filesUnder(path.join(root, 'cmake')),
  path.join(root, 'CMakeLists.txt'),
  path.join(root, 'deps', 'whisper.cpp.json'),
  require.resolve('node-addon-api/package.json'),
]) {
  hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
}
// 'auto' on a machine without nvcc builds exactly what 'off' builds, so they share a key.
const nvccPresent = Boolean(process.env.CUDACXX) || toolVersion('nvcc') !== 'none' || fs.existsSync('/usr/local/cuda/bin/nvcc');
const effectiveCuda = cuda === 'auto' && !nvccPresent ? 'off' : cuda;
hash.update(
  JSON.stringify({
    cuda: effectiveCuda,
    architectures: architectures ?? null,
    cpuVariants: cpuVariants === undefined ? null : isOn(cpuVariants),
    metal: metal === undefined ? null : isOn(metal),
    debug: isOn(setting('WHISPER_NAPI_DEBUG')),
    platform: process.platform,
    arch: process.arch,
    cmake: toolVersion('cmake'),
    cxx: toolVersion(process.env.CXX ?? (process.platform === 'win32' ? 'cl' : 'c++')),
    nvcc: effectiveCuda === 'off' ? 'off' : toolVersion(process.env.CUDACXX ?? 'nvcc'),
  }),
);
const key = hash.digest('hex').slice(0, 16);
const keyFile = path.join(outputDir, '.whisper-napi-build-key');
const cacheRoot = path.join(process.env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi'), 'addon');
const cached = path.join(cacheRoot, key);

const current = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, 'utf8').trim() : '';
if (current === key && fs.existsSync(path.join(outputDir, 'whisper_napi.node'))) process.exit(0);

if (cacheable && fs.existsSync(path.join(cached, 'whisper_napi.node'))) {
  fs.rmSync(outputDir, { recursive: true, force: true });
  fs.mkdirSync(outputDir, { recursive: true });
  for (const name of fs.readdirSync(cached)) fs.copyFileSync(path.join(cached, name), path.join(outputDir, name));
  fs.writeFileSync(keyFile, `${key}\n`);
  log(`reused the addon built earlier with the same sources and options (${cached})`);
  process.exit(0);
}

run(process.execPath, args);
fs.writeFileSync(keyFile, `${key}\n`);

if (cacheable) {
  // Copy to a scratch folder first and rename, so a half-written entry is never reused.
  const scratch = `${cached}.partial-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  for (const name of fs.readdirSync(outputDir)) {
    const file = path.join(outputDir, name);
    if (fs.statSync(file).isFile() && /\.(node|so|dylib|dll)$/.test(name)) fs.copyFileSync(file, path.join(scratch, name));
  }
  fs.rmSync(cached, { recursive: true, force: true });
  fs.renameSync(scratch, cached);
  const entries = fs
    .readdirSync(cacheRoot)
    .filter((name) => !name.includes('.partial-'))
    .map((name) => ({ name, time: fs.statSync(path.join(cacheRoot, name)).mtimeMs }))
    .sort((a, b) => b.time - a.time);
  for (const stale of entries.slice(KEEP_CACHED_BUILDS)) fs.rmSync(path.join(cacheRoot, stale.name), { recursive: true, force: true });
}
