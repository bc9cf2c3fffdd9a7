/**
 * The real converted models of scripts/fetch-real-models.mjs (run by `npm run models`, `npm test`'s
 * pretest and .ci/run). Reading the manifest never downloads: it fails, naming the command to run.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export interface RealModelFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface RealModelsManifest {
  models: Record<string, { source: string; ct2: string; files: Record<string, RealModelFile> }>;
}

export function realModels(): RealModelsManifest {
  const script = path.join(REPO_ROOT, 'scripts', 'fetch-real-models.mjs');
  try {
    return JSON.parse(execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as RealModelsManifest;
  } catch (err) {
    const { stderr } = err as { stderr?: string | Buffer };
    const detail = stderr === undefined ? '' : stderr.toString();
    throw new Error(`The converted real models are missing.\n${detail}`);
  }
}
