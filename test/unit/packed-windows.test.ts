import { describe, expect, it } from 'vitest';
import {
  PackedWindowPlanner,
  SEPARATOR_SAMPLES,
  SpeechDetector,
  VAD_FRAME,
  WindowPacker,
  mapSegment,
  mapTime,
  splitPoint,
  timeMap,
  type PackedWindow,
  type SpeechRegionOptions,
} from '../../lib/stream/packed-windows';
import type { Segment } from '../../lib/transcription/transcript';

const RATE = 16000;
/** whisper.cpp's defaults, as resolveTranscribeOptions fills them. */
const DEFAULTS: SpeechRegionOptions = { threshold: 0.5, minSpeechDurationMs: 250, minSilenceDurationMs: 100, speechPadMs: 30 };

/** Probabilities from runs of [frames, probability]. */
function probs(...runs: Array<[number, number]>): Float32Array {
  return Float32Array.from(runs.flatMap(([n, p]) => Array<number>(n).fill(p)));
}

function regionsOf(p: Float32Array, options = DEFAULTS, pieceFrames = p.length) {
  const detector = new SpeechDetector(options);
  const found = [];
  for (let i = 0; i < p.length; i += pieceFrames) found.push(...detector.push(p.subarray(i, i + pieceFrames)));
  found.push(...detector.finish(p.length * VAD_FRAME));
  return found;
}

describe('SpeechDetector: speech regions from Silero probabilities, as whisper.cpp finds them', () => {
  it('finds each run of speech, padded by speechPadMs', () => {
    // Speech from frame 10 (sample 5120) to 30 (15360), and from 40 (20480) to 60 (30720).
    const p = probs([10, 0], [20, 0.9], [10, 0], [20, 0.9], [10, 0]);
    expect(regionsOf(p)).toEqual([
      { start: 5120 - 480, end: 15360 + 480 },
      { start: 20480 - 480, end: 30720 + 480 },
    ]);
  });

  it('gives the same regions whatever pieces the probabilities come in', () => {
    const p = probs([10, 0], [20, 0.9], [3, 0.1], [2, 0.6], [10, 0], [20, 0.9], [4, 0.2], [30, 0.95], [10, 0]);
    const whole = regionsOf(p);
    expect(whole.length).toBeGreaterThan(1);
    for (const piece of [1, 3, 7, 32]) expect(regionsOf(p, DEFAULTS, piece)).toEqual(whole);
  });

  it('hands a region out as soon as the next speech is far enough, before the audio ends', () => {
    const detector = new SpeechDetector(DEFAULTS);
    // Speech from frame 10 to 30; 3 frames of silence are under minSilenceDurationMs.
    expect(detector.push(probs([10, 0], [20, 0.9], [3, 0]))).toEqual([]);
    // Found at frame 34, but speech 200 ms later (frame 36) would still merge with it.
    expect(detector.push(probs([2, 0]))).toEqual([]);
    // 200 ms and twice the padding after its end: nothing later can change it.
    expect(detector.push(probs([5, 0]))).toEqual([{ start: 4640, end: 15840 }]);
    expect(detector.push(probs([20, 0.9]))).toEqual([]);
    expect(detector.finish(60 * VAD_FRAME)).toEqual([{ start: 20480 - 480, end: 60 * VAD_FRAME }]);
  });

  it('merges speech less than 200 ms apart into one region', () => {
    // Silence of 6 frames (3072 samples, over minSilence but under 200 ms = 3200 samples).
    const p = probs([10, 0], [20, 0.9], [6, 0], [20, 0.9], [10, 0]);
    expect(regionsOf(p)).toEqual([{ start: 5120 - 480, end: 56 * VAD_FRAME + 480 }]);
  });

  it('keeps speech through a dip above the lower threshold (threshold - 0.15) and through silence under minSilenceDurationMs', () => {
    const p = probs([10, 0], [10, 0.9], [10, 0.4], [10, 0.9], [3, 0], [10, 0.9], [10, 0]);
    expect(regionsOf(p)).toEqual([{ start: 5120 - 480, end: 53 * VAD_FRAME + 480 }]);
  });

  it('drops speech shorter than minSpeechDurationMs', () => {
    // 7 frames = 3584 samples, under 250 ms (4000).
    expect(regionsOf(probs([10, 0], [7, 0.9], [10, 0]))).toEqual([]);
    expect(regionsOf(probs([10, 0], [7, 0.9], [10, 0]), { ...DEFAULTS, minSpeechDurationMs: 200 })).toEqual([{ start: 4640, end: 17 * VAD_FRAME + 480 }]);
  });

  it('splits the padding between regions closer than twice speechPadMs', () => {
    const p = probs([10, 0], [20, 0.9], [10, 0], [20, 0.9], [10, 0]);
    // speechPadMs 500 (8000 samples); the gap is 5120 samples: each side gets 2560.
    expect(regionsOf(p, { ...DEFAULTS, speechPadMs: 500 })).toEqual([
      { start: 0, end: 15360 + 2560 },
      { start: 20480 - 2560, end: Math.min(30720 + 8000, 70 * VAD_FRAME) },
    ]);
  });

  it('cuts speech that goes on for a window at its least likely frame, the rest continuing from there', () => {
    const p = probs([10, 0], [2500, 0.9], [10, 0]);
    const dip = 10 + 900;
    p[dip] = 0.6;
    const detector = new SpeechDetector(DEFAULTS, (f) => p[f]!);
    const cut = dip * VAD_FRAME + VAD_FRAME / 2;
    const found = [...detector.push(p.subarray(0, 1000)), ...detector.push(p.subarray(1000)), ...detector.finish(p.length * VAD_FRAME)];
    expect(found[0]).toEqual({ start: 5120 - 480, end: cut });
    expect(found[1]!.start).toBe(cut);
    expect(found.at(-1)!.end).toBe(2510 * VAD_FRAME + 480);
    for (let i = 1; i < found.length; i++) expect(found[i]!.start).toBe(found[i - 1]!.end);
    for (const r of found) expect(r.end - r.start).toBeLessThanOrEqual(30 * RATE);
  });

  it('ends speech still going at the end of the audio there, within the samples read', () => {
    expect(regionsOf(probs([10, 0], [20, 0.9]))).toEqual([{ start: 4640, end: 30 * VAD_FRAME }]);
    const detector = new SpeechDetector(DEFAULTS);
    detector.push(probs([10, 0], [20, 0.9]));
    expect(detector.finish(30 * VAD_FRAME - 100)).toEqual([{ start: 4640, end: 30 * VAD_FRAME - 100 }]);
  });
});

describe('splitPoint: where speech longer than a window is cut', () => {
  it('cuts inside the least likely frame of the last 5 s before the limit', () => {
    const p = new Float32Array(1000).fill(0.9);
    p[900] = 0.1;
    p[700] = 0.01; // more than 5 s before the limit: not searched
    expect(splitPoint(0, 30 * RATE, (f) => p[f]!)).toBe(900 * VAD_FRAME + VAD_FRAME / 2);
  });

  it('takes the latest of equally unlikely frames, and the limit when no frame fits', () => {
    const p = new Float32Array(1000).fill(0.9);
    p[850] = 0.2;
    p[880] = 0.2;
    expect(splitPoint(0, 30 * RATE, (f) => p[f]!)).toBe(880 * VAD_FRAME + VAD_FRAME / 2);
    expect(splitPoint(1000, 1000 + VAD_FRAME, () => 0.5)).toBe(1000 + VAD_FRAME);
  });
});

describe('WindowPacker: regions packed in order into windows of at most 30 s', () => {
  const s = (seconds: number) => Math.round(seconds * RATE);

  it('adds regions to a window while they fit with a separator between them', () => {
    const packer = new WindowPacker(() => 0.9);
    const a = { start: s(1), end: s(10.7) };
    const b = { start: s(12), end: s(21.7) };
    const c = { start: s(25), end: s(34.7) };
    const d = { start: s(40), end: s(40.5) };
    expect(packer.add(a)).toEqual([]);
    expect(packer.add(b)).toEqual([]);
    // 9.7 s x 3 and two separators of 0.3 s: exactly 29.7 s.
    expect(packer.add(c)).toEqual([]);
    expect(packer.add(d)).toEqual([[a, b, c]]);
    expect(packer.finish()).toEqual([[d]]);
  });

  it('closes the open window before speech longer than a window, and splits that speech at its least likely frames', () => {
    const p = new Float32Array(Math.ceil(s(100) / VAD_FRAME)).fill(0.9);
    const dip1 = Math.floor(s(38) / VAD_FRAME);
    const dip2 = Math.floor(s(66) / VAD_FRAME);
    p[dip1] = 0.05;
    p[dip2] = 0.05;
    const packer = new WindowPacker((f) => p[f]!);
    const short = { start: s(0), end: s(2) };
    expect(packer.add(short)).toEqual([]);
    const cut1 = dip1 * VAD_FRAME + VAD_FRAME / 2;
    const cut2 = dip2 * VAD_FRAME + VAD_FRAME / 2;
    expect(packer.add({ start: s(10), end: s(80) })).toEqual([[short], [{ start: s(10), end: cut1 }], [{ start: cut1, end: cut2 }]]);
    expect(packer.finish()).toEqual([[{ start: cut2, end: s(80) }]]);
  });
});

describe('the time map: window time back to the original audio', () => {
  // One second from 1 s, then 0.3 s of separator, then one second from 4 s.
  const map = timeMap([
    { start: 16000, end: 32000 },
    { start: 64000, end: 80000 },
  ]);

  it('places each piece after the one before and the separator', () => {
    expect(SEPARATOR_SAMPLES).toBe(4800);
    expect(map).toEqual([
      { windowMs: 0, sourceMs: 1000, durationMs: 1000 },
      { windowMs: 1300, sourceMs: 4000, durationMs: 1000 },
    ]);
  });

  it('maps times inside pieces by their offsets, and times in a separator to the next start or the previous end', () => {
    expect(mapTime(map, 0)).toBe(1000);
    expect(mapTime(map, 500)).toBe(1500);
    expect(mapTime(map, 1800)).toBe(4500);
    expect(mapTime(map, 1000)).toBe(4000);
    expect(mapTime(map, 1000, 'end')).toBe(2000);
    expect(mapTime(map, 1150)).toBe(4000);
    expect(mapTime(map, 1150, 'end')).toBe(2000);
    expect(mapTime(map, 1300, 'end')).toBe(2000);
    expect(mapTime(map, 1310, 'end')).toBe(4010);
    expect(mapTime(map, 2300, 'end')).toBe(5000);
  });

  it('holds times outside the window to its first start and last end', () => {
    expect(mapTime(map, -20)).toBe(1000);
    expect(mapTime(map, 0, 'end')).toBe(1000);
    expect(mapTime(map, 9000)).toBe(5000);
    expect(mapTime(map, 9000, 'end')).toBe(5000);
  });

  it("maps a segment's times, its tokens' and its words', and numbers it", () => {
    const segment: Segment = {
      index: 0,
      startMs: 200,
      endMs: 1800,
      text: ' one two',
      noSpeechProbability: 0.01,
      speakerTurnNext: false,
      temperature: 0,
      windowStartMs: 0,
      tokens: [
        {
          id: 1,
          special: false,
          text: ' one',
          probability: 0.9,
          logProbability: -0.1,
          timestampProbability: 0.5,
          timestampProbabilitySum: 0.6,
          startMs: 200,
          endMs: 1000,
          dtwMs: 300,
        },
      ],
      words: [
        { text: ' one', startMs: 200, endMs: 1000, probability: 0.9 },
        { text: ' two', startMs: 1000, endMs: 1800, probability: 0.8 },
      ],
    };
    const mapped = mapSegment(segment, map, 7);
    expect(mapped).toMatchObject({ index: 7, startMs: 1200, endMs: 4500, windowStartMs: 1000, text: ' one two' });
    expect(mapped.tokens[0]).toMatchObject({ startMs: 1200, endMs: 2000, dtwMs: 1300 });
    expect(mapped.words).toEqual([
      { text: ' one', startMs: 1200, endMs: 2000, probability: 0.9 },
      { text: ' two', startMs: 4000, endMs: 4500, probability: 0.8 },
    ]);
    expect(segment.startMs).toBe(200);
  });
});

describe('PackedWindowPlanner: windows from PCM pieces as they are read', () => {
  /** PCM with "speech" (0.5) in the given [from, to) seconds, silence elsewhere. */
  function pcmWithSpeech(seconds: number, speech: Array<[number, number]>): Float32Array {
    const pcm = new Float32Array(seconds * RATE);
    for (const [from, to] of speech) pcm.fill(0.5, from * RATE, to * RATE);
    return pcm;
  }
  /** A stand-in for Silero: speech where a frame is loud. */
  const loudness = (pcm: Float32Array) =>
    Promise.resolve(Float32Array.from({ length: Math.ceil(pcm.length / VAD_FRAME) }, (_, f) => (Math.abs(pcm[f * VAD_FRAME]!) > 0.1 ? 0.9 : 0.02)));
  const options = { ...DEFAULTS, speechProbabilities: loudness };

  async function* piecesOf(pcm: Float32Array, size: number, pulled: { count: number }) {
    for (let i = 0; i < pcm.length; i += size) {
      pulled.count++;
      yield pcm.slice(i, i + size);
    }
  }

  async function allWindows(planner: PackedWindowPlanner): Promise<PackedWindow[]> {
    const windows: PackedWindow[] = [];
    for (let w = await planner.next(); w !== undefined; w = await planner.next()) windows.push(w);
    return windows;
  }

  it("packs the speech, leaves the silence out, and each window's audio is its pieces with separators", async () => {
    // Whole multiples of 4 s lie on Silero's 32 ms frames, so each region is its speech and 30 ms of padding.
    const speech: Array<[number, number]> = [
      [4, 12],
      [16, 24],
      [40, 48],
      [72, 84],
    ];
    const pcm = pcmWithSpeech(100, speech);
    const planner = new PackedWindowPlanner(piecesOf(pcm, 5 * RATE, { count: 0 }), options);
    const windows = await allWindows(planner);
    expect(windows.map((w) => w.index)).toEqual([0, 1]);
    expect(windows.map((w) => w.map.map((p) => [p.sourceMs, p.durationMs]))).toEqual([
      [
        [3970, 8060],
        [15970, 8060],
        [39970, 8060],
      ],
      [[71970, 12060]],
    ]);
    for (const w of windows) {
      let at = 0;
      for (const piece of w.map) {
        expect(piece.windowMs).toBe(at / 16);
        const from = piece.sourceMs * 16;
        expect(w.pcm.subarray(at, at + piece.durationMs * 16)).toEqual(pcm.subarray(from, from + piece.durationMs * 16));
        at += piece.durationMs * 16;
        if (at < w.pcm.length) expect(w.pcm.subarray(at, at + SEPARATOR_SAMPLES).every((x) => x === 0)).toBe(true);
        at += SEPARATOR_SAMPLES;
      }
      expect(w.pcm.length).toBe(at - SEPARATOR_SAMPLES);
    }
    expect(planner.ended).toBe(true);
    expect(planner.samplesRead).toBe(pcm.length);
    expect(await planner.next()).toBeUndefined();
  });

  it('reads the source only as far as the next window needs', async () => {
    const speech: Array<[number, number]> = Array.from({ length: 30 }, (_, i) => [i * 20 + 1, i * 20 + 11]);
    const pcm = pcmWithSpeech(600, speech);
    const pulled = { count: 0 };
    const planner = new PackedWindowPlanner(piecesOf(pcm, 5 * RATE, pulled), options);
    const first = await planner.next();
    // The first window holds two 10 s regions (the third would overflow it), settled by ~60 s of audio.
    expect(first!.map).toHaveLength(2);
    expect(pulled.count * 5).toBeLessThanOrEqual(100);
    expect(planner.ended).toBe(false);
    const rest = await allWindows(planner);
    expect(rest).toHaveLength(14);
    expect(pulled.count).toBe(120);
  });

  it('plans no window for audio without speech, and closes the source when asked', async () => {
    const planner = new PackedWindowPlanner(piecesOf(new Float32Array(40 * RATE), RATE, { count: 0 }), options);
    expect(await planner.next()).toBeUndefined();
    let closed = false;
    async function* endless() {
      try {
        for (;;) yield new Float32Array(RATE).fill(0.5);
      } finally {
        closed = true;
      }
    }
    // Unbroken speech is cut a window at a time, so even an endless source gives windows.
    const open = new PackedWindowPlanner(endless(), options);
    const first = await open.next();
    expect(first!.pcm.length).toBeLessThanOrEqual(30 * RATE);
    expect(first!.pcm.length).toBeGreaterThan(29 * RATE);
    expect(closed).toBe(false);
    await open.close();
    expect(closed).toBe(true);
  });

  it('gives Silero a little audio before each new stretch, and drops its probabilities', async () => {
    const lengths: number[] = [];
    const counting = (pcm: Float32Array) => {
      lengths.push(pcm.length);
      return loudness(pcm);
    };
    const pcm = pcmWithSpeech(70, [[5, 60]]);
    const windows = await allWindows(new PackedWindowPlanner(piecesOf(pcm, 7 * RATE, { count: 0 }), { ...DEFAULTS, speechProbabilities: counting }));
    const step = 937 * VAD_FRAME;
    const context = 32 * VAD_FRAME;
    expect(lengths).toEqual([step, step + context, 70 * RATE - 2 * step + context]);
    // 55 s of speech: split in two windows at the limit (no quieter frame), mapped without a gap.
    expect(windows).toHaveLength(2);
    expect(windows[0]!.map[0]!.sourceMs + windows[0]!.map[0]!.durationMs).toBe(windows[1]!.map[0]!.sourceMs);
  });
});
