#!/usr/bin/env node
// Hostile audio against the library, in this process: what one call costs the event loop and
// the heap when its audio decodes to hours. Prints a table (or one JSON line with --json).
//
//   node scripts/bench-audio-bounds.mjs --model <ggml model.bin> [--json]
//
// Cases (the audio is made here, in memory):
//   wav-1khz-duration  25 MiB of 8-bit mono WAV at 1000 Hz (7.3 hours) as bytes, durationMs 2000
//   wav-1khz-timeout   the same bytes with no range: windowed, ended by timeoutMs 3000
//   wav-1khz-cap       the same bytes with audio.maxDurationMs 60000: AUDIO_TOO_LONG from its stated length
//   wav-44k-stereo     25 MB of 16-bit stereo WAV at 44.1 kHz (2.4 min) as bytes, durationMs 2000
// Each row: how it ended, its wall time, the event loop's worst stall while it ran (sampled
// every 10 ms), and how far RSS rose above the row's start.
import { createRequire } from 'node:module';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { loadModel } = require(path.join(root, 'dist', 'index.js'));

const { values } = parseArgs({ options: { model: { type: 'string' }, json: { type: 'boolean', default: false } } });
if (!values.model) {
  console.error('usage: node scripts/bench-audio-bounds.mjs --model <model.bin> [--json]');
  process.exit(2);
}

/** A canonical PCM WAV of `dataBytes` bytes of `fill(i)`. */
function wav({ rate, channels, bits, dataBytes }) {
  const bytes = Buffer.alloc(44 + dataBytes);
  bytes.write('RIFF', 0, 'latin1');
  bytes.writeUInt32LE(36 + dataBytes, 4);
  bytes.write('WAVEfmt ', 8, 'latin1');
  bytes.writeUInt32LE(16, 16);
  bytes.writeUInt16LE(1, 20);
  bytes.writeUInt16LE(channels, 22);
  bytes.writeUInt32LE(rate, 24);
  bytes.writeUInt32LE((rate * channels * bits) / 8, 28);
  bytes.writeUInt16LE((channels * bits) / 8, 32);
  bytes.writeUInt16LE(bits, 34);
  bytes.write('data', 36, 'latin1');
  bytes.writeUInt32LE(dataBytes, 40);
  // A slow tone rather than silence, so nothing decodes to a shortcut.
  for (let i = 44; i < bytes.length; i++) bytes[i] = bits === 8 ? 128 + Math.round(40 * Math.sin(i / 7)) : (i * 37) & 0xff;
  return bytes;
}

const MiB = 1024 * 1024;
const slowWav = wav({ rate: 1000, channels: 1, bits: 8, dataBytes: 25 * MiB });
const cdWav = wav({ rate: 44100, channels: 2, bits: 16, dataBytes: 25 * 1000 * 1000 });

const cases = [
  { name: 'wav-1khz-duration', audio: slowWav, options: { durationMs: 2000 } },
  { name: 'wav-1khz-timeout', audio: slowWav, options: { timeoutMs: 3000 } },
  { name: 'wav-1khz-cap', audio: slowWav, options: { audio: { maxDurationMs: 60_000 } } },
  { name: 'wav-44k-stereo', audio: cdWav, options: { durationMs: 2000 } },
];

const model = await loadModel(values.model, { gpu: false, concurrency: 1 });
const rows = [];
try {
  for (const { name, audio, options } of cases) {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const start = performance.now();
    let outcome;
    try {
      const transcript = await model.transcribe(audio, { language: 'en', threads: 2, ...options });
      outcome = `ok (${transcript.segments.length} segments)`;
    } catch (error) {
      outcome = error.code ?? String(error);
    }
    const wallMs = performance.now() - start;
    delay.disable();
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    rows.push({ name, outcome, wallMs: Math.round(wallMs), maxStallMs: Math.round(delay.max / 1e6), rssRiseMiB: Math.round((rssPeak - rssBefore) / MiB) });
  }
} finally {
  await model.dispose();
}

if (values.json) {
  process.stdout.write(`${JSON.stringify(rows)}\n`);
} else {
  console.log('| case | outcome | wall ms | worst stall ms | RSS rise MiB |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.outcome} | ${r.wallMs} | ${r.maxStallMs} | ${r.rssRiseMiB} |`);
}
