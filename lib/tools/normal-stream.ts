/** The synthetic-model generator's deterministic pseudo-random weights. */
import { float32ToFloat16Bits } from './convert/float';

/** 32-bit integer mixer (avalanche), used to turn (seed, tensor name) into PRNG state. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A 32-bit seed for one tensor's stream: its name mixed into the user's seed. */
export function hashString(s: string, seed: number): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (let i = 0; i < s.length; i++) h = mix32(h ^ s.charCodeAt(i));
  return h;
}

/**
 * Marsaglia's xorshift128 (four 32-bit words of state, period 2^128 - 1), producing approximately
 * normal values: each output is the sum of four 16-bit uniforms (the halves of two 32-bit draws),
 * centred and scaled to unit variance (Irwin-Hall). Integer and exactly-rounded float arithmetic only,
 * so the stream is bit-identical on every platform.
 */
export class NormalStream {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    const s = this.s;
    s[0] = mix32(seed + 0x243f6a88);
    s[1] = mix32(s[0] + 0x85a308d3);
    s[2] = mix32(s[1] + 0x13198a2e);
    s[3] = mix32(s[2] + 0x03707344);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[3] = 1;
  }

  /** Writes n values of normal(0, std) (as float32, or as float16 bits when `asF16`) into out[0..n). */
  fill(out: Float32Array | Uint16Array, n: number, std: number, asF16: boolean): void {
    const s = this.s;
    let x = s[0] | 0;
    let y = s[1] | 0;
    let z = s[2] | 0;
    let w = s[3] | 0;
    // (sum of four 16-bit uniforms, each + 0.5 to centre its cell) -> mean 2, variance 1/3 per unit
    const scale = (std * 1.7320508075688772) / 65536;
    for (let i = 0; i < n; i++) {
      let t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      const a = w >>> 0;
      t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      const b = w >>> 0;
      const sum = (a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16) + 2 - 131072;
      const v = sum * scale;
      out[i] = asF16 ? float32ToFloat16Bits(v) : v;
    }
    s[0] = x;
    s[1] = y;
    s[2] = z;
    s[3] = w;
  }
}
