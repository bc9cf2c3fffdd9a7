/**
 * WAV through loadAudio: the bytes reach the addon's dr_wav (miniaudio, as whisper-cli decodes
 * them) and come back as 16 kHz mono float32. At 16 kHz nothing is resampled, so every format
 * is checked exactly against miniaudio's f32 conversion, worked out here independently (int16 /
 * 32768, u8 * 0.00784313725490196078f - 1, the G.711 tables); then the channel mix and pick,
 * chunk layouts, long files read in pieces, and bad input as a typed WhisperError.
 */
import fs from 'node:fs';
import path from 'node:path';
import { WaveFile } from 'wavefile';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio } from '../../lib/audio/load';
import { native } from '../../lib/native/addon';
import { WhisperError, type WhisperErrorCode } from '../../lib/errors/whisper-error';
import { rejectedWhisperError } from '../support/errors';
import { JFK_WAV } from '../support/paths';
import { readAllPieces } from '../support/pcm-pieces';
import { alawToLinear, bits32, buildWav, fitTone, mulawToLinear, packFloats, packInts, prng, sine } from '../unit/wav-fixtures';

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

async function expectRejection(promise: Promise<unknown>, code: WhisperErrorCode, message: RegExp): Promise<void> {
  const error = await rejectedWhisperError(promise);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}

/** Walks the RIFF chunks itself (independently of the decoder) and returns the data chunk. */
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

const NOT_VALID = /^audio: not a valid WAV stream \(miniaudio: /;

describe('16 kHz WAV comes back exactly as miniaudio converts each format to float32', () => {
  it('16-bit: each sample is int16 / 32768 (hand-computed bit patterns)', async () => {
    const ints = [0, 1, -1, 16384, -32768, 32767, 12345];
    // IEEE-754 single precision, worked out by hand: 2^-15 = 0x38000000, -1.0 = 0xBF800000,
    // 1 - 2^-15 = 0x3F7FFE00, 0x3039 * 2^-15 = 1.1000000111001b * 2^-2 = 0x3EC0E400.
    const expected = [0x00000000, 0x38000000, 0xb8000000, 0x3f000000, 0xbf800000, 0x3f7ffe00, 0x3ec0e400];
    const out = await loadAudio(wavefileBytes(1, 16000, '16', ints));
    expect(out).toBeInstanceOf(Float32Array);
    expect(bits32(out)).toEqual(expected);
  });

  it('16-bit is not resampled: 5000 random samples come back exactly as int / 32768', async () => {
    const ints = randomInts(5000, 16, 1);
    const out = await loadAudio(wavefileBytes(1, 16000, '16', ints));
    expect(out.length).toBe(5000);
    let mismatches = 0;
    for (let i = 0; i < ints.length; i++) if (out[i] !== ints[i]! / 32768) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('8-bit unsigned: float32(u * 0.00784313725490196078f) - 1, as dr_wav computes it, for all 256 codes', async () => {
    const codes = Array.from({ length: 256 }, (_, i) => i);
    const out = await loadAudio(wavefileBytes(1, 16000, '8', codes));
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

  it('24-bit: int24 / 2^23, exact', async () => {
    const ints = [-8388608, -1, 0, 1, 8388607, 4660, -1234567];
    const out = await loadAudio(wavefileBytes(1, 16000, '24', ints));
    expect(Array.from(out)).toEqual(ints.map((v) => v / 8388608));
  });

  it('32-bit: float32(int32 / 2^31)', async () => {
    const ints = [-2147483648, -1, 0, 1, 2147483647, 123456789, -987654321];
    const out = await loadAudio(wavefileBytes(1, 16000, '32', ints));
    expect(Array.from(out)).toEqual(ints.map((v) => Math.fround(v / 2147483648)));
    expect(out[0]).toBe(-1);
    expect(out[3]).toBe(2 ** -31);
    expect(out[4]).toBe(1); // 1 - 2^-31 rounds up to 1.0 in float32
  });

  it('32-bit float is taken as stored (no clipping), 64-bit float is rounded to float32', async () => {
    const values = [0.1, -0.75, 1.5, -2, 1e-30, 0];
    const f32 = await loadAudio(wavefileBytes(1, 16000, '32f', values));
    expect(Array.from(f32)).toEqual(values.map(Math.fround));
    const values64 = [0.1, 1 / 3, -0.999999999, 1e-300];
    const f64 = await loadAudio(wavefileBytes(1, 16000, '64', values64));
    expect(Array.from(f64)).toEqual(values64.map(Math.fround));
    expect(f64[3]).toBe(0); // float32 underflow
  });

  it('A-law and mu-law decode through G.711 to int16 / 32768 for all 256 codes', async () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const [tag, reference, name] of [
      [6, alawToLinear, 'A-law'],
      [7, mulawToLinear, 'mu-law'],
    ] as const) {
      const bytes = buildWav({ formatTag: tag, channels: 1, sampleRate: 16000, bitsPerSample: 8, data: codes });
      expect(Array.from(await loadAudio(bytes)), name).toEqual(Array.from(codes, (c) => reference(c) / 32768));
    }
  });

  it('big-endian RIFX files decode to the same values', async () => {
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
      expect(Array.from(await loadAudio(bytes)), `${bitsPerSample}-bit RIFX`).toEqual(expected);
    }
  });

  it('WAVE_FORMAT_EXTENSIBLE: float subformat, and 20 valid bits in 24-bit containers decode as 24-bit', async () => {
    const floats = [0.5, -0.5, 0.001];
    const f = buildWav({ extensible: { subFormatTag: 3, validBits: 32 }, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats(floats, 32) });
    expect(Array.from(await loadAudio(f))).toEqual(floats.map(Math.fround));

    const v20 = [1, -1, 524287, -524288];
    const containers = v20.map((v) => v * 16); // MSB-aligned, as the WAVE spec says
    const p = buildWav({ extensible: { subFormatTag: 1, validBits: 20 }, channels: 1, sampleRate: 16000, bitsPerSample: 24, data: packInts(containers, 24) });
    expect(Array.from(await loadAudio(p))).toEqual(v20.map((v) => v / 524288));
  });

  it('IMA and Microsoft ADPCM decode (dr_wav has both): a block each, to the frames it holds', async () => {
    // All-zero blocks: a zero predictor and step, so silence. IMA: 1 + 2 x 252 frames; MS: 2 + 2 x 249.
    const ima = buildWav({ formatTag: 0x11, channels: 1, sampleRate: 16000, bitsPerSample: 4, blockAlign: 256, data: new Uint8Array(256) });
    expect(Array.from(await loadAudio(ima))).toEqual(new Array(505).fill(0));
    const ms = buildWav({ extensible: { subFormatTag: 2, validBits: 4 }, channels: 1, sampleRate: 16000, bitsPerSample: 4, blockAlign: 256, data: new Uint8Array(256) });
    expect(Array.from(await loadAudio(ms))).toEqual(new Array(500).fill(0));
    // A tone, IMA-encoded by wavefile (at 8 kHz, the only rate it encodes), keeps its frequency.
    const tone = new WaveFile();
    tone.fromScratch(
      1,
      8000,
      '16',
      Array.from(sine(8000, 8000, 500, 0.5), (s) => Math.round(s * 32767)),
    );
    tone.toIMAADPCM();
    const out = await loadAudio(Buffer.from(tone.toBuffer()));
    // wavefile pads the encoded audio out past the last block it fills (its fact chunk says 9144 frames).
    expect(out.length).toBeGreaterThanOrEqual(16000);
    expect(out.length).toBeLessThanOrEqual(2 * 9144);
    const fit = fitTone(out, 16000, 500, 1000, 15000);
    expect(fit.amplitude).toBeGreaterThan(0.45);
    expect(fit.residualRms).toBeLessThan(0.05);
  });
});

describe('channels', () => {
  const left = randomInts(400, 16, 2);
  const right = randomInts(400, 16, 3);
  const stereo = wavefileBytes(2, 16000, '16', [left, right]);

  it("'mix' (the default) averages left and right: (L + R) / 65536, exactly", async () => {
    const expected = left.map((l, i) => (l + right[i]!) / 65536);
    expect(Array.from(await loadAudio(stereo))).toEqual(expected);
    expect(Array.from(await loadAudio(stereo, { channel: 'mix' }))).toEqual(expected);
  });

  it('a channel index picks that channel', async () => {
    expect(Array.from(await loadAudio(stereo, { channel: 0 }))).toEqual(left.map((v) => v / 32768));
    expect(Array.from(await loadAudio(stereo, { channel: 1 }))).toEqual(right.map((v) => v / 32768));
  });

  it('a channel index beyond the file is INVALID_ARGUMENT naming the channel and the channel count', async () => {
    for (const channel of [2, 5]) {
      await expectRejection(loadAudio(stereo, { channel }), 'INVALID_ARGUMENT', new RegExp(`channel: .*below 2 \\(the audio has 2 channels\\), got ${channel}$`));
    }
  });

  it('more than two channels: mix is a float32 sum / channel count (plain and WAVE_FORMAT_EXTENSIBLE)', async () => {
    const chans = [randomInts(300, 16, 4), randomInts(300, 16, 5), randomInts(300, 16, 6)];
    const interleaved = chans[0]!.flatMap((a, i) => [a, chans[1]![i]!, chans[2]![i]!]);
    const plain = wavefileBytes(3, 16000, '16', chans);
    const extensible = buildWav({ extensible: { subFormatTag: 1, validBits: 16 }, channels: 3, sampleRate: 16000, bitsPerSample: 16, data: packInts(interleaved, 16) });
    // The float32 sum of three int16/32768 values is exact, so only the division rounds.
    const expected = chans[0]!.map((a, i) => Math.fround((a + chans[1]![i]! + chans[2]![i]!) / 32768 / 3));
    expect(Array.from(await loadAudio(plain))).toEqual(expected);
    expect(Array.from(await loadAudio(extensible))).toEqual(expected);
    expect(Array.from(await loadAudio(extensible, { channel: 2 }))).toEqual(chans[2]!.map((v) => v / 32768));
    await expectRejection(loadAudio(extensible, { channel: 3 }), 'INVALID_ARGUMENT', /channel: .*below 3 \(the audio has 3 channels\)/);
  });

  it('mixing accumulates in float32 like miniaudio, not in double', async () => {
    // float32: (1 + 2^-24) rounds to 1 twice, so the sum is 1 and the mix is float32(1/3).
    // A double sum would be 1 + 2^-23 and give a different float32 (1/3 + 1 ulp).
    const bytes = buildWav({ formatTag: 3, channels: 3, sampleRate: 16000, bitsPerSample: 32, data: packFloats([1, 2 ** -24, 2 ** -24], 32) });
    const out = await loadAudio(bytes);
    expect(out[0]).toBe(Math.fround(1 / 3));
    expect(Math.fround((1 + 2 ** -23) / 3)).not.toBe(Math.fround(1 / 3));
  });
});

describe('file structure', () => {
  const listChunk = (text: string) => ({ id: 'LIST', body: Uint8Array.from([...text].map((c) => c.charCodeAt(0)).concat([2, 0, 0, 0, 0x68, 0])) });

  it('chunks before and after the data chunk are skipped', async () => {
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
      after: [listChunk('INFOICMT')],
    });
    expect(Array.from(await loadAudio(bytes))).toEqual(ints.map((v) => v / 32768));
  });

  it('RF64: the data size comes from the ds64 chunk, not the 0xFFFFFFFF placeholder', async () => {
    const ints = [100, -200, 300, -400, 500];
    const bytes = buildWav({ container: 'RF64', channels: 1, sampleRate: 16000, bitsPerSample: 16, data: packInts(ints, 16), after: [listChunk('INFOICMT')] });
    expect(Array.from(await loadAudio(bytes))).toEqual(ints.map((v) => v / 32768));
  });

  it('an odd-sized 8-bit data chunk: the pad byte after it is not a sample', async () => {
    const bytes = buildWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 8,
      data: Uint8Array.from([0, 64, 128, 192, 255]),
      after: [{ id: 'LIST', body: Uint8Array.from([...'INFO'].map((c) => c.charCodeAt(0))) }],
    });
    const out = await loadAudio(bytes);
    expect(out.length).toBe(5);
    expect(out[0]).toBe(-1);
  });

  it('a data chunk shorter than declared (truncated file) decodes its complete frames only', async () => {
    const ints = randomInts(200, 16, 7); // 100 stereo frames declared
    const bytes = buildWav({
      channels: 2,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: packInts(ints, 16).subarray(0, 242), // 60.5 frames present
      dataDeclaredSize: 400,
    });
    const out = await loadAudio(bytes, { channel: 1 });
    expect(Array.from(out)).toEqual(
      ints
        .filter((_, i) => i % 2 === 1)
        .slice(0, 60)
        .map((v) => v / 32768),
    );
  });

  it('works on a Uint8Array at an odd offset inside a larger buffer, and on a Buffer', async () => {
    const ints = randomInts(64, 16, 8);
    const bytes = wavefileBytes(1, 16000, '16', ints);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const expected = ints.map((v) => v / 32768);
    expect(Array.from(await loadAudio(big.subarray(3)))).toEqual(expected);
    expect(Array.from(await loadAudio(Buffer.from(bytes)))).toEqual(expected);
  });

  it('a 48 kHz WAV comes out at 16 kHz with its tone intact (miniaudio resamples, as in whisper-cli)', async () => {
    const tone = sine(48000, 48000, 1000, 0.5);
    const out = await loadAudio(
      wavefileBytes(
        1,
        48000,
        '16',
        Array.from(tone, (s) => Math.round(s * 32767)),
      ),
    );
    expect(Math.abs(out.length - 16000)).toBeLessThanOrEqual(1);
    const fit = fitTone(out, 16000, 1000, 500, 15500);
    expect(fit.amplitude).toBeGreaterThan(0.45);
    expect(fit.amplitude).toBeLessThan(0.505);
    expect(fit.residualRms).toBeLessThan(0.01);
  });
});

describe('long WAV files, read a piece at a time', () => {
  const dir = path.join(inject('workDir'), 'audio-wav');
  beforeAll(() => fs.mkdirSync(dir, { recursive: true }));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('jfk.wav (LIST chunk before data), from its path and its bytes: 176000 samples, each int16 / 32768', async () => {
    const bytes = fs.readFileSync(JFK_WAV);
    const data = dataChunkOf(bytes);
    expect(data.length).toBe(352000);
    const raw = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (const out of [await loadAudio(JFK_WAV), await loadAudio(bytes)]) {
      expect(out.length).toBe(176000); // 11.0 s at 16 kHz, more than one piece
      let mismatches = 0;
      for (let i = 0; i < out.length; i++) if (out[i] !== raw.getInt16(i * 2, true) / 32768) mismatches++;
      expect(mismatches).toBe(0);
    }
  });

  it('44.1 kHz 24-bit stereo read in small pieces joins to exactly what one read gives', async () => {
    const rnd = prng(9);
    const frames = 15 * 44100;
    const interleaved: number[] = [];
    for (let f = 0; f < frames; f++) {
      for (let c = 0; c < 2; c++) interleaved.push(Math.round((0.5 * Math.sin((2 * Math.PI * 440 * (c + 1) * f) / 44100) + 0.3 * (rnd() * 2 - 1)) * 8388607 * 0.9));
    }
    const file = path.join(dir, 'stereo44k.wav');
    fs.writeFileSync(file, buildWav({ channels: 2, sampleRate: 44100, bitsPerSample: 24, data: packInts(interleaved, 24) }));
    for (const channel of [-1, 1]) {
      const whole = await loadAudio(file, channel < 0 ? {} : { channel });
      expect(Math.abs(whole.length - 15 * 16000)).toBeLessThanOrEqual(1);
      const decoder = await native().openAudioDecoder(file, { format: 'wav', channel });
      expect(decoder.info()).toMatchObject({ format: 'wav', sourceSampleRate: 44100, sourceChannels: 2 });
      const pieces = await readAllPieces(decoder, 1111);
      decoder.close();
      expect(Buffer.from(pieces.buffer).equals(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength)), `channel ${channel}`).toBe(true);
    }
  });

  it('a NaN past the first piece is named by its place in the whole file', async () => {
    const values = new Array(200_000).fill(0.1);
    values[187_654] = Number.NaN;
    const file = path.join(dir, 'nan.wav');
    fs.writeFileSync(file, buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats(values, 32) }));
    await expectRejection(loadAudio(file), 'INVALID_AUDIO', /^audio: sample 187654 is NaN .*\(file: .*nan\.wav\)$/);
  });
});

describe('bad input is INVALID_AUDIO or UNSUPPORTED_AUDIO, never anything else', () => {
  const good = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: packInts([1, 2, 3, 4], 16) });

  it('a header cut short, a missing data chunk', async () => {
    for (const n of [4, 11, 12, 20, 30, 40]) await expectRejection(loadAudio(good.subarray(0, n)), 'INVALID_AUDIO', NOT_VALID);
    const noData = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, noData: true, after: [{ id: 'JUNK', body: new Uint8Array(8) }] });
    await expectRejection(loadAudio(noData), 'INVALID_AUDIO', NOT_VALID);
  });

  it('impossible header values: 0 channels, 0 Hz, 4 GHz', async () => {
    await expectRejection(loadAudio(buildWav({ channels: 0, sampleRate: 16000, bitsPerSample: 16, blockAlign: 2, data: new Uint8Array(8) })), 'INVALID_AUDIO', NOT_VALID);
    for (const rate of [0, 4_000_000_000]) {
      await expectRejection(loadAudio(buildWav({ channels: 1, sampleRate: rate, bitsPerSample: 16, data: new Uint8Array(8) })), 'INVALID_AUDIO', NOT_VALID);
    }
  });

  it('zero samples: an empty data chunk, or less than one frame', async () => {
    const empty = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(0) });
    await expectRejection(loadAudio(empty), 'INVALID_AUDIO', /^audio: the wav input holds no audio \(0 samples\)$/);
    const partial = buildWav({ channels: 2, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(2) });
    await expectRejection(loadAudio(partial), 'INVALID_AUDIO', /^audio: the wav input holds no audio \(0 samples\)$/);
  });

  it('an encoding dr_wav does not decode is UNSUPPORTED_AUDIO naming its format tag (plain and EXTENSIBLE)', async () => {
    const g722 = buildWav({ formatTag: 0x65, channels: 1, sampleRate: 16000, bitsPerSample: 4, blockAlign: 1, data: new Uint8Array(100) });
    await expectRejection(loadAudio(g722), 'UNSUPPORTED_AUDIO', /^audio: a WAV in an encoding miniaudio does not decode \(format tag 0x0065, 4 bits;/);
    // dr_wav would read 16-bit float as silence.
    const halfFloat = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(100) });
    await expectRejection(loadAudio(halfFloat), 'UNSUPPORTED_AUDIO', /\(format tag 0x0003, 16 bits;/);
    const mp3InExtensible = buildWav({ extensible: { subFormatTag: 0x55, validBits: 16 }, channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(100) });
    await expectRejection(loadAudio(mp3InExtensible), 'UNSUPPORTED_AUDIO', /\(format tag 0x0055, /);
  });

  it('a float WAV with NaN or Infinity names the sample', async () => {
    const nan = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 32, data: packFloats([0, 0.1, 0.2, 0.3, 0.4, Number.NaN, 0], 32) });
    await expectRejection(loadAudio(nan), 'INVALID_AUDIO', /^audio: sample 5 is NaN/);
    const inf = buildWav({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 64, data: packFloats([0, -Infinity], 64) });
    await expectRejection(loadAudio(inf), 'INVALID_AUDIO', /^audio: sample 1 is -Infinity/);
  });

  it('truncations and header corruptions of a valid file decode or fail typed', async () => {
    const base = wavefileBytes(3, 44100, '24', [randomInts(60, 24, 12), randomInts(60, 24, 13), randomInts(60, 24, 14)]);
    const rnd = prng(15);
    const inputs: Uint8Array[] = [];
    // From 4 bytes ('RIFF') on, so every input is found to be a WAV and reaches dr_wav (not ffmpeg).
    for (let n = 4; n <= base.length; n += 3) inputs.push(base.slice(0, n));
    for (let k = 0; k < 300; k++) {
      const copy = base.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      // Bytes 4-7 (the RIFF size) and 12-79 (fmt and data headers); the RIFF and WAVE tags stay.
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rnd() * 72);
        copy[at < 4 ? at + 4 : at + 8] = Math.floor(rnd() * 256);
      }
      inputs.push(copy);
    }
    let decoded = 0;
    const codes = new Set<string>();
    for (const bytes of inputs) {
      try {
        const out = await loadAudio(bytes);
        expect(out.length).toBeGreaterThan(0);
        decoded++;
      } catch (error) {
        expect(error).toBeInstanceOf(WhisperError);
        expect(['INVALID_AUDIO', 'UNSUPPORTED_AUDIO']).toContain((error as WhisperError).code);
        expect((error as WhisperError).message).toMatch(/^audio: /);
        codes.add((error as WhisperError).code);
      }
    }
    expect(decoded).toBeGreaterThan(0); // some corruptions (in the data) still decode
    expect(codes.has('INVALID_AUDIO')).toBe(true);
  });
});
