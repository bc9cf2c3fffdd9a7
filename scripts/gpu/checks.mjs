#!/usr/bin/env node
// The Node half of scripts/gpu-check.sh: each subcommand loads the compiled library from dist/
// (with WHISPER_NAPI_BINARY naming the addon), does one check and prints a Markdown fragment
// for the report on stdout. gpu-pack.sh runs `expected` here; gpu-check.sh runs the rest on
// the GPU host, each as its own process so that nvidia-smi's whole-process figure covers one
// model and one concurrency at a time.
//
//   node scripts/gpu/checks.mjs expected --model M --audio DIR --out expected.json
//   node scripts/gpu/checks.mjs parity   --model M --audio DIR --expected expected.json [--clips N]
//   node scripts/gpu/checks.mjs pool     --model M --audio DIR [--concurrency 4] [--jobs 16] [--clips N]
//   node scripts/gpu/checks.mjs synth    --arch large-v3 --type q5_0 --out model.bin
//   node scripts/gpu/checks.mjs measure  --model M --audio DIR --concurrency N [--jobs-per-state 2] [--vram-baseline-mib B]
//
// Decoding is greedy, English, without temperature fallback (so every job runs one decoder and
// the same audio gives the same tokens), non-speech segments kept (so tokens are counted whole).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const whisper = require(path.join(root, 'dist', 'index.js'));
const tools = require(path.join(root, 'dist', 'tools', 'index.js'));

const SAMPLE_RATE = 16000;
const WINDOW_SAMPLES = 30 * SAMPLE_RATE;
const DECODING = { language: 'en', temperatureIncrement: 0, keepNonSpeech: true };

const [command, ...rest] = process.argv.slice(2);
const { values: args } = parseArgs({
  args: rest,
  options: {
    model: { type: 'string' },
    audio: { type: 'string' },
    out: { type: 'string' },
    expected: { type: 'string' },
    arch: { type: 'string' },
    type: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    jobs: { type: 'string', default: '16' },
    'jobs-per-state': { type: 'string', default: '2' },
    clips: { type: 'string' },
  },
});

function required(name) {
  if (args[name] === undefined) throw new Error(`${command} needs --${name}`);
  return args[name];
}

function positiveInt(name) {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected an integer >= 1, got ${args[name]}`);
  return value;
}

/** The .wav files of a folder, sorted, as { name, path }. */
function clips(dir) {
  const names = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.wav'))
    .sort();
  if (names.length === 0) throw new Error(`no .wav files in ${dir}`);
  return names.slice(0, args.clips === undefined ? names.length : positiveInt('clips')).map((name) => ({ name, path: path.join(dir, name) }));
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const ms = (value) => value.toFixed(1);
const tokenCount = (transcript) => transcript.segments.reduce((sum, segment) => sum + segment.tokens.length, 0);

function werPercent(reference, hypothesis) {
  const { wer } = tools.wordErrorRate(reference, hypothesis);
  return Number.isFinite(wer) ? (100 * wer).toFixed(1) : 'inf';
}

async function describeBackend() {
  const info = await whisper.loadBackend();
  const system = whisper.getSystemInfo();
  const devices = whisper.getDevices().map((d) => `${d.name} ${d.description} (${d.type}, ${mib(d.freeBytes)} of ${mib(d.totalBytes)} MiB free)`);
  return [
    `- binary: ${info.binary.kind} (${info.binary.path}), CUDA ${system.cuda}, whisper.cpp ${system.whisperVersion}, CPU variant ${info.cpuVariant ?? 'linked in'}`,
    `- backends: ${info.backends.map((b) => b.name).join(', ')}`,
    `- devices: ${devices.join('; ')}`,
  ].join('\n');
}

async function transcribeAll(model, list) {
  const texts = {};
  for (const clip of list) texts[clip.name] = (await model.transcribe(clip.path, DECODING)).text;
  return texts;
}

/** One 30 s window of speech: the first clip repeated, so every job is one whisper_full call. */
async function windowOfSpeech(dir) {
  const pcm = await whisper.loadAudio(clips(dir)[0].path);
  const window = new Float32Array(WINDOW_SAMPLES);
  for (let at = 0; at < WINDOW_SAMPLES; at += pcm.length) window.set(pcm.subarray(0, Math.min(pcm.length, WINDOW_SAMPLES - at)), at);
  return window;
}

const commands = {
  /** On the packing machine's CPU: the transcripts the GPU host compares its own with. */
  async expected() {
    const list = clips(required('audio'));
    const model = await whisper.loadModel(required('model'), { gpu: false });
    try {
      const texts = await transcribeAll(model, list);
      const system = whisper.getSystemInfo();
      fs.writeFileSync(required('out'), `${JSON.stringify({ made: new Date().toISOString(), whisper: system.whisperVersion, texts }, null, 2)}\n`);
      process.stdout.write(`${Object.keys(texts).length} transcripts written to ${args.out}\n`);
    } finally {
      await model.dispose();
    }
  },

  /** GPU against CPU in this process (the CUDA binary computes on either), and against the packing machine's CPU. */
  async parity() {
    const list = clips(required('audio'));
    const expected = JSON.parse(fs.readFileSync(required('expected'), 'utf8')).texts;
    process.stdout.write(`${await describeBackend()}\n\n`);
    const gpu = await whisper.loadModel(required('model'), { gpu: true, flashAttention: true });
    const cpu = await whisper.loadModel(args.model, { gpu: false, flashAttention: true });
    try {
      const lines = ['| clip | GPU = CPU here | WER GPU vs CPU here | WER GPU vs packing CPU | GPU text |', '|---|---|---|---|---|'];
      let identical = 0;
      for (const clip of list) {
        const [onGpu, onCpu] = [(await gpu.transcribe(clip.path, DECODING)).text, (await cpu.transcribe(clip.path, DECODING)).text];
        if (onGpu === onCpu) identical++;
        const reference = expected[clip.name] ?? '';
        lines.push(
          `| ${clip.name} | ${onGpu === onCpu ? 'yes' : 'no'} | ${werPercent(onCpu, onGpu)} % | ${werPercent(reference, onGpu)} % | ${onGpu.slice(0, 80).replaceAll('|', '/')} |`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n\n${identical} of ${list.length} clips give the same text on the GPU and the CPU.\n`);
    } finally {
      await Promise.all([gpu.dispose(), cpu.dispose()]);
    }
  },

  /** Many mixed jobs at once on a pool of GPU states: each must equal its clip transcribed alone. */
  async pool() {
    const list = clips(required('audio'));
    const concurrency = positiveInt('concurrency');
    const jobs = positiveInt('jobs');
    const model = await whisper.loadModel(required('model'), { gpu: true, concurrency });
    try {
      const alone = await transcribeAll(model, list);
      const started = performance.now();
      const order = Array.from({ length: jobs }, (_, i) => list[i % list.length]);
      const results = await Promise.all(order.map((clip) => model.transcribe(clip.path, DECODING)));
      const wallMs = performance.now() - started;
      const mismatches = results.filter((result, i) => result.text !== alone[order[i].name]).length;
      const stats = model.stats();
      process.stdout.write(
        `${jobs} jobs over ${list.length} clips at concurrency ${concurrency}: ${jobs - mismatches} equal to the clip transcribed alone, ` +
          `${mismatches} differ; peak running ${stats.peakRunning}, states ${stats.states}, completed ${stats.completed}, failed ${stats.failed}; ` +
          `${(wallMs / 1000).toFixed(2)} s wall.\n`,
      );
      if (mismatches > 0) process.exitCode = 1;
    } finally {
      await model.dispose();
    }
  },

  /** A seeded random-weight model (quantized through the addon, so it runs after the build). */
  async synth() {
    const started = performance.now();
    const info = await tools.writeSyntheticModel({ architecture: required('arch'), weightType: required('type'), outPath: required('out'), seed: 1 });
    process.stdout.write(`${args.out}: ${info.architecture} ${info.weightType}, ${mib(info.fileSize)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  },

  /**
   * One model at one concurrency: the planner against whisper.cpp's own allocation figures,
   * encoder and decoder speed (concurrency 1), and aggregate throughput of N states. Prints one
   * tab-separated line, `measure<TAB>key=value…`, which gpu-check.sh joins with nvidia-smi's peak.
   */
  async measure() {
    const modelPath = required('model');
    const concurrency = positiveInt('concurrency');
    const jobsPerState = positiveInt('jobs-per-state');
    const window = await windowOfSpeech(required('audio'));
    const loadStarted = performance.now();
    const model = await whisper.loadModel(modelPath, { gpu: true, flashAttention: true, concurrency });
    const loadMs = performance.now() - loadStarted;
    try {
      // Warm every state up (creation, first-use allocations, CUDA kernels loaded) before timing.
      await Promise.all(Array.from({ length: concurrency }, () => model.transcribe(window, DECODING)));
      const figures = { model: path.basename(modelPath), concurrency, loadMs: Math.round(loadMs) };
      if (concurrency === 1) {
        // Language detection alone is mel + encoder + one decoder step: the encoder's cost.
        const detections = [];
        for (let i = 0; i < 3; i++)
          detections.push((await model.transcribe(window, { ...DECODING, language: 'auto', detectLanguage: true })).timings.languageDetectionMs);
        const encoderMs = detections.sort((a, b) => a - b)[1];
        const full = await model.transcribe(window, DECODING);
        const tokens = tokenCount(full);
        Object.assign(figures, {
          encoderMs: ms(encoderMs),
          totalMs: ms(full.timings.inferenceMs),
          tokens,
          decodeMsPerToken: ms((full.timings.inferenceMs - encoderMs) / Math.max(1, tokens)),
        });
      }
      const jobs = concurrency * jobsPerState;
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: jobs }, () => model.transcribe(window, DECODING)));
      const wallS = (performance.now() - started) / 1000;
      const memory = model.memory();
      const plan = await whisper.estimateMemory({ model: modelPath, flashAttention: true, temperatureFallback: false, concurrency });
      Object.assign(figures, {
        jobs,
        wallS: wallS.toFixed(2),
        windowsPerS: (jobs / wallS).toFixed(2),
        audioXRealtime: ((jobs * 30) / wallS).toFixed(1),
        tokensPerS: (results.reduce((sum, r) => sum + tokenCount(r), 0) / wallS).toFixed(0),
        nativeMiB: mib(memory.total),
        weightsMiB: mib(memory.weights.total),
        plannerMiB: mib(plan.totalBytes),
        plannerVsNativePct: ((100 * (plan.totalBytes - memory.total)) / memory.total).toFixed(2),
      });
      process.stdout.write(
        `measure\t${Object.entries(figures)
          .map(([key, value]) => `${key}=${value}`)
          .join('\t')}\n`,
      );
    } finally {
      await model.dispose();
    }
  },
};

if (!Object.hasOwn(commands, command ?? '')) {
  process.stderr.write(`usage: checks.mjs ${Object.keys(commands).join('|')} [options] (see the top of this file)\n`);
  process.exit(2);
}
await commands[command]();
