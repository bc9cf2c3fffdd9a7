/**
 * Sample-rate conversion to whisper's 16 kHz: a Kaiser-windowed sinc low-pass filter, applied
 * as a polyphase table when the rate ratio is a small fraction and by direct kernel evaluation
 * otherwise. The same plan resamples a whole array (resample) or a long file window by window
 * (lib/audio/wav-windows.ts), with the same samples either way.
 */
import { invalidArgument } from '../errors/whisper-error';

/**
 * Passband edge as a fraction of the lower Nyquist frequency; the stopband starts at the
 * Nyquist frequency itself. 0.875 keeps 0-7 kHz flat at 16 kHz output (whisper's mel filters
 * reach 8 kHz, but speech has little there) with ~240 taps at 48 kHz input.
 */
const PASSBAND = 0.875;
/** Stopband attenuation in dB (Kaiser design). */
const ATTENUATION_DB = 80;
/** Largest polyphase table (rows x taps, float64); beyond it, evaluate the kernel directly. */
const MAX_TABLE_ENTRIES = 1 << 21;
/** Largest supported fromRate / toRate. */
const MAX_DOWNSAMPLING = 256;
/** Kernel lookup resolution (points per input sample) for direct evaluation. */
const KERNEL_OVERSAMPLING = 512;

interface KernelDesign {
  /** Cutoff (middle of the transition band) in cycles per input sample. */
  cutoff: number;
  /** Kernel half-width in input samples; the kernel is 0 beyond it. */
  halfWidth: number;
  beta: number;
  i0Beta: number;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function designKernel(fromRate: number, toRate: number): KernelDesign {
  const nyquist = Math.min(fromRate, toRate) / 2;
  const pass = PASSBAND * nyquist;
  const stop = nyquist;
  const cutoff = (pass + stop) / 2 / fromRate;
  const transition = (stop - pass) / fromRate; // cycles per input sample
  const a = ATTENUATION_DB;
  const beta = a > 50 ? 0.1102 * (a - 8.7) : a >= 21 ? 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21) : 0;
  // Kaiser's estimate of the filter order for this attenuation and transition width.
  const order = (a - 7.95) / (2.285 * 2 * Math.PI * transition);
  return { cutoff, halfWidth: order / 2, beta, i0Beta: besselI0(beta) };
}

/** The (unnormalised) low-pass kernel at offset tau input samples from the output instant. */
function kernelAt(d: KernelDesign, tau: number): number {
  const r = tau / d.halfWidth;
  if (r <= -1 || r >= 1) return 0;
  const x = 2 * d.cutoff * tau;
  const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
  return 2 * d.cutoff * sinc * (besselI0(d.beta * Math.sqrt(1 - r * r)) / d.i0Beta);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function checkRate(value: unknown, parameter: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(parameter, 'a positive sample rate in Hz', value);
  }
  return value;
}

/**
 * Band-limited resampling with a Kaiser-windowed sinc low-pass filter: passband to 87.5% of
 * the lower Nyquist frequency, at least 80 dB attenuation from the lower Nyquist frequency
 * on (so nothing above the output Nyquist aliases when downsampling). Output sample n is the
 * input signal at time n * fromRate / toRate; the input is taken as 0 outside its range.
 * Every kernel phase is normalised to unit DC gain. Returns a new array of
 * round(samples.length * toRate / fromRate) samples (a copy when the rates are equal).
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(samples instanceof Float32Array)) throw invalidArgument('samples', 'a Float32Array', samples);
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  if (fromRate / toRate > MAX_DOWNSAMPLING) {
    // The kernel spans about 80 * fromRate / toRate input samples: beyond this it gets huge and slow.
    throw invalidArgument('toRate', `at least fromRate / ${MAX_DOWNSAMPLING} (${fromRate / MAX_DOWNSAMPLING} Hz)`, toRate);
  }
  if (fromRate === toRate) return samples.slice();
  const plan = planResample(samples.length, fromRate, toRate);
  const out = new Float32Array(plan.outputLength);
  if (out.length === 0 || samples.length === 0) return out;
  plan.run(samples, 0, out, 0);
  return out;
}

/**
 * @internal resample() of `inputLength` samples, computed one output range at a time, so a long
 * file can be resampled window by window (lib/audio/wav-windows.ts) with the same samples as a
 * whole-array resample(): each output reads only the inputs inputRange() names.
 */
export interface ResamplePlan {
  outputLength: number;
  /** The input samples [from, to) that outputs [oFrom, oTo) read. */
  inputRange(oFrom: number, oTo: number): [number, number];
  /** Writes outputs oFrom .. oFrom + out.length - 1; `x` holds the input samples from `xOffset` on. */
  run(x: Float32Array, xOffset: number, out: Float32Array, oFrom: number): void;
}

/** @internal Rates must differ and pass resample()'s checks. */
export function planResample(inputLength: number, fromRate: number, toRate: number): ResamplePlan {
  const outputLength = Math.round((inputLength * toRate) / fromRate);
  const n = inputLength;
  const design = designKernel(fromRate, toRate);
  if (Number.isSafeInteger(fromRate) && Number.isSafeInteger(toRate)) {
    const g = gcd(fromRate, toRate);
    const up = toRate / g;
    const down = fromRate / g;
    const H = Math.ceil(design.halfWidth);
    if (up * 2 * H <= MAX_TABLE_ENTRIES) {
      const table = polyphaseTable(up, design);
      return {
        outputLength,
        inputRange: (oFrom, oTo) => [Math.max(0, Math.floor((oFrom * down) / up) - H + 1), Math.min(n, Math.floor(((oTo - 1) * down) / up) + H + 1)],
        run: (x, xOffset, out, oFrom) => resamplePolyphase(x, xOffset, n, out, oFrom, up, down, H, table),
      };
    }
  }
  const step = fromRate / toRate;
  const kernel = directKernel(design);
  return {
    outputLength,
    inputRange: (oFrom, oTo) => [Math.max(0, Math.ceil(oFrom * step - design.halfWidth)), Math.min(n, Math.floor((oTo - 1) * step + design.halfWidth) + 1)],
    run: (x, xOffset, out, oFrom) => resampleDirect(x, xOffset, n, out, oFrom, step, design, kernel),
  };
}

/**
 * Rational ratio up/down: output n sits at input time n*down/up = base + phase/up.
 * Row `phase` of the table holds the weights of inputs base-H+1 .. base+H.
 */
function polyphaseTable(up: number, d: KernelDesign): Float64Array {
  const H = Math.ceil(d.halfWidth);
  const taps = 2 * H;
  const table = new Float64Array(up * taps);
  for (let p = 0; p < up; p++) {
    const frac = p / up;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const w = kernelAt(d, j - (H - 1) - frac);
      table[p * taps + j] = w;
      sum += w;
    }
    for (let j = 0; j < taps; j++) table[p * taps + j] /= sum;
  }
  return table;
}

/** `n` is the whole input's length; `x` holds the input from `xOffset` on; outputs start at `oFrom`. */
function resamplePolyphase(
  x: Float32Array,
  xOffset: number,
  n: number,
  out: Float32Array,
  oFrom: number,
  up: number,
  down: number,
  H: number,
  table: Float64Array,
): void {
  const taps = 2 * H;
  const baseStep = Math.floor(down / up);
  const phaseStep = down % up;
  // Exact in float64: o * down stays far below 2^53 for any real file.
  let base = Math.floor((oFrom * down) / up);
  let phase = (oFrom * down) % up;
  for (let o = 0; o < out.length; o++) {
    const start = base - H + 1;
    const local = start - xOffset;
    const row = phase * taps;
    let acc = 0;
    if (start >= 0 && start + taps <= n) {
      // Interior: four independent accumulators (about 2x faster in V8 than one).
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let j = 0;
      for (; j + 3 < taps; j += 4) {
        const r = row + j;
        const s = local + j;
        a0 += table[r]! * x[s]!;
        a1 += table[r + 1]! * x[s + 1]!;
        a2 += table[r + 2]! * x[s + 2]!;
        a3 += table[r + 3]! * x[s + 3]!;
      }
      for (; j < taps; j++) a0 += table[row + j]! * x[local + j]!;
      acc = a0 + a1 + (a2 + a3);
    } else {
      const jFrom = Math.max(0, -start);
      const jTo = Math.min(taps, n - start);
      for (let j = jFrom; j < jTo; j++) acc += table[row + j]! * x[local + j]!;
    }
    out[o] = acc;
    base += baseStep;
    phase += phaseStep;
    if (phase >= up) {
      phase -= up;
      base += 1;
    }
  }
}

/** Any ratio: weights come from a finely sampled kernel table with linear interpolation. */
function directKernel(d: KernelDesign): Float64Array {
  const size = Math.ceil(d.halfWidth * KERNEL_OVERSAMPLING) + 2;
  const kernel = new Float64Array(size);
  for (let i = 0; i < size; i++) kernel[i] = kernelAt(d, i / KERNEL_OVERSAMPLING);
  return kernel;
}

function resampleDirect(x: Float32Array, xOffset: number, n: number, out: Float32Array, oFrom: number, step: number, d: KernelDesign, kernel: Float64Array): void {
  const size = kernel.length;
  const hw = d.halfWidth;
  for (let o = 0; o < out.length; o++) {
    const t = (oFrom + o) * step;
    const kFrom = Math.ceil(t - hw);
    const kTo = Math.floor(t + hw);
    let acc = 0;
    let sum = 0;
    for (let k = kFrom; k <= kTo; k++) {
      const pos = Math.abs(k - t) * KERNEL_OVERSAMPLING;
      const i = Math.floor(pos);
      if (i + 1 >= size) continue;
      const f = pos - i;
      const w = kernel[i]! + (kernel[i + 1]! - kernel[i]!) * f;
      sum += w; // normalise over the full kernel, so the zero-padded edges fade like the polyphase path
      if (k >= 0 && k < n) acc += w * x[k - xOffset]!;
    }
    out[o] = sum !== 0 ? acc / sum : 0;
  }
}
