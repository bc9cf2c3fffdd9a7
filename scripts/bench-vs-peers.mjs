#!/usr/bin/env node
// whisper-napi against its CPU peers on the same Whisper base weights, side by side: whisper-napi
// (its CLI, so the whole process is timed as a user runs it), whisper.cpp's whisper-cli, and
// faster-whisper int8, sequential and batched (BatchedInferencePipeline). Greedy decoding,
// English, the same thread count everywhere. One Markdown table per workload:
//   short   the 11 clips of ../shared/audio (jfk, 5 LibriVox, 5 cards), one process for all of them
//   joined  jfk and the 5 LibriVox clips joined into one 36 s file
//   long    about 7 minutes of espeak-ng speech with 1.5 s pauses (scripts/make-long-form.mjs)
// Each engine is one child process per workload and run, timed from spawn to exit, its peak RSS
// read by /usr/bin/time; each round runs every engine once, starting from a different one each
// round, and the tables give medians. WER is lib/tools/wer.ts against the known transcripts.
//
//   node scripts/bench-vs-peers.mjs [--runs 3] [--threads 2] [--workloads short,joined,long]
//        [--engines whisper-napi,whisper-cli,fw-int8,fw-int8-batched] [--weights q8_0]
//        [--napi-weights f16] [--vad <silero.bin>]
//        [--batch-size 8] [--fw-venv <dir>] [--clips <ids or sets>] [--json out.json]
//
// --clips keeps only some of the short clips (ids such as 001, or sets: jfk, librivox, cards), for a
// quick check of the script itself; the tables are only comparable with the full set.
//
// Needs the built library (dist/), the converted models (`npm run models`), whisper-cli
// (scripts/build-whisper-cli.mjs builds it once), espeak-ng, sox, /usr/bin/time and python3 with
// pip: faster-whisper is installed from PyPI, pinned, into ~/.cache/whisper-napi/fw-venv (the
// venv scripts/bench-wer.mjs uses) the first time. Not part of npm test. Run nothing else on the
// machine meanwhile: ggml's threads spin, and every engine here wants all of the cores it is given.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SHARED_DIR, sharedCorpus } from './corpus.mjs';
import { fixtureDir, fixtureKey, makeFixtureDir, toolVersionLine } from './fixture-cache.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { corpusWordErrorRate } = await import(path.join(root, 'dist', 'tools', 'wer.js'));

const FASTER_WHISPER_PINS = ['faster-whisper==1.2.1', 'ctranslate2==4.8.5'];
/**
 * whisper-napi-fit is whisper-napi with `--audio-context auto`; whisper-napi-parallel runs the windows
 * of long audio at once (`--windowing parallel` with Silero VAD: as many states as cores, one thread each),
 * the counterpart of faster-whisper's batched mode.
 */
const NAPI_VARIANTS = ['whisper-napi-fit', 'whisper-napi-parallel'];
const ENGINES = ['whisper-napi', 'whisper-cli', 'fw-int8', 'fw-int8-batched', ...NAPI_VARIANTS];
const DEFAULT_ENGINES = ['whisper-napi', 'whisper-cli', 'fw-int8', 'fw-int8-batched'];
const WORKLOADS = ['short', 'joined', 'long'];
/** Other processes keeping more than this many cores busy on average during a run make it a disturbed one. */
const DISTURBED_CORES = 0.1;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    workloads: { type: 'string', default: WORKLOADS.join(',') },
    engines: { type: 'string', default: DEFAULT_ENGINES.join(',') },
    weights: { type: 'string', default: 'q8_0' },
    'napi-weights': { type: 'string' },
    vad: { type: 'string' },
    'batch-size': { type: 'string', default: '8' },
    'fw-venv': { type: 'string', default: path.join(os.homedir(), '.cache', 'whisper-napi', 'fw-venv') },
    clips: { type: 'string' },
    json: { type: 'string' },
  },
});

const log = (msg) => process.stderr.write(`[bench-vs-peers] ${msg}\n`);
function fail(msg) {
  process.stderr.write(`bench-vs-peers: ${msg}\n`);
  process.exit(1);
}

function positiveInt(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: expected a positive integer, got ${values[name]}`);
  return n;
}
function listOption(name, allowed) {
  const list = values[name].split(',').map((s) => s.trim());
  for (const item of list) if (!allowed.includes(item)) fail(`--${name}: unknown "${item}"; expected some of ${allowed.join(', ')}`);
  return list;
}
const runs = positiveInt('runs');
const threads = positiveInt('threads');
const batchSize = positiveInt('batch-size');
const engines = listOption('engines', ENGINES);
const workloads = listOption('workloads', WORKLOADS);

if (!fs.existsSync('/usr/bin/time')) fail('/usr/bin/time is missing (it reads each process peak RSS): apt-get install time');
const soxVersion = toolVersionLine('sox', ['--version'], { fail, installHint: 'the joined clip is made with sox: apt-get install sox' });

const models = JSON.parse(
  execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-real-models.mjs'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
).models;
const base = models.base ?? fail('the converted base model is missing: run `npm run models`');
const ggmlModelOf = (weights) => base.files[weights]?.path ?? fail(`no base ${weights} model; have ${Object.keys(base.files).join(', ')}`);
const ggmlModel = ggmlModelOf(values.weights);
const napiWeights = values['napi-weights'] ?? values.weights;
const napiModel = ggmlModelOf(napiWeights);

function whisperCliPath() {
  return execFileSync(process.execPath, [path.join(root, 'scripts', 'build-whisper-cli.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** The venv's python with the pinned faster-whisper, installing it when the venv lacks it or holds other versions. */
function fasterWhisperPython(venv) {
  const python = path.join(venv, 'bin', 'python');
  const versionsOf = () => {
    try {
      const probe = 'import ctranslate2, faster_whisper; print(f"faster-whisper=={faster_whisper.__version__}\\nctranslate2=={ctranslate2.__version__}")';
      return execFileSync(python, ['-c', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\n');
    } catch {
      return [];
    }
  };
  const pinned = (versions) => FASTER_WHISPER_PINS.every((pin) => versions.includes(pin));
  if (!pinned(versionsOf())) {
    log(`installing ${FASTER_WHISPER_PINS.join(' ')} from PyPI into ${venv}`);
    if (!fs.existsSync(python)) execFileSync('python3', ['-m', 'venv', venv], { stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...FASTER_WHISPER_PINS], { stdio: ['ignore', 'inherit', 'inherit'] });
    const installed = versionsOf();
    if (!pinned(installed)) fail(`the venv holds ${installed.join(', ') || 'no faster-whisper'} after installing ${FASTER_WHISPER_PINS.join(', ')}`);
  }
  return python;
}

/** jfk and the 5 LibriVox clips joined without gaps, cached by a hash of the clips and sox's version. */
function joinedClip(clips) {
  const parts = clips.filter((c) => c.set !== 'cards');
  const key = fixtureKey(['joined-v1', soxVersion, ...parts.map((c) => crypto.createHash('sha256').update(fs.readFileSync(c.wav)).digest('hex'))]);
  const dir = fixtureDir('bench-vs-peers-joined', key);
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
    makeFixtureDir(dir, key, (scratch) => {
      execFileSync('sox', ['-D', ...parts.map((c) => c.wav), path.join(scratch, 'joined.wav')], { stdio: ['ignore', 'ignore', 'inherit'] });
      return { key, sox: soxVersion, clips: parts.map((c) => c.id), file: 'joined.wav' };
    });
  }
  return { wavs: [path.join(dir, 'joined.wav')], references: [parts.map((c) => c.reference).join(' ')] };
}

function longForm() {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'make-long-form.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').at(-1);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  return { wavs: [path.join(dir, manifest.file)], references: [manifest.text], durationSeconds: manifest.durationSeconds };
}

const audioSeconds = (wavs) => wavs.reduce((sum, wav) => sum + Number(execFileSync('soxi', ['-D', wav], { encoding: 'utf8' }).trim()), 0);

/**
 * Each engine: how to run it over a workload's files in one process (argv, stdin, environment),
 * and how to read its texts back, one per file in order.
 */
function engineSpecs() {
  const specs = {};
  const napiSpec = (label, extraArgs, napiThreads = threads) => ({
    label,
    weights: napiWeights,
    command: (wavs) => ({
      argv: [
        process.execPath,
        path.join(root, 'dist', 'cli', 'cli.js'),
        'transcribe',
        ...wavs,
        '-m',
        napiModel,
        '--json',
        '-l',
        'en',
        '-t',
        String(napiThreads),
        '--cpu',
        ...extraArgs,
      ],
    }),
    texts: ({ stdout }, wavs) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l));
      for (const l of lines) if (l.error) throw new Error(`${label} failed on ${l.file}: ${l.error.code} ${l.error.message}`);
      if (lines.length !== wavs.length) throw new Error(`${label} printed ${lines.length} transcripts for ${wavs.length} files`);
      return lines.map((l) => l.transcript.text);
    },
  });
  specs['whisper-napi'] = napiSpec('whisper-napi', []);
  specs['whisper-napi-fit'] = napiSpec('whisper-napi, audio context auto', ['--audio-context', 'auto']);
  if (engines.includes('whisper-napi-parallel')) {
    const vad = values.vad ?? path.join(SHARED_DIR, 'models', 'ggml-silero-v6.2.0.bin');
    if (!fs.existsSync(vad)) fail(`whisper-napi-parallel needs a Silero VAD model: --vad <file> (${vad} is missing)`);
    specs['whisper-napi-parallel'] = napiSpec('whisper-napi parallel windows, 1 thread per state', ['--windowing', 'parallel', '--vad', vad], 1);
  }
  if (engines.includes('whisper-cli')) {
    const cli = whisperCliPath();
    specs['whisper-cli'] = {
      label: 'whisper-cli',
      weights: values.weights,
      // -bs 1: whisper-cli's own default is a beam of 5; -otxt per file (-of pairs with -f by position).
      command: (wavs, scratch) => ({
        argv: [
          cli,
          '-m',
          ggmlModel,
          '-t',
          String(threads),
          '-l',
          'en',
          '-bs',
          '1',
          '-np',
          '-otxt',
          ...wavs.flatMap((wav, i) => ['-f', wav, '-of', path.join(scratch, `out-${i}`)]),
        ],
      }),
      texts: (_, wavs, scratch) =>
        wavs.map((_, i) =>
          fs
            .readFileSync(path.join(scratch, `out-${i}.txt`), 'utf8')
            .split('\n')
            .join(' ')
            .trim(),
        ),
    };
  }
  const fasterWhisper = engines.some((e) => e.startsWith('fw-')) ? fasterWhisperPython(values['fw-venv']) : null;
  const fwSpec = (label, extra) => ({
    label,
    // CTranslate2 quantizes the float model.bin to int8 as it loads it.
    weights: 'int8',
    command: (wavs) => ({
      argv: [fasterWhisper, path.join(root, 'scripts', 'faster-whisper-transcribe.py')],
      input: JSON.stringify({ model: base.ct2, computeType: 'int8', threads, wavs, ...extra }),
      env: { OMP_NUM_THREADS: String(threads) },
    }),
    texts: ({ stdout }) => JSON.parse(stdout).results.map((r) => r.text),
  });
  specs['fw-int8'] = fwSpec('faster-whisper', {});
  specs['fw-int8-batched'] = fwSpec(`faster-whisper batched (${batchSize})`, { batchSize });
  return specs;
}

/** CPU seconds the whole machine has spent busy since boot (/proc/stat), or null where there is none. */
function machineBusySeconds() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // Linux reports jiffies of USER_HZ, which is 100 on every architecture Node runs on.
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return null;
  }
}

/**
 * Runs one command to its exit under /usr/bin/time: wall seconds from spawn to exit, peak RSS in
 * bytes, stdout, and the cores other processes kept busy meanwhile on average (the machine's busy
 * time less the child's CPU time): ggml's spinning threads make a run many times slower when
 * anything else wants the same cores, so such runs are flagged rather than silently kept.
 */
function timedRun({ argv, input, env }) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-vs-peers-'));
  const rssFile = path.join(scratch, 'rss');
  return new Promise((resolve, reject) => {
    const busyBefore = machineBusySeconds();
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, ...argv], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (b) => stdout.push(b));
    child.stderr.on('data', (b) => stderr.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const busyAfter = machineBusySeconds();
      const timeLine = fs.existsSync(rssFile) ? fs.readFileSync(rssFile, 'utf8').trim().split('\n').at(-1) : '';
      const [rssKiB, userSeconds, systemSeconds] = timeLine.split(' ').map(Number);
      const cpuSeconds = userSeconds + systemSeconds;
      const otherCores = busyBefore === null || busyAfter === null ? null : Math.max(0, busyAfter - busyBefore - cpuSeconds) / seconds;
      fs.rmSync(scratch, { recursive: true, force: true });
      if (code !== 0) {
        reject(new Error(`\`${path.basename(argv[0])}\` exited ${code ?? signal}:\n${Buffer.concat(stderr).toString().trim().split('\n').slice(-15).join('\n')}`));
        return;
      }
      resolve({ seconds, rssBytes: rssKiB * 1024, cpuSeconds, otherCores, stdout: Buffer.concat(stdout).toString() });
    });
    child.stdin.end(input ?? '');
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (x) => `${(100 * x).toFixed(1)} %`;

async function benchWorkload(name, workload, specs) {
  const results = Object.fromEntries(engines.map((e) => [e, []]));
  for (let round = 0; round < runs; round++) {
    const order = engines.map((_, i) => engines[(i + round) % engines.length]);
    for (const engine of order) {
      const spec = specs[engine];
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `bench-vs-peers-${engine}-`));
      try {
        const run = await timedRun(spec.command(workload.wavs, scratch));
        const texts = spec.texts(run, workload.wavs, scratch);
        const wer = corpusWordErrorRate(workload.references.map((reference, i) => ({ reference, hypothesis: texts[i] })));
        const disturbed = run.otherCores !== null && run.otherCores > DISTURBED_CORES;
        results[engine].push({ ...run, stdout: undefined, disturbed, wer: wer.wer, referenceWords: wer.referenceWords, texts });
        const other = run.otherCores === null ? '' : `, other load ${run.otherCores.toFixed(2)} cores${disturbed ? ' (DISTURBED)' : ''}`;
        log(
          `${name} round ${round + 1}/${runs} ${engine}: ${run.seconds.toFixed(2)} s, CPU ${run.cpuSeconds.toFixed(1)} s, ${(run.rssBytes / 2 ** 20).toFixed(0)} MiB, WER ${pct(wer.wer)}${other}`,
        );
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    }
  }
  return results;
}

function table(name, workload, results, specs) {
  const referenceSeconds = results['fw-int8'] ? median(results['fw-int8'].map((r) => r.seconds)) : null;
  const words = Object.values(results)[0][0].referenceWords;
  const head = `### ${name}: ${workload.title}, ${workload.seconds / 60 >= 1 ? `${(workload.seconds / 60).toFixed(1)} min` : `${workload.seconds.toFixed(1)} s`} of audio, ${words} reference words`;
  const wall = runs > 1 ? `wall s (median of ${runs}; min–max)` : 'wall s (1 run)';
  const lines = [head, '', `| engine | weights | ${wall} | × faster-whisper int8 | × real time | peak RSS MiB | WER |`, '|---|---|---:|---:|---:|---:|---:|'];
  for (const engine of engines) {
    const rs = results[engine];
    const seconds = median(rs.map((r) => r.seconds));
    const spread = runs > 1 ? `; ${Math.min(...rs.map((r) => r.seconds)).toFixed(2)}–${Math.max(...rs.map((r) => r.seconds)).toFixed(2)}` : '';
    const wers = new Set(rs.map((r) => pct(r.wer)));
    const wer = wers.size === 1 ? [...wers][0] : `${pct(median(rs.map((r) => r.wer)))} (runs: ${[...wers].join(', ')})`;
    const ratio = referenceSeconds ? (seconds / referenceSeconds).toFixed(2) : '–';
    lines.push(
      `| ${specs[engine].label} | ${specs[engine].weights} | ${seconds.toFixed(2)}${spread} | ${ratio} | ${(workload.seconds / seconds).toFixed(1)} | ${(median(rs.map((r) => r.rssBytes)) / 2 ** 20).toFixed(0)} | ${wer} |`,
    );
  }
  const disturbed = engines.flatMap((engine) =>
    results[engine].flatMap((r, i) => (r.disturbed ? [`${specs[engine].label} run ${i + 1} (${r.otherCores.toFixed(2)} cores)`] : [])),
  );
  if (disturbed.length > 0) lines.push('', `Other processes were busy during ${disturbed.join(', ')}: those figures are not clean.`);
  return lines.join('\n');
}

const allClips = sharedCorpus();
const clipFilter = values.clips?.split(',').map((s) => s.trim());
const clips = clipFilter ? allClips.filter((c) => clipFilter.includes(c.id) || clipFilter.includes(c.set)) : allClips;
if (clips.length === 0) fail(`--clips ${values.clips}: no clip has that id or set`);
const specs = engineSpecs();
const workloadOf = {
  short: () => ({ title: `the ${clips.length} shared clips, one process each`, wavs: clips.map((c) => c.wav), references: clips.map((c) => c.reference) }),
  joined: () => ({ title: 'jfk + 5 LibriVox joined', ...joinedClip(allClips) }),
  long: () => ({ title: 'espeak-ng speech with 1.5 s pauses (scripts/make-long-form.mjs)', ...longForm() }),
};

const whisperCpp = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'whisper.cpp.json'), 'utf8')).whisperVersion;
/** The figures belong to this tree: its commit, and whether it had changes on top. */
function treeState() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? ' + changes' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}
process.stdout.write(
  `CPU: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores; ${threads} threads; whisper-napi ${treeState()} (whisper.cpp ${whisperCpp}), ` +
    `base ${values.weights}; ${FASTER_WHISPER_PINS.join(', ')} (CTranslate2 int8 from the same float weights); greedy, English; ` +
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n`,
);
const report = { threads, runs, weights: values.weights, tree: treeState(), whisperCpp, pins: FASTER_WHISPER_PINS, workloads: {} };
for (const name of workloads) {
  const workload = workloadOf[name]();
  workload.seconds = audioSeconds(workload.wavs);
  const results = await benchWorkload(name, workload, specs);
  process.stdout.write(`\n${table(name, workload, results, specs)}\n`);
  report.workloads[name] = { title: workload.title, audioSeconds: workload.seconds, wavs: workload.wavs, results };
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
}
