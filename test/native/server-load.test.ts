/**
 * A small run of scripts/bench-server-load.mjs: 40 requests from 8 clients at once against
 * `whisper-napi serve --concurrency 2 --max-queue 4` (dist/cli/cli.js on 127.0.0.1; run `npm
 * run build` first), every response format, clips of 1 to 11 s. Each answer must be its own
 * clip's transcript, exactly as the server gave it for that clip alone, or a 429 with
 * Retry-After: none lost, none mixed up, no 5xx; and the server's metrics count the same.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';

const BASE = realModels().models.base!.files.q8_0!.path;
const CLIPS = [
  { id: 'jfk', wav: JFK_WAV },
  { id: 'card-001', wav: path.join(SHARED, 'audio', 'cards', '001.wav') },
  { id: 'card-005', wav: path.join(SHARED, 'audio', 'cards', '005.wav') },
  { id: 'librivox-0880', wav: path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0880.wav') },
  { id: 'librivox-0870', wav: path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav') },
];

describe('serve under a bounded load', () => {
  it('40 requests, 8 clients, concurrency 2, max queue 4: each its own transcript or a 429; 0 lost, 0 mixed up, 0 5xx', async () => {
    const { runServerLoad, FORMATS } = await import('../../scripts/bench-server-load.mjs');
    const report = await runServerLoad({ model: BASE, requests: 40, clients: 8, concurrency: 2, maxQueue: 4, threads: 1, clips: CLIPS });
    expect(report.problems).toEqual([]);
    expect({ lost: report.lost, mixedUp: report.mixedUp, wrong: report.wrong, serverErrors: report.serverErrors, otherStatus: report.otherStatus }).toEqual({
      lost: 0,
      mixedUp: 0,
      wrong: 0,
      serverErrors: 0,
      otherStatus: 0,
    });
    expect(report.ok + report.rejected).toBe(40);
    // The first 8 arrive together: 2 run and 4 wait, which all complete; at least the other 2 are refused.
    expect(report.ok).toBeGreaterThanOrEqual(6);
    expect(report.rejected).toBeGreaterThanOrEqual(2);
    expect(report.rejectedWithoutRetryAfter).toBe(0);
    // A refusal is immediate; a transcription is not.
    expect(report.rejectedMs.p99!).toBeLessThan(report.okMs.p50!);
    expect(report.serverCounted).toEqual({ completed: report.ok + CLIPS.length, rejected: report.rejected, failed: 0 });
    expect(Object.keys(report.byFormat)).toEqual([...FORMATS]);
    expect(report.exit).toEqual({ code: 0, signal: null });
    expect(report.stderr).toBe('');
  });
});
