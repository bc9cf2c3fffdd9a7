import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { WHISPER_N_FFT_BINS, whisperMelFilters } from '../../lib/model-files/mel-filters';
import { inspectModelFile } from '../../lib/model-files/inspect';
import { thrownWhisperError } from '../support/errors';
import { SHARED } from '../support/paths';

async function storedFilters(file: string): Promise<Buffer> {
  const info = await inspectModelFile(file, { checkTensors: false });
  const start = info.melFilters.offset + 8;
  return fs.readFileSync(file).subarray(start, start + 4 * info.melFilters.nMel * info.melFilters.nFft);
}

describe('whisperMelFilters', () => {
  test.each(['header-only-ggml-base.bin', 'header-only-ggml-tiny.en.bin'])('80 mels are bit-identical to the filters stored in %s', async (name) => {
    const stored = await storedFilters(path.join(SHARED, 'models', name));
    const computed = whisperMelFilters(80);
    expect(computed.length).toBe(80 * WHISPER_N_FFT_BINS);
    expect(Buffer.from(computed.buffer, computed.byteOffset, computed.byteLength).equals(stored)).toBe(true);
  });

  test('128 mels (large-v3): triangles that tile the spectrum with Slaney area normalisation', () => {
    const f = whisperMelFilters(128);
    expect(f.length).toBe(128 * WHISPER_N_FFT_BINS);
    for (let m = 0; m < 128; m++) {
      const row = f.subarray(m * WHISPER_N_FFT_BINS, (m + 1) * WHISPER_N_FFT_BINS);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      // one peak: rising then falling
      const peak = row.indexOf(Math.max(...row));
      for (let k = 1; k <= peak; k++) expect(row[k]).toBeGreaterThanOrEqual(row[k - 1]);
      for (let k = peak + 1; k < row.length; k++) expect(row[k]).toBeLessThanOrEqual(row[k - 1]);
    }
    // the first filter starts at DC, the highest peaks near the Nyquist bin; higher filters are wider, so lower
    expect(f[1]).toBeGreaterThan(0);
    expect(Math.max(...f.subarray(127 * WHISPER_N_FFT_BINS))).toBeLessThan(Math.max(...f.subarray(0, WHISPER_N_FFT_BINS)));
  });

  test('rejects a bad count', () => {
    expect(thrownWhisperError(() => whisperMelFilters(0)).code).toBe('INVALID_ARGUMENT');
    expect(() => whisperMelFilters(80.5)).toThrow(/^nMels: expected an integer from 1 to 512, got 80\.5$/);
  });
});
