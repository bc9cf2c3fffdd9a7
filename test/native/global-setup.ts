import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { SHARED } from '../support/paths';

declare module 'vitest' {
  export interface ProvidedContext {
    whisperCli: string;
    /** whisper.cpp's own quantize tool (examples/quantize), the oracle for lib/tools/quantize.ts. */
    whisperQuantize: string;
    syntheticTinyEn: string;
    workDir: string;
  }
}

let workDir: string | undefined;

export default async function setup(project: TestProject): Promise<() => void> {
  const root = path.resolve(__dirname, '../..');
  // one line per tool, in the order asked for (built together on a cache miss)
  const [whisperCli, whisperQuantize] = execFileSync(process.execPath, [path.join(root, 'scripts', 'build-whisper-cli.mjs'), 'whisper-cli', 'whisper-quantize'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n');
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-native-'));
  const syntheticTinyEn = path.join(workDir, 'synthetic-tiny.en-f16-seed1.bin');
  await writeSyntheticModel({
    headerFrom: path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin'),
    outPath: syntheticTinyEn,
    seed: 1,
  });
  project.provide('whisperCli', whisperCli);
  project.provide('whisperQuantize', whisperQuantize);
  project.provide('syntheticTinyEn', syntheticTinyEn);
  project.provide('workDir', workDir);
  return () => {
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  };
}
