#!/usr/bin/env node
// Speech with known timings, for the word-timestamp tests and benchmark: English sentences
// synthesised by espeak-ng, each trimmed to its first and last audible sample, joined by sox with
// known silences into one 16 kHz mono 16-bit WAV, with a manifest of where each sentence starts
// and ends (in samples and milliseconds, counted from the pieces that were joined).
//
// Cached outside the clone (~/.cache/whisper-napi/timed-speech/<key>/, or
// $WHISPER_NAPI_CACHE/timed-speech/<key>/), keyed by a hash of this script's text and the espeak-ng
// and sox versions; written under a temporary name and renamed into place whole, as
// scripts/make-audio-fixtures.mjs does, so racing test processes find it complete or not at all.
//
//   node scripts/make-timed-speech.mjs     make the files (as needed); the folder is the last line of
//                                          stdout, holding timed-speech.wav, mandarin.wav (a Mandarin
//                                          sentence, no timings) and manifest.json
//
// Needs espeak-ng and sox on PATH (apt-get install espeak-ng sox).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtureDir, fixtureDir, fixtureKey, makeFixtureDir, runTool, toolVersionLine } from './fixture-cache.mjs';

const scriptPath = fileURLToPath(import.meta.url);

const SAMPLE_RATE = 16000;
/** espeak-ng's voice, speed (words per minute) and amplitude: fixed, so the audio is a function of the text. */
const ESPEAK = ['espeak-ng', '-v', 'en-us', '-s', '150', '-a', '100'];
// -D: no dither, so sox's output is a function of its input alone; -G: no clipping when resampling.
const SOX = ['sox', '-D', '-G'];
/** A sample this loud (of 32767) or louder is speech; espeak writes exact zeros before and after, and the resampler a little ringing. */
const AUDIBLE = 64;
/** The silence before each sentence, then after the last: all different, short and long, so a misplaced word cannot land on another sentence's start by chance. */
const SILENCES_S = [1.0, 1.5, 3.0, 0.7, 2.0, 1.2, 4.0, 0.8, 2.5, 1.0];
const TRAILING_SILENCE_S = 1.0;
const SENTENCES = [
  'Silver clouds drifted across the evening sky.',
  'Please remember to close the window before you leave.',
  'Mountains rise slowly over millions of years.',
  'Yesterday the train arrived twenty minutes late.',
  'Bright lights filled the empty concert hall.',
  'Nobody expected the meeting to end so quickly.',
  'Water boils at one hundred degrees Celsius.',
  'Our neighbours painted their fence a pale blue.',
  'Fresh bread smells wonderful in the morning.',
];
/**
 * A Mandarin clip besides (mandarin.wav, no timings): whisper writes Chinese with characters split
 * over tokens, for the check that words get them whole.
 */
const MANDARIN = { voice: 'cmn', text: '我爱你中国。' };
if (SILENCES_S.length !== SENTENCES.length + 1) throw new Error('one silence before each sentence');

const log = (msg) => process.stderr.write(`[timed-speech] ${msg}\n`);

function fail(msg) {
  process.stderr.write(`timed-speech: ${msg}\n`);
  process.exit(1);
}

/** The cache folder's name: a hash of this script's text and the tools' versions. */
export function timedSpeechKey({ script, espeak, sox }) {
  return fixtureKey([script, espeak, sox]);
}

export function timedSpeechDir(key, env = process.env) {
  return fixtureDir('timed-speech', key, env);
}

function toolVersion(tool, args) {
  const line = toolVersionLine(tool, args, { fail, installHint: 'the timed speech is made with espeak-ng and sox: install them (apt-get install espeak-ng sox)' });
  // espeak-ng names its data folder after the version: machine-specific, not part of the recipe.
  return line.replace(/\s+Data at:.*$/, '').trim();
}

/** The samples of a 16-bit mono PCM WAV at SAMPLE_RATE (what sox wrote). */
function readPcm16(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAV file`);
  let format;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ')
      format = { tag: bytes.readUInt16LE(body), channels: bytes.readUInt16LE(body + 2), rate: bytes.readUInt32LE(body + 4), bits: bytes.readUInt16LE(body + 14) };
    if (id === 'data') {
      if (format === undefined || format.channels !== 1 || format.rate !== SAMPLE_RATE || format.bits !== 16) {
        throw new Error(`${file}: expected 16-bit mono PCM at ${SAMPLE_RATE} Hz, got ${JSON.stringify(format)}`);
      }
      const end = Math.min(bytes.length, body + size);
      return new Int16Array(bytes.buffer.slice(bytes.byteOffset + body, bytes.byteOffset + end - ((end - body) % 2)));
    }
    at = body + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/** The first and one past the last audible sample. */
function audibleSpan(samples) {
  let first = 0;
  while (first < samples.length && Math.abs(samples[first]) < AUDIBLE) first++;
  let end = samples.length;
  while (end > first && Math.abs(samples[end - 1]) < AUDIBLE) end--;
  if (first >= end) throw new Error('espeak-ng wrote no audible samples');
  return { first, end };
}

const ms = (samples) => Math.round((samples / SAMPLE_RATE) * 1000 * 10) / 10;

function make(dir, key, versions) {
  const manifest = makeFixtureDir(dir, key, (scratch) => {
    const pieces = [];
    const sentences = [];
    let at = 0;
    const addSilence = (name, seconds) => {
      const samples = Math.round(seconds * SAMPLE_RATE);
      // Format options before -n set the null input's own rate, so the trim counts 16 kHz samples.
      runTool(['sox', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', '-n', name, 'trim', '0', `${samples}s`], scratch);
      pieces.push(name);
      at += samples;
    };
    SENTENCES.forEach((text, i) => {
      addSilence(`silence-${i}.wav`, SILENCES_S[i]);
      const spoken = `spoken-${i}.wav`;
      const resampled = `resampled-${i}.wav`;
      const trimmed = `sentence-${i}.wav`;
      runTool([...ESPEAK, '-w', spoken, text], scratch);
      runTool([...SOX, spoken, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', resampled], scratch);
      const { first, end } = audibleSpan(readPcm16(path.join(scratch, resampled)));
      runTool(['sox', resampled, trimmed, 'trim', `${first}s`, `${end - first}s`], scratch);
      const length = readPcm16(path.join(scratch, trimmed)).length;
      if (length !== end - first) throw new Error(`sox trimmed sentence ${i} to ${length} samples, not ${end - first}`);
      sentences.push({
        text,
        firstWord: text.split(' ')[0],
        startSample: at,
        endSample: at + length,
        startMs: ms(at),
        endMs: ms(at + length),
        silenceBeforeMs: SILENCES_S[i] * 1000,
        espeakLeadingSilenceMs: ms(first),
      });
      pieces.push(trimmed);
      at += length;
    });
    addSilence('silence-end.wav', TRAILING_SILENCE_S);
    runTool([...SOX.slice(0, 2), ...pieces, 'timed-speech.wav'], scratch);
    const total = readPcm16(path.join(scratch, 'timed-speech.wav')).length;
    if (total !== at) throw new Error(`sox joined ${total} samples, not the ${at} of the pieces`);
    runTool([...ESPEAK.map((arg) => (arg === 'en-us' ? MANDARIN.voice : arg)), '-w', 'spoken-mandarin.wav', MANDARIN.text], scratch);
    runTool([...SOX, 'spoken-mandarin.wav', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', 'mandarin.wav'], scratch);
    const keep = new Set(['timed-speech.wav', 'mandarin.wav']);
    for (const file of fs.readdirSync(scratch)) if (!keep.has(file)) fs.rmSync(path.join(scratch, file));

    return {
      key,
      espeak: versions.espeak,
      sox: versions.sox,
      recipe: { espeak: ESPEAK, audibleThreshold: AUDIBLE, silencesSeconds: SILENCES_S, trailingSilenceSeconds: TRAILING_SILENCE_S },
      file: 'timed-speech.wav',
      sampleRate: SAMPLE_RATE,
      samples: total,
      durationMs: ms(total),
      sentences,
      mandarin: { file: 'mandarin.wav', voice: MANDARIN.voice, text: MANDARIN.text },
    };
  });
  log(`made ${SENTENCES.length} sentences, ${(manifest.samples / SAMPLE_RATE).toFixed(1)} s, in ${dir}`);
}

function main() {
  const versions = { espeak: toolVersion('espeak-ng', ['--version']), sox: toolVersion('sox', ['--version']) };
  const key = timedSpeechKey({ script: fs.readFileSync(scriptPath), ...versions });
  const dir = timedSpeechDir(key);
  ensureFixtureDir(dir, (target) => make(target, key, versions), { log, fail });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === scriptPath) main();
