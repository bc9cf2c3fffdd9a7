#!/usr/bin/env node
// Memory per state and per model: what the native layer reports (whisper.cpp's own figures) against
// what the planner estimates without loading anything, on synthetic tiny .. large-v3 models, flash
// attention on and off, with the process RSS growth when a state is created as an independent check.
//
//   node scripts/bench-memory.mjs [--dir DIR] [--models tiny:f16,base:f16,...] [--json out.json]
//
// Needs the built library (dist/, the addon). Writes the synthetic models into --dir (kept and reused
// when given, a temporary folder removed afterwards otherwise). Prints Markdown tables. Run it under
// the shared CPU lock: it loads models and creates states.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native } = await import(path.join(root, 'dist', 'native', 'addon.js'));
const { modelMemory } = await import(path.join(root, 'dist', 'model', 'memory.js'));
const { estimateMemory } = await import(path.join(root, 'dist', 'model', 'planner.js'));
const { writeSyntheticModel } = await import(path.join(root, 'dist', 'tools', 'synthetic-model.js'));

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    models: { type: 'string', default: 'tiny:f16,base:f16,small:f16,medium:q5_0,large-v3:q5_0,large-v3-turbo:q5_0' },
    json: { type: 'string' },
  },
});

const keep = values.dir !== undefined;
const dir = keep ? path.resolve(values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-memory-'));
fs.mkdirSync(dir, { recursive: true });
const cases = values.models.split(',').map((spec) => {
  const [architecture, weightType] = spec.split(':');
  return { architecture, weightType: weightType ?? 'f16' };
});

const MB = (bytes) => (bytes / 1e6).toFixed(2);
const ratio = (estimated, measured) => (estimated / measured).toFixed(3);
// RSS moves in pages and with the allocator's own caching; only a growth well above that means anything.
const rss = () => process.memoryUsage.rss();

const stateRows = [];
const modelRows = [];
const results = [];
try {
  for (const { architecture, weightType } of cases) {
    const file = path.join(dir, `${architecture}-${weightType}.bin`);
    if (!fs.existsSync(file)) await writeSyntheticModel({ architecture, outPath: file, weightType, seed: 1 });
    for (const flashAttn of [true, false]) {
      const rssBeforeLoad = rss();
      const model = await native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn });
      const rssAfterLoad = rss();
      const state = await model.createState();
      const rssAfterState = rss();
      const measured = modelMemory(model, [state]);
      const estimate = await estimateMemory({ model: file, flashAttention: flashAttn, temperatureFallback: false });
      state.dispose();
      model.dispose();

      const m = measured.states[0];
      const e = estimate.perState;
      const label = `${architecture} ${weightType} FA ${flashAttn ? 'on' : 'off'}`;
      const parts = [
        ['kv self', m.kvSelf, e.kvSelf],
        ['kv cross', m.kvCross, e.kvCross],
        ['kv pad', m.kvPad, e.kvPad],
        ['conv', m.compute.conv, e.compute.conv],
        ['encode', m.compute.encode, e.compute.encode],
        ['cross', m.compute.cross, e.compute.cross],
        ['decode', m.compute.decode, e.compute.decode],
        ['state total', m.total, e.total],
      ];
      stateRows.push(`| ${label} | ${parts.map(([, a, b]) => `${MB(a)} / ${MB(b)} (${ratio(b, a)})`).join(' | ')} |`);
      const worst = Math.max(...parts.map(([, a, b]) => Math.abs(b / a - 1)));
      modelRows.push(
        `| ${label} | ${MB(measured.weights.total)} | ${MB(estimate.weightsBytes)} | ${ratio(estimate.weightsBytes, measured.weights.total)} | ` +
          `${MB(measured.total)} | ${MB(estimate.totalBytes)} | ${ratio(estimate.totalBytes, measured.total)} | ${(100 * worst).toFixed(2)} % | ` +
          `${MB(rssAfterLoad - rssBeforeLoad)} | ${MB(rssAfterState - rssAfterLoad)} | ${MB(m.kvSelf + m.kvCross + m.kvPad)} |`,
      );
      results.push({ architecture, weightType, flashAttn, measured, estimate, rss: { load: rssAfterLoad - rssBeforeLoad, state: rssAfterState - rssAfterLoad } });
    }
  }
} finally {
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}

console.log('### Per state: measured (native) / estimated (planner), MB (1e6 bytes), ratio estimated/measured\n');
console.log('| model | kv self | kv cross | kv pad | compute conv | compute encode | compute cross | compute decode | state total |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of stateRows) console.log(row);
console.log('\n### Per model (weights + one state), MB; RSS growth as an independent check\n');
console.log(
  '| model | weights measured | weights estimated | ratio | total measured | total estimated | ratio | worst state component | RSS Δ load | RSS Δ createState | KV measured |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of modelRows) console.log(row);
console.log(
  '\nRSS Δ createState covers the KV caches (whisper.cpp zeroes them, so their pages are touched) but not the compute ' +
    'buffers, which stay untouched virtual memory until a job runs. RSS Δ load is the weights, read into an anonymous ' +
    'CPU buffer.',
);
if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
