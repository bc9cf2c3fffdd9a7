#!/usr/bin/env node
// Puts the pinned whisper.cpp source into deps/whisper.cpp/.
//
// The source comes from one npm tarball, named in deps/whisper.cpp.json and checked
// against its sha512 integrity before anything is extracted. The tarball is cached
// under ~/.cache/whisper-napi/ (or $WHISPER_NAPI_CACHE) so clean clones and CI reuse it.
// A stamp file records which integrity and entries the extracted tree came from, so a
// second run is a no-op and a changed pin or extract list re-extracts.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'whisper.cpp.json'), 'utf8'));
const target = path.join(root, 'deps', 'whisper.cpp');
const stampPath = path.join(target, '.whisper-napi-source');
const cacheDir = process.env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi');
const tarballName = `${manifest.package}-${manifest.version}.tgz`;
const cachedTarball = path.join(cacheDir, 'tarballs', tarballName);

function log(message) {
  process.stderr.write(`[whisper-napi] ${message}\n`);
}

function integrityOf(file) {
  const [algorithm] = manifest.integrity.split('-');
  return `${algorithm}-${createHash(algorithm).update(fs.readFileSync(file)).digest('base64')}`;
}

/** What the extracted tree came from: the tarball and the entries taken from it. */
const stamp = `${manifest.integrity} ${manifest.extract.join(',')}`;

function alreadyExtracted() {
  try {
    return fs.readFileSync(stampPath, 'utf8').trim() === stamp;
  } catch {
    return false;
  }
}

function npmCommand() {
  // Inside `npm install` the running npm is the one to use; otherwise npm on PATH.
  const npmCli = process.env.npm_execpath;
  if (npmCli && /npm-cli\.js$/.test(npmCli)) return { file: process.execPath, prefix: [npmCli] };
  return { file: process.platform === 'win32' ? 'npm.cmd' : 'npm', prefix: [] };
}

function downloadTarball() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-pack-'));
  try {
    const npm = npmCommand();
    const spec = `${manifest.package}@${manifest.version}`;
    log(`fetching ${spec} from the npm registry`);
    execFileSync(npm.file, [...npm.prefix, 'pack', spec, '--pack-destination', scratch, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      shell: process.platform === 'win32',
    });
    const packed = path.join(scratch, tarballName);
    if (!fs.existsSync(packed)) throw new Error(`npm pack did not produce ${tarballName}`);
    verify(packed);
    fs.mkdirSync(path.dirname(cachedTarball), { recursive: true });
    fs.copyFileSync(packed, `${cachedTarball}.partial`);
    fs.renameSync(`${cachedTarball}.partial`, cachedTarball);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function verify(file) {
  const actual = integrityOf(file);
  if (actual !== manifest.integrity) {
    throw new Error(
      `integrity mismatch for ${path.basename(file)}: expected ${manifest.integrity}, got ${actual}. ` + 'Refusing to build from an unverified whisper.cpp source.',
    );
  }
}

async function extract() {
  const { x: untar } = await import('tar');
  const prefix = `package/${manifest.folder}/`;
  const wanted = manifest.extract.map((entry) => prefix + entry);
  const staging = `${target}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const depth = prefix.split('/').length - 1;
  await untar({
    file: cachedTarball,
    cwd: staging,
    strip: depth,
    filter: (entry) => wanted.some((w) => entry === w || entry.startsWith(`${w}/`)),
  });
  for (const entry of manifest.extract) {
    if (!fs.existsSync(path.join(staging, entry))) {
      throw new Error(`the pinned tarball has no ${prefix}${entry}`);
    }
  }
  fs.writeFileSync(path.join(staging, path.basename(stampPath)), `${stamp}\n`);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
}

async function main() {
  if (alreadyExtracted()) return;
  if (fs.existsSync(cachedTarball)) {
    try {
      verify(cachedTarball);
    } catch (error) {
      log(`${error.message} (cached copy); fetching it again`);
      fs.rmSync(cachedTarball);
    }
  }
  if (!fs.existsSync(cachedTarball)) downloadTarball();
  await extract();
  log(`whisper.cpp ${manifest.whisperVersion} (ggml ${manifest.ggmlVersion}) extracted to deps/whisper.cpp`);
}

main().catch((error) => {
  log(`could not prepare the whisper.cpp source: ${error.message}`);
  process.exit(1);
});
