/**
 * Test-only helpers for audio tests: a hand-rolled WAV writer (so tests can produce headers
 * that wavefile's writer will not: odd bit depths, ADPCM tags, missing chunks, RIFX, ...),
 * reference G.711 decoders written from the ITU-T G.711 definition, and signal helpers.
 */
import { mulberry32 } from '../support/prng';

export interface ChunkSpec {
  id: string;
  body: Uint8Array;
  /** Size written in the chunk header; defaults to body.length. */
  declaredSize?: number;
}

export interface WavSpec {
  /** RF64 writes a ds64 chunk with the real data size and 0xFFFFFFFF in the 32-bit size fields. */
  container?: 'RIFF' | 'RIFX' | 'RF64';
  formatTag?: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Defaults to channels * ceil(bitsPerSample / 8). */
  blockAlign?: number;
  /** Writes WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE) with this SubFormat tag and valid bits. */
  extensible?: { subFormatTag: number; validBits: number };
  /** Sample bytes of the data chunk. Omit `data` and set `noData` for a file without one. */
  data?: Uint8Array;
  noData?: boolean;
  /** Size written in the data chunk header; defaults to data.length. */
  dataDeclaredSize?: number;
  /** Chunks written between fmt and data, and after data. */
  before?: ChunkSpec[];
  after?: ChunkSpec[];
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Encodes one RIFF chunk (id, size, body, pad byte when the body is odd). */
function chunk(id: string, body: Uint8Array, bigEndian: boolean, declaredSize = body.length): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length % 2));
  out.set(ascii(id), 0);
  new DataView(out.buffer).setUint32(4, declaredSize, !bigEndian);
  out.set(body, 8);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function buildWav(spec: WavSpec): Uint8Array {
  const be = spec.container === 'RIFX';
  const le = !be;
  const blockAlign = spec.blockAlign ?? spec.channels * Math.ceil(spec.bitsPerSample / 8);
  const fmt = new Uint8Array(spec.extensible ? 40 : 16);
  const v = new DataView(fmt.buffer);
  v.setUint16(0, spec.extensible ? 0xfffe : (spec.formatTag ?? 1), le);
  v.setUint16(2, spec.channels, le);
  v.setUint32(4, spec.sampleRate, le);
  v.setUint32(8, spec.sampleRate * blockAlign, le);
  v.setUint16(12, blockAlign, le);
  v.setUint16(14, spec.bitsPerSample, le);
  if (spec.extensible) {
    v.setUint16(16, 22, le); // cbSize
    v.setUint16(18, spec.extensible.validBits, le);
    v.setUint32(20, 0, le); // channel mask
    // SubFormat GUID xxxxxxxx-0000-0010-8000-00aa00389b71
    v.setUint32(24, spec.extensible.subFormatTag, le);
    fmt.set([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 28);
  }
  const parts: Uint8Array[] = [];
  const rf64 = spec.container === 'RF64';
  if (rf64) {
    const ds64 = new Uint8Array(28);
    const d = new DataView(ds64.buffer);
    const dataSize = spec.data?.length ?? 0;
    d.setUint32(8, dataSize % 2 ** 32, true);
    d.setUint32(12, Math.floor(dataSize / 2 ** 32), true);
    parts.push(chunk('ds64', ds64, false));
  }
  parts.push(chunk('fmt ', fmt, be));
  for (const c of spec.before ?? []) parts.push(chunk(c.id, c.body, be, c.declaredSize));
  if (!spec.noData) {
    const data = spec.data ?? new Uint8Array(0);
    parts.push(chunk('data', data, be, spec.dataDeclaredSize ?? (rf64 ? 0xffffffff : data.length)));
  }
  for (const c of spec.after ?? []) parts.push(chunk(c.id, c.body, be, c.declaredSize));
  const body = concat(parts);
  const header = new Uint8Array(12);
  header.set(ascii(spec.container ?? 'RIFF'), 0);
  new DataView(header.buffer).setUint32(4, rf64 ? 0xffffffff : 4 + body.length, le);
  header.set(ascii('WAVE'), 8);
  return concat([header, body]);
}

/** Packs integer sample values (already interleaved) as `bits`-bit signed PCM (8-bit: unsigned 0..255). */
export function packInts(values: ArrayLike<number>, bits: 8 | 16 | 24 | 32, bigEndian = false): Uint8Array {
  const bytes = bits / 8;
  const out = new Uint8Array(values.length * bytes);
  const v = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const o = i * bytes;
    if (bits === 8) v.setUint8(o, x);
    else if (bits === 16) v.setInt16(o, x, !bigEndian);
    else if (bits === 32) v.setInt32(o, x, !bigEndian);
    else {
      const u = x & 0xffffff;
      const b = [u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff];
      if (bigEndian) b.reverse();
      out.set(b, o);
    }
  }
  return out;
}

export function packFloats(values: ArrayLike<number>, bits: 32 | 64, bigEndian = false): Uint8Array {
  const bytes = bits / 8;
  const out = new Uint8Array(values.length * bytes);
  const v = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (bits === 32) v.setFloat32(i * 4, values[i]!, !bigEndian);
    else v.setFloat64(i * 8, values[i]!, !bigEndian);
  }
  return out;
}

/** ITU-T G.711 A-law code -> linear 16-bit value (bit 7 set = positive; even bits inverted). */
export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

/** ITU-T G.711 mu-law code -> linear 16-bit value (all bits inverted, bias 0x84). */
export function mulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  if (magnitude === 0) return 0; // no -0: the codec's int16 output has no sign for zero
  return u & 0x80 ? -magnitude : magnitude;
}

/** A sine of `freq` Hz sampled at `rate`, as float64 values. */
export function sine(n: number, rate: number, freq: number, amplitude = 1, phase = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return out;
}

/**
 * Least-squares fit of a*sin + b*cos at `freq` over samples [from, to): returns the amplitude,
 * the phase (0 for a pure sine starting at t = 0) and the RMS of what the fit leaves over.
 */
export function fitTone(x: ArrayLike<number>, rate: number, freq: number, from: number, to: number) {
  let ss = 0;
  let cc = 0;
  let sc = 0;
  let xs = 0;
  let xc = 0;
  for (let i = from; i < to; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    const s = Math.sin(w);
    const c = Math.cos(w);
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x[i]! * s;
    xc += x[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  let residual = 0;
  for (let i = from; i < to; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    const r = x[i]! - a * Math.sin(w) - b * Math.cos(w);
    residual += r * r;
  }
  return { amplitude: Math.hypot(a, b), phase: Math.atan2(b, a), residualRms: Math.sqrt(residual / (to - from)) };
}

/** The float32 bit pattern of each element, for bitwise comparisons. */
export function bits32(x: Float32Array): number[] {
  return Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
}

/** Deterministic uniform [0, 1) numbers, so failures reproduce. */
export function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
