import fs from 'node:fs';
import path from 'node:path';

export interface PackageManifest {
  name: string;
  version: string;
}

/**
 * The folder of this package's package.json. Found by walking up from this file, because the
 * same code runs from lib/ (tests), dist/ and dist/cjs/ at different depths.
 */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const manifest = JSON.parse(fs.readFileSync(candidate, 'utf8')) as Partial<PackageManifest>;
      if (manifest.name === 'whisper-napi') return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`whisper-napi: no package.json above ${start}`);
  }
}

export const packageRoot = findPackageRoot(__dirname);
export const packageManifest = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as PackageManifest;
