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
import { fixOggCrcs } from './fuzz-audio/structure.mjs';
import { hash32, mulberry32, mutate, randomTools } from './fuzz-audio/mutations.mjs';

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
