#!/usr/bin/env node
// Which ggml CPU variant the prebuild picks on a given x86-64 CPU, and how long one short
// transcription takes there: natively, and under qemu-user emulating older CPUs (TCG
// emulation is slow; compare the emulated rows with each other, not with the native one).
//
//   node scripts/bench-cpu-variants.mjs [--cpus qemu64,Nehalem,SandyBridge,Haswell] [--compare <other.node>]
//
// --compare adds a side-by-side timing of jfk.wav (whole clip, 3 runs each, alternating) on the
// prebuild and on another binary, e.g. a static build with WHISPER_NAPI_CPU_VARIANTS=off, to
// see what loading the CPU code as a module costs.
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

function run(label, command, { audio = clip, audioContext = '128', binary = env.WHISPER_NAPI_BINARY } = {}) {
  const started = process.hrtime.bigint();
  const args = [...command.slice(1), smoke, root, model, audio, ...(audioContext ? [audioContext] : [])];
  const output = execFileSync(command[0], args, { encoding: 'utf8', env: { ...env, WHISPER_NAPI_BINARY: binary } });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = JSON.parse(output.trim().split('\n').pop());
  const features = Object.entries(result.cpuFeatures)
    .filter(([, v]) => v === '1')
    .map(([k]) => k)
    .join(' ');
  return { row: `| ${label} | ${result.cpuVariant} | ${features} | ${seconds.toFixed(1)} | ${result.text} |`, seconds, text: result.text };
}

const rows = [run('native', [process.execPath]).row];
for (const cpu of cpus) rows.push(run(`qemu-x86_64 -cpu ${cpu}`, ['qemu-x86_64', '-cpu', cpu, process.execPath]).row);
process.stdout.write(
  `base q5_0 (ours), cards/001.wav, audioContext 128, 2 threads; whole process incl. Node start-up and model load\n\n` +
    '| CPU | variant | ggml features | seconds | text |\n|---|---|---|---|---|\n' +
    `${rows.join('\n')}\n`,
);

const compareFlag = process.argv.indexOf('--compare');
if (compareFlag > 0) {
  const other = path.resolve(process.argv[compareFlag + 1]);
  const jfk = path.join(root, '..', 'shared', 'audio', 'jfk.wav');
  const times = { prebuild: [], other: [] };
  const texts = new Set();
  for (let round = 0; round < 3; round++) {
    for (const [name, binary] of [
      ['prebuild', env.WHISPER_NAPI_BINARY],
      ['other', other],
    ]) {
      const result = run(name, [process.execPath], { audio: jfk, audioContext: null, binary });
      times[name].push(result.seconds);
      texts.add(result.text);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  process.stdout.write(
    `\njfk.wav (11 s), base q5_0, 2 threads, whole process; 3 runs each, alternating; same text: ${texts.size === 1}\n\n` +
      '| binary | runs (s) | median (s) |\n|---|---|---|\n' +
      `| prebuild (${manifest.addon}) | ${times.prebuild.map((t) => t.toFixed(2)).join(', ')} | ${median(times.prebuild).toFixed(2)} |\n` +
      `| ${other} | ${times.other.map((t) => t.toFixed(2)).join(', ')} | ${median(times.other).toFixed(2)} |\n` +
      `\nratio prebuild / other: ${(median(times.prebuild) / median(times.other)).toFixed(3)}\n`,
  );
}
