#!/usr/bin/env node
// Streaming transcription: first-segment latency and seam quality on real speech.
//
//   node scripts/bench-stream.mjs [--weights q5_0|q8_0|f16] [--threads 2] [--realtime] [--chunks 0.1,1,7] [--cuts energy,vad]
//                                 [--window-ms 30000] [--prompt (promptWithPrevious: true)]
//
// The shared clips (jfk + LibriVox + cards) are joined with 1 s of silence into one stream of
// about a minute, so it spans several windows. It is streamed in 0.1 s, 1 s and 7 s chunks, with
// energy cuts and Silero VAD cuts, and each streamed text is compared word by word with the
// one-shot transcripts of the clips (each clip transcribed alone, so no seam of ours is in the
// way) and with the reference transcripts. --realtime delivers the chunks at the pace of
// real audio, so the latency column is what a live caller would see; otherwise the source is
// as fast as the transcriber pulls it.
//
// Needs the built library (`npx tsc -p tsconfig.build.json`) and the converted real models
// (`npm run models`). Run it alone: ggml's threads spin, so two workloads slow each other down.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sharedCorpus } from './corpus.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadModel, loadAudio } = await import(path.join(root, 'dist', 'index.js'));
const { transcribeStream } = await import(path.join(root, 'dist', 'stream', 'stream.js'));
const { normalizeWords, wordEdits } = await import(path.join(root, 'dist', 'tools', 'wer.js'));

const { values } = parseArgs({
  options: {
    weights: { type: 'string', default: 'q5_0' },
    threads: { type: 'string', default: '2' },
    realtime: { type: 'boolean', default: false },
    prompt: { type: 'boolean', default: false },
    chunks: { type: 'string', default: '0.1,1,7' },
    cuts: { type: 'string', default: 'energy,vad' },
    'window-ms': { type: 'string', default: '30000' },
    vad: { type: 'string', default: path.resolve(root, '..', 'shared', 'models', 'ggml-silero-v6.2.0.bin') },
  },
});
const threads = Number(values.threads);
const windowMs = Number(values['window-ms']);
const manifest = JSON.parse(
  execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
);
const modelFile = manifest.models.base.files[values.weights];
if (!modelFile) throw new Error(`no base ${values.weights} model in the manifest`);

const RATE = 16000;
const clips = sharedCorpus();
const pcms = [];
for (const clip of clips) pcms.push(await loadAudio(clip.wav));
const gap = RATE;
const total = pcms.reduce((n, p) => n + p.length + gap, 0);
const stream = new Float32Array(total);
let at = 0;
for (const p of pcms) {
  stream.set(p, at);
  at += p.length + gap;
}

const model = await loadModel(modelFile.path, { gpu: false });
const options = { language: 'en', threads };
const oneShotClips = [];
let oneShotMs = 0;
for (const p of pcms) {
  const t0 = performance.now();
  oneShotClips.push((await model.transcribe(p, options)).text);
  oneShotMs += performance.now() - t0;
}
const oneShotText = oneShotClips.join(' ');
const t0 = performance.now();
const wholeText = (await model.transcribe(stream, options)).text;
const wholeMs = performance.now() - t0;
const referenceText = clips.map((c) => c.reference).join(' ');
console.error(`one-shot: ${(oneShotMs / 1000).toFixed(1)} s per clip, ${(wholeMs / 1000).toFixed(1)} s joined`);

function compare(reference, hypothesis) {
  const r = normalizeWords(reference);
  const e = wordEdits(r, normalizeWords(hypothesis));
  return { ...e, n: r.length, text: `${e.substitutions + e.deletions + e.insertions} (S${e.substitutions} D${e.deletions} I${e.insertions})` };
}

async function* chunks(seconds) {
  const size = Math.max(1, Math.round(seconds * RATE));
  const start = performance.now();
  for (let i = 0, k = 0; i < stream.length; i += size, k++) {
    if (values.realtime) {
      // Chunk k is complete once its audio has "happened".
      const due = start + (((k + 1) * size) / RATE) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    yield stream.subarray(i, Math.min(stream.length, i + size));
  }
}

const rows = [];
for (const cut of values.cuts.split(',')) {
  for (const seconds of values.chunks.split(',').map(Number)) {
    const texts = [];
    let first;
    let segments = 0;
    const start = performance.now();
    for await (const s of transcribeStream(model, chunks(seconds), {
      ...options,
      windowMs,
      promptWithPrevious: values.prompt,
      cutVad: cut === 'vad' ? { modelPath: values.vad } : false,
    })) {
      first ??= performance.now() - start;
      segments++;
      texts.push(s.text);
    }
    const ms = performance.now() - start;
    const text = texts.join('').trim();
    console.error(`  ${cut} ${seconds} s chunks: ${(ms / 1000).toFixed(1)} s`);
    const vsOneShot = compare(oneShotText, text);
    const vsReference = compare(referenceText, text);
    rows.push({ cut, seconds, first, ms, segments, vsOneShot, vsReference, text });
  }
}
await model.dispose();

const audioS = (stream.length / RATE).toFixed(1);
console.log(
  `\nStreaming, base ${values.weights}, ${threads} threads, CPU, windowMs ${windowMs}${values.prompt ? ', promptWithPrevious' : ''}, ${audioS} s of speech (${clips.length} clips joined with 1 s silences)${values.realtime ? ', chunks delivered in real time' : ''}\n`,
);
const wholeVsClips = compare(oneShotText, wholeText);
const clipsVsRef = compare(referenceText, oneShotText);
const wholeVsRef = compare(referenceText, wholeText);
console.log(`One-shot per clip: ${(oneShotMs / 1000).toFixed(1)} s, ${clipsVsRef.text} word edits vs the references (${clipsVsRef.n} words).`);
console.log(`One-shot of the joined audio: ${(wholeMs / 1000).toFixed(1)} s, ${wholeVsClips.text} vs per-clip one-shot, ${wholeVsRef.text} vs references.\n`);
console.log('| cut | chunk | first segment after | total time | RTF | segments | word edits vs one-shot clips | vs references |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.cut} | ${r.seconds} s | ${(r.first / 1000).toFixed(2)} s | ${(r.ms / 1000).toFixed(1)} s | ${(r.ms / 1000 / Number(audioS)).toFixed(3)} | ${r.segments} | ${r.vsOneShot.text} of ${r.vsOneShot.n} | ${r.vsReference.text} of ${r.vsReference.n} |`,
  );
}
if (process.env.BENCH_STREAM_TEXT) {
  console.log(`\none-shot clips: ${oneShotText}`);
  for (const r of rows) console.log(`\n${r.cut} ${r.seconds}s: ${r.text}`);
}
