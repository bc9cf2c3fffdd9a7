#!/usr/bin/env node
// How close word timestamps come to the truth: the start of each sentence's first word against its
// known start on scripts/make-timed-speech.mjs's file (espeak-ng sentences between known silences),
// with the real converted base models, three ways:
//   - words: the library's words (a model loaded with wordTimestamps, whisper.cpp's DTW, then
//     lib/transcription/words.ts);
//   - first token's dtwMs: the same run, a word started at its first token's DTW time as is;
//   - token timestamps: a model loaded without DTW, `tokenTimestamps: true`, a word started at its
//     first token's startMs.
//
//   node scripts/bench-word-timing.mjs [--threads 2] [--types f16,q8_0] [--models-dir DIR] [--json out.json]
//
// Needs the built library (`npm run build`) and the converted models (`npm run models`);
// --models-dir takes ggml-base-<type>.bin files from another folder instead. Runs one job at a
// time. Prints Markdown tables.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadModel } = await import(path.join(root, 'dist', 'index.js'));

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(Math.min(4, os.availableParallelism())) },
    types: { type: 'string', default: 'f16,q8_0' },
    'models-dir': { type: 'string' },
    json: { type: 'string' },
  },
});
const threads = Number(values.threads);

function modelPath(type) {
  if (values['models-dir'] !== undefined) return path.join(values['models-dir'], `ggml-base-${type}.bin`);
  const manifest = JSON.parse(
    execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  return manifest.models.base.files[type]?.path;
}

const speechDir = execFileSync(process.execPath, [path.join(root, 'scripts', 'make-timed-speech.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  .trimEnd()
  .split('\n')
  .at(-1);
const speech = JSON.parse(fs.readFileSync(path.join(speechDir, 'manifest.json'), 'utf8'));
const wav = path.join(speechDir, speech.file);

/** A word's first four letters, lower case: finds it when the model got its ending wrong ("Mountain" for "Mountains"). */
const stem = (text) =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '')
    .slice(0, 4);

/** Each sentence's first word among `words` ({ text, startMs }) in order: the first not yet used that starts as it. */
function firstWords(words) {
  let from = 0;
  return speech.sentences.map((sentence) => {
    const index = words.findIndex((word, i) => i >= from && stem(word.text) === stem(sentence.firstWord));
    if (index < 0) return undefined;
    from = index + 1;
    return words[index];
  });
}

/** Words by the plain rule (a leading space starts one), each timed by its first token's `field`. */
function firstTokenWords(transcript, field) {
  const words = [];
  for (const segment of transcript.segments) {
    for (const token of segment.tokens) {
      if (token.special) continue;
      if (words.length === 0 || /^\s/.test(token.text)) words.push({ text: '', startMs: token[field] });
      words[words.length - 1].text += token.text;
    }
  }
  return words;
}

function score(label, type, words, seconds) {
  const found = firstWords(words);
  const errors = found.map((word, i) => (word === undefined || word.startMs === undefined ? undefined : word.startMs - speech.sentences[i].startMs));
  const known = errors.filter((e) => e !== undefined);
  const abs = known.map(Math.abs);
  return {
    label,
    type,
    seconds,
    found: known.length,
    meanAbsMs: abs.reduce((a, e) => a + e, 0) / abs.length,
    maxAbsMs: Math.max(...abs),
    meanSignedMs: known.reduce((a, e) => a + e, 0) / known.length,
    within300: abs.filter((e) => e <= 300).length,
    errors,
  };
}

async function transcribe(file, loadOptions, options) {
  const model = await loadModel(file, { gpu: false, ...loadOptions });
  try {
    const started = process.hrtime.bigint();
    const transcript = await model.transcribe(wav, { language: 'en', threads, ...options });
    return { transcript, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    await model.dispose();
  }
}

const rows = [];
for (const type of values.types.split(',')) {
  const file = modelPath(type);
  if (file === undefined || !fs.existsSync(file)) {
    process.stderr.write(`[bench-word-timing] no base ${type} model (${file ?? 'not in the manifest'}): skipped\n`);
    continue;
  }
  const dtw = await transcribe(file, { wordTimestamps: true }, { wordTimestamps: true });
  process.stderr.write(`[bench-word-timing] ${type} with DTW: ${dtw.seconds.toFixed(1)} s: ${dtw.transcript.text}\n`);
  rows.push(
    score(
      'words (DTW)',
      type,
      dtw.transcript.segments.flatMap((segment) => segment.words ?? []),
      dtw.seconds,
    ),
  );
  rows.push(score("first token's dtwMs", type, firstTokenWords(dtw.transcript, 'dtwMs'), dtw.seconds));
  const plain = await transcribe(file, {}, { tokenTimestamps: true });
  process.stderr.write(`[bench-word-timing] ${type} with token timestamps: ${plain.seconds.toFixed(1)} s: ${plain.transcript.text}\n`);
  rows.push(score('token timestamps', type, firstTokenWords(plain.transcript, 'startMs'), plain.seconds));
}

const ms = (x) => (x === undefined ? '–' : `${Math.round(x)}`);
const signed = (x) => (x === undefined ? 'not found' : `${x > 0 ? '+' : ''}${Math.round(x)}`);
process.stdout.write(
  `Threads: ${threads}. ${speech.sentences.length} sentences, ${(speech.durationMs / 1000).toFixed(1)} s (${speech.espeak}; ${speech.sox}).\n\n` +
    '| weights | timing | first words found | mean abs start error (ms) | max abs (ms) | mean signed (ms) | within 0.3 s | transcribe s |\n' +
    '|---|---|---:|---:|---:|---:|---:|---:|\n' +
    rows
      .map(
        (r) =>
          `| ${r.type} | ${r.label} | ${r.found}/${speech.sentences.length} | ${ms(r.meanAbsMs)} | ${ms(r.maxAbsMs)} | ${signed(r.meanSignedMs)} | ${r.within300}/${speech.sentences.length} | ${r.seconds.toFixed(1)} |`,
      )
      .join('\n') +
    '\n',
);
process.stdout.write(
  `\nStart error of each sentence's first word (ms, + is late):\n\n| sentence (known start) | ${rows.map((r) => `${r.type} ${r.label}`).join(' | ')} |\n|---|${rows.map(() => '---:').join('|')}|\n`,
);
speech.sentences.forEach((sentence, i) => {
  process.stdout.write(`| ${sentence.firstWord} (${(sentence.startMs / 1000).toFixed(3)} s) | ${rows.map((r) => signed(r.errors[i])).join(' | ')} |\n`);
});
if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ threads, speech: speech.sentences, rows }, null, 2)}\n`);
