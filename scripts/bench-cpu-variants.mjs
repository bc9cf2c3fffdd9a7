#!/usr/bin/env node
// Which ggml CPU variant the prebuild picks on a given x86-64 CPU, and how long one short
// transcription takes there: natively, and under qemu-user emulating older CPUs (TCG
// emulation is slow; compare the emulated rows with each other, not with the native one).
//
//   node scripts/bench-cpu-variants.mjs [--cpus qemu64,Nehalem,SandyBridge,Haswell]
//
// Needs prebuilds/linux-x64 (`npm run prebuilds`), the real models (`npm run models`) and
// qemu-user for the emulated rows. Prints a Markdown table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cpusFlag = process.argv.indexOf('--cpus');
const cpus = (cpusFlag > 0 ? process.argv[cpusFlag + 1] : 'qemu64,Nehalem,SandyBridge,Haswell').split(',').filter(Boolean);
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const manifest = JSON.parse(fs.readFileSync(path.join(prebuildDir, 'build.json'), 'utf8'));
const models = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
const model = models.models.base.files.q5_0.path;
const clip = path.join(root, '..', 'shared', 'audio', 'cards', '001.wav');
const smoke = path.join(root, 'test', 'support', 'smoke-transcribe.cjs');
const env = { ...process.env, WHISPER_NAPI_BINARY: path.join(prebuildDir, manifest.addon), WHISPER_NAPI_GPU: 'cpu' };

function run(label, command) {
  const started = process.hrtime.bigint();
  const output = execFileSync(command[0], [...command.slice(1), smoke, root, model, clip, '128'], { encoding: 'utf8', env });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = JSON.parse(output.trim().split('\n').pop());
  const features = Object.entries(result.cpuFeatures).filter(([, v]) => v === '1').map(([k]) => k).join(' ');
  return `| ${label} | ${result.cpuVariant} | ${features} | ${seconds.toFixed(1)} | ${result.text} |`;
}

const rows = [run('native', [process.execPath])];
for (const cpu of cpus) rows.push(run(`qemu-x86_64 -cpu ${cpu}`, ['qemu-x86_64', '-cpu', cpu, process.execPath]));
process.stdout.write(
  `base q5_0 (ours), cards/001.wav, audioContext 128, 2 threads; whole process incl. Node start-up and model load\n\n` +
    '| CPU | variant | ggml features | seconds | text |\n|---|---|---|---|---|\n' +
    `${rows.join('\n')}\n`,
);
