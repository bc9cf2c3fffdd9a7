/**
 * WAV bytes to 16 kHz mono float32 PCM in [-1, 1], the format whisper.cpp's whisper_full()
 * expects.
 *
 * WAV decoding matches whisper.cpp's own CLI (examples/common-whisper.cpp, read_audio_data),
 * which decodes with miniaudio's built-in dr_wav, asking for f32 output:
 *
 * - Sample conversion is bit-identical to dr_wav's *_to_f32 functions (ma_dr_wav_u8_to_f32,
 *   ma_dr_wav_s16_to_f32, ...), which are the ones used on that path (not ma_pcm_*_to_f32;
 *   the decoder passes f32 as the preferred format to the WAV backend):
 *     u8   (float)u * 0.00784313725490196078f - 1   (float32 arithmetic, two roundings)
 *     s16  s * 2^-15                                 (exact: x / 32768)
 *     s24  s * 2^-23                                 (exact)
 *     s32  (float)(s / 2147483648.0)                 (one rounding from double)
 *     f32  as stored;  f64  (float)x
 *     A-law / mu-law: G.711 -> int16 (same table as dr_wav's) * 2^-15
 * - Multi-channel to mono ('mix', the default) matches miniaudio's channel converter for a
 *   mono output (ma_channel_converter_process_pcm_frames__mono_out, f32): the converted
 *   channel samples are summed in float32 in channel order, then divided by the channel
 *   count in float32. So 16 kHz files with any channel count give the same samples as
 *   whisper-cli (without --diarize; with it, whisper-cli sums L+R without halving).
 * - At 16 kHz nothing is resampled. At other rates miniaudio uses a linear resampler with a
 *   low-pass filter; we use a windowed-sinc resampler instead (better quality, not the same
 *   samples), so exact parity with whisper-cli only holds for 16 kHz input.
 *
 * Supported: PCM 8-bit unsigned, 16/24/32-bit signed; IEEE float 32/64-bit; A-law and
 * mu-law (decoded with wavefile's own G.711 codecs, which give the same int16 values as
 * dr_wav); WAVE_FORMAT_EXTENSIBLE with any of these subformats (the container size decides
 * the decoding, as in dr_wav: e.g. 20 valid bits in 24-bit containers decode as 24-bit);
 * RIFF, RIFX (big-endian) and RF64 containers; any channel count and sample rate.
 * Rejected with INVALID_AUDIO: ADPCM and other compressed encodings, bit depths other than
 * the ones above (e.g. 12-bit), files without a data chunk or with 0 samples.
 * A file whose data chunk is shorter than its header says (a truncated download, or a WAV
 * written to a pipe with a placeholder size) is decoded up to its last complete frame (all
 * reads are bounded by the bytes that are there), which is also what dr_wav does (it clamps
 * the data chunk to the file size and rounds down to whole frames).
 */
import { invalidArgument, type WhisperError } from '../errors/whisper-error';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, invalidAudio, resolveChannel, type AudioOptions } from './pcm';
import { resample } from './resample';
import { BIT_DEPTH_CODE, BYTES_PER_SAMPLE, noDataChunkError, noSamplesError, walkRiff, wavFormat, type SampleKind } from './wav-header';
import { checkChannel, decodeFrames } from './wav-samples';

/** A decoded WAV before resampling (see readWav). */
export interface DecodedWav {
  /** Mono samples (mixed or one channel, per AudioOptions.channel) at the file's own sample rate. */
  samples: Float32Array;
  /** The file's sample rate in Hz. */
  sampleRate: number;
  /** The file's channel count. */
  channels: number;
  /** wavefile-style code of the stored format: '8', '16', '24', '32' (PCM), '32f', '64' (float), '8a' (A-law), '8m' (mu-law). */
  bitDepth: string;
  /** samples.length / sampleRate. */
  durationSeconds: number;
}

interface WavLayout {
  kind: SampleKind;
  channels: number;
  sampleRate: number;
  frames: number;
  view: DataView;
  littleEndian: boolean;
}

function wavLayout(bytes: Uint8Array): WavLayout {
  const layout = walkRiff(bytes);
  const { kind, channels, sampleRate, littleEndian } = wavFormat(bytes, layout);
  const { data } = layout;
  if (!data) throw noDataChunkError();
  const frameBytes = BYTES_PER_SAMPLE[kind] * channels;
  const frames = Math.floor(data.available / frameBytes);
  if (frames === 0) throw noSamplesError(data.available, frameBytes);
  return {
    kind,
    channels,
    sampleRate,
    frames,
    view: new DataView(bytes.buffer, bytes.byteOffset + data.start, frames * frameBytes),
    littleEndian,
  };
}

function toBytes(bytes: Uint8Array, parameter: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw invalidArgument(parameter, 'WAV file bytes (a Buffer or Uint8Array)', bytes);
  return bytes;
}

/**
 * Decodes a WAV to mono float32 at the file's own sample rate, without resampling.
 * Throws INVALID_AUDIO for anything that is not a supported, non-empty, finite WAV.
 */
export function readWav(bytes: Uint8Array, options?: AudioOptions): DecodedWav {
  toBytes(bytes, 'bytes');
  const channelOption = resolveChannel(options);
  const { kind, channels, sampleRate, frames, view, littleEndian } = wavLayout(bytes);
  checkChannel(channelOption, channels);
  const out = decodeFrames(kind, view, littleEndian, channels, channelOption, frames);
  assertFinitePcm(out);
  return { samples: out, sampleRate, channels, bitDepth: BIT_DEPTH_CODE[kind], durationSeconds: frames / sampleRate };
}

/** Decodes the bytes of a WAV file to 16 kHz mono float32 PCM (see the top of this file). */
export function decodeWav(bytes: Uint8Array, options?: AudioOptions): Float32Array {
  const wav = readWav(bytes, options);
  if (wav.sampleRate === WHISPER_SAMPLE_RATE) return wav.samples;
  const out = resample(wav.samples, wav.sampleRate, WHISPER_SAMPLE_RATE);
  if (out.length === 0) throw resampledToNothing(wav.samples.length, wav.sampleRate);
  return out;
}

/** @internal INVALID_AUDIO for a WAV too short to make one sample at 16 kHz. */
export function resampledToNothing(frames: number, sampleRate: number): WhisperError {
  return invalidAudio(`WAV is too short: ${frames} samples at ${sampleRate} Hz make 0 samples at 16 kHz`);
}
