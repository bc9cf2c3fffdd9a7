import { describe, expect, it } from 'vitest';
import {
  defaultThreads,
  MAX_DECODERS,
  resolveJobOptions,
  resolveLoadOptions,
  resolveResultShaping,
  resolveTranscribeOptions,
  type ModelLimits,
} from '../../lib/transcription/options';
import { thrownWhisperError } from '../support/errors';

const multilingual: ModelLimits = {
  multilingual: true,
  nAudioCtx: 1500,
  languages: new Set(['en', 'de', 'ja']),
  defaultThreads: 3,
  wordTimestamps: false,
};
const englishOnly: ModelLimits = { ...multilingual, multilingual: false };

describe('resolveTranscribeOptions', () => {
  it('fills whisper.cpp defaults, auto language and the model-derived thread count', () => {
    const params = resolveTranscribeOptions(undefined, multilingual);
    expect(params).toMatchObject({
      strategy: 'greedy',
      bestOf: 5,
      beamSize: 5,
      threads: 3,
      language: 'auto',
      noContext: true,
      temperature: 0,
      temperatureIncrement: 0.2,
      entropyThreshold: 2.4,
      logprobThreshold: -1,
      noSpeechThreshold: 0.6,
      suppressBlank: true,
      vad: false,
      vadModelPath: '',
    });
  });

  it('passes given values through and lower-cases the language', () => {
    const params = resolveTranscribeOptions(
      { language: 'DE', strategy: 'beam', beamSize: 4, threads: 1, offsetMs: 500, initialPrompt: 'Hallo', translate: true },
      multilingual,
    );
    expect(params).toMatchObject({ language: 'de', strategy: 'beam', beamSize: 4, threads: 1, offsetMs: 500, initialPrompt: 'Hallo', translate: true });
  });

  it.each([
    [{ language: 'xx' }, 'options.language', '"xx"'],
    [{ beamSize: MAX_DECODERS + 1 }, 'options.beamSize', `an integer from 1 to ${MAX_DECODERS}`],
    [{ bestOf: 0 }, 'options.bestOf', 'got 0'],
    [{ threads: 1.5 }, 'options.threads', 'got 1.5'],
    [{ temperature: Number.NaN }, 'options.temperature', 'got NaN'],
    [{ temperature: 2 }, 'options.temperature', 'from 0 to 1'],
    [{ strategy: 'sample' }, 'options.strategy', `'greedy' or 'beam'`],
    [{ noContext: 'yes' }, 'options.noContext', 'a boolean'],
    [{ audioContext: 1501 }, 'options.audioContext', 'from 0 to 1500'],
    [{ audioContext: 10 }, 'options.audioContext', 'from 64 to 1500'],
    [{ suppressRegex: '(' }, 'options.suppressRegex', 'a valid regular expression'],
    [{ onProgress: 5 }, 'options.onProgress', 'a function'],
    [{ signal: {} }, 'options.signal', 'an AbortSignal'],
    [{ vad: { threshold: 0.5 } }, 'options.vad.modelPath', 'a string'],
    [{ vad: { modelPath: 'x.bin', threshold: 3 } }, 'options.vad.threshold', 'from 0 to 1'],
    [{ vad: { modelPath: 'x.bin', bogus: 1 } }, 'options.vad.bogus', 'one of the known options'],
    [{ langauge: 'en' }, 'options.langauge', 'one of the known options'],
  ])('rejects %j naming %s', (options, parameter, expected) => {
    const error = thrownWhisperError(() => resolveTranscribeOptions(options, multilingual));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain(parameter);
    expect(error.message).toContain(expected);
  });

  it('rejects non-object options', () => {
    expect(thrownWhisperError(() => resolveTranscribeOptions('en', multilingual)).message).toMatch(/^options: expected an object, got "en"/);
    expect(thrownWhisperError(() => resolveTranscribeOptions([], multilingual)).message).toMatch(/got an array/);
  });

  it('knows what an English-only model cannot do', () => {
    expect(thrownWhisperError(() => resolveTranscribeOptions({ language: 'de' }, englishOnly)).message).toContain('English-only');
    expect(thrownWhisperError(() => resolveTranscribeOptions({ translate: true }, englishOnly)).message).toContain('cannot translate');
    expect(resolveTranscribeOptions({ language: 'en' }, englishOnly).language).toBe('en');
  });

  it('resolves VAD options with whisper.cpp defaults', () => {
    const params = resolveTranscribeOptions({ vad: { modelPath: '/models/silero.bin', speechPadMs: 50 } }, multilingual);
    expect(params).toMatchObject({
      vad: true,
      vadModelPath: '/models/silero.bin',
      vadThreshold: 0.5,
      vadMinSpeechDurationMs: 250,
      vadMinSilenceDurationMs: 100,
      vadSpeechPadMs: 50,
      vadSamplesOverlap: 0.1,
    });
    expect(params.vadMaxSpeechDurationS).toBeGreaterThan(1e30);
  });

  // The same limits as binding/params.cpp, so that lib/ refuses first, with the same words.
  it('refuses a temperature increment whose fallback ladder would have no end', () => {
    expect(resolveTranscribeOptions({ temperatureIncrement: 0.01 }, multilingual).temperatureIncrement).toBe(0.01);
    expect(resolveTranscribeOptions({ temperatureIncrement: 0 }, multilingual).temperatureIncrement).toBe(0);
    for (const increment of [1e-8, 1e-4]) {
      const error = thrownWhisperError(() => resolveTranscribeOptions({ temperatureIncrement: increment }, multilingual));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(`options.temperatureIncrement: expected 0 or a step that reaches 1 from options.temperature in at most 1000 steps, got ${increment}`);
    }
    // the ladder starts at options.temperature: a small step from near 1 is fine
    expect(resolveTranscribeOptions({ temperature: 0.99, temperatureIncrement: 1e-4 }, multilingual).temperatureIncrement).toBe(1e-4);
  });

  it('refuses maxTextContext 1 with a carried initial prompt', () => {
    const error = thrownWhisperError(() => resolveTranscribeOptions({ maxTextContext: 1, initialPrompt: 'Hello.', carryInitialPrompt: true }, multilingual));
    expect(error.message).toBe('options.maxTextContext: expected 0 or at least 2 with options.carryInitialPrompt, got 1');
    expect(resolveTranscribeOptions({ maxTextContext: 1, initialPrompt: 'Hello.' }, multilingual).maxTextContext).toBe(1);
    expect(resolveTranscribeOptions({ maxTextContext: 2, initialPrompt: 'Hello.', carryInitialPrompt: true }, multilingual).maxTextContext).toBe(2);
  });

  it('keeps VAD milliseconds within what whisper.cpp can turn into samples', () => {
    const vad = (ms: number) => ({ vad: { modelPath: '/m.bin', minSpeechDurationMs: ms } });
    expect(resolveTranscribeOptions(vad(134_217), multilingual).vadMinSpeechDurationMs).toBe(134_217);
    const error = thrownWhisperError(() => resolveTranscribeOptions(vad(134_218), multilingual));
    expect(error.message).toBe('options.vad.minSpeechDurationMs: expected an integer from 0 to 134217, got 134218');
  });
});

describe('options with word timestamps', () => {
  const aligned: ModelLimits = { ...multilingual, wordTimestamps: true };

  it("refuses an audioContext other than the model's on a model loaded with them (whisper.cpp's DTW asserts)", () => {
    expect(thrownWhisperError(() => resolveTranscribeOptions({ audioContext: 768 }, aligned)).message).toMatch(
      /^options\.audioContext: expected 0 \(the model's 1500\) for a model loaded with wordTimestamps .*, got 768$/,
    );
    expect(resolveTranscribeOptions({ audioContext: 0 }, aligned).audioContext).toBe(0);
    expect(resolveTranscribeOptions({ audioContext: 1500 }, aligned).audioContext).toBe(1500);
    expect(resolveTranscribeOptions({ audioContext: 768 }, multilingual).audioContext).toBe(768);
  });

  it('shapes words only when asked and only on a model loaded with them', () => {
    expect(resolveResultShaping({ wordTimestamps: true }, aligned)).toEqual({ wordTimestamps: true, keepNonSpeech: false });
    expect(resolveResultShaping({}, aligned).wordTimestamps).toBe(false);
    expect(thrownWhisperError(() => resolveResultShaping({ wordTimestamps: true }, multilingual)).message).toMatch(
      /^options\.wordTimestamps: expected false, or a model loaded with loadModel\(path, \{ wordTimestamps: true \}\), got true$/,
    );
    expect(thrownWhisperError(() => resolveResultShaping({ wordTimestamps: 'yes' }, aligned)).message).toMatch(/^options\.wordTimestamps: expected a boolean/);
  });
});

describe('resolveLoadOptions', () => {
  it('defaults to GPU if present, flash attention, one job at a time', () => {
    expect(resolveLoadOptions(undefined)).toEqual({
      gpu: true,
      gpuDevice: 0,
      flashAttention: true,
      concurrency: 1,
      maxQueue: Number.POSITIVE_INFINITY,
      memoryBudget: 0,
      alignmentHeads: '',
      download: false,
      modelsDir: '',
      onDownloadProgress: undefined,
      signal: undefined,
    });
  });

  it('takes word timestamps as true or a preset, and turns flash attention off for them', () => {
    expect(resolveLoadOptions({ wordTimestamps: true })).toMatchObject({ alignmentHeads: 'auto', flashAttention: false });
    expect(resolveLoadOptions({ wordTimestamps: 'large.v1' })).toMatchObject({ alignmentHeads: 'large.v1', flashAttention: false });
    expect(resolveLoadOptions({ wordTimestamps: false, flashAttention: true })).toMatchObject({ alignmentHeads: '', flashAttention: true });
    expect(thrownWhisperError(() => resolveLoadOptions({ wordTimestamps: 'huge' })).message).toMatch(
      /^options\.wordTimestamps: expected a boolean or an alignment-heads preset \('tiny\.en', .*'large\.v3\.turbo'\), got "huge"$/,
    );
    expect(thrownWhisperError(() => resolveLoadOptions({ wordTimestamps: true, flashAttention: true })).message).toMatch(
      /^options\.flashAttention: expected false or unset with options\.wordTimestamps/,
    );
  });

  it('takes download true, false or auto, a models directory, a progress function and a signal', () => {
    const signal = new AbortController().signal;
    const onDownloadProgress = () => undefined;
    expect(resolveLoadOptions({ download: 'auto', modelsDir: '/m', onDownloadProgress, signal })).toMatchObject({
      download: 'auto',
      modelsDir: '/m',
      onDownloadProgress,
      signal,
    });
    expect(thrownWhisperError(() => resolveLoadOptions({ download: 'yes' })).message).toBe(`options.download: expected true, false or 'auto', got "yes"`);
    expect(thrownWhisperError(() => resolveLoadOptions({ modelsDir: '' })).message).toMatch(/^options\.modelsDir: expected a directory path/);
    expect(thrownWhisperError(() => resolveLoadOptions({ onDownloadProgress: 1 })).message).toBe('options.onDownloadProgress: expected a function, got 1');
    expect(thrownWhisperError(() => resolveLoadOptions({ signal: {} })).code).toBe('INVALID_ARGUMENT');
  });

  it('takes concurrency auto, a queue limit and a memory budget for auto', () => {
    expect(resolveLoadOptions({ concurrency: 'auto', maxQueue: 0, memoryBudget: 1e9 })).toMatchObject({
      concurrency: 'auto',
      maxQueue: 0,
      memoryBudget: 1e9,
    });
    expect(thrownWhisperError(() => resolveLoadOptions({ concurrency: 'many' })).message).toBe(
      `options.concurrency: expected 'auto' or an integer from 1 to 64, got "many"`,
    );
    expect(thrownWhisperError(() => resolveLoadOptions({ maxQueue: -1 })).message).toContain('options.maxQueue');
    expect(thrownWhisperError(() => resolveLoadOptions({ concurrency: 2, memoryBudget: 1e9 })).message).toContain(
      `options.memoryBudget: expected to be given only with concurrency 'auto'`,
    );
  });

  it('names bad load options', () => {
    expect(thrownWhisperError(() => resolveLoadOptions({ concurrency: 0 })).message).toContain('options.concurrency');
    expect(thrownWhisperError(() => resolveLoadOptions({ gpuDevice: -1 })).message).toContain('options.gpuDevice');
    expect(thrownWhisperError(() => resolveLoadOptions({ threads: 2 })).message).toContain('options.threads');
  });
});

describe('resolveJobOptions', () => {
  it('defaults to priority 0, no deadline and sequential windows, and names bad values', () => {
    expect(resolveJobOptions({})).toEqual({ priority: 0, timeoutMs: Number.POSITIVE_INFINITY, windowing: 'sequential' });
    expect(resolveJobOptions({ priority: -2.5, timeoutMs: 10 })).toEqual({ priority: -2.5, timeoutMs: 10, windowing: 'sequential' });
    expect(resolveJobOptions({ windowing: 'parallel', vad: { modelPath: 'silero.bin' } }).windowing).toBe('parallel');
    expect(thrownWhisperError(() => resolveJobOptions({ windowing: 'parallel' })).message).toMatch(
      /^options\.windowing: expected .*together with options\.vad.*, got "parallel"$/,
    );
    expect(thrownWhisperError(() => resolveJobOptions({ windowing: 'batched' })).message).toBe(
      "options.windowing: expected one of 'sequential', 'parallel', got \"batched\"",
    );
    expect(thrownWhisperError(() => resolveJobOptions({ priority: Number.NaN })).message).toBe('options.priority: expected a finite number, got NaN');
    expect(thrownWhisperError(() => resolveJobOptions({ timeoutMs: 0 })).message).toContain('options.timeoutMs');
  });
});

describe('defaultThreads', () => {
  it('shares the cores among concurrent jobs, between 1 and 4 each', () => {
    const one = defaultThreads(1);
    expect(one).toBeGreaterThanOrEqual(1);
    expect(one).toBeLessThanOrEqual(4);
    expect(defaultThreads(1000)).toBe(1);
    expect(defaultThreads(2)).toBeLessThanOrEqual(one);
  });
});
