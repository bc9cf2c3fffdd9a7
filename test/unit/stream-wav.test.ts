import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAudio } from '../../lib/audio/load';
import { decodeWav } from '../../lib/audio/wav';
import { openWavWindows } from '../../lib/audio/wav-windows';
import { rejectedWhisperError } from '../support/errors';
import { JFK_WAV } from '../support/paths';
import { buildWav, packFloats, packInts, prng, type WavSpec } from './wav-fixtures';
import { fifo, ioErrorFile, permissionDeniedFile } from './audio-file-fixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wav-stream-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function writeWav(spec: WavSpec): string {
  const file = path.join(dir, `f${fileNo++}.wav`);
  fs.writeFileSync(file, buildWav(spec));
  return file;
}

/** Noise-plus-tone test signal, interleaved, as integers of `bits`. */
function signal(frames: number, channels: number, seed: number): number[] {
  const rand = prng(seed);
  const out: number[] = [];
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) out.push(0.5 * Math.sin((2 * Math.PI * 440 * (c + 1) * f) / 16000) + 0.3 * (rand() * 2 - 1));
  }
  return out;
}

const toInt = (values: number[], bits: number) => values.map((v) => Math.max(-(2 ** (bits - 1)), Math.min(2 ** (bits - 1) - 1, Math.round(v * 2 ** (bits - 1)))));

async function readAll(file: string, windowSamples: number, channel?: 'mix' | number): Promise<{ joined: Float32Array; lengths: number[] }> {
  const { windows, info } = await openWavWindows(file, { windowSamples, ...(channel === undefined ? {} : { channel }) });
  const parts: Float32Array[] = [];
  for await (const w of windows) parts.push(w);
  const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  expect(joined.length).toBe(info.outputSamples);
  return { joined, lengths: parts.map((p) => p.length) };
}

function bitsOf(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

describe('openWavWindows: windows joined equal the whole-file decode, bit for bit', () => {
  const cases: Array<[string, WavSpec, number]> = [
    ['16 kHz s16 mono', { channels: 1, sampleRate: 16000, bitsPerSample: 16, data: packInts(toInt(signal(50_003, 1, 1), 16), 16) }, 4096],
    ['16 kHz f32 stereo', { formatTag: 3, channels: 2, sampleRate: 16000, bitsPerSample: 32, data: packFloats(signal(30_001, 2, 2), 32) }, 5000],
    ['44.1 kHz s24 stereo (polyphase resampling)', { channels: 2, sampleRate: 44100, bitsPerSample: 24, data: packInts(toInt(signal(88_211, 2, 3), 24), 24) }, 3000],
    ['48 kHz s16 3 channels', { channels: 3, sampleRate: 48000, bitsPerSample: 16, data: packInts(toInt(signal(96_001, 3, 4), 16), 16) }, 7777],
    [
      '8 kHz u8 (upsampling)',
      { channels: 1, sampleRate: 8000, bitsPerSample: 8, data: Uint8Array.from(signal(12_345, 1, 5), (v) => Math.round((v * 0.9 + 1) * 127.5)) },
      2048,
    ],
    ['44.1 kHz RIFX s16', { container: 'RIFX', channels: 1, sampleRate: 44100, bitsPerSample: 16, data: packInts(toInt(signal(40_000, 1, 6), 16), 16, true) }, 1500],
    ['RF64 f64 at 22050 Hz', { container: 'RF64', formatTag: 3, channels: 1, sampleRate: 22050, bitsPerSample: 64, data: packFloats(signal(33_333, 1, 7), 64) }, 4000],
    ['an odd rate (direct-kernel resampling)', { channels: 1, sampleRate: 44_101, bitsPerSample: 16, data: packInts(toInt(signal(20_000, 1, 8), 16), 16) }, 1111],
  ];
  for (const [name, spec, windowSamples] of cases) {
    it(name, async () => {
      const file = writeWav(spec);
      const whole = decodeWav(fs.readFileSync(file));
      const { joined, lengths } = await readAll(file, windowSamples);
      expect(lengths.length).toBeGreaterThan(2);
      expect(lengths.slice(0, -1).every((n) => n === windowSamples)).toBe(true);
      expect(joined.length).toBe(whole.length);
      expect(Buffer.from(bitsOf(joined).buffer).equals(Buffer.from(bitsOf(whole.slice()).buffer))).toBe(true);
    });
  }

  it('picks one channel as loadAudio does', async () => {
    const file = writeWav({ channels: 2, sampleRate: 32000, bitsPerSample: 16, data: packInts(toInt(signal(40_000, 2, 9), 16), 16) });
    const whole = await loadAudio(file, { channel: 1 });
    const { joined } = await readAll(file, 3000, 1);
    expect(Array.from(bitsOf(joined))).toEqual(Array.from(bitsOf(whole.slice())));
  });

  it('reads the real jfk.wav in windows to the same samples', async () => {
    const whole = await loadAudio(JFK_WAV);
    const { joined } = await readAll(JFK_WAV, 16000);
    expect(Buffer.from(joined.buffer).equals(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength))).toBe(true);
  });
});

describe('openWavWindows: errors', () => {
  it('names a missing file', async () => {
    const error = await rejectedWhisperError(openWavWindows(path.join(dir, 'nope.wav')));
    expect(error.code).toBe('AUDIO_NOT_FOUND');
    expect(error.message).toContain('nope.wav');
  });

  it('maps file-system errors exactly as loadAudio does', async () => {
    const file = writeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(400) });
    const cases: [string | undefined, string][] = [
      [path.join(dir, 'nope', 'missing.wav'), 'AUDIO_NOT_FOUND'],
      [path.join(file, 'inner.wav'), 'AUDIO_NOT_FOUND'],
      [dir, 'INVALID_ARGUMENT'],
      [fifo(dir), 'INVALID_ARGUMENT'],
      [permissionDeniedFile(dir), 'FILE_UNREADABLE'],
      [ioErrorFile(), 'FILE_UNREADABLE'],
    ];
    for (const [target, code] of cases) {
      if (target === undefined) continue; // not provokable on this machine
      const expected = await rejectedWhisperError(loadAudio(target));
      const error = await rejectedWhisperError(openWavWindows(target));
      expect(expected.code).toBe(code);
      expect(error.code).toBe(code);
      expect(error.message).toBe(expected.message);
    }
  });

  it('rejects what loadAudio rejects, with the file name', async () => {
    // A FLAC file is not a WAV file for openWavWindows; loadAudio hands it to the FLAC decoder.
    const notWav = path.join(dir, 'x.flac');
    fs.writeFileSync(notWav, Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(100)]));
    const notWavError = await rejectedWhisperError(openWavWindows(notWav));
    expect(notWavError.code).toBe('INVALID_AUDIO');
    expect(notWavError.message).toMatch(/^audio: not a WAV file: the bytes look like FLAC.*x\.flac\)$/);
    const adpcm = writeWav({ formatTag: 2, channels: 1, sampleRate: 16000, bitsPerSample: 4, data: new Uint8Array(100) });
    const empty = writeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(0) });
    for (const file of [adpcm, empty]) {
      const expected = await rejectedWhisperError(loadAudio(file));
      const error = await rejectedWhisperError(openWavWindows(file));
      expect(error.code).toBe('INVALID_AUDIO');
      expect(error.message).toBe(expected.message);
    }
  });

  it('checks windowSamples and channel', async () => {
    const file = writeWav({ channels: 2, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(400) });
    expect((await rejectedWhisperError(openWavWindows(file, { windowSamples: 10 }))).message).toMatch(/options\.windowSamples: expected/);
    expect((await rejectedWhisperError(openWavWindows(file, { channel: 2 }))).message).toMatch(/channel: expected .* 0 to 1/);
  });

  it('reports a NaN sample by its place in the whole file', async () => {
    const values = new Array(5000).fill(0.1);
    values[4321] = Number.NaN;
    const file = writeWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats(values, 32) });
    const { windows } = await openWavWindows(file, { windowSamples: 1024 });
    const error = await rejectedWhisperError(
      (async () => {
        for await (const _ of windows) void _;
      })(),
    );
    expect(error.message).toContain('sample 4321 is NaN');
  });
});
