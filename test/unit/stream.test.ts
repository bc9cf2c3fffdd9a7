/**
 * The windowing, cut and seam logic of lib/stream/ against a fake transcriber that reads
 * "words" out of the audio: each word is a 300 Hz tone burst whose level encodes its number.
 * Like Whisper, the fake only gets a word right when all of it is in the window: a burst cut
 * by the window's edge comes out as "<partial>". So a seam that splits, loses or repeats a word
 * shows in the word sequence.
 */
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import type { TranscribeOptions } from '../../lib/transcription/options';
import type { PcmChunk } from '../../lib/stream/chunks';
import { energyCut, vadCut } from '../../lib/stream/cut-points';
import { stablePart } from '../../lib/stream/seams';
import { transcribeStream } from '../../lib/stream/transcribe-stream';
import type { StreamTranscriber } from '../../lib/stream/windows';
import type { Segment, Transcript } from '../../lib/transcription/transcript';
import { rejectedWhisperError } from '../support/errors';
import { prng } from './wav-fixtures';

const RATE = 16000;
const LEVELS = 20;
const levelOf = (id: number) => 0.1 + 0.02 * (id % LEVELS);

interface Word {
  id: number;
  start: number;
  end: number;
}

/**
 * Sentences of 5 to 60 words with random lengths; inside a sentence the gaps (20-60 ms) are too
 * short for a clean cut, so long sentences fill a whole cut search region.
 */
function makeSpeech(seconds: number, seed: number): { words: Word[]; length: number } {
  const rand = prng(seed);
  const words: Word[] = [];
  let at = Math.round(0.3 * RATE);
  let id = 0;
  let left = 0;
  const length = Math.round(seconds * RATE);
  while (true) {
    const dur = Math.round((0.15 + rand() * 0.25) * RATE);
    if (at + dur >= length - RATE) break;
    words.push({ id: id++, start: at, end: at + dur });
    if (left <= 0) left = 5 + Math.floor(rand() * 56);
    left--;
    at += dur + Math.round((left > 0 ? 0.02 + rand() * 0.04 : 0.3 + rand() * 0.7) * RATE);
  }
  return { words, length };
}

/** Sample i of the speech (generated on the fly, so long streams cost no memory). */
function sampleAt(words: Word[], i: number, cursor: { w: number }): number {
  while (cursor.w < words.length && words[cursor.w]!.end <= i) cursor.w++;
  const word = words[cursor.w];
  const noise = 0.0005 * Math.sin(i * 12.9898);
  if (!word || i < word.start) return noise;
  return levelOf(word.id) * Math.sin((2 * Math.PI * 300 * (i - word.start)) / RATE) + noise;
}

async function* chunked(words: Word[], length: number, chunkSamples: number, log?: { pulled: number }): AsyncGenerator<Float32Array> {
  const cursor = { w: 0 };
  for (let at = 0; at < length; at += chunkSamples) {
    const n = Math.min(chunkSamples, length - at);
    const chunk = new Float32Array(n);
    for (let i = 0; i < n; i++) chunk[i] = sampleAt(words, at + i, cursor);
    if (log) log.pulled += n;
    yield chunk;
  }
}

/** Reads bursts back: level -> word number (mod LEVELS); segments split at long gaps or 5 words. */
class FakeWhisper implements StreamTranscriber {
  calls: Array<{ samples: number; prompt: string | undefined; trailingQuiet: number }> = [];
  constructor(private readonly onCall?: (pcm: Float32Array) => void) {}

  async transcribe(pcm: Float32Array, options: TranscribeOptions = {}): Promise<Transcript> {
    this.onCall?.(pcm);
    let quietFrom = pcm.length;
    while (quietFrom > 0 && Math.abs(pcm[quietFrom - 1]!) < 0.01) quietFrom--;
    this.calls.push({ samples: pcm.length, prompt: options.initialPrompt, trailingQuiet: pcm.length - quietFrom });
    await new Promise((resolve) => setImmediate(resolve));
    const found: Array<{ start: number; end: number; text: string }> = [];
    let i = 0;
    while (i < pcm.length) {
      if (Math.abs(pcm[i]!) < 0.01) {
        i++;
        continue;
      }
      // A burst: runs until 5 ms pass below the noise floor.
      const start = i;
      let quiet = 0;
      let peak = 0;
      while (i < pcm.length && quiet < 80) {
        const a = Math.abs(pcm[i]!);
        peak = Math.max(peak, a);
        quiet = a < 0.01 ? quiet + 1 : 0;
        i++;
      }
      const end = i - quiet;
      // Whisper guesses at a word it hears only part of.
      const whole = start > 80 && i < pcm.length;
      const id = Math.round((peak - 0.1) / 0.02);
      found.push({ start, end, text: whole ? ` w${id}` : ' <partial>' });
    }
    const segments: Segment[] = [];
    let current: typeof found = [];
    const flush = () => {
      if (current.length === 0) return;
      segments.push({
        index: segments.length,
        startMs: Math.floor(current[0]!.start / 16),
        endMs: Math.ceil(current.at(-1)!.end / 16),
        text: current.map((w) => w.text).join(''),
        noSpeechProbability: 0,
        speakerTurnNext: false,
        temperature: 0,
        windowStartMs: 0,
        tokens: [],
      });
      current = [];
    };
    for (const w of found) {
      const gap = current.length > 0 ? w.start - current.at(-1)!.end : 0;
      if (current.length >= 5 || gap > 0.4 * RATE) flush();
      current.push(w);
    }
    flush();
    return {
      text: segments
        .map((s) => s.text)
        .join('')
        .trim(),
      segments,
      language: 'en',
      audioDurationMs: pcm.length / 16,
      timings: { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 1 },
    };
  }
}

async function collect(stream: AsyncIterable<Segment>): Promise<Segment[]> {
  const out: Segment[] = [];
  for await (const s of stream) out.push(s);
  return out;
}

const wordsOf = (segments: Segment[]) => segments.flatMap((s) => s.text.trim().split(/\s+/).filter(Boolean));

describe('transcribeStream seams (fake transcriber)', () => {
  const { words, length } = makeSpeech(150, 7);
  const truth = words.map((w) => `w${w.id % LEVELS}`);

  for (const [label, seconds] of [
    ['0.1 s', 0.1],
    ['1 s', 1],
    ['7 s', 7],
    ['45 s (longer than a window)', 45],
  ] as const) {
    it(`streams ${label} chunks with no word lost, repeated or split`, async () => {
      const fake = new FakeWhisper();
      const segments = await collect(transcribeStream(fake, chunked(words, length, Math.round(seconds * RATE)), { windowMs: 20_000 }));
      expect(fake.calls.length).toBeGreaterThan(6);
      expect(wordsOf(segments)).toEqual(truth);
      // Absolute times: each segment spans its words in the stream.
      let w = 0;
      for (const [i, s] of segments.entries()) {
        expect(s.index).toBe(i);
        const n = s.text.trim().split(/\s+/).length;
        expect(Math.abs(s.startMs - words[w]!.start / 16)).toBeLessThanOrEqual(1);
        expect(Math.abs(s.endMs - words[w + n - 1]!.end / 16)).toBeLessThanOrEqual(6);
        w += n;
      }
    });
  }

  it('gives the same segments for Float32Array, f32 bytes and s16 bytes split at odd offsets', async () => {
    const short = makeSpeech(50, 3);
    const pcm = new Float32Array(short.length);
    const cursor = { w: 0 };
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(sampleAt(short.words, i, cursor) * 32767) / 32768;
    const s16 = Buffer.alloc(pcm.length * 2);
    pcm.forEach((v, i) => s16.writeInt16LE(Math.round(v * 32768), i * 2));
    const f32 = Buffer.from(pcm.buffer.slice(0));
    const split = (bytes: Buffer, size: number) =>
      function* () {
        for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
      };
    const a = await collect(transcribeStream(new FakeWhisper(), [pcm], { windowMs: 15_000 }));
    const b = await collect(transcribeStream(new FakeWhisper(), split(f32, 4001)(), { windowMs: 15_000 }));
    const c = await collect(transcribeStream(new FakeWhisper(), split(s16, 3333)(), { windowMs: 15_000, format: 's16' }));
    expect(wordsOf(a).length).toBe(short.words.length);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('prompts each window with the end of the text before it when asked to', async () => {
    const fake = new FakeWhisper();
    const segments = await collect(transcribeStream(fake, chunked(words, length, RATE), { windowMs: 20_000, initialPrompt: 'Hello.', promptWithPrevious: true }));
    expect(fake.calls[0]!.prompt).toBe('Hello.');
    expect(fake.calls[1]!.prompt!.length).toBeGreaterThan(0);
    const all = segments.map((s) => s.text).join('');
    for (const call of fake.calls.slice(1)) {
      expect(call.prompt!.length).toBeLessThanOrEqual(200);
      expect(all).toContain(call.prompt!);
    }
    const off = new FakeWhisper();
    await collect(transcribeStream(off, chunked(words, length, RATE), { windowMs: 20_000, initialPrompt: 'Hello.' }));
    // By default only the first window gets the caller's prompt.
    expect(off.calls[0]!.prompt).toBe('Hello.');
    expect(off.calls.slice(1).every((c) => c.prompt === undefined)).toBe(true);
  });

  it('a stream shorter than a window is one transcription of all of it', async () => {
    const short = makeSpeech(12, 5);
    const fake = new FakeWhisper();
    const streamed = await collect(transcribeStream(fake, chunked(short.words, short.length, 1600)));
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.samples).toBe(short.length);
    const pcm = new Float32Array(short.length);
    const cursor = { w: 0 };
    for (let i = 0; i < pcm.length; i++) pcm[i] = sampleAt(short.words, i, cursor);
    expect(streamed).toEqual((await new FakeWhisper().transcribe(pcm)).segments);
  });
});

describe('transcribeStream memory and backpressure', () => {
  it('holds at most one window plus one chunk over a 12-minute stream', async () => {
    const { words, length } = makeSpeech(12 * 60, 11);
    const chunk = Math.round(0.5 * RATE);
    const windowMs = 20_000;
    const log = { pulled: 0 };
    let maxHeld = 0;
    let maxAhead = 0;
    let consumedEnd = 0;
    const fake = new FakeWhisper();
    let count = 0;
    for await (const s of transcribeStream(fake, chunked(words, length, chunk, log), {
      windowMs,
      onBuffer: (n) => {
        maxHeld = Math.max(maxHeld, n);
      },
    })) {
      count++;
      consumedEnd = s.endMs * 16;
      // The source is never far ahead of what has been transcribed.
      maxAhead = Math.max(maxAhead, log.pulled - consumedEnd);
    }
    expect(count).toBeGreaterThan(100);
    expect(maxHeld).toBeGreaterThan(windowMs * 16 * 0.9);
    expect(maxHeld).toBeLessThanOrEqual(windowMs * 16 + chunk);
    expect(maxAhead).toBeLessThanOrEqual(windowMs * 16 + chunk);
    expect(log.pulled).toBe(length);
  });
});

describe('transcribeStream control', () => {
  it('breaking out of the loop stops work and calls the source return()', async () => {
    const { words, length } = makeSpeech(200, 2);
    let finished = false;
    let pulled = 0;
    async function* source() {
      try {
        for await (const c of chunked(words, length, RATE)) {
          pulled++;
          yield c;
        }
      } finally {
        finished = true;
      }
    }
    const fake = new FakeWhisper();
    for await (const _ of transcribeStream(fake, source(), { windowMs: 10_000 })) break;
    expect(finished).toBe(true);
    expect(fake.calls).toHaveLength(1);
    expect(pulled).toBeLessThanOrEqual(11);
  });

  it('propagates a source error as it is', async () => {
    const boom = new Error('mic unplugged');
    async function* source() {
      yield new Float32Array(RATE);
      throw boom;
    }
    await expect(collect(transcribeStream(new FakeWhisper(), source()))).rejects.toBe(boom);
  });

  it('aborts while waiting for a source that never answers', async () => {
    let returned = false;
    const source: AsyncIterable<PcmChunk> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<PcmChunk>>(() => {}),
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    const controller = new AbortController();
    const done = collect(transcribeStream(new FakeWhisper(), source, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    const error = await rejectedWhisperError(done);
    expect(error.code).toBe('ABORTED');
    await new Promise((resolve) => setImmediate(resolve));
    expect(returned).toBe(true);
  });

  it('aborts between windows', async () => {
    const { words, length } = makeSpeech(120, 4);
    const controller = new AbortController();
    const fake = new FakeWhisper(() => {
      if (fake.calls.length === 1) controller.abort();
    });
    const error = await rejectedWhisperError(collect(transcribeStream(fake, chunked(words, length, RATE), { windowMs: 10_000, signal: controller.signal })));
    expect(error.code).toBe('ABORTED');
    expect(fake.calls.length).toBe(2);
  });

  it('an abort whose reason is a WhisperError rejects with that error; others say the stream was aborted', async () => {
    const { words, length } = makeSpeech(60, 5);
    const timeout = new WhisperError('TIMEOUT', 'the stream took too long');
    const timedOut = new AbortController();
    const fake = new FakeWhisper(() => timedOut.abort(timeout));
    await expect(collect(transcribeStream(fake, chunked(words, length, RATE), { windowMs: 10_000, signal: timedOut.signal }))).rejects.toBe(timeout);
    const stopped = new AbortController();
    const withReason = new FakeWhisper(() => stopped.abort(new Error('user pressed stop')));
    const error = await rejectedWhisperError(collect(transcribeStream(withReason, chunked(words, length, RATE), { windowMs: 10_000, signal: stopped.signal })));
    expect(error.code).toBe('ABORTED');
    expect(error.message).toBe('the stream was aborted: user pressed stop');
  });

  it('a missing cut VAD model is MODEL_NOT_FOUND naming the option that gave it', async () => {
    const missing = path.join(os.tmpdir(), 'whisper-napi-no-such-vad.bin');
    const fake = new FakeWhisper();
    const viaCutVad = await rejectedWhisperError(collect(transcribeStream(fake, [new Float32Array(10)], { cutVad: { modelPath: missing } })));
    expect(viaCutVad.code).toBe('MODEL_NOT_FOUND');
    expect(viaCutVad.message).toMatch(/^options\.cutVad\.modelPath: /);
    // Without cutVad the cuts use the `vad` model, so its option is the one named.
    const viaVad = await rejectedWhisperError(collect(transcribeStream(fake, [new Float32Array(10)], { vad: { modelPath: missing } })));
    expect(viaVad.code).toBe('MODEL_NOT_FOUND');
    expect(viaVad.message).toMatch(/^options\.vad\.modelPath: /);
    expect(fake.calls).toHaveLength(0);
  });

  it('rejects bad options and chunks, naming them', async () => {
    const fake = new FakeWhisper();
    const cases: Array<[unknown, unknown, RegExp]> = [
      [[new Float32Array(10)], { windowMs: 40_000 }, /options\.windowMs: expected an integer from 2000 to 30000/],
      [[new Float32Array(10)], { format: 'u8' }, /options\.format: expected one of 'f32', 's16', got "u8"/],
      [[new Float32Array(10)], { cutSearchMs: 20_000 }, /options\.cutSearchMs: expected an integer from 200 to 15000/],
      [[new Float32Array(10)], { offsetMs: 5 }, /options\.offsetMs/],
      [[new Float32Array(10)], { cutVad: { modelPath: '' } }, /options\.cutVad\.modelPath/],
      [[new Int16Array(10)], {}, /source chunk 0: expected a Float32Array/],
      [[new Float32Array([0, Number.NaN])], {}, /source chunk 0: sample 1 is NaN/],
      [42, {}, /source: expected an AsyncIterable/],
    ];
    for (const [source, options, message] of cases) {
      const error = await rejectedWhisperError(collect(transcribeStream(fake, source as Iterable<PcmChunk>, options as object)));
      expect(error.code).toMatch(/INVALID_ARGUMENT|INVALID_AUDIO/);
      expect(error.message).toMatch(message);
    }
    expect(fake.calls).toHaveLength(0);
  });

  it('trims the trailing silence of the last window of a longer stream', async () => {
    const speech = makeSpeech(40, 9);
    const fake = new FakeWhisper();
    const segments = await collect(transcribeStream(fake, chunked(speech.words, speech.length + 8 * RATE, RATE), { windowMs: 20_000 }));
    expect(wordsOf(segments)).toHaveLength(speech.words.length);
    // The last window stops 300 ms (within a 10 ms frame) after the last word, not 9 s later.
    const tail = fake.calls.at(-1)!.trailingQuiet;
    expect(tail).toBeGreaterThan(0.28 * RATE);
    expect(tail).toBeLessThan(0.32 * RATE);
  });

  it('skips silent windows', async () => {
    const fake = new FakeWhisper();
    const segments = await collect(transcribeStream(fake, [new Float32Array(45 * RATE)], { windowMs: 20_000 }));
    expect(segments).toEqual([]);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('cut points', () => {
  it('energyCut finds the pause in the search region', () => {
    const w = new Float32Array(10 * RATE);
    for (let i = 0; i < w.length; i++) w[i] = 0.3 * Math.sin(i / 5);
    w.fill(0, Math.round(8.2 * RATE), Math.round(8.6 * RATE));
    const cut = energyCut(w, 3 * RATE);
    expect(cut.clean).toBe(true);
    expect(cut.sample).toBeGreaterThan(8.2 * RATE);
    expect(cut.sample).toBeLessThan(8.6 * RATE);
    // A pause outside the search region does not count.
    const early = energyCut(w, RATE);
    expect(early.clean).toBe(false);
    expect(early.sample).toBeGreaterThanOrEqual(9 * RATE);
  });

  it('vadCut takes the middle of the longest quiet run', () => {
    const probs = new Float32Array(100).fill(0.9);
    probs.fill(0.1, 60, 64);
    probs.fill(0.2, 80, 90);
    const cut = vadCut(probs, 1000, 1000 + 100 * 512, 50 * 512, 0.35);
    expect(cut).toEqual({ sample: 1000 + 85 * 512, clean: true });
    probs.fill(0.9, 80, 90);
    probs[95] = 0.5;
    expect(vadCut(probs, 1000, 1000 + 100 * 512, 30 * 512, 0.35)).toEqual({ sample: 1000 + Math.round(95.5 * 512), clean: false });
  });

  const seg = (startMs: number, endMs: number): Segment => ({
    index: 0,
    startMs,
    endMs,
    text: 'x',
    noSpeechProbability: 0,
    speakerTurnNext: false,
    temperature: 0,
    windowStartMs: 0,
    tokens: [],
  });

  it('stablePart holds back the last segment at an unclean cut, and carries audio whisper skipped', () => {
    const w = new Float32Array(20 * RATE).fill(0.2);
    const cut = { sample: 18 * RATE, clean: false };
    expect(stablePart([seg(0, 8000), seg(8000, 17_900)], w, cut, false, 0.001)).toEqual({ stable: 1, carryFrom: 8 * RATE });
    expect(stablePart([seg(0, 8000), seg(8000, 17_900)], w, { ...cut, clean: true }, false, 0.001)).toEqual({ stable: 2, carryFrom: 18 * RATE });
    expect(stablePart([seg(0, 8000), seg(8000, 12_000)], w, { ...cut, clean: true }, false, 0.001)).toEqual({ stable: 2, carryFrom: 12 * RATE });
    expect(stablePart([seg(0, 8000), seg(8000, 12_000)], w, cut, true, 0.001)).toEqual({ stable: 2, carryFrom: w.length });
  });

  it('stablePart does not carry the tail of the last word, but carries speech after the pause that follows it', () => {
    const cut = { sample: 18 * RATE, clean: true };
    const at = (ms: number) => Math.round((ms * RATE) / 1000);
    // Speech to 12.3 s, whisper's last segment ending at 12 s: the 300 ms after it are the word's tail.
    const tailOnly = new Float32Array(20 * RATE);
    tailOnly.fill(0.2, 0, at(12_300));
    expect(stablePart([seg(0, 8000), seg(8000, 12_000)], tailOnly, cut, false, 0.001)).toEqual({ stable: 2, carryFrom: cut.sample });
    // The same tail, then a pause, then speech whisper skipped: carried from the pause.
    const skipped = tailOnly.slice();
    skipped.fill(0.2, at(14_000), at(16_000));
    expect(stablePart([seg(0, 8000), seg(8000, 12_000)], skipped, cut, false, 0.001)).toEqual({ stable: 2, carryFrom: at(12_300) });
    // Sound going on well past a word's tail is speech whisper skipped: carried from the segment end.
    const longSound = new Float32Array(20 * RATE);
    longSound.fill(0.2, 0, at(15_000));
    expect(stablePart([seg(0, 8000), seg(8000, 12_000)], longSound, cut, false, 0.001)).toEqual({ stable: 2, carryFrom: at(12_000) });
  });
});
