/**
 * Finding shared libraries as the dynamic linker would (LD_LIBRARY_PATH, ld.so.cache, the
 * default folders) without loading them, and the NVIDIA kernel driver's version: what the CUDA
 * checks need to say which library is missing, and where it is if it is only off the path.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SharedLibrarySearch {
  /** Where the dynamic linker will find it, or null. */
  path: string | null;
  /** Found only outside the linker's search path (e.g. /usr/local/cuda/lib64): a hint for the message. */
  offPath: string | null;
}

/** ld.so.cache as `ldconfig -p` lists it: library name to file, for this architecture. */
export function ldconfigCache(): Map<string, string> {
  const libraries = new Map<string, string>();
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const listing = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      for (const line of listing.split('\n')) {
        // "	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"
        const match = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
        if (match && (process.arch !== 'x64' || match[2].includes('x86-64')) && !libraries.has(match[1])) {
          libraries.set(match[1], match[3]);
        }
      }
      return libraries;
    } catch {
      // try the next location
    }
  }
  return libraries;
}

/** Where the dynamic linker looks when LD_LIBRARY_PATH and ld.so.cache have nothing. */
export const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/lib/wsl/lib'];
const OFF_PATH_HINT_DIRS = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/local/nvidia/lib64', '/opt/cuda/lib64'];

/** Looks for a shared library the way the dynamic linker does (LD_LIBRARY_PATH, ld.so.cache, default dirs). */
export function findSharedLibrary(name: string, env: NodeJS.ProcessEnv = process.env, cache: Map<string, string> = ldconfigCache()): SharedLibrarySearch {
  const searchDirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)];
  for (const dir of searchDirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return { path: file, offPath: null };
  }
  const cached = cache.get(name);
  if (cached && fs.existsSync(cached)) return { path: cached, offPath: null };
  for (const dir of DEFAULT_LIBRARY_DIRS) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return { path: file, offPath: null };
  }
  const hint = OFF_PATH_HINT_DIRS.map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file)) ?? null;
  return { path: null, offPath: hint };
}

/** The loaded NVIDIA kernel module's version, or null without one. */
export function nvidiaDriverVersion(): string | null {
  try {
    const text = fs.readFileSync('/proc/driver/nvidia/version', 'utf8');
    return /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(text)?.[1] ?? text.split('\n')[0].trim();
  } catch {
    return null;
  }
}
