/**
 * Float format conversions for the converter and the synthetic-model generator, chunk by chunk on typed arrays: binary16 (f16) and
 * bfloat16 (bf16) to float32 as exact bit manipulations, float32 to binary16 with round-to-nearest-even
 * (`float32ToFloat16Bits`, the rounding numpy's `astype(np.float16)` uses).
 *
 * All arrays hold values in the platform's byte order; the caller swaps bytes on big-endian machines.
 */
// float32ToFloat16Bits reads a number's float32 bits through these one-element views
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of a number (first rounded to float32), rounding to nearest, ties to even. */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;

  if (exp === 0xff) {
    // Inf or NaN (NaN stays a quiet NaN with the top payload bits)
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> infinity
  if (e <= 0) {
    // subnormal half (or zero): value = m * 2^-24
    if (e < -10) return sign; // below half the smallest subnormal -> zero
    mant |= 0x800000; // implicit leading 1
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may roll into the exponent / to infinity: correct
  return sign | half;
}

/**
 * The float32 bit pattern of a binary16 bit pattern. Exact: every binary16 value (subnormals, infinities,
 * NaNs with their payload) is representable in float32.
 */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0; // +-0
    // subnormal: value = mant * 2^-24; normalise so the leading 1 becomes implicit
    let e = -14;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    mant &= 0x3ff;
    return (sign | ((e + 127) << 23) | (mant << 13)) >>> 0;
  }
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN (payload kept)
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

let f16Table: Uint32Array | undefined;

/** float32 bits of all 65536 binary16 patterns (256 KiB, built on first use). */
function float16Table(): Uint32Array {
  if (!f16Table) {
    const t = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = float16BitsToFloat32Bits(h);
    f16Table = t;
  }
  return f16Table;
}

/** dst[i] = float32 bits of the binary16 src[i], for i < n. */
export function f16ToF32Bits(src: Uint16Array, dst: Uint32Array, n: number): void {
  const table = float16Table();
  for (let i = 0; i < n; i++) dst[i] = table[src[i]];
}

/** dst[i] = float32 bits of the bfloat16 src[i] (bfloat16 is the top half of a float32), for i < n. */
export function bf16ToF32Bits(src: Uint16Array, dst: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[i] << 16;
}

/** dst[i] = binary16 bits of the float32 src[i] (round to nearest, ties to even), for i < n. */
export function f32ToF16Bits(src: Float32Array, dst: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = float32ToFloat16Bits(src[i]);
}
