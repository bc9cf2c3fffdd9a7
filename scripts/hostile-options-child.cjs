// The child of scripts/hostile-options.mjs: loads one model with the built library (dist/) and runs
// one transcription per case, in order, printing a line as each starts and one as each ends, so
// that the parent can say which case killed or froze a child. Plain CommonJS over dist/.
//
// stdin: one JSON object {dist, model, audio, loadOptions, baseOptions, cases: [{name, options}]},
// where a value {"$string": {shape, length}} is generated here (see generate()), and
// {"$number": "NaN" | "Infinity" | "-Infinity" | "-0"} is that number.
// stdout: "start <json name>" and "outcome <json>" lines, then "finished".
// An outcome: {name, kind: 'ok' | 'typed' | 'untyped', code?, message?, text?, ms, stallMs, admitted},
// where stallMs is the longest the event loop was blocked during the case (monitorEventLoopDelay)
// and admitted is how many jobs model.stats() counted for it (0: refused before it was queued).
'use strict';
const { monitorEventLoopDelay } = require('node:perf_hooks');

const NUMBERS = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };

/** A deterministic string of `length` UTF-16 code units (bytes for the byte-oriented shapes) in a shape. */
function generate({ shape, length }) {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const repeat = (unit) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
  switch (shape) {
    case 'letters':
      return repeat('a');
    case 'spaces':
      return repeat(' ');
    case 'newlines':
      return repeat('\n');
    case 'digits':
      return repeat('7');
    case 'ab ab':
      return repeat('ab ');
    case 'words':
      return repeat('ask not what your country can do for you ');
    case 'accents':
      return repeat('é');
    case 'cjk':
      return repeat('中');
    case 'emoji':
      return repeat('😀');
    case 'nul':
      return repeat('\0');
    case 'lone surrogates':
      return repeat('\ud800');
    case 'combining':
      return repeat('a\u0301\u0301\u0301');
    case 'parens':
      return repeat('(').slice(0, Math.floor(length / 2)) + repeat(')').slice(0, length - Math.floor(length / 2));
    case 'random ascii':
      return Array.from({ length }, () => String.fromCharCode(32 + Math.floor(next() * 95))).join('');
    case 'random unicode': {
      let out = '';
      while (out.length < length) {
        const code = Math.floor(next() * 0x10ffff);
        if (code >= 0xd800 && code < 0xe000) continue;
        out += String.fromCodePoint(code);
      }
      return out.slice(0, length);
    }
    default:
      throw new Error(`unknown shape ${shape}`);
  }
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === 'object') {
    if ('$string' in value) return generate(value.$string);
    if ('$number' in value) return NUMBERS[value.$number];
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, decode(inner)]));
  }
  return value;
}

const admittedCount = (stats) => stats.completed + stats.failed + stats.rejected;
const clip = (text) => (typeof text === 'string' && text.length > 400 ? `${text.slice(0, 400)}…` : text);

async function main() {
  let raw = '';
  for await (const chunk of process.stdin) raw += chunk;
  const input = JSON.parse(raw);
  const lib = require(input.dist);
  const model = await lib.loadModel(input.model, { gpu: false, concurrency: 1, ...input.loadOptions });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  try {
    for (const testCase of input.cases) {
      process.stdout.write(`start ${JSON.stringify(testCase.name)}\n`);
      const options = { ...input.baseOptions, ...decode(testCase.options) };
      const before = admittedCount(model.stats());
      delay.reset();
      delay.enable();
      const start = performance.now();
      let outcome;
      try {
        const result = await model.transcribe(input.audio, options);
        outcome = { kind: 'ok', text: clip(result.text) };
      } catch (error) {
        const typed = error instanceof lib.WhisperError && typeof error.code === 'string';
        outcome = { kind: typed ? 'typed' : 'untyped', code: error?.code, message: clip(String(error?.message ?? error)) };
      }
      const ms = performance.now() - start;
      // A timer tick lets a block at the very end of the case show in the histogram.
      await new Promise((resolve) => setTimeout(resolve, 10));
      delay.disable();
      const stallMs = delay.max / 1e6;
      const admitted = admittedCount(model.stats()) - before;
      process.stdout.write(`outcome ${JSON.stringify({ name: testCase.name, ...outcome, ms, stallMs, admitted })}\n`);
    }
  } finally {
    await model.dispose();
  }
  process.stdout.write('finished\n');
}

main().catch((error) => {
  process.stdout.write(`failed ${JSON.stringify(String(error?.stack ?? error))}\n`);
  process.exitCode = 3;
});
