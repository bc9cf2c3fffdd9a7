#!/usr/bin/env node
// Makes the prebuilt binaries that npm packages ship, in node-gyp-build's layout:
//   prebuilds/<platform>-<arch>/whisper-napi.napi[.glibc].node, plus the shared libraries it
//   loads from its own folder (the ggml CPU variants, whisper, ggml).
//
//   node scripts/prebuild.mjs            the CPU binary, into prebuilds/ of this package
//   node scripts/prebuild.mjs --cuda     the CUDA binary, into packages/<platform>-<arch>-cuda/
//                                        (needs nvcc + cuBLAS: scripts/build-cuda.sh sets them
//                                        up from PyPI wheels on a machine without CUDA)
//   ... --cuda --package linux-x64-cuda12   into another CUDA package folder (CUDA 12 builds)
//
// The build itself is scripts/build-native.mjs (prebuildify only knows node-gyp; this keeps
// its output layout). CPU and CUDA use separate build trees, so neither rebuilds the other.
// A build.json next to the binary records what it is, for the loader and `whisper-napi doctor`.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cudaBuild = process.argv.includes('--cuda');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const whisperPin = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'whisper.cpp.json'), 'utf8'));
const platformArch = `${process.platform}-${process.arch}`;

function log(message) {
  process.stderr.write(`[whisper-napi] ${message}\n`);
}

function glibcVersion() {
  const report = process.report?.getReport?.();
  return report?.header?.glibcVersionRuntime ?? null;
}

const packageFlag = process.argv.indexOf('--package');
const cudaPackage = packageFlag > 0 ? process.argv[packageFlag + 1] : `${platformArch}-cuda`;
const packageDir = cudaBuild ? path.join(root, 'packages', cudaPackage) : root;
if (cudaBuild && !fs.existsSync(path.join(packageDir, 'package.json'))) {
  log(`there is no CUDA package folder packages/${cudaPackage}/ with a package.json`);
  process.exit(1);
}
if (cudaBuild) {
  const cudaPkg = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  if (cudaPkg.version !== pkg.version) {
    log(`packages/${cudaPackage} is version ${cudaPkg.version}, whisper-napi is ${pkg.version}: they are released together`);
    process.exit(1);
  }
}
const buildDir = path.resolve(root, process.env.WHISPER_NAPI_BUILD_DIR || (cudaBuild ? 'build-cuda' : 'build'));
const env = {
  ...process.env,
  WHISPER_NAPI_CUDA: cudaBuild ? 'on' : 'off',
  WHISPER_NAPI_BUILD_DIR: buildDir,
};
delete env.WHISPER_NAPI_NATIVE;
delete env.npm_config_whisper_napi_native;
const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, env, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const releaseDir = path.join(buildDir, 'Release');
const target = path.join(packageDir, 'prebuilds', platformArch);
fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });

const tags = ['napi', ...(process.platform === 'linux' ? ['glibc'] : [])];
const addonName = `whisper-napi.${tags.join('.')}.node`;
const libraries = fs.readdirSync(releaseDir).filter((name) => /\.(so|dylib|dll)$/.test(name));
fs.copyFileSync(path.join(releaseDir, 'whisper_napi.node'), path.join(target, addonName));
for (const name of libraries) fs.copyFileSync(path.join(releaseDir, name), path.join(target, name));

// Debug symbols are most of each file's size; users get them from a source build.
if (process.platform === 'linux') {
  try {
    execFileSync('strip', ['--strip-unneeded', ...fs.readdirSync(target).map((name) => path.join(target, name))]);
  } catch (error) {
    log(`strip failed, the binaries keep their symbols: ${error.message}`);
  }
}

const cudaMajor = cudaBuild ? Number(/release (\d+)\./.exec(execFileSync(process.env.CUDACXX ?? 'nvcc', ['--version'], { encoding: 'utf8' }))?.[1]) : null;
const manifest = {
  package: pkg.name,
  version: pkg.version,
  whisperCpp: whisperPin.whisperVersion,
  ggml: whisperPin.ggmlVersion,
  platform: process.platform,
  arch: process.arch,
  libc: process.platform === 'linux' ? { family: 'glibc', builtWith: glibcVersion() } : null,
  gpu: cudaBuild ? 'cuda' : 'cpu',
  cuda: cudaBuild ? { major: cudaMajor, architectures: process.env.WHISPER_NAPI_CUDA_ARCHITECTURES ?? 'default' } : null,
  cpuVariants: libraries.filter((name) => /^libggml-cpu-/.test(name)).map((name) => name.replace(/^libggml-cpu-|\.so$/g, '')),
  addon: addonName,
  files: fs.readdirSync(target).sort(),
};
fs.writeFileSync(path.join(target, 'build.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const bytes = fs.readdirSync(target).reduce((sum, name) => sum + fs.statSync(path.join(target, name)).size, 0);
log(`${path.relative(root, target)}: ${manifest.files.length} files, ${(bytes / 1e6).toFixed(1)} MB`);
