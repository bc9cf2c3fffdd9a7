#!/usr/bin/env node
// Hostile values at every transcribe() option: generated strings of every length and shape at the
// string options (initialPrompt, suppressRegex, language), and edge numbers (NaN, infinities, -0,
// negatives, fractions, 2^31, 2^53, 1e308) and wrong types at every numeric and boolean one. Each
// case is a transcription in a child process (scripts/hostile-options-child.cjs over dist/); a child
// that dies or freezes is replaced and the case it was running is counted against its option.
// Prints, per option: successes, typed errors (WhisperError), untyped errors, deaths, hangs, the
// slowest case and the longest event-loop stall in the child (perf_hooks monitorEventLoopDelay).
//
//   node scripts/hostile-options.mjs [--model synthetic|base|PATH] [--only OPTION] [--json]
//
// Needs `npm run build` (dist/). The default model is a synthetic tiny.en (random weights, written
// from ../shared's header-only file), on a 3 s clip of jfk.wav: the library's checks and the addon's
// string handling are what is measured, not the transcript. About 3 minutes on 2 cores.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(root, 'scripts', 'hostile-options-child.cjs');

/**
 * Runs `cases` ([{name, option, options}]) against `model`, a child at a time, a new child after
 * a death or a hang (a case over `caseTimeoutMs`). Resolves to one outcome per case, in order:
 * the child's own, or {kind: 'died', signal, status} / {kind: 'hung'} for the case that was running.
 */
export async function runCases({ dist = path.join(root, 'dist'), model, audio, loadOptions = {}, baseOptions = {}, cases, caseTimeoutMs = 60_000 }) {
  const outcomes = new Map();
  let remaining = cases;
  while (remaining.length > 0) {
    const batch = remaining;
    const { finished, started, signal, status, hung, stderr } = await runChild({ dist, model, audio, loadOptions, baseOptions, cases: batch }, caseTimeoutMs, outcomes);
    if (finished) break;
    // The case that was running when the child ended is its cause; the rest run again.
    const culprit = started ?? batch.find((c) => !outcomes.has(c.name))?.name;
    if (culprit === undefined) break;
    outcomes.set(
      culprit,
      hung ? { name: culprit, kind: 'hung', stderr: stderr.slice(-2000) } : { name: culprit, kind: 'died', signal, status, stderr: stderr.slice(-2000) },
    );
    remaining = batch.filter((c) => !outcomes.has(c.name));
  }
  return cases.map((c) => ({ option: c.option, ...(outcomes.get(c.name) ?? { name: c.name, kind: 'died', status: 'never ran' }) }));
}

function runChild(input, caseTimeoutMs, outcomes) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started;
    let finished = false;
    let hung = false;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, caseTimeoutMs);
    };
    arm();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      let newline;
      while ((newline = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        if (line.startsWith('start ')) {
          started = JSON.parse(line.slice(6));
          arm();
        } else if (line.startsWith('outcome ')) {
          const outcome = JSON.parse(line.slice(8));
          outcomes.set(outcome.name, outcome);
          started = undefined;
        } else if (line === 'finished') {
          finished = true;
        } else if (line.startsWith('failed ')) {
          stderr += `${JSON.parse(line.slice(7))}\n`;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ finished, started, signal, status, hung, stderr });
    });
    child.stdin.end(JSON.stringify(input));
  });
}

const LENGTHS = [1, 256, 257, 2049, 65_535, 1_000_000];
const SHAPES = ['letters', 'spaces', 'digits', 'ab ab', 'emoji', 'nul', 'lone surrogates', 'parens', 'random unicode'];
const EDGE_NUMBERS = [{ $number: 'NaN' }, { $number: 'Infinity' }, { $number: '-0' }, -1, 0.5, 2 ** 31, 1e308, '1', null];
const NUMERIC_OPTIONS = [
  'temperature',
  'temperatureIncrement',
  'bestOf',
  'beamSize',
  'threads',
  'maxTextContext',
  'offsetMs',
  'durationMs',
  'tokenTimestampThreshold',
  'tokenTimestampSumThreshold',
  'maxSegmentLength',
  'maxTokensPerSegment',
  'audioContext',
  'maxInitialTimestamp',
  'lengthPenalty',
  'entropyThreshold',
  'logprobThreshold',
  'noSpeechThreshold',
  'priority',
  'timeoutMs',
];
const BOOLEAN_OPTIONS = [
  'translate',
  'noContext',
  'noTimestamps',
  'singleSegment',
  'tokenTimestamps',
  'splitOnWord',
  'tinydiarize',
  'carryInitialPrompt',
  'detectLanguage',
  'suppressBlank',
  'suppressNonSpeechTokens',
];
const VAD_NUMBERS = ['threshold', 'minSpeechDurationMs', 'minSilenceDurationMs', 'maxSpeechDurationS', 'speechPadMs', 'samplesOverlap'];
const REGEXES = [
  '(?<=a)b',
  '(a)\\1',
  '(a|a)*b',
  '(a*)*b',
  '(.?){300}',
  '(.?){3000}',
  '(?:){1000}',
  '((((((((((a))))))))))',
  '[',
  '\\',
  'x{2,1}',
  '[z-a]',
  '(?=',
  '.*',
  '[0-9]+',
];

/** Every case: {name, option, options}. */
export function allCases(vadModel) {
  const cases = [];
  const add = (option, label, options) => cases.push({ name: `${option} ${label}`, option, options });
  add('(none)', 'baseline', {});
  // The string options, at every length and shape; the prompt's worst shapes also carried to every window.
  for (const length of LENGTHS) {
    for (const shape of SHAPES) {
      const value = { $string: { shape, length } };
      add('initialPrompt', `${shape} x${length}`, { initialPrompt: value });
      add('suppressRegex', `${shape} x${length}`, { suppressRegex: value });
      if (length <= 65_535 && (shape === 'letters' || shape === 'random unicode')) add('language', `${shape} x${length}`, { language: value });
    }
  }
  for (const shape of ['letters', 'spaces', 'digits', 'random unicode'])
    add('initialPrompt', `${shape} x65535 carried`, { initialPrompt: { $string: { shape, length: 65_535 } }, carryInitialPrompt: true });
  for (const pattern of REGEXES) add('suppressRegex', JSON.stringify(pattern), { suppressRegex: pattern });
  for (const language of ['EN', 'auto', 'xx', 'en\0', ' en', 'zh-CN']) add('language', JSON.stringify(language), { language });
  for (const option of NUMERIC_OPTIONS) {
    for (const value of EDGE_NUMBERS) add(option, JSON.stringify(value), { [option]: value });
  }
  for (const option of BOOLEAN_OPTIONS) {
    for (const value of ['true', 1]) add(option, JSON.stringify(value), { [option]: value });
  }
  if (vadModel) {
    for (const option of VAD_NUMBERS) {
      for (const value of EDGE_NUMBERS) add(`vad.${option}`, JSON.stringify(value), { vad: { modelPath: vadModel, [option]: value } });
    }
  }
  for (const value of [{ $string: { shape: 'letters', length: 65_535 } }, { $string: { shape: 'nul', length: 10 } }, '/dev/zero', '/']) {
    add('vad.modelPath', JSON.stringify(value).slice(0, 60), { vad: { modelPath: value } });
  }
  return cases;
}

/** Per option: counts of each kind, the slowest case and the longest event-loop stall. */
export function summarize(outcomes) {
  const rows = new Map();
  for (const outcome of outcomes) {
    const row = rows.get(outcome.option) ?? {
      option: outcome.option,
      cases: 0,
      ok: 0,
      typed: 0,
      untyped: 0,
      died: 0,
      hung: 0,
      worstMs: 0,
      worstStallMs: 0,
      worstCase: '',
    };
    row.cases++;
    row[outcome.kind]++;
    if ((outcome.ms ?? 0) > row.worstMs) {
      row.worstMs = outcome.ms;
      row.worstCase = outcome.name;
    }
    row.worstStallMs = Math.max(row.worstStallMs, outcome.stallMs ?? 0);
    rows.set(outcome.option, row);
  }
  return [...rows.values()];
}

function printTable(rows) {
  const headers = ['option', 'cases', 'ok', 'typed', 'untyped', 'died', 'hung', 'slowest ms', 'stall ms', 'slowest case'];
  const lines = rows.map((r) =>
    [
      r.option,
      r.cases,
      r.ok,
      r.typed,
      r.untyped,
      r.died,
      r.hung,
      Math.round(r.worstMs),
      Math.round(r.worstStallMs),
      r.worstCase.slice(r.option.length + 1, r.option.length + 41),
    ].map(String),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(format(headers));
  for (const line of lines) console.log(format(line));
}

async function resolveModel(choice, workDir) {
  if (choice === 'synthetic') {
    const { writeSyntheticModel } = await import(path.join(root, 'dist', 'tools', 'index.js'));
    const out = path.join(workDir, 'synthetic-tiny.en.bin');
    await writeSyntheticModel({ headerFrom: path.join(root, '..', 'shared', 'models', 'header-only-ggml-tiny.en.bin'), outPath: out, seed: 1 });
    return out;
  }
  if (choice === 'base') {
    const manifest = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8' }));
    return manifest.models.base.files.q5_0.path;
  }
  return path.resolve(choice);
}

async function main() {
  const args = process.argv.slice(2);
  const value = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-options-'));
  try {
    const model = await resolveModel(value('--model', 'synthetic'), workDir);
    const vadModel = path.join(root, '..', 'shared', 'models', 'ggml-silero-v6.2.0.bin');
    const only = value('--only', undefined);
    const cases = allCases(fs.existsSync(vadModel) ? vadModel : undefined).filter((c) => only === undefined || c.option === only);
    const started = performance.now();
    const outcomes = await runCases({
      model,
      audio: path.join(root, '..', 'shared', 'audio', 'jfk.wav'),
      // Short and cheap: 3 s of audio, a fitted encoder context, one decoder, no fallback.
      baseOptions: { language: 'en', threads: 2, durationMs: 3000, audioContext: 'auto', strategy: 'greedy', bestOf: 1, temperatureIncrement: 0 },
      cases,
    });
    if (args.includes('--json')) {
      console.log(JSON.stringify(outcomes, null, 2));
      return;
    }
    printTable(summarize(outcomes));
    const bad = outcomes.filter((o) => o.kind === 'died' || o.kind === 'hung' || o.kind === 'untyped');
    for (const o of bad) console.log(`${o.kind}: ${o.name} ${o.signal ?? o.status ?? ''} ${o.message ?? ''}`);
    console.log(`${cases.length} cases in ${((performance.now() - started) / 1000).toFixed(0)} s; ${bad.length} died, hung or untyped`);
    process.exitCode = bad.length > 0 ? 1 : 0;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
