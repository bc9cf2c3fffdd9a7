#!/usr/bin/env node
// Builds the addon from deps/whisper.cpp with cmake-js.
//
// Options come from the environment (or the same names as npm config, e.g.
// `npm install --whisper-napi-cuda=off`):
//   WHISPER_NAPI_CUDA=auto|on|off           CUDA backend (auto: on when nvcc + cuBLAS are found)
//   WHISPER_NAPI_CUDA_ARCHITECTURES=...     e.g. "90" or "native"; default: 75..90 + PTX
//   WHISPER_NAPI_NATIVE=1                   -march=native (fast here, not portable)
//   WHISPER_NAPI_BUILD_JOBS=N               parallel compile jobs (default: CPU count)
//   WHISPER_NAPI_DEBUG=1                    Debug build
//   WHISPER_NAPI_BUILD_DIR=dir              build tree (default: build/, where the loader looks)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function setting(name) {
  const npmName = `npm_config_${name.toLowerCase()}`;
  return process.env[name] ?? process.env[npmName];
}

function run(file, args) {
  const result = spawnSync(file, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(
      '\n[whisper-napi] building the native addon failed. It needs cmake >= 3.21, a C++17 compiler ' +
        '(g++ >= 9 or clang >= 10; MSVC 2022 on Windows) and, for CUDA, nvcc with cuBLAS. ' +
        'See "Building from source" in README.md.\n',
    );
    process.exit(result.status ?? 1);
  }
}

run(process.execPath, [path.join(root, 'scripts', 'fetch-whisper.mjs')]);

const cuda = (setting('WHISPER_NAPI_CUDA') ?? 'auto').toLowerCase();
if (!['auto', 'on', 'off'].includes(cuda)) {
  process.stderr.write(`[whisper-napi] WHISPER_NAPI_CUDA must be auto, on or off (got "${cuda}")\n`);
  process.exit(1);
}
const args = [
  require.resolve('cmake-js/bin/cmake-js'),
  'build',
  '--directory', root,
  '--parallel', setting('WHISPER_NAPI_BUILD_JOBS') ?? String(os.availableParallelism()),
  `--CDWHISPER_NAPI_CUDA=${cuda}`,
];
const architectures = setting('WHISPER_NAPI_CUDA_ARCHITECTURES');
if (architectures) args.push(`--CDWHISPER_NAPI_CUDA_ARCHITECTURES=${architectures}`);
if (['1', 'true', 'on'].includes(String(setting('WHISPER_NAPI_NATIVE') ?? '').toLowerCase())) {
  args.push('--CDWHISPER_NAPI_NATIVE=ON');
}
if (['1', 'true', 'on'].includes(String(setting('WHISPER_NAPI_DEBUG') ?? '').toLowerCase())) args.push('--debug');
const buildDir = setting('WHISPER_NAPI_BUILD_DIR');
if (buildDir) args.push('--out', path.resolve(buildDir));
run(process.execPath, args);
