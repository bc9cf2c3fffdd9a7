import { afterAll, describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WaveFile } from 'wavefile';
import { loadAudio } from '../../lib/audio/load';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, type AudioInput, type AudioOptions } from '../../lib/audio/pcm';
import { resample } from '../../lib/audio/resample';
import { decodeWav, readWav } from '../../lib/audio/wav';
import { WhisperError, type WhisperErrorCode } from '../../lib/errors/whisper-error';
import { rejectedWhisperError, thrownWhisperError } from '../support/errors';
import { alawToLinear, bits32, buildWav, fitTone, mulawToLinear, packFloats, packInts, prng, rms, sine } from './wav-fixtures';
import { fifo, ioErrorFile, permissionDeniedFile } from './audio-file-fixtures';

const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');

/** A WAV written by wavefile's own writer. */
function wavefileBytes(channels: number, rate: number, bitDepth: string, samples: number[] | number[][]): Uint8Array {
  const wav = new WaveFile();
  wav.fromScratch(channels, rate, bitDepth, samples);
  return wav.toBuffer();
}

function randomInts(n: number, bits: number, seed: number): number[] {
  const rnd = prng(seed);
  const span = 2 ** bits;
  return Array.from({ length: n }, () => Math.floor(rnd() * span) - span / 2);
}

function expectError(err: WhisperError, code: WhisperErrorCode, message: RegExp): void {
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}

/** Walks the RIFF chunks itself (independently of the code under test) and returns the data chunk. */
function dataChunkOf(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    const size = view.getUint32(at + 4, true);
    if (id === 'data') return bytes.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size % 2);
  }
  throw new Error('no data chunk');
}

describe('decodeWav: sample conversion is bit-identical to miniaudio (dr_wav)', () => {
  it('16-bit: each sample is int16 / 32768 in float32 (hand-computed bit patterns)', () => {
    const ints = [0, 1, -1, 16384, -32768, 32767, 12345];
    // IEEE-754 single precision, worked out by hand: 2^-15 = 0x38000000, -1.0 = 0xBF800000,
    // 1 - 2^-15 = 0x3F7FFE00, 0x3039 * 2^-15 = 1.1000000111001b * 2^-2 = 0x3EC0E400.
    const expected = [0x00000000, 0x38000000, 0xb8000000, 0x3f000000, 0xbf800000, 0x3f7ffe00, 0x3ec0e400];
    const out = decodeWav(wavefileBytes(1, 16000, '16', ints));
    expect(out).toBeInstanceOf(Float32Array);
    expect(bits32(out)).toEqual(expected);
  });

  it('16-bit at 16 kHz is not resampled: 5000 random samples come back exactly as int / 32768', () => {
    const ints = randomInts(5000, 16, 1);
    const out = decodeWav(wavefileBytes(1, 16000, '16', ints));
    expect(out.length).toBe(5000);
    let mismatches = 0;
    for (let i = 0; i < ints.length; i++) if (out[i] !== ints[i]! / 32768) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('8-bit unsigned: float32(u * 0.00784313725490196078f) - 1, as dr_wav computes it, for all 256 codes', () => {
    const codes = Array.from({ length: 256 }, (_, i) => i);
    const out = decodeWav(wavefileBytes(1, 16000, '8', codes));
    // The C code, step by step in float32 registers (each typed-array store rounds to float32).
    const reg = new Float32Array(2);
    reg[1] = 0.00784313725490196078;
    for (const u of codes) {
      reg[0] = u;
      reg[0] = reg[0]! * reg[1]!;
      reg[0] = reg[0]! - 1;
      expect(out[u]).toBe(reg[0]);
      expect(Math.abs(out[u]! - ((u * 2) / 255 - 1))).toBeLessThan(1e-6);
    }
    expect(out[0]).toBe(-1);
  });

  it('24-bit: int24 / 2^23, exact', () => {
    const ints = [-8388608, -1, 0, 1, 8388607, 4660, -1234567];
    const out = decodeWav(wavefileBytes(1, 16000, '24', ints));
    expect(Array.from(out)).toEqual(ints.map((v) => v / 8388608));
  });

  it('32-bit: float32(int32 / 2^31)', () => {
    const ints = [-2147483648, -1, 0, 1, 2147483647, 123456789, -987654321];
    const out = decodeWav(wavefileBytes(1, 16000, '32', ints));
    expect(Array.from(out)).toEqual(ints.map((v) => Math.fround(v / 2147483648)));
    expect(out[0]).toBe(-1);
    expect(out[3]).toBe(2 ** -31);
    expect(out[4]).toBe(1); // 1 - 2^-31 rounds up to 1.0 in float32
  });

  it('32-bit float is taken as stored (no clipping), 64-bit float is rounded to float32', () => {
    const values = [0.1, -0.75, 1.5, -2, 1e-30, 0];
    const f32 = decodeWav(wavefileBytes(1, 16000, '32f', values));
    expect(Array.from(f32)).toEqual(values.map(Math.fround));
    const values64 = [0.1, 1 / 3, -0.999999999, 1e-300];
    const f64 = decodeWav(wavefileBytes(1, 16000, '64', values64));
    expect(Array.from(f64)).toEqual(values64.map(Math.fround));
    expect(f64[3]).toBe(0); // float32 underflow
  });

  it('every supported bit depth round-trips a sine within its quantization error', () => {
    const signal = Array.from(sine(1600, 16000, 440, 0.8));
    const cases: Array<[string, number[], number]> = [
      ['8', signal.map((s) => Math.round(s * 127) + 128), 2 / 128],
      ['16', signal.map((s) => Math.round(s * 32767)), 2 / 32768],
      ['24', signal.map((s) => Math.round(s * 8388607)), 2 / 8388608],
      ['32', signal.map((s) => Math.round(s * 2147483647)), 1e-7],
      ['32f', signal, 1e-7],
      ['64', signal, 1e-7],
    ];
    for (const [depth, stored, tolerance] of cases) {
      const out = decodeWav(wavefileBytes(1, 16000, depth, stored));
      expect(out.length, depth).toBe(1600);
      let worst = 0;
      for (let i = 0; i < signal.length; i++) worst = Math.max(worst, Math.abs(out[i]! - signal[i]!));
      expect(worst, `${depth}-bit`).toBeLessThan(tolerance);
    }
  });

  it('A-law and mu-law decode through G.711 to int16 / 32768 for all 256 codes', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const [tag, reference, name] of [
      [6, alawToLinear, 'A-law'],
      [7, mulawToLinear, 'mu-law'],
    ] as const) {
      const bytes = buildWav({ formatTag: tag, channels: 1, sampleRate: 16000, bitsPerSample: 8, data: codes });
      const wav = readWav(bytes);
      expect(wav.bitDepth).toBe(tag === 6 ? '8a' : '8m');
      expect(Array.from(wav.samples), name).toEqual(Array.from(codes, (c) => reference(c) / 32768));
    }
  });

  it('big-endian RIFX files decode to the same values', () => {
    const ints16 = [1, -2, 300, -32768, 32767];
    const ints24 = [1, -2, 300000, -8388608, 8388607];
    const floats = [0.5, -0.25, 0.125];
    const cases: Array<[number, number, Uint8Array, number[]]> = [
      [1, 16, packInts(ints16, 16, true), ints16.map((v) => v / 32768)],
      [1, 24, packInts(ints24, 24, true), ints24.map((v) => v / 8388608)],
      [3, 32, packFloats(floats, 32, true), floats],
    ];
    for (const [formatTag, bitsPerSample, data, expected] of cases) {
      const bytes = buildWav({ container: 'RIFX', formatTag, channels: 1, sampleRate: 16000, bitsPerSample, data });
      expect(Array.from(decodeWav(bytes)), `${bitsPerSample}-bit RIFX`).toEqual(expected);
    }
  });
});

describe('decodeWav: channels', () => {
  const left = randomInts(400, 16, 2);
  const right = randomInts(400, 16, 3);
  const stereo = wavefileBytes(2, 16000, '16', [left, right]);

  it("'mix' (the default) averages left and right: (L + R) / 65536, exactly", () => {
    const expected = left.map((l, i) => (l + right[i]!) / 65536);
    expect(Array.from(decodeWav(stereo))).toEqual(expected);
    expect(Array.from(decodeWav(stereo, { channel: 'mix' }))).toEqual(expected);
  });

  it('a channel index picks that channel', () => {
    expect(Array.from(decodeWav(stereo, { channel: 0 }))).toEqual(left.map((v) => v / 32768));
    expect(Array.from(decodeWav(stereo, { channel: 1 }))).toEqual(right.map((v) => v / 32768));
  });

  it('a channel index beyond the file is INVALID_ARGUMENT naming `channel` and the channel count', () => {
    for (const channel of [2, 5]) {
      const err = thrownWhisperError(() => decodeWav(stereo, { channel }));
      expectError(err, 'INVALID_ARGUMENT', /^channel: .*0 to 1.*2 channels.*got \d/);
    }
  });

  it('a malformed channel option or options value is INVALID_ARGUMENT', () => {
    for (const channel of [-1, 1.5, 'left', Number.NaN, null]) {
      const err = thrownWhisperError(() => decodeWav(stereo, { channel } as unknown as AudioOptions));
      expectError(err, 'INVALID_ARGUMENT', /^channel: expected 'mix' or a 0-based channel index/);
    }
    const err = thrownWhisperError(() => decodeWav(stereo, 'mix' as unknown as AudioOptions));
    expectError(err, 'INVALID_ARGUMENT', /^options: expected an object/);
  });

  it('more than two channels: mix is a float32 sum / channel count (plain and WAVE_FORMAT_EXTENSIBLE)', () => {
    const chans = [randomInts(300, 16, 4), randomInts(300, 16, 5), randomInts(300, 16, 6)];
    const interleaved = chans[0]!.flatMap((a, i) => [a, chans[1]![i]!, chans[2]![i]!]);
    const plain = wavefileBytes(3, 16000, '16', chans);
    const extensible = buildWav({ extensible: { subFormatTag: 1, validBits: 16 }, channels: 3, sampleRate: 16000, bitsPerSample: 16, data: packInts(interleaved, 16) });
    expect(Array.from(decodeWav(extensible))).toEqual(Array.from(decodeWav(plain)));
    const bytes = extensible;
    const out = decodeWav(bytes);
    // The float32 sum of three int16/32768 values is exact, so only the division rounds.
    const expected = chans[0]!.map((a, i) => Math.fround((a + chans[1]![i]! + chans[2]![i]!) / 32768 / 3));
    expect(Array.from(out)).toEqual(expected);
    expect(Array.from(decodeWav(bytes, { channel: 2 }))).toEqual(chans[2]!.map((v) => v / 32768));
    expectError(
      thrownWhisperError(() => decodeWav(bytes, { channel: 3 })),
      'INVALID_ARGUMENT',
      /channel: .*0 to 2.*3 channels/,
    );
  });

  it('mixing accumulates in float32 like miniaudio, not in double', () => {
    // float32: (1 + 2^-24) rounds to 1 twice, so the sum is 1 and the mix is float32(1/3).
    // A double sum would be 1 + 2^-23 and give a different float32 (1/3 + 1 ulp).
    const bytes = buildWav({ formatTag: 3, channels: 3, sampleRate: 16000, bitsPerSample: 32, data: packFloats([1, 2 ** -24, 2 ** -24], 32) });
    const out = decodeWav(bytes);
    expect(out[0]).toBe(Math.fround(1 / 3));
    expect(Math.fround((1 + 2 ** -23) / 3)).not.toBe(Math.fround(1 / 3));
  });

  it('WAVE_FORMAT_EXTENSIBLE: float subformat, and 20 valid bits in 24-bit containers decode as 24-bit', () => {
    const floats = [0.5, -0.5, 0.001];
    const f = buildWav({ extensible: { subFormatTag: 3, validBits: 32 }, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats(floats, 32) });
    expect(Array.from(decodeWav(f))).toEqual(floats.map(Math.fround));

    const v20 = [1, -1, 524287, -524288];
    const containers = v20.map((v) => v * 16); // MSB-aligned, as the WAVE spec says
    const p = buildWav({ extensible: { subFormatTag: 1, validBits: 20 }, channels: 1, sampleRate: 16000, bitsPerSample: 24, data: packInts(containers, 24) });
    expect(Array.from(decodeWav(p))).toEqual(v20.map((v) => v / 524288));
  });
});

describe('decodeWav: file structure', () => {
  it('chunks before and after the data chunk are skipped', () => {
    const ints = [5, -6, 7, -8];
    const bytes = buildWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: packInts(ints, 16),
      before: [
        { id: 'fact', body: packInts([4, 0], 16) },
        { id: 'LIST', body: Uint8Array.from([...'INFOISFT'].map((c) => c.charCodeAt(0)).concat([6, 0, 0, 0, 0x4c, 0x61, 0x76, 0x66, 0x35, 0])) },
        { id: 'JUNK', body: new Uint8Array(7) },
      ],
      after: [{ id: 'LIST', body: Uint8Array.from([...'INFOICMT'].map((c) => c.charCodeAt(0)).concat([2, 0, 0, 0, 0x68, 0])) }],
    });
    expect(Array.from(decodeWav(bytes))).toEqual(ints.map((v) => v / 32768));
  });

  it('RF64: the data size comes from the ds64 chunk, not the 0xFFFFFFFF placeholder', () => {
    const ints = [100, -200, 300, -400, 500];
    const bytes = buildWav({
      container: 'RF64',
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: packInts(ints, 16),
      after: [{ id: 'LIST', body: Uint8Array.from([...'INFOICMT'].map((c) => c.charCodeAt(0)).concat([2, 0, 0, 0, 0x68, 0])) }],
    });
    expect(Array.from(decodeWav(bytes))).toEqual(ints.map((v) => v / 32768));
  });

  it('an odd-sized 8-bit data chunk: the pad byte after it is not a sample', () => {
    const bytes = buildWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 8,
      data: Uint8Array.from([0, 64, 128, 192, 255]),
      after: [{ id: 'LIST', body: Uint8Array.from([...'INFO'].map((c) => c.charCodeAt(0))) }],
    });
    const out = decodeWav(bytes);
    expect(out.length).toBe(5);
    expect(out[0]).toBe(-1);
  });

  it('a data chunk shorter than declared (truncated file) decodes its complete frames only', () => {
    const ints = randomInts(200, 16, 7); // 100 stereo frames declared
    const bytes = buildWav({
      channels: 2,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: packInts(ints, 16).subarray(0, 242), // 60.5 frames present
      dataDeclaredSize: 400,
    });
    const out = decodeWav(bytes, { channel: 1 });
    expect(out.length).toBe(60);
    expect(Array.from(out)).toEqual(
      ints
        .filter((_, i) => i % 2 === 1)
        .slice(0, 60)
        .map((v) => v / 32768),
    );
  });

  it('works on a Uint8Array at an odd offset inside a larger buffer, and on a Buffer', () => {
    const ints = randomInts(64, 16, 8);
    const bytes = wavefileBytes(1, 16000, '16', ints);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const expected = ints.map((v) => v / 32768);
    expect(Array.from(decodeWav(big.subarray(3)))).toEqual(expected);
    expect(Array.from(decodeWav(Buffer.from(bytes)))).toEqual(expected);
  });

  it('readWav reports the original format and does not resample', () => {
    const bytes = wavefileBytes(2, 44100, '24', [randomInts(4410, 24, 9), randomInts(4410, 24, 10)]);
    const wav = readWav(bytes);
    expect(wav.sampleRate).toBe(44100);
    expect(wav.channels).toBe(2);
    expect(wav.bitDepth).toBe('24');
    expect(wav.samples.length).toBe(4410);
    expect(wav.durationSeconds).toBeCloseTo(0.1, 12);
  });

  it('a 48 kHz WAV comes out at 16 kHz with its tone intact', () => {
    const n = 48000;
    const tone = sine(n, 48000, 1000, 0.5);
    const bytes = wavefileBytes(
      1,
      48000,
      '16',
      Array.from(tone, (s) => Math.round(s * 32767)),
    );
    const out = decodeWav(bytes);
    expect(out.length).toBe(16000);
    const fit = fitTone(out, 16000, 1000, 500, 15500);
    expect(fit.amplitude).toBeGreaterThan(0.495);
    expect(fit.amplitude).toBeLessThan(0.505);
    expect(fit.residualRms).toBeLessThan(1e-3);
  });

  it.skipIf(!fs.existsSync(JFK))('jfk.wav (LIST chunk before data): 176000 samples, each int16 / 32768', async () => {
    const bytes = fs.readFileSync(JFK);
    const data = dataChunkOf(bytes);
    expect(data.length).toBe(352000);
    const raw = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const check = (out: Float32Array) => {
      expect(out.length).toBe(176000); // 11.0 s at 16 kHz
      let mismatches = 0;
      for (let i = 0; i < out.length; i++) if (out[i] !== raw.getInt16(i * 2, true) / 32768) mismatches++;
      expect(mismatches).toBe(0);
    };
    check(decodeWav(bytes));
    check(await loadAudio(JFK));
    const info = readWav(bytes);
    expect([info.sampleRate, info.channels, info.bitDepth, info.durationSeconds]).toEqual([16000, 1, '16', 11]);
  });
});

describe('decodeWav: bad input is INVALID_AUDIO with a message that says what is wrong', () => {
  const good = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: packInts([1, 2, 3, 4], 16) });

  it('random bytes, empty input, a wrong form type', () => {
    const rnd = prng(11);
    const noise = Uint8Array.from({ length: 1000 }, () => Math.floor(rnd() * 256));
    expectError(
      thrownWhisperError(() => decodeWav(noise)),
      'INVALID_AUDIO',
      /^audio: not a WAV file/,
    );
    expectError(
      thrownWhisperError(() => decodeWav(new Uint8Array(0))),
      'INVALID_AUDIO',
      /^audio: not a WAV file: 0 bytes/,
    );
    const avi = good.slice();
    avi.set([0x41, 0x56, 0x49, 0x20], 8); // RIFF....AVI
    expectError(
      thrownWhisperError(() => decodeWav(avi)),
      'INVALID_AUDIO',
      /^audio: not a WAV file/,
    );
  });

  it('names MP3, FLAC and Ogg when given those instead of WAV', () => {
    const make = (head: string) => Uint8Array.from([...head].map((c) => c.charCodeAt(0)).concat(new Array(64).fill(0)));
    expectError(
      thrownWhisperError(() => decodeWav(make('ID3\x04'))),
      'INVALID_AUDIO',
      /MP3/,
    );
    expectError(
      thrownWhisperError(() => decodeWav(make('fLaC'))),
      'INVALID_AUDIO',
      /FLAC/,
    );
    expectError(
      thrownWhisperError(() => decodeWav(make('OggS'))),
      'INVALID_AUDIO',
      /Ogg/,
    );
  });

  it('a truncated header', () => {
    for (const n of [4, 11, 12, 20, 30, 40]) {
      const err = thrownWhisperError(() => decodeWav(good.subarray(0, n)));
      expectError(err, 'INVALID_AUDIO', /^audio: (not a WAV file|WAV has no|WAV header is truncated)/);
    }
  });

  it('a fmt chunk that is cut off or too short', () => {
    expectError(
      thrownWhisperError(() => decodeWav(good.subarray(0, 30))),
      'INVALID_AUDIO',
      /^audio: WAV header is truncated: the "fmt " chunk has 10 of its 16 bytes/,
    );
    const short = good.slice();
    new DataView(short.buffer).setUint32(16, 12, true); // fmt size 12
    expectError(
      thrownWhisperError(() => decodeWav(short)),
      'INVALID_AUDIO',
      /^audio: WAV "fmt " chunk is too short \(12 bytes/,
    );
  });

  it('a RIFF/WAVE file without a data chunk', () => {
    const bytes = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, noData: true, after: [{ id: 'JUNK', body: new Uint8Array(8) }] });
    expectError(
      thrownWhisperError(() => decodeWav(bytes)),
      'INVALID_AUDIO',
      /^audio: WAV has no data chunk/,
    );
  });

  it('zero samples: an empty data chunk, or less than one frame', () => {
    const empty = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(0) });
    expectError(
      thrownWhisperError(() => decodeWav(empty)),
      'INVALID_AUDIO',
      /^audio: WAV has 0 samples/,
    );
    const partial = buildWav({ channels: 2, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(2) });
    expectError(
      thrownWhisperError(() => decodeWav(partial)),
      'INVALID_AUDIO',
      /^audio: WAV has 0 samples .*4-byte frame/,
    );
  });

  it('unsupported bit depths and encodings', () => {
    const pcm12 = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 12, blockAlign: 2, data: new Uint8Array(8) });
    expectError(
      thrownWhisperError(() => decodeWav(pcm12)),
      'INVALID_AUDIO',
      /^audio: unsupported WAV format: 12-bit PCM/,
    );
    const float16 = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(8) });
    expectError(
      thrownWhisperError(() => decodeWav(float16)),
      'INVALID_AUDIO',
      /^audio: unsupported WAV format: 16-bit float/,
    );
    const adpcm = buildWav({ formatTag: 0x11, channels: 1, sampleRate: 16000, bitsPerSample: 4, blockAlign: 256, data: new Uint8Array(256) });
    expectError(
      thrownWhisperError(() => decodeWav(adpcm)),
      'INVALID_AUDIO',
      /^audio: unsupported WAV encoding: IMA ADPCM \(format tag 0x0011\)/,
    );
    const extAdpcm = buildWav({
      extensible: { subFormatTag: 2, validBits: 4 },
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 4,
      blockAlign: 256,
      data: new Uint8Array(256),
    });
    expectError(
      thrownWhisperError(() => decodeWav(extAdpcm)),
      'INVALID_AUDIO',
      /Microsoft ADPCM .*EXTENSIBLE/,
    );
  });

  it('impossible header values: 0 channels, 0 Hz, 4 GHz', () => {
    const zeroChannels = buildWav({ channels: 0, sampleRate: 16000, bitsPerSample: 16, blockAlign: 2, data: new Uint8Array(8) });
    expectError(
      thrownWhisperError(() => decodeWav(zeroChannels)),
      'INVALID_AUDIO',
      /0 channels/,
    );
    for (const rate of [0, 4_000_000_000]) {
      const bytes = buildWav({ channels: 1, sampleRate: rate, bitsPerSample: 16, data: new Uint8Array(8) });
      expectError(
        thrownWhisperError(() => decodeWav(bytes)),
        'INVALID_AUDIO',
        new RegExp(`sample rate: the WAV header says ${rate} Hz`),
      );
    }
  });

  it('a float WAV with NaN or Infinity names the sample', () => {
    const nan = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats([0, 0.1, 0.2, 0.3, 0.4, Number.NaN, 0], 32) });
    expectError(
      thrownWhisperError(() => decodeWav(nan)),
      'INVALID_AUDIO',
      /^audio: sample 5 is NaN/,
    );
    const inf = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 64, data: packFloats([0, -Infinity], 64) });
    expectError(
      thrownWhisperError(() => decodeWav(inf)),
      'INVALID_AUDIO',
      /^audio: sample 1 is -Infinity/,
    );
  });

  it('never lets anything but a WhisperError out (truncations and corruptions of a valid file)', () => {
    const base = wavefileBytes(3, 44100, '24', [randomInts(60, 24, 12), randomInts(60, 24, 13), randomInts(60, 24, 14)]);
    const rnd = prng(15);
    const inputs: Uint8Array[] = [];
    for (let n = 0; n <= base.length; n += 3) inputs.push(base.slice(0, n));
    for (let k = 0; k < 300; k++) {
      const copy = base.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) copy[Math.floor(rnd() * 80)] = Math.floor(rnd() * 256);
      inputs.push(copy);
    }
    let decoded = 0;
    for (const bytes of inputs) {
      try {
        const out = decodeWav(bytes);
        expect(out.length).toBeGreaterThan(0);
        decoded++;
      } catch (err) {
        expect(err).toBeInstanceOf(WhisperError);
        expect((err as WhisperError).code).toBe('INVALID_AUDIO');
        expect((err as WhisperError).message).toMatch(/^audio: /);
      }
    }
    expect(decoded).toBeGreaterThan(0); // some corruptions (in the data) still decode
  });
});

describe('resample', () => {
  const rates = [44100, 48000, 8000, 22050, 11025, 44056, 44099, 16000.5];

  it.each(rates)('a 1 kHz sine at %d Hz becomes a clean 1 kHz sine at 16 kHz', (rate) => {
    const n = Math.round(rate / 2); // 0.5 s
    const x = Float32Array.from(sine(n, rate, 1000, 0.5));
    const y = resample(x, rate, 16000);
    expect(y.length).toBe(Math.round((n * 16000) / rate));
    const fit = fitTone(y, 16000, 1000, 300, y.length - 300);
    expect(Math.abs(fit.amplitude - 0.5)).toBeLessThan(0.005); // within 1%
    expect(Math.abs(fit.phase)).toBeLessThan(0.01); // output n is input time n / 16000: no delay
    expect(fit.residualRms).toBeLessThan(1e-3); // nothing but the tone (no aliases or images)
  });

  it('a 10 kHz tone at 48 kHz (above the 8 kHz output Nyquist) is attenuated by at least 40 dB', () => {
    const x = Float32Array.from(sine(48000, 48000, 10000, 1));
    const inputRms = rms(x);
    // Control: plain decimation would alias it to 6 kHz at full level.
    const naive = x.filter((_, i) => i % 3 === 0);
    expect(rms(naive) / inputRms).toBeGreaterThan(0.9);
    const y = resample(x, 48000, 16000);
    expect(rms(y, 300, y.length - 300) / inputRms).toBeLessThan(0.01);
  });

  it.each([48000, 44100, 44099])('tones from 8.5 kHz up at %d Hz are at least 60 dB down (stopband starts at 8 kHz)', (rate) => {
    for (const freq of [8500, 9000, 10000, 15000, 20000]) {
      const x = Float32Array.from(sine(Math.round(rate / 4), rate, freq, 1));
      const y = resample(x, rate, 16000);
      expect(rms(y, 300, y.length - 300) / rms(x), `${freq} Hz`).toBeLessThan(0.001);
    }
  });

  it('is flat in the passband: a 6 kHz tone keeps its level going from 48 kHz to 16 kHz', () => {
    const x = Float32Array.from(sine(48000, 48000, 6000, 0.5));
    const y = resample(x, 48000, 16000);
    const fit = fitTone(y, 16000, 6000, 300, y.length - 300);
    expect(Math.abs(fit.amplitude - 0.5)).toBeLessThan(0.0025);
  });

  it.each(rates)('preserves DC (%d Hz -> 16 kHz)', (rate) => {
    const x = new Float32Array(Math.round(rate / 10)).fill(0.25);
    const y = resample(x, rate, 16000);
    let worst = 0;
    for (let i = 300; i < y.length - 300; i++) worst = Math.max(worst, Math.abs(y[i]! - 0.25));
    expect(worst).toBeLessThan(1e-6);
  });

  it('output length is round(n * toRate / fromRate), also when upsampling', () => {
    for (const [from, to] of [
      [44100, 16000],
      [48000, 16000],
      [8000, 16000],
      [22050, 16000],
      [16000, 44100],
      [16000.5, 16000],
    ]) {
      for (const n of [0, 1, 2, 3, 441, 1000, 4411]) {
        expect(resample(new Float32Array(n), from!, to!).length, `${n} @ ${from} -> ${to}`).toBe(Math.round((n * to!) / from!));
      }
    }
  });

  it('equal rates give an equal copy', () => {
    const x = Float32Array.from([0.1, -0.2, 0.3]);
    const y = resample(x, 16000, 16000);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
  });

  it('rejects bad arguments with INVALID_ARGUMENT', () => {
    const x = new Float32Array(10);
    for (const rate of [0, -1, Number.NaN, Infinity, '16000']) {
      expectError(
        thrownWhisperError(() => resample(x, rate as number, 16000)),
        'INVALID_ARGUMENT',
        /^fromRate: expected a positive sample rate/,
      );
      expectError(
        thrownWhisperError(() => resample(x, 16000, rate as number)),
        'INVALID_ARGUMENT',
        /^toRate: expected a positive sample rate/,
      );
    }
    expectError(
      thrownWhisperError(() => resample([1, 2] as unknown as Float32Array, 8000, 16000)),
      'INVALID_ARGUMENT',
      /^samples: expected a Float32Array/,
    );
    expectError(
      thrownWhisperError(() => resample(x, 16_000_000, 16000)),
      'INVALID_ARGUMENT',
      /^toRate: /,
    );
  });
});

describe('loadAudio', () => {
  const ints = randomInts(320, 16, 20);
  const wav = wavefileBytes(1, 16000, '16', ints);
  const expected = ints.map((v) => v / 32768);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-audio-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('returns a Float32Array input itself after checking it', async () => {
    const pcm = Float32Array.from([0, 0.5, -0.5]);
    expect(await loadAudio(pcm)).toBe(pcm);
    expect(await loadAudio(pcm, { channel: 0 })).toBe(pcm);
  });

  it('rejects an empty Float32Array and a channel index other than 0 for PCM', async () => {
    expectError(await rejectedWhisperError(loadAudio(new Float32Array(0))), 'INVALID_ARGUMENT', /^audio: expected a non-empty Float32Array/);
    expectError(await rejectedWhisperError(loadAudio(new Float32Array(4), { channel: 1 })), 'INVALID_ARGUMENT', /^channel: /);
  });

  it('rejects NaN and Infinity, naming the first bad sample', async () => {
    const pcm = new Float32Array(10);
    pcm[3] = Number.NaN;
    pcm[7] = Infinity;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 3 is NaN/);
    pcm[3] = 0;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 7 is Infinity/);
    pcm[7] = 0;
    pcm[0] = -Infinity;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 0 is -Infinity/);
  });

  it('decodes Buffer and Uint8Array WAV bytes', async () => {
    expect(Array.from(await loadAudio(Buffer.from(wav)))).toEqual(expected);
    expect(Array.from(await loadAudio(new Uint8Array(wav)))).toEqual(expected);
  });

  it('reads a WAV file path', async () => {
    const file = path.join(tmp, 'ok.wav');
    fs.writeFileSync(file, wav);
    expect(Array.from(await loadAudio(file))).toEqual(expected);
  });

  it('a missing path is AUDIO_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'nope', 'missing.wav');
    expectError(await rejectedWhisperError(loadAudio(missing)), 'AUDIO_NOT_FOUND', /^audio: audio file not found: .*missing\.wav$/);
    const file = path.join(tmp, 'a-file.wav');
    fs.writeFileSync(file, wav);
    // ENOTDIR: a path through a file, also missing.
    expectError(await rejectedWhisperError(loadAudio(path.join(file, 'inner.wav'))), 'AUDIO_NOT_FOUND', /^audio: audio file not found: .*inner\.wav$/);
  });

  it('a directory is INVALID_ARGUMENT saying it is a directory', async () => {
    expectError(await rejectedWhisperError(loadAudio(tmp)), 'INVALID_ARGUMENT', /^audio: expected a file \(audio file\), got a directory: /);
  });

  const pipe = fifo(tmp);
  it.skipIf(pipe === undefined)('a FIFO is INVALID_ARGUMENT, without waiting for a writer', async () => {
    expectError(await rejectedWhisperError(loadAudio(pipe!)), 'INVALID_ARGUMENT', /^audio: expected a file \(audio file\), got a FIFO: .*pipe\.wav$/);
  });

  const denied = permissionDeniedFile(tmp);
  it.skipIf(denied === undefined)('a file we may not read is FILE_UNREADABLE, not AUDIO_NOT_FOUND', async () => {
    const error = await rejectedWhisperError(loadAudio(denied!));
    expectError(error, 'FILE_UNREADABLE', /^audio: permission denied reading audio file /);
    expect(error.message.endsWith(denied!)).toBe(true);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EACCES');
  });

  const broken = ioErrorFile();
  it.skipIf(broken === undefined)('a file whose read fails (EIO) is FILE_UNREADABLE with the reason', async () => {
    const error = await rejectedWhisperError(loadAudio(broken!));
    expectError(error, 'FILE_UNREADABLE', /^audio: cannot read audio file \/proc\/self\/mem: EIO/);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EIO');
  });

  it('a file in no format we know is left to ffmpeg, or is UNSUPPORTED_AUDIO without it, naming the file', async () => {
    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, 'hello, this is not audio at all');
    const savedPath = process.env.PATH;
    const savedFfmpeg = process.env.WHISPER_NAPI_FFMPEG;
    try {
      process.env.PATH = '';
      delete process.env.WHISPER_NAPI_FFMPEG;
      const err = await rejectedWhisperError(loadAudio(file));
      expectError(
        err,
        'UNSUPPORTED_AUDIO',
        /^audio: audio that is not WAV, FLAC, MP3 or Ogg Vorbis \(\d+ bytes, no known signature\) needs ffmpeg, which was not found: install it .*notes\.txt\)$/,
      );
      // A stand-in ffmpeg that fails as ffmpeg fails on such bytes: its exit status and stderr make the error.
      const fake = path.join(tmp, 'fake-ffmpeg');
      fs.writeFileSync(fake, '#!/bin/sh\necho "pipe:0: Invalid data found when processing input" >&2\nexit 1\n', { mode: 0o755 });
      const viaFfmpeg = await rejectedWhisperError(loadAudio(file, { ffmpegPath: fake }));
      expectError(viaFfmpeg, 'INVALID_AUDIO', /^audio: ffmpeg could not decode .*Invalid data found when processing input.*notes\.txt\)$/);
    } finally {
      process.env.PATH = savedPath;
      if (savedFfmpeg !== undefined) process.env.WHISPER_NAPI_FFMPEG = savedFfmpeg;
    }
  });

  it('a playlist (HLS, ffconcat, DASH) is UNSUPPORTED_AUDIO, never handed to ffmpeg to open what it names', async () => {
    const target = path.join(tmp, 'target.wav');
    fs.writeFileSync(target, buildWav({ sampleRate: 16000, channels: 1, bitsPerSample: 16, data: packInts(new Int16Array(1600), 16) }));
    const playlists = [
      `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://${target}\n#EXT-X-ENDLIST\n`,
      `ffconcat version 1.0\nfile '${target}'\n`,
      `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>\n`,
    ];
    for (const text of playlists) {
      expectError(await rejectedWhisperError(loadAudio(Buffer.from(text))), 'UNSUPPORTED_AUDIO', /^audio: a playlist/);
      const file = path.join(tmp, 'list.m3u8');
      fs.writeFileSync(file, text);
      expectError(await rejectedWhisperError(loadAudio(file)), 'UNSUPPORTED_AUDIO', /a playlist/);
    }
  });

  it('rejects (never throws synchronously) unsupported input types with INVALID_ARGUMENT naming `audio`', async () => {
    const bad: unknown[] = [42, null, undefined, true, {}, [0.1, 0.2], '', new Int16Array(4), new Float64Array(4), new ArrayBuffer(8)];
    for (const input of bad) {
      const promise = loadAudio(input as AudioInput);
      expect(promise).toBeInstanceOf(Promise);
      expectError(await rejectedWhisperError(promise), 'INVALID_ARGUMENT', /^audio: expected /);
    }
    expectError(await rejectedWhisperError(loadAudio(wav, 7 as unknown as AudioOptions)), 'INVALID_ARGUMENT', /^options: /);
  });

  it('WHISPER_SAMPLE_RATE is 16 kHz', () => {
    expect(WHISPER_SAMPLE_RATE).toBe(16000);
  });
});

describe('assertFinitePcm', () => {
  it('accepts finite samples (also outside [-1, 1]) and names the parameter and index otherwise', () => {
    expect(() => assertFinitePcm(Float32Array.from([0, 1, -1, 3.5, -1e30]))).not.toThrow();
    expectError(
      thrownWhisperError(() => assertFinitePcm(Float32Array.from([0, 0, Number.NaN]), 'pcm')),
      'INVALID_AUDIO',
      /^pcm: sample 2 is NaN/,
    );
    expectError(
      thrownWhisperError(() => assertFinitePcm(Float32Array.from([Infinity]))),
      'INVALID_AUDIO',
      /^audio: sample 0 is Infinity/,
    );
  });
});
