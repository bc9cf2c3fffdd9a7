/**
 * Audio that decodes to hours costs a job only what it uses: a 25 MiB WAV at 1 kHz (7.3 hours)
 * as bytes is decoded off the event loop, in pieces, only as far as durationMs reaches; without
 * a range it is windowed and ended by timeoutMs; audio.maxDurationMs refuses it from its
 * stated length. Run in a child process (scripts/bench-audio-bounds.mjs, the benchmark's own
 * cases), so the stall and the memory measured are that process's alone. The bounds are far
 * above what the fixed path costs and far below what the old one did (a 65 s stall, +5.6 GB).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../support/paths';

interface Row {
  name: string;
  outcome: string;
  wallMs: number;
  maxStallMs: number;
  rssRiseMiB: number;
}

describe('audio that decodes to hours', () => {
  it('stays within the stall, memory and time a job may take', () => {
    const output = execFileSync(
      process.execPath,
      ['--expose-gc', path.join(REPO_ROOT, 'scripts', 'bench-audio-bounds.mjs'), '--model', inject('syntheticTinyEn'), '--json'],
      {
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    const rows = new Map((JSON.parse(output) as Row[]).map((row) => [row.name, row]));
    const row = (name: string) => rows.get(name)!;

    expect(row('wav-1khz-duration').outcome).toMatch(/^ok/);
    expect(row('wav-44k-stereo').outcome).toMatch(/^ok/);
    expect(row('wav-1khz-timeout').outcome).toBe('TIMEOUT');
    expect(row('wav-1khz-timeout').wallMs).toBeLessThan(3000 + 5000);
    expect(row('wav-1khz-cap').outcome).toBe('AUDIO_TOO_LONG');
    expect(row('wav-1khz-cap').wallMs).toBeLessThan(1000);
    for (const r of rows.values()) {
      expect(r.maxStallMs, r.name).toBeLessThan(500);
      expect(r.rssRiseMiB, r.name).toBeLessThan(300);
    }
  });
});
