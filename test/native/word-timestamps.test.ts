/**
 * Word timestamps through whisper.cpp's DTW alignment: the real base model loaded with
 * `wordTimestamps` gives every segment words in order and inside it, and every text token a DTW
 * time, on one window, on whisper's own windows (in-memory audio), with Silero VAD, and on long
 * audio read in windows; onSegment sees each segment once. The load and transcribe options are
 * refused where whisper.cpp would misbehave, the per-segment temperature follows whisper's
 * fallback, and a child process runs short, silent and noisy inputs through a DTW model, where
 * whisper.cpp 1.9.1 asserts on windows of under 160 ms.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio, loadModel, type Segment, type Transcript, type WhisperModel } from '../../lib';
import { dtwMemoryBytes } from '../../lib/model/planner';
import { stateMemory } from '../../lib/model/memory';
import { native } from '../../lib/native/addon';
import { resolveTranscribeOptions, type ModelLimits } from '../../lib/transcription/options';
import { writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { rejectedWhisperError } from '../support/errors';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { writeWav16k } from '../support/wav-file';

const THREADS = 2;
const RATE = 16000;
const VAD_MODEL = path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin');
const base = realModels().models.base.files;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'word-timestamps-'));

let jfk: Float32Array;
/** jfk and two LibriVox sentences with 1 s of silence after each: about 22 s... plus jfk again, over 30 s. */
let joined: Float32Array;

function join(pieces: Float32Array[], gapSamples: number): Float32Array {
  const out = new Float32Array(pieces.reduce((n, p) => n + p.length + gapSamples, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length + gapSamples;
  }
  return out;
}

/** Words present, in order, inside their segment, with probabilities; every text token aligned. */
function expectWellFormedWords(transcript: Transcript): void {
  expect(transcript.segments.length).toBeGreaterThan(0);
  for (const segment of transcript.segments) {
    const words = segment.words;
    expect(words, segment.text).toBeDefined();
    expect(words!.length, segment.text).toBeGreaterThan(0);
    expect(words!.map((w) => w.text).join('')).toBe(segment.text);
    let previousStart = segment.startMs;
    for (const word of words!) {
      expect(word.startMs, word.text).toBeGreaterThanOrEqual(previousStart);
      expect(word.endMs, word.text).toBeGreaterThanOrEqual(word.startMs);
      expect(word.endMs, word.text).toBeLessThanOrEqual(segment.endMs);
      expect(word.probability).toBeGreaterThanOrEqual(0);
      expect(word.probability).toBeLessThanOrEqual(1);
      previousStart = word.startMs;
    }
    for (const token of segment.tokens.filter((t) => !t.special)) {
      expect(token.dtwMs, `${segment.text}: ${token.text}`).toBeGreaterThanOrEqual(0);
    }
    for (const token of segment.tokens.filter((t) => t.special)) expect(token.dtwMs).toBeUndefined();
  }
}

beforeAll(async () => {
  jfk = await loadAudio(JFK_WAV);
  const librivox = ['sense_and_sensibility_01_austen_64kb-0870.wav', 'sense_and_sensibility_01_austen_64kb-0920.wav'];
  const clips = await Promise.all(librivox.map((f) => loadAudio(path.join(SHARED, 'audio', 'librivox', f))));
  joined = join([jfk, ...clips, jfk], RATE);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('real base loaded with wordTimestamps', () => {
  let model: WhisperModel;

  beforeAll(async () => {
    model = await loadModel(base.q5_0.path, { gpu: false, wordTimestamps: true });
  });
  afterAll(() => model?.dispose());

  it('gives every segment of jfk.wav its words, in order and inside the segment', async () => {
    const transcript = await model.transcribe(JFK_WAV, { language: 'en', threads: THREADS, wordTimestamps: true });
    expectWellFormedWords(transcript);
    const words = transcript.segments.flatMap((s) => s.words!.map((w) => w.text.trim()));
    expect(words.slice(0, 5)).toEqual(['And', 'so', 'my', 'fellow', 'Americans,']);
    // "And" is spoken at about 0.3-0.5 s, "country." ends near 10.5 s.
    expect(transcript.segments[0].words![0].startMs).toBeLessThan(1000);
    expect(transcript.segments.at(-1)!.words!.at(-1)!.startMs).toBeGreaterThan(9000);
    expect(transcript.segments.every((s) => s.temperature === 0 && s.windowStartMs === 0)).toBe(true);
    // DTW's share of the state is counted.
    expect(model.memory().states[0].dtw).toBeGreaterThan(0);
  });

  it('without wordTimestamps in the options the tokens still carry DTW times, and there are no words', async () => {
    const transcript = await model.transcribe(jfk, { language: 'en', threads: THREADS });
    expect(transcript.segments.every((s) => s.words === undefined)).toBe(true);
    expect(transcript.segments.flatMap((s) => s.tokens).some((t) => t.dtwMs !== undefined)).toBe(true);
  });

  it("delivers every segment once, in order, with the final DTW times, over whisper's own windows", async () => {
    const seen: Segment[] = [];
    const transcript = await model.transcribe(joined, { language: 'en', threads: THREADS, wordTimestamps: true, onSegment: (s) => seen.push(s) });
    expect(transcript.timings.encoderRuns).toBeGreaterThanOrEqual(2);
    expectWellFormedWords(transcript);
    expect(seen).toEqual(transcript.segments);
    // The later windows start later: each segment's window start is at or before it, and they rise.
    const starts = transcript.segments.map((s) => s.windowStartMs);
    expect(starts.at(-1)!).toBeGreaterThan(20_000);
    for (let i = 0; i < transcript.segments.length; i++) {
      expect(starts[i]).toBeLessThanOrEqual(transcript.segments[i].startMs);
      if (i > 0) expect(starts[i]).toBeGreaterThanOrEqual(starts[i - 1]);
    }
    // jfk again at the end, after 1 s of silence: its first word is aligned near where it starts.
    const lastJfk = joined.length - RATE - jfk.length;
    const and = transcript.segments.flatMap((s) => s.words!).filter((w) => w.text.trim() === 'And' && w.startMs > 20_000);
    expect(and.length).toBe(1);
    expect(Math.abs(and[0].startMs - (lastJfk / RATE) * 1000 - 400)).toBeLessThan(700);
  });

  it('windows a range of in-memory audio longer than 60 s (one native call would risk a DTW abort), in absolute time', async () => {
    const long = join([joined, joined], RATE);
    const range = { offsetMs: 5000, durationMs: 70_000 };
    expect(long.length / RATE).toBeGreaterThan(75);
    const transcript = await model.transcribe(long, { language: 'en', threads: THREADS, wordTimestamps: true, ...range });
    expectWellFormedWords(transcript);
    expect(transcript.audioDurationMs).toBe(Math.round((long.length / RATE) * 1000));
    expect(transcript.timings.encoderRuns).toBeGreaterThanOrEqual(3);
    expect(transcript.segments.map((s) => s.index)).toEqual(transcript.segments.map((_, i) => i));
    expect(transcript.segments[0].startMs).toBeGreaterThanOrEqual(range.offsetMs);
    expect(transcript.segments.at(-1)!.endMs).toBeLessThanOrEqual(range.offsetMs + range.durationMs + 1000);
    // The second copy's jfk ("and so my fellow…", after a window seam) is timed where it is.
    const secondJfk = joined.length + RATE;
    const and = transcript.segments.flatMap((s) => s.words!).filter((w) => w.text.trim().toLowerCase() === 'and' && w.startMs > (secondJfk / RATE) * 1000 - 1000);
    expect(and.length).toBeGreaterThanOrEqual(1);
    expect(Math.abs(and[0].startMs - (secondJfk / RATE) * 1000 - 400)).toBeLessThan(700);
  });

  it('maps DTW times back through Silero VAD: words keep their place in the input', async () => {
    const padded = join([new Float32Array(5 * RATE), jfk], 0);
    const plain = await model.transcribe(padded, { language: 'en', threads: THREADS, wordTimestamps: true });
    const vad = await model.transcribe(padded, { language: 'en', threads: THREADS, wordTimestamps: true, vad: { modelPath: VAD_MODEL } });
    expectWellFormedWords(vad);
    const first = (t: Transcript) => t.segments.flatMap((s) => s.words!).find((w) => w.text.trim() === 'And')!;
    expect(first(vad).startMs).toBeGreaterThan(5000);
    expect(Math.abs(first(vad).startMs - first(plain).startMs)).toBeLessThan(400);
  });

  it('times words of long audio read in windows from a file in absolute time', async () => {
    const file = path.join(dir, 'joined.wav');
    writeWav16k(file, joined);
    const seen: Segment[] = [];
    const transcript = await model.transcribe(file, { language: 'en', threads: THREADS, wordTimestamps: true, onSegment: (s) => seen.push(s) });
    expectWellFormedWords(transcript);
    expect(seen.map((s) => s.text)).toEqual(transcript.segments.map((s) => s.text));
    const words = transcript.segments.flatMap((s) => s.words!);
    expect(words.at(-1)!.startMs).toBeGreaterThan(30_000);
    const tokens = transcript.segments.flatMap((s) => s.tokens.filter((t) => !t.special));
    expect(tokens.at(-1)!.dtwMs!).toBeGreaterThan(30_000);
  });

  it("refuses an audioContext other than the model's (whisper.cpp's DTW would abort)", async () => {
    const error = await rejectedWhisperError(model.transcribe(jfk, { audioContext: 768 }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^options\.audioContext: .*wordTimestamps/);
    // The model's own context is fine.
    const full = await model.transcribe(jfk.subarray(0, 3 * RATE), { audioContext: 1500, language: 'en', threads: THREADS });
    expect(full.segments.length).toBeGreaterThan(0);
  });

  it('falls back to higher temperatures as whisper does, and says so per segment', async () => {
    // logprobThreshold 0: every attempt but the last fails (speech has a low no-speech probability).
    const clip = jfk.subarray(0, 4 * RATE);
    const ladder: number[] = [];
    for (let t = 0; t < Math.fround(1 + 1e-6); t = Math.fround(t + Math.fround(0.2))) ladder.push(t);
    const hot = await model.transcribe(clip, { language: 'en', threads: THREADS, bestOf: 1, logprobThreshold: 0, temperatureIncrement: 0.2 });
    expect(hot.segments.length).toBeGreaterThan(0);
    for (const segment of hot.segments) expect(segment.temperature).toBe(ladder.at(-1));
    const cold = await model.transcribe(clip, { language: 'en', threads: THREADS, bestOf: 1, logprobThreshold: 0, temperatureIncrement: 0 });
    for (const segment of cold.segments) expect(segment.temperature).toBe(0);
    const warm = await model.transcribe(clip, { language: 'en', threads: THREADS, bestOf: 1, temperature: 0.3, temperatureIncrement: 0 });
    for (const segment of warm.segments) expect(segment.temperature).toBe(Math.fround(0.3));
  });
});

describe('options', () => {
  let plain: WhisperModel;
  const tinyEn = () => inject('syntheticTinyEn');

  beforeAll(async () => {
    plain = await loadModel(tinyEn(), { gpu: false });
  });
  afterAll(() => plain?.dispose());

  it('transcribe({ wordTimestamps: true }) on a model loaded without them is INVALID_ARGUMENT', async () => {
    const error = await rejectedWhisperError(plain.transcribe(jfk.subarray(0, RATE), { wordTimestamps: true }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^options\.wordTimestamps: /);
    const ok = await plain.transcribe(jfk.subarray(0, RATE), { language: 'en', threads: THREADS, maxTokensPerSegment: 8 });
    expect(ok.segments.flatMap((s) => s.tokens).every((t) => t.dtwMs === undefined)).toBe(true);
    expect(ok.segments.every((s) => s.words === undefined)).toBe(true);
  });

  it.each([
    [{ wordTimestamps: 'huge' }, /^options\.wordTimestamps: expected a boolean or an alignment-heads preset/],
    [{ wordTimestamps: 1 }, /^options\.wordTimestamps: /],
    [{ wordTimestamps: true, flashAttention: true }, /^options\.flashAttention: /],
    // tiny.en has 4 text layers of 6 heads; large-v2's heads live in layers up to 27.
    [{ wordTimestamps: 'large.v2' }, /^options\.wordTimestamps: expected true or a preset whose heads this model has \(4 text layers of 6 heads\)/],
  ])('loadModel(%o) is INVALID_ARGUMENT', async (options, message) => {
    const error = await rejectedWhisperError(loadModel(tinyEn(), options as never));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(message);
  });

  it('the addon checks its own load options', async () => {
    const file = tinyEn();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ alignmentHeads: 'nope', dtwMemoryBytes: 1 << 24 }, /^loadModel\.options\.alignmentHeads: /],
      [{ alignmentHeads: 'tiny.en', flashAttn: true, dtwMemoryBytes: 1 << 24 }, /^loadModel\.options\.flashAttn: /],
      [{ alignmentHeads: 'tiny.en' }, /^loadModel\.options\.dtwMemoryBytes: /],
      [{ alignmentHeads: 'tiny.en', dtwMemoryBytes: 1000 }, /^loadModel\.options\.dtwMemoryBytes: /],
      [{ alignmentHeads: 'top-most', dtwMemoryBytes: 1 << 24 }, /^loadModel\.options\.alignmentTopLayers: /],
    ];
    for (const [extra, message] of cases) {
      // Bad arguments throw before a promise exists.
      const error = await Promise.resolve()
        .then(() => native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn: false, ...extra }))
        .then(
          () => undefined,
          (e: unknown) => e as { code: string; message: string },
        );
      expect(error?.code, message.source).toBe('INVALID_ARGUMENT');
      expect(error?.message).toMatch(message);
    }
  });

  it("the addon refuses an audioContext other than the model's on a DTW model, without lib/ in front", async () => {
    const file = tinyEn();
    const model = await native().loadModel(file, { useGpu: false, gpuDevice: 0, flashAttn: false, alignmentHeads: 'tiny.en', dtwMemoryBytes: 1 << 26 });
    try {
      const state = await model.createState();
      const info = model.info();
      const limits: ModelLimits = { multilingual: false, nAudioCtx: info.nAudioCtx, languages: new Set(['en']), defaultThreads: 2, wordTimestamps: false };
      const params = { ...resolveTranscribeOptions({ language: 'en' }, limits), audioContext: 768 };
      expect(() => state.transcribe(jfk.subarray(0, RATE), params)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^options\.audioContext: /) }),
      );
      expect(stateMemory(state).dtw).toBeGreaterThan(dtwMemoryBytes(info, 8) - 1);
      state.dispose();
    } finally {
      model.dispose();
    }
  });
});

/** A small odd shape no preset fits: 1 audio layer, 3 text layers of 2 heads, state 64. */
async function writeOddModel(out: string): Promise<void> {
  const header = Buffer.from(fs.readFileSync(path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin')));
  // n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels
  [51864, 1500, 64, 2, 1, 448, 64, 2, 3, 80].forEach((value, i) => header.writeInt32LE(value, 4 + 4 * i));
  const headerFile = `${out}.header`;
  fs.writeFileSync(headerFile, header);
  await writeSyntheticModel({ headerFrom: headerFile, outPath: out, seed: 3 });
}

describe('a shape no preset fits', () => {
  it("aligns with every head of the last half of the text layers ('top-most')", async () => {
    const file = path.join(dir, 'odd.bin');
    await writeOddModel(file);
    await using model = await loadModel(file, { gpu: false, wordTimestamps: true });
    const transcript = await model.transcribe(jfk.subarray(0, 2 * RATE), { language: 'en', threads: THREADS, wordTimestamps: true, temperatureIncrement: 0 });
    const text = transcript.segments.flatMap((s) => s.tokens).filter((t) => !t.special);
    expect(text.length).toBeGreaterThan(0);
    expect(text.every((t) => t.dtwMs !== undefined)).toBe(true);
    expect(model.memory().states[0].dtw).toBe(2 * 4 * 4 + 224 * 1500 * 4 * 4 + dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 4));
  });
});

/**
 * Runs in a child process: an abort there (whisper.cpp's WHISPER_ASSERT) fails the test instead of
 * ending the test runner. Inputs of every length from 20 ms up, silence, noise, tones and speech cut
 * anywhere, through the odd model (random weights write timestamps anywhere) and the real base.
 */
const FUZZ_CHILD = String.raw`
const [, , addonPath, modelPath, heads, topLayers, countArg, seedArg, jfkPath] = process.argv;
const fs = require('node:fs');
const addon = require(addonPath);
let seed = Number(seedArg) >>> 0 || 1;
const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const bytes = fs.readFileSync(jfkPath);
const jfk = new Float32Array((bytes.length - 44) / 2).map((_, i) => bytes.readInt16LE(44 + 2 * i) / 32768);
const PARAMS = JSON.parse(process.env.DTW_FUZZ_PARAMS);
(async () => {
  const options = { useGpu: false, gpuDevice: 0, flashAttn: false, alignmentHeads: heads, dtwMemoryBytes: Number(process.env.DTW_FUZZ_MEMORY) };
  if (heads === 'top-most') options.alignmentTopLayers = Number(topLayers);
  const model = await addon.loadModel(modelPath, options);
  const state = await model.createState();
  const results = [];
  for (let i = 0; i < Number(countArg); i++) {
    const ms = pick([20, 90, 110, 120, 130, 150, 160, 170, 200, 250, 400, 700, 1000, 2000, 3000]);
    const kind = pick(['silence', 'noise', 'tone', 'speech', 'speech-cut', 'bursts']);
    const amp = pick([1e-4, 1e-3, 0.01, 0.1, 0.5, 1]);
    const pcm = new Float32Array(ms * 16).map((_, k) =>
      kind === 'silence' ? 0 : kind === 'noise' ? (rand() * 2 - 1) * amp : kind === 'tone' ? Math.sin((2 * Math.PI * 440 * k) / 16000) * amp :
      kind === 'speech' ? jfk[k] : kind === 'speech-cut' ? jfk[(k + 16000 + i * 800) % jfk.length] : Math.floor(k / 1600) % 3 === 0 ? (rand() * 2 - 1) * amp : 0);
    const over = pick([{}, { noTimestamps: true }, { singleSegment: true }, { maxTokensPerSegment: 3 }, { tokenTimestamps: true, maxSegmentLength: 5 }, { strategy: 'beam' }, { maxInitialTimestamp: 0 }, { temperatureIncrement: 0.5 }]);
    let delivered = 0;
    const r = await state.transcribe(pcm, { ...PARAMS, ...over }, (k) => { if (k === 'segment') delivered++; });
    const aligned = r.segments.every((s) => s.tokens.every((t) => t.special || t.dtwMs >= 0));
    results.push({ input: i + ' ' + kind + ' ' + ms + ' ms', segments: r.segments.length, delivered, aligned });
  }
  state.dispose();
  model.dispose();
  process.stdout.write(JSON.stringify(results));
})().catch((e) => { process.stderr.write(String(e && e.stack)); process.exit(1); });
`;

describe('short, silent and noisy audio through a DTW model', () => {
  const child = path.join(dir, 'dtw-fuzz-child.cjs');

  const run = (model: string, heads: string, topLayers: number, count: number, seed: number, memory: number) => {
    fs.writeFileSync(child, FUZZ_CHILD);
    const limits: ModelLimits = { multilingual: false, nAudioCtx: 1500, languages: new Set(['en']), defaultThreads: THREADS, wordTimestamps: true };
    const params = resolveTranscribeOptions({ language: 'en', threads: THREADS, bestOf: 2, beamSize: 2, temperatureIncrement: 0 }, limits);
    const addon = path.join(REPO_ROOT, 'build', 'Release', 'whisper_napi.node');
    const result = spawnSync(process.execPath, [child, addon, model, heads, String(topLayers), String(count), String(seed), JFK_WAV], {
      encoding: 'utf8',
      env: { ...process.env, DTW_FUZZ_PARAMS: JSON.stringify(params), DTW_FUZZ_MEMORY: String(memory) },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    const results = JSON.parse(result.stdout) as Array<{ input: string; segments: number; delivered: number; aligned: boolean }>;
    expect(results.length).toBe(count);
    for (const r of results) {
      expect(r.delivered, r.input).toBe(r.segments);
      expect(r.aligned, r.input).toBe(true);
    }
    return results;
  };

  it('never aborts the process on the odd model (random timestamps, windows of any length)', async () => {
    const file = path.join(dir, 'odd-fuzz.bin');
    await writeOddModel(file);
    const results = run(file, 'top-most', 2, 40, 11, dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 4));
    // Random weights write text for most inputs, so the alignment really ran.
    expect(results.filter((r) => r.segments > 0).length).toBeGreaterThan(10);
  }, 600_000);

  it('never aborts the process on the real base model', () => {
    const results = run(base.q5_0.path, 'base', 0, 12, 5, dtwMemoryBytes({ nTextCtx: 448, nAudioCtx: 1500 }, 8));
    expect(results.some((r) => r.segments > 0)).toBe(true);
  }, 600_000);
});
