#!/usr/bin/env node
// The README's main command: transcribe a sample with the default model.
//
//   npm run demo [-- <audio.wav>] [-- --model <model.bin>]
//
// The model is $WHISPER_NAPI_MODEL or --model if given. Otherwise the default is a
// synthetic tiny.en (random weights, seeded) generated once from the header-only file in
// ../shared/models and cached: it exercises the whole pipeline, but its text is nonsense.
// Real weights come with the model tooling (issue 3); pass them with --model.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '..', 'shared');
const args = process.argv.slice(2);
const modelFlag = args.indexOf('--model');
let model = modelFlag >= 0 ? args.splice(modelFlag, 2)[1] : process.env.WHISPER_NAPI_MODEL;
const audio = args[0] ?? path.join(shared, 'audio', 'jfk.wav');

if (!model) {
  const cacheDir = process.env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi');
  model = path.join(cacheDir, 'models', 'synthetic-tiny.en-f16-seed1.bin');
  if (!fs.existsSync(model)) {
    fs.mkdirSync(path.dirname(model), { recursive: true });
    execFileSync(process.execPath, [
      path.join(root, 'dist', 'cli.js'), 'synthesize',
      '--from', path.join(shared, 'models', 'header-only-ggml-tiny.en.bin'),
      '--out', model, '--seed', '1',
    ], { stdio: 'inherit' });
  }
  process.stderr.write(`model: ${model} (synthetic, random weights: expect nonsense text)\n`);
}
process.stderr.write(`audio: ${audio}\n`);
const started = Date.now();
execFileSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'transcribe', audio, '--model', model], { stdio: 'inherit' });
process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
