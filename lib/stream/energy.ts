/** Signal level over a range of samples, the measure both the cut search and the seams use. */

/** @internal Mean of x[i]^2 over [from, to); 0 for an empty range. */
export function meanSquare(x: Float32Array, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return to > from ? sum / (to - from) : 0;
}

/** @internal Root mean square over [from, to). */
export function rms(x: Float32Array, from = 0, to = x.length): number {
  return Math.sqrt(meanSquare(x, from, to));
}
