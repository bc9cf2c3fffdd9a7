/**
 * The native binaries this package can load, found without loading any: the CPU binary of this
 * package (a local build in build/Release, or the prebuild in prebuilds/<platform>-<arch>/),
 * the CUDA binaries of the optional `@whisper-napi/<platform>-<arch>-cuda*` packages, and the
 * build.json manifest that scripts/prebuild.mjs writes next to each prebuilt one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { packageRoot } from './package';

/** prebuilds/<platform>-<arch>/build.json, written by scripts/prebuild.mjs. */
export interface BuildManifest {
  package: string;
  version: string;
  whisperCpp?: string;
  platform: string;
  arch: string;
  gpu: 'cpu' | 'cuda';
  cuda: { major: number; architectures: string } | null;
  cpuVariants: string[];
  addon: string;
  files: string[];
}

export interface BinaryLocation {
  kind: 'cpu' | 'cuda';
  /** The .node file. */
  path: string;
  /** Where it was found: the WHISPER_NAPI_BINARY variable, a local build, this package's prebuild, or the CUDA package. */
  source: 'WHISPER_NAPI_BINARY' | 'build' | 'prebuild' | 'cuda-package';
  manifest: BuildManifest | null;
}

export interface CudaPackage {
  name: string;
  dir: string;
  version: string;
}

export const platformArch = `${process.platform}-${process.arch}`;

/**
 * The CUDA packages this platform can use, in order of preference: the newest CUDA first,
 * then CUDA 12 for drivers older than CUDA 13 needs.
 */
export function cudaPackageNames(): string[] {
  return [`@whisper-napi/${platformArch}-cuda`, `@whisper-napi/${platformArch}-cuda12`];
}

/** The build.json in `dir`, or null when there is none (a local build has none). */
export function readManifest(dir: string): BuildManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'build.json'), 'utf8')) as BuildManifest;
  } catch {
    return null;
  }
}

/** This package's CPU binary, as node-gyp-build would pick it (build/Release first, then prebuilds/). */
export function findCpuBinary(root = packageRoot): BinaryLocation | null {
  let file: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    file = gypBuild.resolve(root);
  } catch {
    return null;
  }
  const inPrebuilds = path.relative(path.join(root, 'prebuilds'), file).split(path.sep)[0] !== '..';
  return {
    kind: 'cpu',
    path: file,
    source: inPrebuilds ? 'prebuild' : 'build',
    manifest: inPrebuilds ? readManifest(path.dirname(file)) : null,
  };
}

/**
 * The installed CUDA packages: next to this package (npm's optionalDependency), or, in a
 * checkout of this repository, packages/<name> after `prebuild.mjs --cuda`.
 */
export function findCudaPackages(root = packageRoot): CudaPackage[] {
  const found: CudaPackage[] = [];
  const requireFromRoot = createRequire(path.join(root, 'package.json'));
  for (const wanted of cudaPackageNames()) {
    const candidates = [path.join(root, 'packages', wanted.split('/')[1])];
    try {
      candidates.unshift(path.dirname(requireFromRoot.resolve(`${wanted}/package.json`)));
    } catch {
      // not installed
    }
    for (const dir of candidates) {
      try {
        const { name, version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
        if (name === wanted && fs.existsSync(path.join(dir, 'prebuilds', platformArch))) {
          found.push({ name, dir, version });
          break;
        }
      } catch {
        // not a package
      }
    }
  }
  return found;
}

/** The CUDA binary a CUDA package's build.json names, when the file is there. */
export function cudaBinaryIn(dir: string): BinaryLocation | null {
  const prebuildDir = path.join(dir, 'prebuilds', platformArch);
  const manifest = readManifest(prebuildDir);
  if (!manifest || !fs.existsSync(path.join(prebuildDir, manifest.addon))) return null;
  return { kind: 'cuda', path: path.join(prebuildDir, manifest.addon), source: 'cuda-package', manifest };
}
