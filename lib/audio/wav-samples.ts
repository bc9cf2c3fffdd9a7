/**
 * WAV sample data to float32, converted exactly as dr_wav does (see lib/audio/wav.ts), and
 * the channel choice: one channel, or miniaudio's mono mix.
 */
import { WaveFile } from 'wavefile';
import { invalidArgument } from '../errors/whisper-error';
import type { SampleKind } from './wav-header';

/** Lazily built int16 tables for A-law and mu-law, taken from wavefile's own G.711 decoders. */
let alawTable: Int16Array | undefined;
let mulawTable: Int16Array | undefined;

function g711Table(kind: 'alaw' | 'mulaw'): Int16Array {
  const cached = kind === 'alaw' ? alawTable : mulawTable;
  if (cached) return cached;
  const codes = Array.from({ length: 256 }, (_, i) => i);
  const wav = new WaveFile();
  wav.fromScratch(1, 8000, kind === 'alaw' ? '8a' : '8m', codes);
  if (kind === 'alaw') wav.fromALaw('16');
  else wav.fromMuLaw('16');
  const table = wav.getSamples(true, Int16Array) as unknown as Int16Array;
  if (table.length !== 256) throw new Error(`wavefile returned ${table.length} G.711 codes, expected 256`);
  if (kind === 'alaw') alawTable = table;
  else mulawTable = table;
  return table;
}

/** float32 constant of dr_wav's u8 conversion, 0.00784313725490196078f (2/255). */
const U8_SCALE = Math.fround(0.00784313725490196078);
const S16_SCALE = 1 / 32768; // 2^-15, exact
const S24_SCALE = 1 / 8388608; // 2^-23, exact

/**
 * Returns a function that reads sample `index` (counted in samples, not bytes) as float32,
 * converted exactly as dr_wav does.
 */
function sampleReader(kind: SampleKind, view: DataView, littleEndian: boolean): (index: number) => number {
  const fround = Math.fround;
  switch (kind) {
    case 'u8':
      return (i) => fround(fround(view.getUint8(i) * U8_SCALE) - 1);
    case 's16':
      return (i) => view.getInt16(i * 2, littleEndian) * S16_SCALE;
    case 's24':
      return littleEndian
        ? (i) => {
            const o = i * 3;
            return (((view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getUint8(o + 2) << 16)) << 8) >> 8) * S24_SCALE;
          }
        : (i) => {
            const o = i * 3;
            return (((view.getUint8(o + 2) | (view.getUint8(o + 1) << 8) | (view.getUint8(o) << 16)) << 8) >> 8) * S24_SCALE;
          };
    case 's32':
      return (i) => fround(view.getInt32(i * 4, littleEndian) / 2147483648);
    case 'f32':
      return (i) => view.getFloat32(i * 4, littleEndian);
    case 'f64':
      return (i) => fround(view.getFloat64(i * 8, littleEndian));
    case 'alaw':
    case 'mulaw': {
      const table = g711Table(kind);
      return (i) => table[view.getUint8(i)]! * S16_SCALE;
    }
  }
}

/**
 * @internal Decodes `frames` whole frames from `view` (which starts at a frame) to mono float32:
 * one channel, or miniaudio's mono mix.
 */
export function decodeFrames(kind: SampleKind, view: DataView, littleEndian: boolean, channels: number, channelOption: 'mix' | number, frames: number): Float32Array {
  const read = sampleReader(kind, view, littleEndian);
  const out = new Float32Array(frames);
  if (channels === 1) {
    for (let f = 0; f < frames; f++) out[f] = read(f);
  } else if (channelOption !== 'mix') {
    for (let f = 0, i = channelOption; f < frames; f++, i += channels) out[f] = read(i);
  } else {
    // miniaudio's mono_out: float32 sum in channel order, then float32 division by the count.
    const fround = Math.fround;
    for (let f = 0, i = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++, i++) sum = fround(sum + read(i));
      out[f] = sum / channels; // the store rounds to float32, as the C division does
    }
  }
  return out;
}

/** @internal Throws INVALID_ARGUMENT for a channel index the WAV does not have. */
export function checkChannel(channelOption: 'mix' | number, channels: number): void {
  if (channelOption !== 'mix' && channelOption >= channels) {
    throw invalidArgument('channel', `'mix' or a channel index from 0 to ${channels - 1} (the WAV has ${channels} channel${channels === 1 ? '' : 's'})`, channelOption);
  }
}
