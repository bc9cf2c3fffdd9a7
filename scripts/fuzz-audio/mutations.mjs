/** The fuzzer's seeded randomness and its mutations of one file's bytes. */
import { structure } from './structure.mjs';

export function mulberry32(seedValue) {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a: one file's own seed from the run's seed, its format and its index. */
export function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function randomTools(next) {
  const below = (n) => (n <= 0 ? 0 : next() % n);
  const between = (lo, hi) => lo + below(hi - lo + 1);
  const pick = (list) => list[below(list.length)];
  const chance = (p) => next() / 2 ** 32 < p;
  const bytes = (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next() & 0xff;
    return out;
  };
  return { below, between, pick, chance, bytes };
}

const SPECIAL_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

function hugeValue(r, width, original) {
  const bits = BigInt(width * 8);
  const max = (1n << bits) - 1n;
  const choices = [max, max - 1n, 1n << (bits - 1n), (1n << (bits - 1n)) - 1n, max - BigInt(r.below(1 << 16)), original * 16n > max ? max : original * 16n + 1n, 0n];
  // Mostly huge; now and then zero or a sixteenfold length, which break other checks.
  return r.chance(0.8) ? choices[r.below(4)] : choices[4 + r.below(3)];
}

function readField(b, { offset, width, endian }) {
  let value = 0n;
  for (let i = 0; i < width; i++) value = (value << 8n) | BigInt(b[endian === 'le' ? offset + width - 1 - i : offset + i]);
  return value;
}

function writeField(b, { offset, width, endian }, value) {
  if (endian === 'syncsafe') {
    for (let i = 0; i < width; i++) b[offset + i] = 0x7f;
    return;
  }
  for (let i = 0; i < width; i++) {
    const byte = Number((value >> BigInt(8 * (width - 1 - i))) & 0xffn);
    b[endian === 'le' ? offset + width - 1 - i : offset + i] = byte;
  }
}

function randomByte(r) {
  return r.chance(0.5) ? r.pick(SPECIAL_BYTES) : r.below(256);
}

function rangeLength(r, length) {
  return r.chance(0.5) ? r.between(1, 64) : r.between(1, Math.max(1, Math.min(8192, length >> 2)));
}

/** One mutated file: its bytes and what was done to them, in words. */
export function mutate(kind, source, r) {
  const { whole, cut, format } = source;
  const b = Uint8Array.from(cut);
  const info = structure(format, b);
  switch (kind) {
    case 'bitflip': {
      const flips = r.between(1, 16);
      for (let i = 0; i < flips; i++) b[r.below(b.length)] ^= 1 << r.below(8);
      return { bytes: b, what: `${flips} bit flips` };
    }
    case 'header-bytes': {
      const writes = r.between(1, 8);
      for (let i = 0; i < writes; i++) {
        const [start, end] = r.pick(info.ranges);
        b[r.between(start, end - 1)] = randomByte(r);
      }
      return { bytes: b, what: `${writes} header bytes overwritten` };
    }
    case 'overwrite': {
      const runs = r.between(1, 8);
      for (let i = 0; i < runs; i++) {
        const at = r.below(b.length);
        const n = Math.min(r.between(1, 16), b.length - at);
        for (let k = 0; k < n; k++) b[at + k] = randomByte(r);
      }
      return { bytes: b, what: `${runs} runs of bytes overwritten` };
    }
    case 'truncate': {
      const at = r.chance(0.5) ? r.below(whole.length) : r.below(Math.min(whole.length, 8192));
      return { bytes: Uint8Array.from(whole.subarray(0, at)), what: `the whole file cut at byte ${at} of ${whole.length}` };
    }
    case 'duplicate-range': {
      const n = rangeLength(r, b.length);
      const from = r.below(b.length - n + 1);
      const to = r.below(b.length + 1);
      return { bytes: concat(b.subarray(0, to), b.subarray(from, from + n), b.subarray(to)), what: `bytes ${from}..${from + n} copied to ${to}` };
    }
    case 'remove-range': {
      const n = rangeLength(r, b.length);
      const from = r.below(b.length - n + 1);
      return { bytes: concat(b.subarray(0, from), b.subarray(from + n)), what: `bytes ${from}..${from + n} removed` };
    }
    case 'header-random': {
      if (info.mdat && r.chance(0.5)) {
        const [start, end] = [info.mdat[0], Math.min(info.mdat[1], b.length)];
        b.set(r.bytes(Math.max(0, end - start)), start);
        return { bytes: b, what: `the mdat payload (${start}..${end}) replaced with random bytes` };
      }
      const keep = r.chance(0.5) ? info.headerEnd : r.between(16, Math.min(4096, b.length));
      return { bytes: concat(b.subarray(0, keep), r.bytes(r.between(1, b.length))), what: `the first ${keep} bytes, then random bytes` };
    }
    case 'huge-length': {
      if (info.fields.length === 0) return mutate('header-bytes', source, r);
      const changes = r.between(1, 3);
      const said = [];
      for (let i = 0; i < changes; i++) {
        const target = r.pick(info.fields);
        const value = hugeValue(r, target.width, readField(b, target));
        writeField(b, target, value);
        said.push(`${target.what} at ${target.offset} = ${target.endian === 'syncsafe' ? '0x7f7f7f7f' : `0x${value.toString(16)}`}`);
      }
      return { bytes: b, what: said.join('; ') };
    }
    default:
      throw new Error(`unknown mutation ${kind}`);
  }
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
