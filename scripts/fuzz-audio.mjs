#!/usr/bin/env node
// Fuzzes every audio parser behind loadAudio: mutated FLAC, MP3, Ogg Vorbis and M4A files, each
// decoded in a child process (test/support/audio-fuzz-child.cjs), from its path and from its bytes.
// Every failure must be a WhisperError; a crash or a hang (a file taking over 20 s) is a bug, and so
// is a failure of any other kind ('untyped').
//
//   node scripts/fuzz-audio.mjs [--count 2000] [--seed 1] [--jobs 2] [--batch 40] [--m4a N]
//                               [--hang-ms 20000] [--startup-ms 20000] [--fixtures DIR] [--dist DIR] [--keep] [--out DIR] [--json]
//
// --count files in all; --m4a of them are M4A (default a tenth: each M4A decode spawns ffmpeg),
//   the rest split evenly between FLAC, MP3 and Ogg Vorbis
// --seed  the corpus is a function of the seed and the count alone: file i of a format gets a
//   PRNG of its own seeded from (seed, format, i), so any one file can be made again
// --jobs  children at a time; --batch files per child (a crash is then narrowed down: see below)
// --hang-ms a file taking longer is a hang; --startup-ms is added for a child's first file
// --keep  keep the mutated corpus (it is printed where); --out where the files that crashed, hung
//   or failed untyped are copied (default: a fresh folder in the temporary directory)
// --json  also print the summary as one JSON line, last
// --crash-on NAME / --hang-on NAME are passed to the child, for the harness's own test
//
// Prints a table of counts per source format and the wall time; exits 1 on any untyped failure,
// crash or hang. Needs the built library (`npx tsc -p tsconfig.build.json`), the addon, and the
// audio fixtures (made on demand by scripts/make-audio-fixtures.mjs; needs ffmpeg and sox).
//
// Sources, cut to their first ~3 s of bytes so each decode is quick (truncation uses the whole
// file): jfk.flac, jfk-44k-stereo-cbr.mp3, jfk.ogg, and for M4A both jfk.m4a (whole: its index,
// the moov atom, is at the end, so a cut would lose it) and jfk-faststart.m4a (index first, cut),
// so ffmpeg's path from a pipe is fuzzed too. Mutations, one kind per file in turn: bit flips,
// byte overwrites in the headers, byte overwrites anywhere, truncation, a duplicated range, a
// removed range, a valid header followed by random bytes, and header length fields set to huge
// values. Ogg pages carry a CRC, so half the Ogg files have theirs recomputed after the mutation,
// to reach the Vorbis decoder past any CRC check.
//
// Attribution: a child decodes a batch of files and prints one line per file. When it dies (a
// signal, a non-zero status) or is killed because a file took longer than --hang-ms, the first
// file without a line is the suspect: it is decoded again alone in a fresh child (which says
// whether it crashes or hangs by itself), and the rest of the batch goes to another fresh child.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(root, 'test', 'support', 'audio-fuzz-child.cjs');
const FORMATS = ['flac', 'mp3', 'vorbis', 'm4a'];
const EXTENSIONS = { flac: 'flac', mp3: 'mp3', vorbis: 'ogg', m4a: 'm4a' };
const KINDS = ['bitflip', 'header-bytes', 'overwrite', 'truncate', 'duplicate-range', 'remove-range', 'header-random', 'huge-length'];
const CUT_SECONDS = 3;
const STDERR_KEPT = 8192;

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    batch: { type: 'string', default: '40' },
    m4a: { type: 'string' },
    'hang-ms': { type: 'string', default: '20000' },
    // A child's first file also covers its start: Node, dist/ and the addon loading on a busy machine.
    'startup-ms': { type: 'string', default: '20000' },
    fixtures: { type: 'string' },
    dist: { type: 'string', default: path.join(root, 'dist') },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
    'crash-on': { type: 'string' },
    'hang-on': { type: 'string' },
  },
});

function positiveInteger(name, text, min = 1) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${text}`);
  return value;
}

const count = positiveInteger('count', values.count);
const seed = positiveInteger('seed', values.seed, 0);
const jobs = positiveInteger('jobs', values.jobs);
const batchSize = positiveInteger('batch', values.batch);
const hangMs = positiveInteger('hang-ms', values['hang-ms']);
const startupMs = positiveInteger('startup-ms', values['startup-ms'], 0);
const m4aCount = values.m4a === undefined ? Math.round(count / 10) : positiveInteger('m4a', values.m4a, 0);
if (m4aCount > count) throw new Error(`--m4a ${m4aCount} is more than --count ${count}`);
const dist = path.resolve(values.dist);
if (!fs.existsSync(path.join(dist, 'audio', 'load.js'))) throw new Error(`${dist}/audio/load.js is missing: build the library first (npx tsc -p tsconfig.build.json)`);
const require = createRequire(import.meta.url);
const { loadAudio } = require(path.join(dist, 'audio', 'load.js'));

// ---- deterministic randomness

function mulberry32(seedValue) {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a: one file's own seed from the run's seed, its format and its index. */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function randomTools(next) {
  const below = (n) => (n <= 0 ? 0 : next() % n);
  const between = (lo, hi) => lo + below(hi - lo + 1);
  const pick = (list) => list[below(list.length)];
  const chance = (p) => next() / 2 ** 32 < p;
  const bytes = (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next() & 0xff;
    return out;
  };
  return { below, between, pick, chance, bytes };
}

// ---- where the headers and their length fields are

const u32be = (b, o) => (o + 4 <= b.length ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0 : 0);
const u32le = (b, o) => (o + 4 <= b.length ? ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0 : 0);
const ascii = (b, o, n) => String.fromCharCode(...b.subarray(o, o + n));

function indexOf(b, text, from = 0, to = b.length) {
  const needle = Buffer.from(text, 'latin1');
  const at = Buffer.from(b.buffer, b.byteOffset, Math.min(to, b.length)).indexOf(needle, from);
  return at;
}

/**
 * What a mutation aims at in a file of `format`: `fields` (length and count fields, each
 * {offset, width, endian, what}), `ranges` (the header bytes, [start, end) pairs) and
 * `headerEnd` (where the audio starts after the valid header). Parsed leniently: a source
 * is a real file, and anything odd just ends the walk.
 */
function structure(format, b) {
  const fields = [];
  const ranges = [[0, Math.min(4096, b.length)]];
  let headerEnd = Math.min(4096, b.length);
  const field = (offset, width, what, endian = 'be') => {
    if (offset >= 0 && offset + width <= b.length) fields.push({ offset, width, endian, what });
  };
  if (format === 'flac' && ascii(b, 0, 4) === 'fLaC') {
    let o = 4;
    let metadataEnd = 4;
    while (o + 4 <= b.length) {
      const type = b[o] & 0x7f;
      const last = (b[o] & 0x80) !== 0;
      const length = (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
      const d = o + 4;
      field(o + 1, 3, `metadata block ${type} length`);
      if (type === 0) {
        field(d, 2, 'STREAMINFO min block size');
        field(d + 2, 2, 'STREAMINFO max block size');
        field(d + 4, 3, 'STREAMINFO min frame size');
        field(d + 7, 3, 'STREAMINFO max frame size');
        field(d + 10, 3, 'STREAMINFO sample rate and channels');
        field(d + 13, 5, 'STREAMINFO bits per sample and total samples');
      } else if (type === 4) {
        const vendor = u32le(b, d);
        field(d, 4, 'VORBIS_COMMENT vendor length', 'le');
        field(d + 4 + vendor, 4, 'VORBIS_COMMENT comment count', 'le');
        field(d + 8 + vendor, 4, 'VORBIS_COMMENT first comment length', 'le');
      } else if (type === 3) {
        field(d, 8, 'SEEKTABLE first point sample');
        field(d + 8, 8, 'SEEKTABLE first point offset');
      }
      if (type !== 1) metadataEnd = d + length;
      o = d + length;
      if (last) break;
    }
    headerEnd = Math.min(o, b.length);
    field(headerEnd + 2, 1, 'first frame block size and sample rate codes');
    ranges.push([0, Math.min(metadataEnd, b.length)], [headerEnd, Math.min(headerEnd + 4096, b.length)]);
  } else if (format === 'mp3') {
    let tagEnd = 0;
    if (ascii(b, 0, 3) === 'ID3') {
      field(6, 4, 'ID3v2 tag size (syncsafe)', 'syncsafe');
      field(14, 4, 'first ID3v2 frame size');
      tagEnd = 10 + ((b[6] & 0x7f) << 21) + ((b[7] & 0x7f) << 14) + ((b[8] & 0x7f) << 7) + (b[9] & 0x7f);
    }
    // MPEG-1 Layer III frames (the fixture's kind), walked to find the first few frame boundaries.
    const BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const RATES = [44100, 48000, 32000];
    let o = tagEnd;
    while (o + 1 < b.length && !(b[o] === 0xff && (b[o + 1] & 0xe0) === 0xe0)) o++;
    const firstFrame = o;
    for (let frame = 0; frame < 3 && o + 4 <= b.length; frame++) {
      field(o + 2, 1, `frame ${frame} bitrate and sample rate codes`);
      const bitrate = BITRATES[b[o + 2] >> 4];
      const rate = RATES[(b[o + 2] >> 2) & 3];
      if (!bitrate || !rate) break;
      o += Math.floor((144000 * bitrate) / rate) + ((b[o + 2] >> 1) & 1);
    }
    headerEnd = Math.min(o, b.length);
    for (const tag of ['Xing', 'Info']) {
      const x = indexOf(b, tag, firstFrame, firstFrame + 64);
      if (x >= 0) {
        field(x + 8, 4, `${tag} frame count`);
        field(x + 12, 4, `${tag} byte count`);
      }
    }
    const vbri = indexOf(b, 'VBRI', firstFrame, firstFrame + 64);
    if (vbri >= 0) {
      field(vbri + 10, 4, 'VBRI byte count');
      field(vbri + 14, 4, 'VBRI frame count');
      field(vbri + 18, 2, 'VBRI TOC entries');
      field(vbri + 22, 2, 'VBRI TOC entry size');
    }
    ranges.push([firstFrame, Math.min(headerEnd + 1024, b.length)]);
  } else if (format === 'vorbis') {
    let audioPage = -1;
    for (const page of oggPages(b)) {
      field(page.offset + 26, 1, 'page segment count');
      if (page.segments > 0) field(page.offset + 27 + (page.offset % page.segments), 1, 'page lacing value');
      field(page.offset + 6, 8, 'page granule position', 'le');
      if (audioPage < 0 && page.granule !== 0n) audioPage = page.offset;
      if (fields.length > 60) break;
    }
    headerEnd = audioPage > 0 ? audioPage : headerEnd;
    const id = indexOf(b, '\x01vorbis', 0, 4096);
    if (id >= 0) {
      field(id + 11, 1, 'identification channels');
      field(id + 12, 4, 'identification sample rate', 'le');
      field(id + 28, 1, 'identification block sizes');
    }
    const comment = indexOf(b, '\x03vorbis', 0, 8192);
    if (comment >= 0) {
      const vendor = u32le(b, comment + 7);
      field(comment + 7, 4, 'comment vendor length', 'le');
      field(comment + 11 + vendor, 4, 'comment count', 'le');
      field(comment + 15 + vendor, 4, 'first comment length', 'le');
    }
    const setup = indexOf(b, '\x05vorbis', 0, 8192);
    if (setup >= 0) {
      field(setup + 7, 1, 'setup codebook count');
      if (ascii(b, setup + 8, 3) === 'BCV') {
        field(setup + 11, 2, 'first codebook dimensions', 'le');
        field(setup + 13, 3, 'first codebook entries', 'le');
      }
    }
    ranges.push([0, Math.min(headerEnd, b.length)]);
  } else if (format === 'm4a') {
    const boxes = [];
    mp4Boxes(b, 0, b.length, boxes, 0);
    for (const box of boxes) {
      field(box.offset, 4, `${box.type} box size`);
      const o = box.offset;
      if (['stsd', 'stts', 'stsc', 'stco', 'co64', 'stss', 'ctts', 'elst', 'dref'].includes(box.type)) field(o + 12, 4, `${box.type} entry count`);
      if (box.type === 'stsz') {
        field(o + 12, 4, 'stsz sample size');
        field(o + 16, 4, 'stsz sample count');
      }
      if (box.type === 'mdhd' || box.type === 'mvhd') {
        field(o + 20, 4, `${box.type} timescale`);
        field(o + 24, 4, `${box.type} duration`);
      }
      if (box.type === 'mp4a') {
        field(o + 24, 2, 'mp4a channel count');
        field(o + 26, 2, 'mp4a sample size');
        field(o + 32, 4, 'mp4a sample rate');
      }
      if (box.type === 'esds') field(o + 13, 4, 'esds ES descriptor length');
      if (box.type === 'moov') ranges.push([o, Math.min(o + box.size, b.length)]);
    }
    const mdat = boxes.find((box) => box.type === 'mdat');
    headerEnd = mdat ? mdat.offset + 8 : headerEnd;
  }
  return { fields, ranges: ranges.filter(([start, end]) => end > start), headerEnd, mdat: format === 'm4a' ? mp4Mdat(b) : undefined };
}

function* oggPages(b) {
  let o = 0;
  while (o + 27 <= b.length && ascii(b, o, 4) === 'OggS') {
    const segments = b[o + 26];
    if (o + 27 + segments > b.length) return;
    let body = 0;
    for (let i = 0; i < segments; i++) body += b[o + 27 + i];
    const granule = Buffer.from(b.buffer, b.byteOffset + o + 6, 8).readBigUInt64LE(0);
    const length = 27 + segments + body;
    yield { offset: o, segments, granule, length };
    o += length;
  }
}

const OGG_CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Recomputes the CRC of every Ogg page that still parses, so a mutation inside one is not caught by the checksum alone. */
function fixOggCrcs(b) {
  for (const page of oggPages(b)) {
    if (page.offset + page.length > b.length) break;
    b.fill(0, page.offset + 22, page.offset + 26);
    let crc = 0;
    for (let i = page.offset; i < page.offset + page.length; i++) crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ b[i]) & 0xff]) >>> 0;
    b[page.offset + 22] = crc & 0xff;
    b[page.offset + 23] = (crc >>> 8) & 0xff;
    b[page.offset + 24] = (crc >>> 16) & 0xff;
    b[page.offset + 25] = crc >>> 24;
  }
}

const MP4_CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'udta', 'edts', 'dinf', 'mvex', 'moof', 'traf', 'ilst']);

function mp4Boxes(b, start, end, out, depth) {
  if (depth >= 12) return;
  let o = start;
  while (o + 8 <= end) {
    let size = u32be(b, o);
    const type = ascii(b, o + 4, 4);
    const header = size === 1 ? 16 : 8;
    if (size === 1) size = Number(Buffer.from(b.buffer, b.byteOffset + o + 8, 8).readBigUInt64BE(0));
    else if (size === 0) size = end - o;
    if (size < header || o + size > end) return;
    out.push({ offset: o, type, size });
    if (MP4_CONTAINERS.has(type)) mp4Boxes(b, o + header, o + size, out, depth + 1);
    if (type === 'meta') mp4Boxes(b, o + header + 4, o + size, out, depth + 1);
    if (type === 'stsd') mp4Boxes(b, o + 16, o + size, out, depth + 1);
    if (type === 'mp4a') mp4Boxes(b, o + 36, o + size, out, depth + 1);
    o += size;
  }
}

function mp4Mdat(b) {
  const boxes = [];
  mp4Boxes(b, 0, b.length, boxes, 0);
  const mdat = boxes.find((box) => box.type === 'mdat');
  return mdat ? [mdat.offset + 8, mdat.offset + mdat.size] : undefined;
}

// ---- the mutations

const SPECIAL_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

function hugeValue(r, width, original) {
  const bits = BigInt(width * 8);
  const max = (1n << bits) - 1n;
  const choices = [max, max - 1n, 1n << (bits - 1n), (1n << (bits - 1n)) - 1n, max - BigInt(r.below(1 << 16)), original * 16n > max ? max : original * 16n + 1n, 0n];
  // Mostly huge; now and then zero or a sixteenfold length, which break other checks.
  return r.chance(0.8) ? choices[r.below(4)] : choices[4 + r.below(3)];
}

function readField(b, { offset, width, endian }) {
  let value = 0n;
  for (let i = 0; i < width; i++) value = (value << 8n) | BigInt(b[endian === 'le' ? offset + width - 1 - i : offset + i]);
  return value;
}

function writeField(b, { offset, width, endian }, value) {
  if (endian === 'syncsafe') {
    for (let i = 0; i < width; i++) b[offset + i] = 0x7f;
    return;
  }
  for (let i = 0; i < width; i++) {
    const byte = Number((value >> BigInt(8 * (width - 1 - i))) & 0xffn);
    b[endian === 'le' ? offset + width - 1 - i : offset + i] = byte;
  }
}

function randomByte(r) {
  return r.chance(0.5) ? r.pick(SPECIAL_BYTES) : r.below(256);
}

function rangeLength(r, length) {
  return r.chance(0.5) ? r.between(1, 64) : r.between(1, Math.max(1, Math.min(8192, length >> 2)));
}

/** One mutated file: its bytes and what was done to them, in words. */
function mutate(kind, source, r) {
  const { whole, cut, format } = source;
  const b = Uint8Array.from(cut);
  const info = structure(format, b);
  switch (kind) {
    case 'bitflip': {
      const flips = r.between(1, 16);
      for (let i = 0; i < flips; i++) b[r.below(b.length)] ^= 1 << r.below(8);
      return { bytes: b, what: `${flips} bit flips` };
    }
    case 'header-bytes': {
      const writes = r.between(1, 8);
      for (let i = 0; i < writes; i++) {
        const [start, end] = r.pick(info.ranges);
        b[r.between(start, end - 1)] = randomByte(r);
      }
      return { bytes: b, what: `${writes} header bytes overwritten` };
    }
    case 'overwrite': {
      const runs = r.between(1, 8);
      for (let i = 0; i < runs; i++) {
        const at = r.below(b.length);
        const n = Math.min(r.between(1, 16), b.length - at);
        for (let k = 0; k < n; k++) b[at + k] = randomByte(r);
      }
      return { bytes: b, what: `${runs} runs of bytes overwritten` };
    }
    case 'truncate': {
      const at = r.chance(0.5) ? r.below(whole.length) : r.below(Math.min(whole.length, 8192));
      return { bytes: Uint8Array.from(whole.subarray(0, at)), what: `the whole file cut at byte ${at} of ${whole.length}` };
    }
    case 'duplicate-range': {
      const n = rangeLength(r, b.length);
      const from = r.below(b.length - n + 1);
      const to = r.below(b.length + 1);
      return { bytes: concat(b.subarray(0, to), b.subarray(from, from + n), b.subarray(to)), what: `bytes ${from}..${from + n} copied to ${to}` };
    }
    case 'remove-range': {
      const n = rangeLength(r, b.length);
      const from = r.below(b.length - n + 1);
      return { bytes: concat(b.subarray(0, from), b.subarray(from + n)), what: `bytes ${from}..${from + n} removed` };
    }
    case 'header-random': {
      if (info.mdat && r.chance(0.5)) {
        const [start, end] = [info.mdat[0], Math.min(info.mdat[1], b.length)];
        b.set(r.bytes(Math.max(0, end - start)), start);
        return { bytes: b, what: `the mdat payload (${start}..${end}) replaced with random bytes` };
      }
      const keep = r.chance(0.5) ? info.headerEnd : r.between(16, Math.min(4096, b.length));
      return { bytes: concat(b.subarray(0, keep), r.bytes(r.between(1, b.length))), what: `the first ${keep} bytes, then random bytes` };
    }
    case 'huge-length': {
      if (info.fields.length === 0) return mutate('header-bytes', source, r);
      const changes = r.between(1, 3);
      const said = [];
      for (let i = 0; i < changes; i++) {
        const target = r.pick(info.fields);
        const value = hugeValue(r, target.width, readField(b, target));
        writeField(b, target, value);
        said.push(`${target.what} at ${target.offset} = ${target.endian === 'syncsafe' ? '0x7f7f7f7f' : `0x${value.toString(16)}`}`);
      }
      return { bytes: b, what: said.join('; ') };
    }
    default:
      throw new Error(`unknown mutation ${kind}`);
  }
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- the sources and the corpus

function fixturesDir() {
  if (values.fixtures !== undefined) return path.resolve(values.fixtures);
  const stdout = execFileSync(process.execPath, [path.join(root, 'scripts', 'make-audio-fixtures.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return stdout.trimEnd().split('\n').at(-1);
}

/** Each source, whole and cut to its first CUT_SECONDS of bytes, checked to decode cleanly first. */
async function loadSources(dir) {
  const plan = [
    { format: 'flac', name: 'jfk.flac', cut: true },
    { format: 'mp3', name: 'jfk-44k-stereo-cbr.mp3', cut: true },
    { format: 'vorbis', name: 'jfk.ogg', cut: true },
    { format: 'm4a', name: 'jfk.m4a', cut: false },
    { format: 'm4a', name: 'jfk-faststart.m4a', cut: true },
  ];
  const sources = [];
  for (const { format, name, cut } of plan) {
    const file = path.join(dir, name);
    const whole = new Uint8Array(fs.readFileSync(file));
    const samples = (await loadAudio(file)).length;
    const seconds = samples / 16000;
    const cutBytes = cut ? whole.subarray(0, Math.round((whole.length * CUT_SECONDS) / seconds)) : whole;
    // The unmutated input must decode, or 'ok' in the table would mean nothing.
    const check = await loadAudio(Buffer.from(cutBytes)).catch((error) => error);
    if (!(check instanceof Float32Array) && name !== 'jfk.m4a')
      throw new Error(`the unmutated source ${name} (${cutBytes.length} bytes) does not decode: ${check.message}`);
    sources.push({ format, name, whole, cut: cutBytes, seconds });
  }
  return sources;
}

function perFormatCounts() {
  const others = count - m4aCount;
  const each = Math.floor(others / 3);
  const counts = { flac: each, mp3: each, vorbis: each, m4a: m4aCount };
  for (let i = 0; i < others - 3 * each; i++) counts[FORMATS[i]] += 1;
  return counts;
}

function writeCorpus(dir, sources) {
  const counts = perFormatCounts();
  const byFormat = FORMATS.map((format) => {
    const mine = sources.filter((source) => source.format === format);
    const list = [];
    for (let i = 0; i < counts[format]; i++) {
      const source = mine[i % mine.length];
      const r = randomTools(mulberry32(hash32(`${seed}:${format}:${i}`)));
      const kind = KINDS[i % KINDS.length];
      const mutated = mutate(kind, source, r);
      let what = mutated.what;
      if (format === 'vorbis' && r.chance(0.5)) {
        fixOggCrcs(mutated.bytes);
        what += ' (page CRCs recomputed)';
      }
      const file = path.join(dir, `${format}-${String(i).padStart(4, '0')}-${kind}.${EXTENSIONS[format]}`);
      fs.writeFileSync(file, mutated.bytes);
      list.push({ file, format, kind, source: source.name, what, bytes: mutated.bytes.length });
    }
    return list;
  });
  // Formats interleaved, so every batch mixes them and the children's loads are alike.
  const corpus = [];
  for (let i = 0; byFormat.some((list) => i < list.length); i++) for (const list of byFormat) if (i < list.length) corpus.push(list[i]);
  return corpus;
}

// ---- running the children

/**
 * One child over `files`: the lines it printed (by file), how it ended, and the tail of its
 * stderr. A file that takes longer than hangMs (the first also gets startupMs) gets the
 * child's whole process group killed, ffmpeg included.
 */
function runChild(files) {
  return new Promise((resolve, reject) => {
    const args = [CHILD, '--dist', dist];
    if (values['crash-on']) args.push('--crash-on', values['crash-on']);
    if (values['hang-on']) args.push('--hang-on', values['hang-on']);
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const lines = new Map();
    let stderr = '';
    let buffered = '';
    let timedOut = false;
    let escaped = false;
    let previousRssKb = 0;
    let timer;
    const arm = (ms) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, ms);
    };
    arm(hangMs + startupMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      buffered += text;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() === '') continue;
        let parsed;
        try {
          parsed = JSON.parse(line);
        } catch {
          stderr += `(stdout, not JSON) ${line}\n`;
          continue;
        }
        if (parsed.escaped) escaped = true;
        if (typeof parsed.maxRssKb === 'number') {
          parsed.rssJumpKb = parsed.maxRssKb - previousRssKb;
          previousRssKb = parsed.maxRssKb;
        }
        lines.set(parsed.file, parsed);
        // The next file's clock starts now; after the last one, the child has as long to exit.
        arm(hangMs);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      stderr = (stderr + text).slice(-STDERR_KEPT);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // The child's own stdout may have closed before a grandchild's: the group goes in any case.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      resolve({ lines, code, signal, timedOut, escaped, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(files.map((entry) => entry.file).join('\n') + '\n');
  });
}

function ending(run) {
  if (run.timedOut) return `killed after ${hangMs} ms without an answer`;
  if (run.signal) return `killed by ${run.signal}`;
  return `exited with status ${run.code}`;
}

/** Decodes `files` in one child; on a crash or hang, narrows it down (see the header) and carries on. */
async function processBatch(files, results, failures) {
  const run = await runChild(files);
  for (const [file, line] of run.lines) results.set(file, line);
  if (!run.timedOut && run.code === 0 && run.signal === null && run.lines.size === files.length) return;
  if (run.code === 2 && run.stderr.includes('audio-fuzz-child:')) throw new Error(`the fuzz child failed before decoding:\n${run.stderr}`);
  const missing = files.filter((entry) => !run.lines.has(entry.file));
  // An escaped error was already said against its file (untyped); the child stopped on purpose.
  if (run.escaped && !run.timedOut && run.code === 70) {
    if (missing.length > 0) await processBatch(missing, results, failures);
    return;
  }
  if (missing.length === 0) {
    // Every file answered, then the process did not end well: at exit, or a handle left open.
    const last = files.at(-1);
    failures.push({
      ...last,
      kind: run.timedOut ? 'hang' : 'crash',
      atExit: true,
      how: `${ending(run)} after its last file`,
      stderr: run.stderr,
      batch: files.map((entry) => entry.file),
    });
    return;
  }
  const [suspect, ...rest] = missing;
  const kind = run.timedOut ? 'hang' : 'crash';
  if (files.length === 1) {
    failures.push({ ...suspect, kind, how: ending(run), stderr: run.stderr });
    return;
  }
  const alone = await runChild([suspect]);
  if (alone.lines.has(suspect.file)) results.set(suspect.file, alone.lines.get(suspect.file));
  const aloneFailed = alone.timedOut || alone.code !== 0 || alone.signal !== null || !alone.lines.has(suspect.file);
  failures.push({
    ...suspect,
    kind: aloneFailed ? (alone.timedOut ? 'hang' : 'crash') : kind,
    how: aloneFailed ? `alone: ${ending(alone)}` : `in a batch only (${ending(run)}); alone it decoded`,
    stderr: aloneFailed ? alone.stderr : run.stderr,
  });
  if (rest.length > 0) await processBatch(rest, results, failures);
}

async function runAll(corpus) {
  const results = new Map();
  const failures = [];
  const batches = [];
  for (let i = 0; i < corpus.length; i += batchSize) batches.push(corpus.slice(i, i + batchSize));
  const worker = async () => {
    for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) await processBatch(batch, results, failures);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, batches.length) }, worker));
  return { results, failures };
}

// ---- the summary

function summarise(corpus, results, failures, wallMs) {
  const formats = {};
  const kinds = {};
  const untyped = [];
  const disagreements = [];
  const failed = new Map(failures.map((failure) => [failure.file, failure]));
  for (const entry of corpus) {
    const row = (formats[entry.format] ??= { files: 0, decodes: 0, ok: 0, typed: {}, untyped: 0, crash: 0, hang: 0, disagree: 0 });
    const kindRow = (kinds[entry.kind] ??= { files: 0, ok: 0, typed: 0, other: 0 });
    row.files += 1;
    kindRow.files += 1;
    const failure = failed.get(entry.file);
    if (failure && !failure.atExit) {
      row[failure.kind] += 1;
      kindRow.other += 1;
      continue;
    }
    const line = results.get(entry.file);
    if (line === undefined) continue;
    if (line.escaped) {
      row.untyped += 1;
      kindRow.other += 1;
      untyped.push({ file: entry.file, mode: 'escaped', message: line.message });
      continue;
    }
    for (const mode of ['path', 'bytes']) {
      const decode = line[mode];
      row.decodes += 1;
      if (decode.outcome === 'ok') row.ok += 1;
      else if (decode.outcome === 'typed') row.typed[decode.code] = (row.typed[decode.code] ?? 0) + 1;
      else {
        row.untyped += 1;
        untyped.push({ file: entry.file, mode, message: decode.message });
      }
    }
    if (line.outcome === 'ok') kindRow.ok += 1;
    else if (line.outcome === 'typed') kindRow.typed += 1;
    else kindRow.other += 1;
    const { path: a, bytes: b } = line;
    // jfk.m4a keeps its index at the end, which a stream cannot reach: its bytes are refused by design.
    const indexAtEnd = entry.source === 'jfk.m4a' && b.outcome === 'typed';
    if (!indexAtEnd && (a.outcome !== b.outcome || a.code !== b.code || a.samples !== b.samples)) {
      row.disagree += 1;
      disagreements.push({ file: entry.file, path: a, bytes: b });
    }
  }
  for (const failure of failures.filter((f) => f.atExit)) formats[failure.format][failure.kind] += 1;
  const slowest = [...results.values()]
    .filter((line) => !line.escaped)
    .map((line) => ({ file: path.basename(line.file), ms: Math.max(line.path.ms, line.bytes.ms) }))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, 3);
  // A child's first file also pays for loading Node and the addon, so jumps are compared after that one.
  const hungriest = [...results.values()]
    .filter((line) => typeof line.rssJumpKb === 'number' && line.rssJumpKb !== line.maxRssKb)
    .sort((x, y) => y.rssJumpKb - x.rssJumpKb)
    .slice(0, 3)
    .map((line) => ({ file: path.basename(line.file), rssJumpKb: line.rssJumpKb }));
  const peakRssKb = Math.max(0, ...[...results.values()].map((line) => line.maxRssKb ?? 0));
  return { seed, count: corpus.length, jobs, batch: batchSize, hangMs, wallMs, formats, kinds, untyped, disagreements, slowest, hungriest, peakRssKb, failures };
}

function printSummary(summary) {
  const out = [];
  out.push(`seed ${summary.seed}, ${summary.count} files, ${summary.jobs} children at a time, ${summary.batch} files each, hang = over ${summary.hangMs} ms`);
  out.push('');
  out.push('| format | files | decodes (path + bytes) | ok | typed, by code | untyped | crash | hang | path ≠ bytes |');
  out.push('|---|---:|---:|---:|---|---:|---:|---:|---:|');
  const total = { files: 0, decodes: 0, ok: 0, typed: {}, untyped: 0, crash: 0, hang: 0, disagree: 0 };
  const codes = (typed) =>
    Object.entries(typed)
      .sort(([, x], [, y]) => y - x)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ') || '0';
  for (const format of FORMATS) {
    const row = summary.formats[format];
    if (!row) continue;
    out.push(`| ${format} | ${row.files} | ${row.decodes} | ${row.ok} | ${codes(row.typed)} | ${row.untyped} | ${row.crash} | ${row.hang} | ${row.disagree} |`);
    for (const key of ['files', 'decodes', 'ok', 'untyped', 'crash', 'hang', 'disagree']) total[key] += row[key];
    for (const [code, n] of Object.entries(row.typed)) total.typed[code] = (total.typed[code] ?? 0) + n;
  }
  out.push(
    `| **all** | ${total.files} | ${total.decodes} | ${total.ok} | ${codes(total.typed)} | ${total.untyped} | ${total.crash} | ${total.hang} | ${total.disagree} |`,
  );
  out.push('');
  out.push('| mutation | files | ok (both decodes) | typed (either) | untyped, crash or hang |');
  out.push('|---|---:|---:|---:|---:|');
  for (const kind of KINDS) {
    const row = summary.kinds[kind];
    if (row) out.push(`| ${kind} | ${row.files} | ${row.ok} | ${row.typed} | ${row.other} |`);
  }
  out.push('');
  out.push(`slowest files: ${summary.slowest.map((s) => `${s.file} ${s.ms.toFixed(0)} ms`).join(', ')}`);
  const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
  out.push(`peak child RSS: ${mb(summary.peakRssKb)}; largest rises: ${summary.hungriest.map((h) => `${h.file} +${mb(h.rssJumpKb)}`).join(', ')}`);
  out.push(`wall time: ${(summary.wallMs / 1000).toFixed(1)} s`);
  for (const failure of summary.failures)
    out.push(`${failure.kind.toUpperCase()}: ${failure.file} (${failure.source}: ${failure.what}): ${failure.how}\n${failure.stderr.trim()}`);
  for (const u of summary.untyped.slice(0, 20)) out.push(`UNTYPED (${u.mode}): ${u.file}: ${u.message}`);
  for (const d of summary.disagreements.slice(0, 5))
    out.push(`path and bytes disagree: ${path.basename(d.file)}: path ${JSON.stringify(d.path)}, bytes ${JSON.stringify(d.bytes)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The files that crashed, hung or failed untyped, copied out of the corpus before it is deleted. */
function keepFailures(summary, corpus) {
  const bad = new Set([...summary.failures.map((f) => f.file), ...summary.untyped.map((u) => u.file)]);
  if (bad.size === 0) return undefined;
  const out = values.out ? path.resolve(values.out) : fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-fuzz-failures-'));
  fs.mkdirSync(out, { recursive: true });
  for (const entry of corpus.filter((e) => bad.has(e.file))) fs.copyFileSync(entry.file, path.join(out, path.basename(entry.file)));
  return out;
}

const started = performance.now();
const sources = await loadSources(fixturesDir());
const corpusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-fuzz-'));
let exitCode = 0;
try {
  const corpus = writeCorpus(corpusDir, sources);
  fs.writeFileSync(path.join(corpusDir, 'corpus.json'), JSON.stringify({ seed, count, corpus }, null, 1));
  const { results, failures } = await runAll(corpus);
  const summary = summarise(corpus, results, failures, performance.now() - started);
  printSummary(summary);
  const kept = keepFailures(summary, corpus);
  if (kept) process.stdout.write(`the failing files are in ${kept}\n`);
  if (values.keep) process.stdout.write(`the corpus is in ${corpusDir} (corpus.json says what each file is)\n`);
  if (values.json)
    process.stdout.write(`${JSON.stringify({ ...summary, failures: summary.failures.map(({ stderr, ...rest }) => ({ ...rest, stderr: stderr.slice(-2000) })) })}\n`);
  const totals = Object.values(summary.formats);
  if (totals.some((row) => row.untyped + row.crash + row.hang > 0)) exitCode = 1;
} finally {
  if (!values.keep) fs.rmSync(corpusDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
