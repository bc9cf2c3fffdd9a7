#!/usr/bin/env node
// Decode speed of the addon's native decoders (miniaudio: dr_flac, dr_mp3, stb_vorbis) against
// ffmpeg, in seconds of audio per second of wall time, both producing 16 kHz mono float32.
//
//   node scripts/bench-decode.mjs [--repeats 5] [--fixtures DIR] [--no-long]
//
// Ours: loadAudio(path) on each fixture, whole, in this process; and the 20-minute long.mp3
// through the windowed reader (openAudioSource, then read() 30 s at a time until the end), as
// a long file is transcribed. ffmpeg: `ffmpeg -nostdin -i FILE -ac 1 -ar 16000 -f f32le -` with
// its output to /dev/null, timed from spawn to exit, so its process start is counted, as it is
// when the library decodes through ffmpeg. The two alternate within each repeat, after one
// untimed warm-up each (the addon loaded, the files in the page cache); the table has medians.
//
// Needs the built library (`npx tsc -p tsconfig.build.json`), the addon, ffmpeg on PATH and the
// audio fixtures (made on demand by scripts/make-audio-fixtures.mjs). Run it on a quiet machine:
// both sides are single-threaded, and anything else on the cores shows up in the figures.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { loadAudio } = require(path.join(root, 'dist', 'audio', 'load.js'));
const { openAudioSource } = require(path.join(root, 'dist', 'audio', 'open-source.js'));
const { resolveAudioOptions } = require(path.join(root, 'dist', 'audio', 'audio-options.js'));

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    fixtures: { type: 'string' },
    'no-long': { type: 'boolean', default: false },
  },
});
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats: expected an integer >= 1, got ${values.repeats}`);

const RATE = 16000;
const READ_SAMPLES = 30 * RATE;
const FILES = [
  { name: 'jfk.flac', about: 'FLAC 16-bit, 16 kHz mono' },
  { name: 'librivox.flac', about: 'FLAC 16-bit, 16 kHz mono' },
  { name: 'jfk-44k-stereo-cbr.mp3', about: 'MP3 CBR 128 kbit/s, 44.1 kHz stereo' },
  { name: 'jfk-44k-stereo-vbr.mp3', about: 'MP3 VBR, 44.1 kHz stereo' },
  { name: 'librivox.mp3', about: 'MP3 128 kbit/s, 44.1 kHz stereo' },
  { name: 'jfk.ogg', about: 'Ogg Vorbis q4, 44.1 kHz stereo' },
];

const fixtures =
  values.fixtures ??
  execFileSync(process.execPath, [path.join(root, 'scripts', 'make-audio-fixtures.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trimEnd()
    .split('\n')
    .at(-1);

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function timed(run) {
  const started = performance.now();
  const samples = await run();
  return { seconds: (performance.now() - started) / 1000, samples };
}

/** Ours, whole: loadAudio on the path. */
const oursWhole = (file) => timed(async () => (await loadAudio(file)).length);

/** Ours, windowed: the source read 30 s at a time and dropped, as a long file is transcribed. */
const oursWindowed = (file) =>
  timed(async () => {
    const source = await openAudioSource(file, resolveAudioOptions(undefined));
    let samples = 0;
    try {
      for (let piece = await source.read(READ_SAMPLES); piece.length > 0; piece = await source.read(READ_SAMPLES)) samples += piece.length;
    } finally {
      await source.close();
    }
    return samples;
  });

/** ffmpeg to 16 kHz mono f32 on /dev/null, spawn to exit. */
function ffmpeg(file) {
  const devNull = fs.openSync(os.devNull, 'w');
  return timed(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-i', file, '-ac', '1', '-ar', String(RATE), '-f', 'f32le', '-'], {
          stdio: ['ignore', devNull, 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(undefined) : reject(new Error(`ffmpeg failed on ${file} (${code}): ${stderr}`))));
      }),
  ).finally(() => fs.closeSync(devNull));
}

async function bench(label, about, file, ours) {
  await ours(file);
  await ffmpeg(file);
  const oursRuns = [];
  const ffmpegRuns = [];
  let samples = 0;
  for (let i = 0; i < repeats; i++) {
    const run = await ours(file);
    samples = run.samples;
    oursRuns.push(run.seconds);
    ffmpegRuns.push((await ffmpeg(file)).seconds);
  }
  const audioSeconds = samples / RATE;
  const row = { label, about, audioSeconds, ours: median(oursRuns), ffmpeg: median(ffmpegRuns), oursRuns, ffmpegRuns };
  process.stderr.write(`${label}: ours ${oursRuns.map((s) => s.toFixed(3)).join(' ')}; ffmpeg ${ffmpegRuns.map((s) => s.toFixed(3)).join(' ')}\n`);
  return row;
}

const rows = [];
for (const { name, about } of FILES) rows.push(await bench(name, about, path.join(fixtures, name), oursWhole));
if (!values['no-long'])
  rows.push(await bench('long.mp3', 'MP3 64 kbit/s, 16 kHz mono, 20 min; ours windowed, 30 s a read', path.join(fixtures, 'long.mp3'), oursWindowed));

const ffmpegVersion = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const out = [];
out.push(`${os.availableParallelism()} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${ffmpegVersion}; ${repeats} repeats, medians`);
out.push('');
out.push('| file | what | audio (s) | ours: wall (s) | ours: × real time | ffmpeg: wall (s) | ffmpeg: × real time | ours / ffmpeg |');
out.push('|---|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const oursSpeed = row.audioSeconds / row.ours;
  const ffmpegSpeed = row.audioSeconds / row.ffmpeg;
  out.push(
    `| ${row.label} | ${row.about} | ${row.audioSeconds.toFixed(1)} | ${row.ours.toFixed(3)} | ${oursSpeed.toFixed(0)} | ${row.ffmpeg.toFixed(3)} | ${ffmpegSpeed.toFixed(0)} | ${(oursSpeed / ffmpegSpeed).toFixed(2)} |`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
