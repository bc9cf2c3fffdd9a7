#!/usr/bin/env node
// Word error rate of the real converted models per quantization on the shared clips (jfk, LibriVox,
// cards), and optionally faster-whisper side by side on the same CTranslate2 weights.
//
//   node scripts/bench-wer.mjs [--threads 2] [--faster-whisper [--fw-python <venv python>]] [--json out.json]
//
// Needs the built library and the converted models (`npm run models`). Runs one job at a time
// (ggml's threads spin: never run two workloads on the same cores). Prints Markdown tables.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sharedCorpus } from './corpus.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadModel } = await import(path.join(root, 'dist', 'index.js'));
const { corpusWordErrorRate, wordErrorRate } = await import(path.join(root, 'dist', 'tools', 'wer.js'));

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(Math.min(4, os.availableParallelism())) },
    'faster-whisper': { type: 'boolean', default: false },
    'fw-python': { type: 'string', default: path.join(os.homedir(), '.cache', 'whisper-napi', 'fw-venv', 'bin', 'python') },
    json: { type: 'string' },
  },
});
const threads = Number(values.threads);

const manifest = JSON.parse(
  execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
);
const clips = sharedCorpus();
const sets = ['jfk', 'librivox', 'cards'];

const pct = (x) => `${(100 * x).toFixed(1)} %`;
const rows = [];
const perClip = [];

function score(label, type, bytes, texts, seconds) {
  const row = { label, type, bytes, seconds };
  for (const set of [...sets, 'all']) {
    const pairs = clips.flatMap((c, i) => (set === 'all' || c.set === set ? [{ reference: c.reference, hypothesis: texts[i] }] : []));
    row[set] = corpusWordErrorRate(pairs);
  }
  rows.push(row);
  clips.forEach((c, i) => perClip.push({ label, type, id: c.id, text: texts[i], wer: wordErrorRate(c.reference, texts[i]).wer }));
}

for (const [name, entry] of Object.entries(manifest.models)) {
  for (const [type, file] of Object.entries(entry.files)) {
    const model = await loadModel(file.path, { gpu: false });
    const texts = [];
    let seconds = 0;
    try {
      for (const clip of clips) {
        const t = process.hrtime.bigint();
        const result = await model.transcribe(clip.wav, { language: 'en', threads });
        seconds += Number(process.hrtime.bigint() - t) / 1e9;
        texts.push(result.text.trim());
      }
    } finally {
      await model.dispose();
    }
    score(`whisper-napi ${name}`, type, file.bytes, texts, seconds);
    process.stderr.write(`[bench-wer] ${name} ${type}: ${seconds.toFixed(1)} s\n`);
  }

  if (values['faster-whisper']) {
    for (const computeType of ['float32', 'int8']) {
      const job = { model: entry.ct2, computeType, threads, wavs: clips.map((c) => c.wav) };
      const out = JSON.parse(
        execFileSync(values['fw-python'], [path.join(root, 'scripts', 'faster-whisper-transcribe.py')], {
          input: JSON.stringify(job),
          encoding: 'utf8',
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { ...process.env, OMP_NUM_THREADS: String(threads) },
        }),
      );
      const seconds = out.results.reduce((a, r) => a + r.seconds, 0);
      score(
        `faster-whisper ${name}`,
        computeType,
        fs.statSync(path.join(entry.ct2, 'model.bin')).size,
        out.results.map((r) => r.text),
        seconds,
      );
      process.stderr.write(`[bench-wer] faster-whisper ${name} ${computeType}: ${seconds.toFixed(1)} s\n`);
    }
  }
}

const reference = rows[0];
const lines = [
  `| engine | weights | file MB | WER jfk | WER librivox | WER cards | WER all (${reference.all.referenceWords} words) | transcribe s | time vs ${reference.label} ${reference.type} |`,
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.type} | ${(r.bytes / 1e6).toFixed(1)} | ${pct(r.jfk.wer)} | ${pct(r.librivox.wer)} | ${pct(r.cards.wer)} | ${pct(r.all.wer)} | ${r.seconds.toFixed(2)} | ${(r.seconds / reference.seconds).toFixed(2)} |`,
  ),
];
process.stdout.write(
  `Threads: ${threads}. Clips: ${clips.length} (${sets.map((s) => `${clips.filter((c) => c.set === s).length} ${s}`).join(', ')}).\n\n${lines.join('\n')}\n`,
);
process.stdout.write(`\nTranscripts that are not word-perfect:\n\n| engine | weights | clip | WER | text |\n|---|---|---|---:|---|\n`);
for (const p of perClip.filter((p) => p.wer > 0)) process.stdout.write(`| ${p.label} | ${p.type} | ${p.id} | ${pct(p.wer)} | ${p.text.replace(/\|/g, '\\|')} |\n`);
if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ threads, rows, perClip }, null, 2)}\n`);
