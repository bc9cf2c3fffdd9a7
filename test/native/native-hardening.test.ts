/**
 * The addon called directly, without lib/ in front of it: every bad argument is a JS error with
 * a code (INVALID_ARGUMENT naming the parameter, MODEL_NOT_FOUND, INVALID_MODEL, STATE_BUSY),
 * never an abort, an assert or a read out of bounds. Each group runs in a child process, so a
 * crash fails the test that caused it and leaves the runner alive; every child ends by showing
 * the addon still works.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, SHARED } from '../support/paths';

const BINARY = path.resolve(process.env.WHISPER_NAPI_BINARY ?? path.join(REPO_ROOT, 'build', 'Release', 'whisper_napi.node'));
const VAD_MODEL = path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin');

/** What one call did: threw (or rejected) with a code and message, or succeeded. */
interface Outcome {
  name: string;
  threw: boolean;
  code?: string;
  message?: string;
  ms: number;
}

/**
 * Runs `body` (the inside of an async function with `addon`, `input` and `record` in scope) in
 * a fresh node. `record(name, fn)` calls fn and notes how it ended; each name is printed before
 * its call, so a child that dies says where.
 */
function runInChild(body: string, input: unknown): { status: number | null; signal: string | null; outcomes: Outcome[]; stderr: string; lastStarted?: string } {
  const script = `
    const addon = require(process.env.HARDENING_BINARY);
    const input = JSON.parse(process.env.HARDENING_INPUT);
    async function record(name, fn) {
      process.stdout.write('start ' + JSON.stringify(name) + '\\n');
      let outcome;
      const start = performance.now();
      try {
        await fn();
        outcome = { name, threw: false, ms: performance.now() - start };
      } catch (error) {
        outcome = { name, threw: true, code: error && error.code, message: error && error.message, ms: performance.now() - start };
      }
      process.stdout.write('outcome ' + JSON.stringify(outcome) + '\\n');
    }
    (async () => { ${body} })().then(
      () => process.stdout.write('finished\\n'),
      (error) => { process.stdout.write('failed ' + (error && error.stack) + '\\n'); process.exitCode = 3; },
    );
  `;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, HARDENING_BINARY: BINARY, HARDENING_INPUT: JSON.stringify(input) },
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = result.stdout.split('\n');
  const outcomes = lines.filter((l) => l.startsWith('outcome ')).map((l) => JSON.parse(l.slice('outcome '.length)) as Outcome);
  const started = lines.filter((l) => l.startsWith('start '));
  return {
    status: result.status,
    signal: result.signal,
    outcomes,
    stderr: result.stderr,
    lastStarted: started.length > outcomes.length ? started[started.length - 1] : undefined,
  };
}

/** Asserts the child lived to the end, and returns its outcomes by name. */
function survived(run: ReturnType<typeof runInChild>, expectedCount: number): Map<string, Outcome> {
  const where = `signal ${run.signal}, status ${run.status}, died in ${run.lastStarted ?? '(none)'}\n${run.stderr.slice(-4000)}`;
  expect(run.signal, where).toBeNull();
  expect(run.status, where).toBe(0);
  expect(run.outcomes.length, where).toBe(expectedCount);
  return new Map(run.outcomes.map((o) => [o.name, o]));
}

/** Every field lib/ would send for { language: 'en' }, resolved: a valid call to start each bad one from. */
const VALID_PARAMS = {
  strategy: 'greedy',
  bestOf: 5,
  beamSize: 5,
  threads: 2,
  maxTextContext: 16384,
  offsetMs: 0,
  durationMs: 0,
  translate: false,
  noContext: true,
  noTimestamps: false,
  singleSegment: false,
  tokenTimestamps: false,
  tokenTimestampThreshold: 0.01,
  tokenTimestampSumThreshold: 0.01,
  maxSegmentLength: 0,
  splitOnWord: false,
  maxTokensPerSegment: 0,
  audioContext: 0,
  tinydiarize: false,
  suppressRegex: '',
  initialPrompt: '',
  carryInitialPrompt: false,
  language: 'en',
  detectLanguage: false,
  suppressBlank: true,
  suppressNonSpeechTokens: false,
  temperature: 0,
  maxInitialTimestamp: 1,
  lengthPenalty: -1,
  temperatureIncrement: 0,
  entropyThreshold: 2.4,
  logprobThreshold: -1,
  noSpeechThreshold: 0.6,
  vad: false,
  vadModelPath: '',
  vadThreshold: 0.5,
  vadMinSpeechDurationMs: 250,
  vadMinSilenceDurationMs: 100,
  vadMaxSpeechDurationS: 3.4028234663852886e38,
  vadSpeechPadMs: 30,
  vadSamplesOverlap: 0.1,
};

/** [what changes, the option the error must name, the message's expectation]. `undefined` deletes the field. */
const BAD_PARAMS: Array<[Record<string, unknown>, string, string]> = [
  [{ strategy: 'sideways' }, 'options.strategy', `expected 'greedy' or 'beam', got "sideways"`],
  [{ bestOf: 0 }, 'options.bestOf', 'expected an integer from 1 to 8, got 0'],
  [{ bestOf: 9 }, 'options.bestOf', 'expected an integer from 1 to 8, got 9'],
  [{ bestOf: 1.5 }, 'options.bestOf', 'got 1.5'],
  [{ bestOf: '5' }, 'options.bestOf', 'got "5"'],
  [{ bestOf: undefined }, 'options.bestOf', 'got undefined'],
  [{ strategy: 'beam', beamSize: 0 }, 'options.beamSize', 'expected an integer from 1 to 8, got 0'],
  [{ strategy: 'beam', beamSize: 100 }, 'options.beamSize', 'got 100'],
  [{ threads: 0 }, 'options.threads', 'expected an integer from 1 to 256, got 0'],
  [{ threads: -4 }, 'options.threads', 'got -4'],
  [{ threads: 100000 }, 'options.threads', 'got 100000'],
  [{ maxTextContext: -1 }, 'options.maxTextContext', 'expected an integer from 0 to 2147483647, got -1'],
  [{ maxTextContext: 1, carryInitialPrompt: true, initialPrompt: 'hello there' }, 'options.maxTextContext', 'with options.carryInitialPrompt, got 1'],
  [{ offsetMs: -10 }, 'options.offsetMs', 'got -10'],
  [{ offsetMs: 2 ** 31 }, 'options.offsetMs', 'got 2147483648'],
  [{ durationMs: -1 }, 'options.durationMs', 'got -1'],
  [{ audioContext: 1 }, 'options.audioContext', "expected 0 (the model's 1500) or from 64 to 1500, got 1"],
  [{ audioContext: 63 }, 'options.audioContext', 'got 63'],
  [{ audioContext: -1 }, 'options.audioContext', 'expected an integer from 0 to 1500, got -1'],
  [{ audioContext: 1501 }, 'options.audioContext', 'got 1501'],
  [{ maxSegmentLength: -1 }, 'options.maxSegmentLength', 'got -1'],
  [{ maxTokensPerSegment: -1 }, 'options.maxTokensPerSegment', 'got -1'],
  [{ temperature: 1.5 }, 'options.temperature', 'expected a number from 0 to 1, got 1.5'],
  [{ temperature: Number.NaN }, 'options.temperature', 'got NaN'],
  [{ temperature: -0.1 }, 'options.temperature', 'got -0.1'],
  [{ temperatureIncrement: 1e-9 }, 'options.temperatureIncrement', 'in at most 1000 steps, got 1e-9'],
  [{ temperatureIncrement: 2 }, 'options.temperatureIncrement', 'got 2'],
  [{ tokenTimestampThreshold: Number.NaN }, 'options.tokenTimestampThreshold', 'got NaN'],
  [{ maxInitialTimestamp: Number.POSITIVE_INFINITY }, 'options.maxInitialTimestamp', 'got Infinity'],
  [{ language: 'xx' }, 'options.language', 'got "xx"'],
  [{ translate: 'yes' }, 'options.translate', 'expected a boolean, got "yes"'],
  [{ suppressRegex: '(?<=a)b' }, 'options.suppressRegex', 'std::regex'],
  [{ suppressRegex: '(a)\\1' }, 'options.suppressRegex', '(too complex: back-references are not supported), got "(a)\\1"'],
  [{ suppressRegex: '(?:){49000}' }, 'options.suppressRegex', '(too complex: its automaton would have more than 2048 states)'],
  [{ suppressRegex: 'x'.repeat(257) }, 'options.suppressRegex', '(it has 257 bytes), got a string of length 257'],
  [{ vadThreshold: 2 }, 'options.vad.threshold', 'got 2'],
  [{ vadSpeechPadMs: -1 }, 'options.vad.speechPadMs', 'got -1'],
  [{ vadMinSilenceDurationMs: 200000 }, 'options.vad.minSilenceDurationMs', 'expected an integer from 0 to 134217, got 200000'],
  [{ vadSamplesOverlap: -1 }, 'options.vad.samplesOverlap', 'got -1'],
  [{ vadMaxSpeechDurationS: 0 }, 'options.vad.maxSpeechDurationS', 'got 0'],
  [{ vad: true, vadModelPath: '' }, 'options.vad.modelPath', 'got ""'],
];

describe('the addon, called directly, refuses bad arguments with typed errors and keeps running', () => {
  const model = inject('syntheticTinyEn');
  const dir = path.join(inject('workDir'), 'native-hardening');
  const vadBytes = fs.readFileSync(VAD_MODEL);
  // Cut inside the magic, the type name, the hyperparameters, the first tensor's header, its
  // data, a later tensor, and one byte short of the end.
  const cuts = [0, 3, 6, 20, 40, 90, 130, 150, 5000, Math.floor(vadBytes.length / 2), vadBytes.length - 100, vadBytes.length - 1];
  const truncated = cuts.map((n) => path.join(dir, `silero-cut-${n}.bin`));
  const corrupt = {
    twoEncoderLayers: path.join(dir, 'silero-two-layers.bin'),
    trailingBytes: path.join(dir, 'silero-trailing.bin'),
    nineDims: path.join(dir, 'silero-nine-dims.bin'),
  };

  beforeAll(() => {
    fs.mkdirSync(dir, { recursive: true });
    cuts.forEach((n, i) => fs.writeFileSync(truncated[i], vadBytes.subarray(0, n)));
    // The header: magic, type name length and name, 3 version ints, n_window, n_context, n_encoder_layers.
    const layersOffset = 8 + vadBytes.readInt32LE(4) + 5 * 4;
    const twoLayers = Buffer.from(vadBytes);
    twoLayers.writeInt32LE(2, layersOffset);
    fs.writeFileSync(corrupt.twoEncoderLayers, twoLayers);
    fs.writeFileSync(corrupt.trailingBytes, Buffer.concat([vadBytes, Buffer.alloc(16, 7)]));
    // The first tensor header follows 4 layers * 3 ints and 4 more ints.
    const nineDims = Buffer.from(vadBytes);
    nineDims.writeInt32LE(9, layersOffset + 4 + 4 * 3 * 4 + 4 * 4);
    fs.writeFileSync(corrupt.nineDims, nineDims);
  });

  it('transcribe: each out-of-range, missing or mistyped parameter is INVALID_ARGUMENT naming it', () => {
    const body = `
      const model = await addon.loadModel(input.model, { useGpu: false, gpuDevice: 0, flashAttn: true });
      const state = await model.createState();
      const pcm = new Float32Array(16000);
      for (const [i, change] of input.cases.entries()) {
        const params = { ...input.valid };
        for (const [key, value] of Object.entries(change)) {
          if (value === null) delete params[key];
          else params[key] = value === 'NaN' ? NaN : value === 'Infinity' ? Infinity : value;
        }
        await record('case ' + i, () => state.transcribe(pcm, params));
      }
      await record('pcm not a Float32Array', () => state.transcribe(new Float64Array(16000), input.valid));
      await record('params not an object', () => state.transcribe(pcm, null));
      await record('onEvent not a function', () => state.transcribe(pcm, input.valid, 42));
      await record('params a Map', () => state.transcribe(pcm, new Map()));
      await record('no arguments', () => state.transcribe());
      await record('new NativeState', () => new addon.NativeState({}));
      await record('new NativeModel', () => new addon.NativeModel());
      await record('shorter than the spectrogram padding', () => state.transcribe(new Float32Array(100), input.valid));
      await record('still works', async () => {
        const result = await state.transcribe(pcm, input.valid);
        if (result.language !== 'en') throw new Error('unexpected language ' + result.language);
      });
    `;
    // JSON can't carry undefined, NaN or Infinity: null deletes the field, the others travel as names.
    const cases = BAD_PARAMS.map(([change]) =>
      Object.fromEntries(Object.entries(change).map(([k, v]) => [k, v === undefined ? null : Number.isNaN(v) ? 'NaN' : v === Number.POSITIVE_INFINITY ? 'Infinity' : v])),
    );
    const outcomes = survived(runInChild(body, { model, valid: VALID_PARAMS, cases }), BAD_PARAMS.length + 9);
    BAD_PARAMS.forEach(([change, option, expectation], i) => {
      const outcome = outcomes.get(`case ${i}`)!;
      const label = JSON.stringify(change, (_, v: unknown) => (v === undefined ? 'undefined' : v));
      expect(outcome, label).toMatchObject({ threw: true, code: 'INVALID_ARGUMENT' });
      expect(outcome.message!.startsWith(`${option}: expected `), `${label}: ${outcome.message}`).toBe(true);
      expect(outcome.message, label).toContain(expectation);
    });
    expect(outcomes.get('pcm not a Float32Array')).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'transcribe.pcm: expected a Float32Array, got a Float64Array of length 16000',
    });
    expect(outcomes.get('params not an object')).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'transcribe.params: expected an object, got null' });
    expect(outcomes.get('params a Map')).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'options.strategy: expected a string, got undefined' });
    expect(outcomes.get('onEvent not a function')).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'transcribe.onEvent: expected a function or undefined, got 42' });
    expect(outcomes.get('no arguments')).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'transcribe.pcm: expected a Float32Array, got undefined' });
    expect(outcomes.get('new NativeState')).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^NativeState: expected to be created by model\.createState\(\)/),
    });
    expect(outcomes.get('new NativeModel')).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^NativeModel: expected to be created by loadModel\(\)/),
    });
    expect(outcomes.get('shorter than the spectrogram padding')).toMatchObject({ threw: false });
    expect(outcomes.get('still works')).toMatchObject({ threw: false });
  });

  it('hostile prompts transcribe in bounded time; hostile patterns are INVALID_ARGUMENT, from checkSuppressRegex too', () => {
    const body = `
      const model = await addon.loadModel(input.model, { useGpu: false, gpuDevice: 0, flashAttn: true });
      const state = await model.createState();
      const pcm = new Float32Array(16000);
      const prompts = {
        'prompt 30,000 letters': 'a'.repeat(30000),
        'prompt 65,535 spaces': ' '.repeat(65535),
        'prompt 65,535 digits': '7'.repeat(65535),
        'prompt 65,535 bytes of ab ab': 'ab '.repeat(21845),
        'prompt 1 MB of one emoji': '\u{1F600}'.repeat(250000),
      };
      for (const [name, prompt] of Object.entries(prompts)) {
        await record(name, () => state.transcribe(pcm, { ...input.valid, initialPrompt: prompt }));
        await record(name + ' carried', () => state.transcribe(pcm, { ...input.valid, initialPrompt: prompt, carryInitialPrompt: true }));
      }
      const nested = '('.repeat(100000) + ')'.repeat(100000);
      await record('transcribe regex 200,000', () => state.transcribe(pcm, { ...input.valid, suppressRegex: nested }));
      await record('check regex 200,000', () => addon.checkSuppressRegex(nested));
      await record('check regex 42', () => addon.checkSuppressRegex(42));
      await record('check regex none', () => addon.checkSuppressRegex());
      await record('check regex lookbehind', () => addon.checkSuppressRegex('(?<=a)b'));
      await record('check regex fine', () => addon.checkSuppressRegex('[0-9]+|(a|a)*b'));
      await record('transcribe regex too slow', () => state.transcribe(pcm, { ...input.valid, suppressRegex: '(.?){300}' }));
      await record('transcribe regex fine', () => state.transcribe(pcm, { ...input.valid, suppressRegex: '[0-9]+|(a|a)*b' }));
      await record('still works', () => state.transcribe(pcm, input.valid));
    `;
    const outcomes = survived(runInChild(body, { model, valid: VALID_PARAMS }), 19);
    const plain = outcomes.get('still works')!;
    expect(plain).toMatchObject({ threw: false });
    for (const name of ['30,000 letters', '65,535 spaces', '65,535 digits', '65,535 bytes of ab ab', '1 MB of one emoji']) {
      for (const suffix of ['', ' carried']) {
        const outcome = outcomes.get(`prompt ${name}${suffix}`)!;
        expect(outcome, name).toMatchObject({ threw: false });
        // Before: SIGSEGV (letters, spaces, digits) or minutes in the tokenizer.
        expect(outcome.ms, name).toBeLessThan(3 * plain.ms + 5000);
      }
    }
    const invalid = (name: string, message: RegExp) => {
      expect(outcomes.get(name), name).toMatchObject({ threw: true, code: 'INVALID_ARGUMENT' });
      expect(outcomes.get(name)!.message, name).toMatch(message);
    };
    invalid(
      'transcribe regex 200,000',
      /^options\.suppressRegex: expected .* of at most 256 bytes, without back-references \(it has 200000 bytes\), got a string of length 200000$/,
    );
    invalid('check regex 200,000', /^options\.suppressRegex: expected .*\(it has 200000 bytes\), got a string of length 200000$/);
    invalid('check regex 42', /^options\.suppressRegex: expected a string, got 42$/);
    invalid('check regex none', /^options\.suppressRegex: expected a string, got undefined$/);
    invalid('check regex lookbehind', /^options\.suppressRegex: expected a valid regular expression std::regex \(ECMAScript\) accepts.*got "\(\?<=a\)b"$/);
    invalid(
      'transcribe regex too slow',
      /^options\.suppressRegex: expected .*\(too complex: matching it against the model's 51864 tokens took over 2 s\), got "\(\.\?\)\{300\}"$/,
    );
    expect(outcomes.get('check regex fine')).toMatchObject({ threw: false });
    expect(outcomes.get('transcribe regex fine')).toMatchObject({ threw: false });
  });

  it('a second transcribe on a busy state throws STATE_BUSY at once; the first completes', () => {
    const body = `
      const model = await addon.loadModel(input.model, { useGpu: false, gpuDevice: 0, flashAttn: true });
      const state = await model.createState();
      const pcm = new Float32Array(16000);
      let first;
      await record('first', async () => { first = state.transcribe(pcm, input.valid); });
      await record('second', () => state.transcribe(pcm, input.valid));
      await record('first settles', () => first);
      await record('after', () => state.transcribe(pcm, input.valid));
    `;
    const outcomes = survived(runInChild(body, { model, valid: VALID_PARAMS }), 4);
    expect(outcomes.get('first')).toMatchObject({ threw: false });
    expect(outcomes.get('second')).toMatchObject({ threw: true, code: 'STATE_BUSY', message: expect.stringMatching(/^the state is already running a transcription/) });
    expect(outcomes.get('first settles')).toMatchObject({ threw: false });
    expect(outcomes.get('after')).toMatchObject({ threw: false });
  });

  it('loadModel, setLogger and vadSpeechProbabilities: bad arguments are INVALID_ARGUMENT, a missing file MODEL_NOT_FOUND', () => {
    const body = `
      const pcm = new Float32Array(2048);
      await record('loadModel path 42', () => addon.loadModel(42, {}));
      await record('loadModel empty path', () => addon.loadModel('', {}));
      await record('loadModel useGpu', () => addon.loadModel(input.model, { useGpu: 'yes' }));
      await record('loadModel gpuDevice -1', () => addon.loadModel(input.model, { useGpu: false, gpuDevice: -1 }));
      await record('loadModel options array', () => addon.loadModel(input.model, []));
      await record('loadModel missing', () => addon.loadModel(input.missing, { useGpu: false, gpuDevice: 0, flashAttn: true }));
      await record('loadModel directory', () => addon.loadModel(input.dir, { useGpu: false, gpuDevice: 0, flashAttn: true }));
      await record('setLogger 42', () => addon.setLogger(42, 1));
      await record('setLogger level 7', () => addon.setLogger(null, 7));
      await record('vad path 42', () => addon.vadSpeechProbabilities(42, pcm, 1));
      await record('vad pcm array', () => addon.vadSpeechProbabilities(input.vad, [0, 0], 1));
      await record('vad pcm object', () => addon.vadSpeechProbabilities(input.vad, new Map(), 1));
      await record('vad threads 0', () => addon.vadSpeechProbabilities(input.vad, pcm, 0));
      await record('vad threads 65', () => addon.vadSpeechProbabilities(input.vad, pcm, 65));
      await record('vad threads 1.5', () => addon.vadSpeechProbabilities(input.vad, pcm, 1.5));
      await record('vad missing', () => addon.vadSpeechProbabilities(input.missing, pcm, 1));
      await record('vad directory', () => addon.vadSpeechProbabilities(input.dir, pcm, 1));
      await record('still works', async () => {
        const probs = await addon.vadSpeechProbabilities(input.vad, pcm, 1);
        if (probs.length !== 4) throw new Error('expected 4 probabilities, got ' + probs.length);
        const model = await addon.loadModel(input.model, { useGpu: false, gpuDevice: 0, flashAttn: true });
        model.dispose();
      });
    `;
    const missing = path.join(dir, 'no-such-file.bin');
    const outcomes = survived(runInChild(body, { model, vad: VAD_MODEL, missing, dir }), 18);
    const invalid = (name: string, message: string) => expect(outcomes.get(name), name).toMatchObject({ threw: true, code: 'INVALID_ARGUMENT', message });
    invalid('loadModel path 42', 'loadModel.path: expected a string, got 42');
    invalid('loadModel empty path', 'loadModel.path: expected a non-empty string, got ""');
    invalid('loadModel useGpu', 'loadModel.options.useGpu: expected a boolean, got "yes"');
    invalid('loadModel gpuDevice -1', 'loadModel.options.gpuDevice: expected an integer from 0 to 2147483647, got -1');
    invalid('loadModel options array', 'loadModel.options: expected an object, got an array of length 0');
    expect(outcomes.get('loadModel missing')).toMatchObject({ code: 'MODEL_NOT_FOUND', message: `loadModel.path: model file not found: ${missing}` });
    invalid('loadModel directory', `loadModel.path: expected a file (model file), got a directory: ${dir}`);
    invalid('setLogger 42', 'setLogger.logger: expected a function or null, got 42');
    invalid('setLogger level 7', 'setLogger.minLevel: expected an integer from 0 to 3, got 7');
    invalid('vad path 42', 'vadSpeechProbabilities.modelPath: expected a string, got 42');
    invalid('vad pcm array', 'vadSpeechProbabilities.pcm: expected a Float32Array, got an array of length 2');
    invalid('vad pcm object', 'vadSpeechProbabilities.pcm: expected a Float32Array, got an object (Map)');
    invalid('vad threads 0', 'vadSpeechProbabilities.threads: expected an integer from 1 to 64, got 0');
    invalid('vad threads 65', 'vadSpeechProbabilities.threads: expected an integer from 1 to 64, got 65');
    invalid('vad threads 1.5', 'vadSpeechProbabilities.threads: expected an integer from 1 to 64, got 1.5');
    expect(outcomes.get('vad missing')).toMatchObject({ code: 'MODEL_NOT_FOUND', message: `vadSpeechProbabilities.modelPath: VAD model not found: ${missing}` });
    invalid('vad directory', `vadSpeechProbabilities.modelPath: expected a file (VAD model), got a directory: ${dir}`);
    expect(outcomes.get('still works')).toMatchObject({ threw: false });
  });

  it('truncated and corrupt Silero files are INVALID_MODEL, for vadSpeechProbabilities and for transcribe with VAD', () => {
    const body = `
      const pcm = new Float32Array(16000);
      for (const file of input.files) await record('probabilities ' + file, () => addon.vadSpeechProbabilities(file, pcm, 1));
      const model = await addon.loadModel(input.model, { useGpu: false, gpuDevice: 0, flashAttn: true });
      const state = await model.createState();
      for (const file of input.files) {
        await record('transcribe ' + file, () => state.transcribe(pcm, { ...input.valid, vad: true, vadModelPath: file }));
      }
      await record('transcribe missing', () => state.transcribe(pcm, { ...input.valid, vad: true, vadModelPath: input.missing }));
      await record('still works', async () => {
        await addon.vadSpeechProbabilities(input.vad, pcm, 1);
        await state.transcribe(pcm, { ...input.valid, vad: true, vadModelPath: input.vad });
      });
    `;
    const files = [...truncated, ...Object.values(corrupt)];
    const missing = path.join(dir, 'no-such-vad.bin');
    const outcomes = survived(runInChild(body, { files, model, valid: VALID_PARAMS, vad: VAD_MODEL, missing }), 2 * files.length + 2);
    for (const [i, file] of files.entries()) {
      for (const [kind, parameter] of [
        ['probabilities', 'vadSpeechProbabilities.modelPath'],
        ['transcribe', 'options.vad.modelPath'],
      ]) {
        const outcome = outcomes.get(`${kind} ${file}`)!;
        expect(outcome, `${kind} ${path.basename(file)}`).toMatchObject({ threw: true, code: 'INVALID_MODEL' });
        expect(outcome.message!.startsWith(`${parameter}: ${file} is `), outcome.message).toBe(true);
        const expected =
          i < cuts.length ? (cuts[i] === 0 ? /is empty/ : /is truncated|is not a Silero VAD model in whisper\.cpp's ggml format/) : /is not a (valid )?Silero VAD model/;
        expect(outcome.message, path.basename(file)).toMatch(expected);
      }
    }
    // Cuts from the type name on are truncation, said as such.
    for (const [i, n] of cuts.entries()) if (n >= 20) expect(outcomes.get(`probabilities ${truncated[i]}`)!.message, String(n)).toMatch(/is truncated/);
    expect(outcomes.get(`probabilities ${corrupt.twoEncoderLayers}`)!.message).toContain('n_encoder_layers is 2');
    expect(outcomes.get(`probabilities ${corrupt.trailingBytes}`)!.message).toContain('tensor 15 has a malformed header');
    expect(outcomes.get(`probabilities ${corrupt.nineDims}`)!.message).toContain('n_dims 9');
    expect(outcomes.get('transcribe missing')).toMatchObject({ code: 'MODEL_NOT_FOUND', message: `options.vad.modelPath: VAD model not found: ${missing}` });
    expect(outcomes.get('still works')).toMatchObject({ threw: false });
  });
});
