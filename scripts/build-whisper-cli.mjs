#!/usr/bin/env node
// Builds whisper.cpp's own whisper-cli from deps/whisper.cpp, with the ggml options the
// addon uses (cmake/ggml-options.cmake), for the parity tests.
//
// The binary is cached outside the clone, keyed by the pinned source, the shared options
// and the compiler, so CI builds it once per machine. Prints the binary's path on stdout.
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
const targets = ['whisper-cli'];

function log(message) {
  process.stderr.write(`[build-whisper-cli] ${message}\n`);
}

function compilerId() {
  try {
    return execFileSync(process.env.CXX || 'c++', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return 'unknown-compiler';
  }
}

const key = createHash('sha256')
  .update(manifestText)
  .update(fs.readFileSync(optionsFile))
  .update(compilerId())
  .update(targets.join(','))
  .digest('hex')
  .slice(0, 16);
const installDir = path.join(cacheRoot, 'whisper-cli', key);
const binary = path.join(installDir, 'whisper-cli');

if (!fs.existsSync(binary)) {
  if (!fs.existsSync(path.join(sourceDir, 'include', 'whisper.h'))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-whisper.mjs')], { stdio: 'inherit' });
  }
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-cli-build-'));
  try {
    log(`building ${targets.join(', ')} into ${installDir} (cached afterwards)`);
    const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
    execFileSync('cmake', [
      '-S', sourceDir, '-B', buildDir,
      '-C', optionsFile,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DWHISPER_BUILD_EXAMPLES=ON',
      '-DGGML_CUDA=OFF',
    ], quiet);
    const jobs = String(Math.max(1, os.availableParallelism()));
    execFileSync('cmake', ['--build', buildDir, '--config', 'Release', '-j', jobs, '--target', ...targets], quiet);
    fs.mkdirSync(installDir, { recursive: true });
    for (const target of targets) {
      const built = path.join(buildDir, 'bin', target);
      fs.copyFileSync(built, `${path.join(installDir, target)}.partial`);
      fs.chmodSync(`${path.join(installDir, target)}.partial`, 0o755);
      fs.renameSync(`${path.join(installDir, target)}.partial`, path.join(installDir, target));
    }
  } finally {
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
}
process.stdout.write(`${binary}\n`);
