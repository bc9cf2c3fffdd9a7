#!/usr/bin/env node
// `npm install` hook. Uses the prebuilt binary for this platform when there is one and it
// loads; otherwise builds from the whisper.cpp source bundled in the package, after checking
// that the tools for that are here and saying what is missing if they are not.
//   WHISPER_NAPI_FORCE_BUILD=1 (or `npm install --build-from-source`) always builds.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const platformArch = `${process.platform}-${process.arch}`;

function log(message) {
  process.stderr.write(`[whisper-napi] ${message}\n`);
}

/** Why no existing binary can be used, or null when one loads. */
function binaryProblem() {
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    return `there is no prebuilt binary for ${platformArch}${process.platform === 'linux' ? ` (${libc()})` : ''} in this package`;
  }
  try {
    require(file);
    return null;
  } catch (error) {
    return `the binary ${path.relative(root, file)} does not load here: ${String(error.message).split('\n')[0]}`;
  }
}

function libc() {
  return process.report?.getReport?.().header?.glibcVersionRuntime ? 'glibc' : 'musl or another libc';
}

function version(command, args = ['--version']) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

function prebuiltPlatforms() {
  try {
    return fs.readdirSync(path.join(root, 'prebuilds')).sort();
  } catch {
    return [];
  }
}

function missingBuildTools() {
  const missing = [];
  const cmake = version('cmake');
  const cmakeVersion = cmake && /cmake version (\d+)\.(\d+)/.exec(cmake);
  if (!cmakeVersion) missing.push('cmake >= 3.21 (not found on PATH)');
  else if (Number(cmakeVersion[1]) < 3 || (Number(cmakeVersion[1]) === 3 && Number(cmakeVersion[2]) < 21)) {
    missing.push(`cmake >= 3.21 (found ${cmakeVersion[1]}.${cmakeVersion[2]})`);
  }
  if (process.platform !== 'win32') {
    const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
    if (!compilers.some((compiler) => version(compiler))) missing.push(`a C++17 compiler (none of ${compilers.join(', ')} runs)`);
    if (!version('make') && !version('ninja')) missing.push('make or ninja');
  }
  return missing;
}

const forced = process.env.WHISPER_NAPI_FORCE_BUILD === '1' || process.env.npm_config_build_from_source === 'true';
const problem = forced ? 'a build from source was asked for' : binaryProblem();
if (problem === null) process.exit(0);

log(`${problem}; building it from the bundled whisper.cpp source.`);
const missing = missingBuildTools();
if (missing.length > 0) {
  log(
    `can't build: missing ${missing.join('; ')}.\n` +
      '  Install them (Debian/Ubuntu: apt-get install cmake g++ make; macOS: xcode-select --install and brew install cmake;\n' +
      '  Windows: Visual Studio 2022 with "Desktop development with C++" and cmake), then run npm install again.\n' +
      `  This package has prebuilt binaries for: ${prebuiltPlatforms().join(', ') || 'none'}; this machine is ${platformArch}.\n` +
      '  `npx whisper-napi doctor` shows what the package found.',
  );
  process.exit(1);
}
log(
  'This takes a few minutes (Linux x86-64 builds every ggml CPU variant, about 7 min on 2 cores; ' +
    'WHISPER_NAPI_CPU_VARIANTS=off WHISPER_NAPI_NATIVE=1 builds only for this CPU, about 1.5 min).',
);
const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
