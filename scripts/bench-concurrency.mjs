#!/usr/bin/env node
// One model, many jobs: event-loop lag while 4 jobs run, and throughput at concurrency 1, 2
// and 4, with the real Whisper base q5_0 on real speech. Prints Markdown tables.
//
//   node scripts/bench-concurrency.mjs [--model path] [--jobs 8] [--levels 1,2,4]
//
// Run it alone (nothing else using the CPU): ggml's threads spin, so any other whisper
// workload on the machine distorts every figure here. Needs `npm run build` first (dist/).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { loadModel, loadAudio } = require(path.join(root, 'dist', 'index.js'));

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const shared = path.resolve(root, '..', 'shared');
let modelPath = flag('model', process.env.WHISPER_NAPI_MODEL);
if (!modelPath) {
  const manifest = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
  modelPath = manifest.models.base.files.q5_0.path;
}
const jobCount = Number(flag('jobs', '8'));
const levels = flag('levels', '1,2,4').split(',').map(Number);
const cores = os.availableParallelism();

const clips = [
  path.join(shared, 'audio', 'jfk.wav'),
  ...['0870', '0880', '0890', '0920', '0930'].map((n) => path.join(shared, 'audio', 'librivox', `sense_and_sensibility_01_austen_64kb-${n}.wav`)),
];
const pcms = await Promise.all(clips.map((c) => loadAudio(c)));
const work = Array.from({ length: jobCount }, (_, i) => pcms[i % pcms.length]);
const audioSeconds = work.reduce((sum, pcm) => sum + pcm.length / 16000, 0);
const base = { language: 'en', temperatureIncrement: 0 };

/** Runs `pcmsToRun` through a model of `concurrency`; returns wall ms and event-loop delay. */
async function run(concurrency, pcmsToRun) {
  const model = await loadModel(modelPath, { concurrency });
  const threads = Math.max(1, Math.floor(cores / concurrency));
  try {
    // Warm-up: create every state once, so the timing is steady-state serving.
    await Promise.all(Array.from({ length: concurrency }, () => model.transcribe(pcms[0].subarray(0, 16000), { ...base, threads })));
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const start = performance.now();
    await Promise.all(pcmsToRun.map((pcm) => model.transcribe(pcm, { ...base, threads })));
    const wallMs = performance.now() - start;
    lag.disable();
    return { wallMs, threads, lag, stats: model.stats() };
  } finally {
    await model.dispose();
  }
}

const ms = (ns) => (ns / 1e6).toFixed(2);
process.stderr.write(`model ${modelPath}, ${cores} cores, ${jobCount} jobs (${audioSeconds.toFixed(1)} s of audio)\n`);

// Event-loop lag: exactly 4 jobs at once on a model of concurrency 4.
const four = await run(4, work.slice(0, 4));
const idle = monitorEventLoopDelay({ resolution: 1 });
idle.enable();
await new Promise((resolve) => setTimeout(resolve, 1000));
idle.disable();

console.log(`\n### Event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution), ${cores} cores\n`);
console.log('| while | p50 ms | p99 ms | max ms |');
console.log('|---|---:|---:|---:|');
console.log(`| idle, 1 s | ${ms(idle.percentile(50))} | ${ms(idle.percentile(99))} | ${ms(idle.max)} |`);
console.log(
  `| 4 jobs running (concurrency 4, ${four.threads} thread each, ${(four.wallMs / 1000).toFixed(1)} s) | ${ms(four.lag.percentile(50))} | ${ms(four.lag.percentile(99))} | ${ms(four.lag.max)} |`,
);

console.log(`\n### Throughput, Whisper base q5_0, ${jobCount} jobs (${audioSeconds.toFixed(1)} s of speech), ${cores} cores\n`);
console.log('| concurrency | threads/job | wall s | audio s / wall s | jobs / min | peak running | event-loop p99 ms |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const concurrency of levels) {
  const r = await run(concurrency, work);
  const wallS = r.wallMs / 1000;
  console.log(
    `| ${concurrency} | ${r.threads} | ${wallS.toFixed(1)} | ${(audioSeconds / wallS).toFixed(2)} | ${((jobCount / wallS) * 60).toFixed(1)} | ${r.stats.peakRunning} | ${ms(r.lag.percentile(99))} |`,
  );
}
