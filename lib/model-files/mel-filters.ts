/**
 * Whisper's mel filter bank, computed the way OpenAI generated `mel_filters.npz`
 * (`librosa.filters.mel(sr=16000, n_fft=400, n_mels=80|128)`: Slaney mel scale, Slaney area
 * normalisation, float32 output). whisper.cpp stores these filters in every ggml model file, so a
 * converter that has no filter bank in its source (CTranslate2, Hugging Face) must produce them.
 *
 * The arithmetic follows librosa's order of operations in float64 and rounds to float32 at the same
 * two points librosa does (the triangle into the float32 weight array, then the in-place scaling), so
 * the result is bit-identical to the filters in OpenAI's file (checked against real headers in the
 * unit tests).
 */
import { WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { integerIn } from '../errors/validate';

export const WHISPER_N_FFT = 400;
/** Frequency bins of a 400-point real FFT: 1 + 400 / 2. */
export const WHISPER_N_FFT_BINS = 201;

const checkNMels = integerIn(1, 512);

// Slaney mel scale: linear below 1 kHz, logarithmic above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = (MIN_LOG_HZ - 0) / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** numpy.linspace(start, stop, n) for n >= 2, element for element. */
function linspace(start: number, stop: number, n: number): number[] {
  const step = (stop - start) / (n - 1);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  out[n - 1] = stop;
  return out;
}

/**
 * The `nMels` x 201 filter bank (row-major: filter m's weight for FFT bin k at `m * 201 + k`) for
 * 16 kHz audio and a 400-point FFT, spanning 0 Hz to 8 kHz.
 */
export function whisperMelFilters(nMels: number): Float32Array {
  checkNMels('nMels', nMels);
  const fmax = WHISPER_SAMPLE_RATE / 2;
  // np.fft.rfftfreq(400, 1/16000): k * 16000 / 400
  const fftFreqs = new Array<number>(WHISPER_N_FFT_BINS);
  const binSpacing = 1 / (WHISPER_N_FFT * (1 / WHISPER_SAMPLE_RATE));
  for (let k = 0; k < WHISPER_N_FFT_BINS; k++) fftFreqs[k] = k * binSpacing;

  const melPoints = linspace(hzToMel(0), hzToMel(fmax), nMels + 2);
  const melF = melPoints.map(melToHz);
  const fdiff = melF.slice(1).map((f, i) => f - melF[i]);

  const weights = new Float32Array(nMels * WHISPER_N_FFT_BINS);
  for (let m = 0; m < nMels; m++) {
    const enorm = 2 / (melF[m + 2] - melF[m]);
    for (let k = 0; k < WHISPER_N_FFT_BINS; k++) {
      const lower = -(melF[m] - fftFreqs[k]) / fdiff[m];
      const upper = (melF[m + 2] - fftFreqs[k]) / fdiff[m + 1];
      const tri = Math.fround(Math.max(0, Math.min(lower, upper)));
      weights[m * WHISPER_N_FFT_BINS + k] = tri * enorm;
    }
  }
  return weights;
}
