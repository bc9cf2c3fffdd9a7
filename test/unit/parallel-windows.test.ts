/** The scheduling of one job's parallel windows, with a real Semaphore behind a stand-in pool and windows the test finishes by hand. */
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { transcribeParallelWindows, type WindowPlan } from '../../lib/model/parallel-windows';
import { Semaphore } from '../../lib/model/semaphore';
import type { PackedWindow } from '../../lib/stream/packed-windows';
import type { Segment, Transcript } from '../../lib/transcription/transcript';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await tick();
};

/** Window i: 1 s of audio taken from 10·i s of the original. */
function plan(count: number): WindowPlan & { windows: PackedWindow[] } {
  const windows = Array.from({ length: count }, (_, index) => ({
    index,
    pcm: new Float32Array(16000),
    map: [{ windowMs: 0, sourceMs: index * 10_000, durationMs: 1000 }],
  }));
  let next = 0;
  return {
    windows,
    next: () => Promise.resolve(windows[next++]),
    get ended() {
      return next >= count;
    },
    get planned() {
      return Math.min(next, count);
    },
    samplesRead: count * 160_000,
  };
}

function segmentAt(startMs: number, text: string): Segment {
  return { index: 0, startMs, endMs: startMs + 500, text, noSpeechProbability: 0, speakerTurnNext: false, temperature: 0, windowStartMs: 0, tokens: [] };
}

function transcriptOf(index: number, language = 'en'): Transcript {
  return {
    text: `w${index}`,
    segments: [segmentAt(100, ` w${index}a`), segmentAt(600, ` w${index}b`)],
    language,
    languageProbability: 0.9,
    audioDurationMs: 1000,
    timings: { audioMs: 0, queueMs: 0, inferenceMs: 100, languageDetectionMs: 1, encoderRuns: 1 },
  };
}

interface Call {
  state: string;
  index: number;
  language: string;
  signal: AbortSignal;
  finish: (transcript?: Transcript) => void;
  fail: (error: unknown) => void;
}

/** A pool of `concurrency` permits; the job holds one, as runJob's does. */
function setup(concurrency: number, windows: number, language = 'en') {
  const semaphore = new Semaphore({ concurrency });
  const ownRelease = semaphore.tryReserve();
  // The job's own permit counts as a job: take it through acquire instead.
  ownRelease?.();
  void semaphore.acquire();
  const calls: Call[] = [];
  let created = 0;
  let busy = 0;
  let peakBusy = 0;
  const pool = {
    tryReserve: () => semaphore.tryReserve(),
    nextFree: () => semaphore.nextFree(),
    withState: async <T>(work: (state: string) => Promise<T>) => {
      busy++;
      peakBusy = Math.max(peakBusy, busy);
      try {
        return await work(`lent-${created++}`);
      } finally {
        busy--;
      }
    },
  };
  const controller = new AbortController();
  const segments: Segment[] = [];
  const progress: number[] = [];
  const windowPlan = plan(windows);
  const job = transcribeParallelWindows({
    planner: windowPlan,
    pool,
    ownState: 'own',
    language,
    signal: controller.signal,
    statedSamples: undefined,
    onSegment: (s) => segments.push(s),
    onProgress: (p) => progress.push(p),
    transcribeWindow: (state, window, lang, signal) =>
      new Promise<Transcript>((resolve, reject) => {
        calls.push({ state, index: window.index, language: lang, signal, finish: (t) => resolve(t ?? transcriptOf(window.index)), fail: reject });
        signal.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'window aborted')), { once: true });
      }),
  });
  job.catch(() => undefined);
  return { semaphore, calls, job, controller, segments, progress, peak: () => peakBusy };
}

const running = (calls: Call[]) => calls.map((c) => `${c.index}@${c.state}`);

describe('transcribeParallelWindows', () => {
  it("runs a window on the job's state and one on each free permit, and gathers them in order in the original time", async () => {
    const { calls, job, segments, progress, semaphore, peak } = setup(3, 4);
    await ticks();
    expect(running(calls)).toEqual(['0@own', '1@lent-0', '2@lent-1']);
    expect(semaphore.stats()).toMatchObject({ running: 1 });
    expect(semaphore.borrowed).toBe(2);
    // Finished out of order: nothing is handed out before window 0.
    calls[2]!.finish();
    await ticks();
    expect(segments).toEqual([]);
    expect(running(calls)).toEqual(['0@own', '1@lent-0', '2@lent-1', '3@lent-2']);
    calls[0]!.finish();
    calls[1]!.finish();
    calls[3]!.finish();
    const transcript = await job;
    expect(transcript.segments.map((s) => [s.index, s.startMs, s.endMs, s.text])).toEqual([
      [0, 100, 600, ' w0a'],
      [1, 600, 1000, ' w0b'],
      [2, 10_100, 10_600, ' w1a'],
      [3, 10_600, 11_000, ' w1b'],
      [4, 20_100, 20_600, ' w2a'],
      [5, 20_600, 21_000, ' w2b'],
      [6, 30_100, 30_600, ' w3a'],
      [7, 30_600, 31_000, ' w3b'],
    ]);
    expect(segments).toEqual(transcript.segments);
    expect(transcript.text).toBe('w0a w0b w1a w1b w2a w2b w3a w3b');
    expect(transcript).toMatchObject({ language: 'en', languageProbability: 0.9, audioDurationMs: 40_000 });
    expect(transcript.timings).toMatchObject({ inferenceMs: 400, encoderRuns: 4 });
    expect(progress.at(-1)).toBe(100);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(peak()).toBe(2);
    expect(semaphore.borrowed).toBe(0);
  });

  it('gives a lent permit back when its window ends, so a job queued meanwhile gets it before the next window', async () => {
    const { calls, job, semaphore } = setup(2, 4);
    await ticks();
    expect(running(calls)).toEqual(['0@own', '1@lent-0']);
    let queuedGot = false;
    const queued = semaphore.acquire().then((release) => {
      queuedGot = true;
      return release;
    });
    calls[1]!.finish();
    await ticks();
    expect(queuedGot).toBe(true);
    expect(semaphore.stats()).toMatchObject({ running: 2, queued: 0 });
    // Window 2 waits for the job's own state rather than taking the queued job's permit.
    expect(running(calls)).toEqual(['0@own', '1@lent-0']);
    calls[0]!.finish();
    await ticks();
    expect(running(calls)).toEqual(['0@own', '1@lent-0', '2@own']);
    (await queued)();
    await ticks();
    expect(running(calls)).toEqual(['0@own', '1@lent-0', '2@own', '3@lent-1']);
    calls[2]!.finish();
    calls[3]!.finish();
    expect((await job).segments).toHaveLength(8);
  });

  it("with language 'auto' runs the first window alone and decodes the rest in the language it found", async () => {
    const { calls, job } = setup(3, 3, 'auto');
    await ticks();
    expect(running(calls)).toEqual(['0@own']);
    expect(calls[0]!.language).toBe('auto');
    calls[0]!.finish(transcriptOf(0, 'de'));
    await ticks();
    expect(running(calls)).toEqual(['0@own', '1@own', '2@lent-0']);
    expect(calls.slice(1).map((c) => c.language)).toEqual(['de', 'de']);
    calls[1]!.finish();
    calls[2]!.finish();
    expect((await job).language).toBe('de');
  });

  it('stops every other window when one fails, and rejects with that failure once all have settled', async () => {
    const { calls, job, semaphore } = setup(3, 5);
    await ticks();
    let settled = false;
    void job.catch(() => (settled = true));
    const failure = new WhisperError('TRANSCRIPTION_FAILED', 'window 1 failed');
    calls[1]!.fail(failure);
    await ticks();
    expect(calls[0]!.signal.aborted && calls[2]!.signal.aborted).toBe(true);
    await expect(job).rejects.toBe(failure);
    expect(settled).toBe(true);
    expect(calls).toHaveLength(3);
    expect(semaphore.borrowed).toBe(0);
  });

  it("aborts every window with the job's signal and rejects with its reason", async () => {
    const { calls, job, controller, semaphore } = setup(2, 3);
    await ticks();
    expect(calls).toHaveLength(2);
    controller.abort(new WhisperError('TIMEOUT', 'the transcription did not finish'));
    await expect(job).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(calls.every((c) => c.signal.aborted)).toBe(true);
    expect(calls).toHaveLength(2);
    expect(semaphore.borrowed).toBe(0);
  });

  it('ends with the error of an onSegment that throws', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const thrown = new Error('listener');
    const job = transcribeParallelWindows({
      planner: plan(2),
      pool: { tryReserve: () => semaphore.tryReserve(), nextFree: () => semaphore.nextFree(), withState: (work) => work('lent') },
      ownState: 'own',
      language: 'en',
      signal: new AbortController().signal,
      statedSamples: undefined,
      onSegment: () => {
        throw thrown;
      },
      transcribeWindow: (_state, window) => Promise.resolve(transcriptOf(window.index)),
    });
    await expect(job).rejects.toBe(thrown);
  });
});
