/** One model, many jobs: concurrent results equal sequential ones, and the event loop stays free. */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio, loadModel, type Transcript, type WhisperModel } from '../../lib';
import type { TranscribeOptions } from '../../lib/transcription/options';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';

const CLIPS = [
  JFK_WAV,
  path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0880.wav'),
  path.join(SHARED, 'audio', 'cards', '001.wav'),
  path.join(SHARED, 'audio', 'cards', '003.wav'),
];
// One thread per job: four jobs on two cores must not fight over spinning ggml threads.
const OPTIONS: TranscribeOptions = { language: 'en', threads: 1, temperatureIncrement: 0, tokenTimestamps: true };

function comparable(t: Transcript) {
  return { text: t.text, segments: t.segments, language: t.language };
}

describe('concurrency on one model', () => {
  const modelPath = inject('syntheticTinyEn');
  let model: WhisperModel;
  let pcms: Float32Array[];

  beforeAll(async () => {
    model = await loadModel(modelPath, { concurrency: 4 });
    pcms = await Promise.all(CLIPS.map((clip) => loadAudio(clip)));
  });
  afterAll(() => model?.dispose());

  it('4 concurrent transcriptions give the same results as 4 sequential ones, and really overlap', async () => {
    const sequential: Transcript[] = [];
    for (const pcm of pcms) sequential.push(await model.transcribe(pcm, OPTIONS));

    const spans: Array<{ start: number; end: number }> = [];
    const concurrent = await Promise.all(
      pcms.map(async (pcm, i) => {
        let start = Number.POSITIVE_INFINITY;
        const result = await model.transcribe(pcm, {
          ...OPTIONS,
          onProgress: () => {
            start = Math.min(start, performance.now());
          },
        });
        spans[i] = { start, end: performance.now() };
        return result;
      }),
    );
    expect(concurrent.map(comparable)).toEqual(sequential.map(comparable));
    // Every job had started (reported progress) before the first one finished.
    const firstEnd = Math.min(...spans.map((s) => s.end));
    for (const span of spans) expect(span.start).toBeLessThan(firstEnd);
  });

  it('the event loop keeps turning while jobs run', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const jobs = pcms.map((pcm) => model.transcribe(pcm, { ...OPTIONS, noTimestamps: true }));
    const first = await Promise.race(jobs);
    const ticksWhileRunning = ticks;
    await Promise.all(jobs);
    clearInterval(timer);
    expect(first.segments.length).toBeGreaterThan(0);
    // A blocked loop would not have run the timer at all before a job finished.
    expect(ticksWhileRunning).toBeGreaterThan(10);
  });

  it('the addon also works in a worker_thread beside the main thread, and the worker exits cleanly with a logger set', async () => {
    const main = model.transcribe(pcms[1], OPTIONS);
    const worker = new Worker(
      `const { loadModel, setLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'index.js'))});
       const { parentPort, workerData } = require('node:worker_threads');
       // A logger that is still set when the worker exits exercises the addon's teardown.
       setLogger(() => {}, { minLevel: 'debug' });
       (async () => {
         const model = await loadModel(workerData.modelPath);
         const result = await model.transcribe(workerData.clip, workerData.options);
         await model.dispose();
         parentPort.postMessage(result.text);
       })().catch((e) => parentPort.postMessage({ error: String(e) }));`,
      { eval: true, workerData: { modelPath, clip: CLIPS[1], options: OPTIONS } },
    );
    const fromWorker = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const exitCode = await new Promise<number>((resolve) => worker.once('exit', resolve));
    const fromMain = await main;
    expect(fromWorker).toBe(fromMain.text);
    expect(exitCode).toBe(0);
  });
});
