/**
 * Audio input: everything the library accepts as audio ends up here as a Float32Array of
 * 16 kHz mono PCM in [-1, 1], the format whisper.cpp's whisper_full() expects.
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
import { promises as fsp } from 'node:fs';
import { WaveFile } from 'wavefile';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, invalidAudio, resolveChannel, type AudioInput, type AudioOptions } from './pcm';

export { WHISPER_SAMPLE_RATE, resolveChannel, invalidAudio, assertFinitePcm, type AudioInput, type AudioOptions } from './pcm';

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

// ---------------------------------------------------------------------------------------------
// Validation helpers

const INPUT_EXPECTED =
  'a Float32Array of 16 kHz mono PCM, a WAV file path (string), or WAV file bytes (Buffer or Uint8Array)';

// ---------------------------------------------------------------------------------------------
// WAV decoding

const FORMAT_PCM = 0x0001;
const FORMAT_IEEE_FLOAT = 0x0003;
const FORMAT_ALAW = 0x0006;
const FORMAT_MULAW = 0x0007;
const FORMAT_EXTENSIBLE = 0xfffe;

const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG audio',
  0x0055: 'MP3',
  0x0161: 'WMA',
};

const CONVERT_HINT = 'convert it to PCM first, e.g. ffmpeg -i in.wav -ar 16000 -ac 1 -c:a pcm_s16le out.wav';

/** The fields of wavefile's fmt object that we read (its typings only say `object`). */
interface WaveFmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  validBitsPerSample: number;
  subformat: number[];
}

/** Recognises a few common non-WAV formats, so the error can say what the bytes are. */
function sniffOtherFormat(bytes: Uint8Array): string | undefined {
  const ascii = (start: number, length: number) =>
    String.fromCharCode(...bytes.subarray(start, Math.min(bytes.length, start + length)));
  if (ascii(0, 3) === 'ID3' || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0)) return 'MP3';
  if (ascii(0, 4) === 'fLaC') return 'FLAC';
  if (ascii(0, 4) === 'OggS') return 'Ogg (Vorbis/Opus)';
  if (ascii(4, 4) === 'ftyp') return 'MP4/M4A';
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'WebM/Matroska';
  if (ascii(0, 4) === 'FORM') return 'AIFF';
  return undefined;
}

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

/** @internal */
export type SampleKind = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64' | 'alaw' | 'mulaw';

function sampleKind(formatTag: number, bits: number, validBits: number, extensible: boolean): SampleKind {
  const formatLabel = () => (extensible && validBits > 0 && validBits !== bits ? `${validBits}-bit in ${bits}-bit containers` : `${bits}-bit`);
  if (formatTag === FORMAT_PCM) {
    switch (bits) {
      case 8: return 'u8';
      case 16: return 's16';
      case 24: return 's24';
      case 32: return 's32';
      default:
        throw invalidAudio(`unsupported WAV format: ${formatLabel()} PCM (supported: 8-bit unsigned, 16/24/32-bit signed PCM, 32/64-bit float, A-law, mu-law); ${CONVERT_HINT}`);
    }
  }
  if (formatTag === FORMAT_IEEE_FLOAT) {
    if (bits === 32) return 'f32';
    if (bits === 64) return 'f64';
    throw invalidAudio(`unsupported WAV format: ${formatLabel()} float (supported: 32-bit and 64-bit float); ${CONVERT_HINT}`);
  }
  if (formatTag === FORMAT_ALAW || formatTag === FORMAT_MULAW) {
    if (bits === 8) return formatTag === FORMAT_ALAW ? 'alaw' : 'mulaw';
    throw invalidAudio(`unsupported WAV format: ${bits}-bit ${formatTag === FORMAT_ALAW ? 'A-law' : 'mu-law'} (expected 8-bit)`);
  }
  const name = FORMAT_NAMES[formatTag] ?? 'an unknown encoding';
  const hex = `0x${formatTag.toString(16).padStart(4, '0')}`;
  throw invalidAudio(`unsupported WAV encoding: ${name} (format tag ${hex}${extensible ? ' in WAVE_FORMAT_EXTENSIBLE' : ''}); ${CONVERT_HINT}`);
}

/**
 * Sample rates accepted in a WAV header. Outside this range a header is almost surely corrupt,
 * and the resampler's kernel would grow without bound (its length scales with rate / 16 kHz).
 */
const MIN_WAV_RATE = 1000;
const MAX_WAV_RATE = 768000;

/** @internal */
export const BYTES_PER_SAMPLE: Record<SampleKind, number> = { u8: 1, s16: 2, s24: 3, s32: 4, f32: 4, f64: 8, alaw: 1, mulaw: 1 };
const BIT_DEPTH_CODE: Record<SampleKind, string> = { u8: '8', s16: '16', s24: '24', s32: '32', f32: '32f', f64: '64', alaw: '8a', mulaw: '8m' };

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
          return ((view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getUint8(o + 2) << 16)) << 8 >> 8) * S24_SCALE;
        }
        : (i) => {
          const o = i * 3;
          return ((view.getUint8(o + 2) | (view.getUint8(o + 1) << 8) | (view.getUint8(o) << 16)) << 8 >> 8) * S24_SCALE;
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

/** @internal */
export interface RiffChunk {
  /** Offset of the chunk body (after the 8-byte id and size). */
  start: number;
  /** Size from the chunk header (for RF64's data chunk, from ds64). */
  declared: number;
  /** Bytes of the body actually present: min(declared, what is left of the buffer). */
  available: number;
}

/** @internal */
export interface RiffLayout {
  container: 'RIFF' | 'RIFX' | 'RF64';
  fmt?: RiffChunk;
  ds64?: RiffChunk;
  data?: RiffChunk;
}

/**
 * Finds the fmt, ds64 and data chunks. We walk the chunks ourselves rather than use
 * wavefile's walker, which (v11) counts a data chunk's pad byte as sample data, copies the
 * whole data chunk, parses every chunk after a LIST chunk as part of that LIST (reading
 * sample bytes as text), and throws a TypeError on files with two LIST chunks (common:
 * LIST/INFO plus LIST/adtl labels).
 */
export function walkRiff(bytes: Uint8Array): RiffLayout {
  if (bytes.length < 12) {
    throw invalidAudio(`not a WAV file: ${bytes.length} bytes is too short for a RIFF/WAVE header`);
  }
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  const form = String.fromCharCode(bytes[8]!, bytes[9]!, bytes[10]!, bytes[11]!);
  if ((magic !== 'RIFF' && magic !== 'RIFX' && magic !== 'RF64') || form !== 'WAVE') {
    const other = sniffOtherFormat(bytes);
    throw invalidAudio(
      other
        ? `not a WAV file: the bytes look like ${other}; only WAV is decoded here, ${CONVERT_HINT.replace('convert it to PCM first', 'convert it first')}`
        : 'not a WAV file: no RIFF/WAVE header',
    );
  }
  const layout: RiffLayout = { container: magic };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = magic !== 'RIFX';
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
    const start = at + 8;
    let declared = view.getUint32(at + 4, le);
    if (id === 'data' && magic === 'RF64' && layout.ds64 && layout.ds64.available >= 16) {
      // ds64: riffSize (u64), dataSize (u64), sampleCount (u64), ...
      declared = view.getUint32(layout.ds64.start + 8, true) + view.getUint32(layout.ds64.start + 12, true) * 2 ** 32;
    }
    const chunk: RiffChunk = { start, declared, available: Math.min(declared, bytes.length - start) };
    if (id === 'fmt ' && !layout.fmt) layout.fmt = chunk;
    else if (id === 'ds64' && !layout.ds64) layout.ds64 = chunk;
    else if (id === 'data' && !layout.data) layout.data = chunk;
    if (layout.fmt && layout.data) break;
    at = start + declared + (declared % 2);
  }
  return layout;
}

/**
 * Parses the header chunks with wavefile. It gets a small WAV of its own made of the RIFF
 * header, ds64 (RF64 only), fmt and an empty data chunk, so no sample data is copied or
 * scanned; any exception it throws becomes INVALID_AUDIO.
 */
export function parseHeader(bytes: Uint8Array, layout: RiffLayout): WaveFmt {
  const { fmt } = layout;
  if (!fmt) throw invalidAudio('WAV has no "fmt " chunk (the header is missing or truncated)');
  if (fmt.declared < 16) throw invalidAudio(`WAV "fmt " chunk is too short (${fmt.declared} bytes, at least 16 needed)`);
  if (fmt.available < fmt.declared) {
    throw invalidAudio(`WAV header is truncated: the "fmt " chunk has ${fmt.available} of its ${fmt.declared} bytes`);
  }
  if (layout.container === 'RF64' && !layout.ds64) throw invalidAudio('RF64 WAV has no ds64 chunk');
  const le = layout.container !== 'RIFX';
  const parts: Uint8Array[] = [bytes.subarray(0, 12)];
  const addChunk = (id: string, body: Uint8Array) => {
    const head = new Uint8Array(8);
    for (let i = 0; i < 4; i++) head[i] = id.charCodeAt(i);
    new DataView(head.buffer).setUint32(4, body.length, le);
    parts.push(head, body, new Uint8Array(body.length % 2));
  };
  if (layout.ds64) addChunk('ds64', bytes.subarray(layout.ds64.start, layout.ds64.start + layout.ds64.available));
  addChunk('fmt ', bytes.subarray(fmt.start, fmt.start + fmt.declared));
  addChunk('data', new Uint8Array(0));
  const header = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    header.set(p, at);
    at += p.length;
  }
  const wav = new WaveFile();
  try {
    wav.fromBuffer(header, false);
  } catch (err) {
    throw invalidAudio(`malformed WAV header: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return wav.fmt as WaveFmt;
}

interface WavLayout {
  kind: SampleKind;
  channels: number;
  sampleRate: number;
  frames: number;
  view: DataView;
  littleEndian: boolean;
}

/** @internal The sample format a WAV header describes. */
export interface WavFormat {
  kind: SampleKind;
  channels: number;
  sampleRate: number;
  littleEndian: boolean;
}

/** @internal Validates the header chunks of `layout` (found in `bytes`) and says how to decode the samples. */
export function wavFormat(bytes: Uint8Array, layout: RiffLayout): WavFormat {
  const fmt = parseHeader(bytes, layout);

  const channels = fmt.numChannels;
  const sampleRate = fmt.sampleRate;
  const bits = fmt.bitsPerSample;
  if (!Number.isInteger(channels) || channels < 1) throw invalidAudio(`WAV header says ${String(channels)} channels`);
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_WAV_RATE || sampleRate > MAX_WAV_RATE) {
    throw invalidAudio(`unsupported sample rate: the WAV header says ${String(sampleRate)} Hz (supported: ${MIN_WAV_RATE} to ${MAX_WAV_RATE} Hz)`);
  }
  if (!Number.isInteger(bits) || bits < 1) throw invalidAudio(`WAV header says ${String(bits)} bits per sample`);

  let formatTag = fmt.audioFormat;
  const extensible = formatTag === FORMAT_EXTENSIBLE;
  if (extensible) {
    // The first 4 bytes of the SubFormat GUID are the actual format tag
    // (KSDATAFORMAT_SUBTYPE_PCM = 00000001-0000-0010-8000-00aa00389b71, ..._IEEE_FLOAT = 00000003-...).
    const sub = fmt.subformat;
    if (!Array.isArray(sub) || sub.length < 1 || !Number.isInteger(sub[0])) {
      throw invalidAudio('WAVE_FORMAT_EXTENSIBLE header without a SubFormat (the fmt chunk is too short)');
    }
    formatTag = sub[0]!;
  }
  const kind = sampleKind(formatTag, bits, fmt.validBitsPerSample, extensible);
  return { kind, channels, sampleRate, littleEndian: layout.container !== 'RIFX' };
}

/** @internal The error for a data chunk without one whole frame. */
export function noSamplesError(available: number, frameBytes: number): WhisperError {
  return invalidAudio(
    available === 0
      ? 'WAV has 0 samples (the data chunk is empty)'
      : `WAV has 0 samples (the data chunk has ${available} bytes, less than one ${frameBytes}-byte frame)`,
  );
}

function wavLayout(bytes: Uint8Array): WavLayout {
  const layout = walkRiff(bytes);
  const { kind, channels, sampleRate, littleEndian } = wavFormat(bytes, layout);
  const { data } = layout;
  if (!data) throw invalidAudio('WAV has no data chunk (0 samples)');
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
  if (channelOption !== 'mix' && channelOption >= channels) {
    throw invalidArgument(
      'channel',
      `'mix' or a channel index from 0 to ${channels - 1} (the WAV has ${channels} channel${channels === 1 ? '' : 's'})`,
      channelOption,
    );
  }
  const out = decodeFrames(kind, view, littleEndian, channels, channelOption, frames);
  assertFinitePcm(out, 'audio');
  return { samples: out, sampleRate, channels, bitDepth: BIT_DEPTH_CODE[kind], durationSeconds: frames / sampleRate };
}

/**
 * @internal Decodes `frames` whole frames from `view` (which starts at a frame) to mono float32:
 * one channel, or miniaudio's mono mix.
 */
export function decodeFrames(
  kind: SampleKind,
  view: DataView,
  littleEndian: boolean,
  channels: number,
  channelOption: 'mix' | number,
  frames: number,
): Float32Array {
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

/** Decodes the bytes of a WAV file to 16 kHz mono float32 PCM (see the top of this file). */
export function decodeWav(bytes: Uint8Array, options?: AudioOptions): Float32Array {
  const wav = readWav(bytes, options);
  if (wav.sampleRate === WHISPER_SAMPLE_RATE) return wav.samples;
  const out = resample(wav.samples, wav.sampleRate, WHISPER_SAMPLE_RATE);
  if (out.length === 0) {
    throw invalidAudio(`WAV is too short: ${wav.samples.length} samples at ${wav.sampleRate} Hz make 0 samples at 16 kHz`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loading

function describeFsError(err: unknown): { code: string; message: string } {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const message = err instanceof Error ? err.message : String(err);
  return { code, message };
}

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EACCES', 'EPERM']);

async function readAudioFile(path: string): Promise<Buffer> {
  let stat;
  try {
    stat = await fsp.stat(path);
  } catch (err) {
    const { code, message } = describeFsError(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new WhisperError('AUDIO_NOT_FOUND', `audio: file not found: ${path}`, { cause: err });
    }
    if (NOT_FOUND_CODES.has(code)) {
      throw new WhisperError('AUDIO_NOT_FOUND', `audio: cannot access ${path}: ${message}`, { cause: err });
    }
    throw invalidAudio(`cannot read ${path}: ${message}`, err);
  }
  if (stat.isDirectory()) {
    throw new WhisperError('AUDIO_NOT_FOUND', `audio: expected a WAV file, but ${path} is a directory`);
  }
  try {
    return await fsp.readFile(path);
  } catch (err) {
    const { code, message } = describeFsError(err);
    if (NOT_FOUND_CODES.has(code)) {
      throw new WhisperError('AUDIO_NOT_FOUND', `audio: cannot read ${path}: ${message}`, { cause: err });
    }
    throw invalidAudio(`cannot read ${path}: ${message}`, err);
  }
}

/**
 * Turns any AudioInput into 16 kHz mono float32 PCM.
 * - Float32Array: checked (non-empty, finite) and returned as is, without a copy.
 * - string: a WAV file, read asynchronously and decoded (errors mention the path).
 * - Buffer / Uint8Array: WAV file bytes, decoded.
 */
export async function loadAudio(input: AudioInput, options?: AudioOptions): Promise<Float32Array> {
  const channel = resolveChannel(options);
  if (input instanceof Float32Array) {
    if (input.length === 0) throw invalidArgument('audio', 'a non-empty Float32Array of 16 kHz mono PCM', input);
    if (channel !== 'mix' && channel !== 0) {
      throw invalidArgument('channel', "'mix' or 0 (a Float32Array is mono)", channel);
    }
    assertFinitePcm(input, 'audio');
    return input;
  }
  if (typeof input === 'string') {
    if (input.length === 0) throw invalidArgument('audio', 'a non-empty WAV file path', input);
    const bytes = await readAudioFile(input);
    try {
      return decodeWav(bytes, options);
    } catch (err) {
      if (err instanceof WhisperError && err.code === 'INVALID_AUDIO') {
        throw new WhisperError('INVALID_AUDIO', `${err.message} (file: ${input})`, { cause: err.cause });
      }
      throw err;
    }
  }
  if (input instanceof Uint8Array) {
    return decodeWav(input, options);
  }
  throw invalidArgument('audio', INPUT_EXPECTED, input);
}

// ---------------------------------------------------------------------------------------------
// Resampling: Kaiser-windowed sinc, polyphase when the rate ratio is a small fraction.

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
        inputRange: (oFrom, oTo) => [
          Math.max(0, Math.floor((oFrom * down) / up) - H + 1),
          Math.min(n, Math.floor(((oTo - 1) * down) / up) + H + 1),
        ],
        run: (x, xOffset, out, oFrom) => resamplePolyphase(x, xOffset, n, out, oFrom, up, down, H, table),
      };
    }
  }
  const step = fromRate / toRate;
  const kernel = directKernel(design);
  return {
    outputLength,
    inputRange: (oFrom, oTo) => [
      Math.max(0, Math.ceil(oFrom * step - design.halfWidth)),
      Math.min(n, Math.floor((oTo - 1) * step + design.halfWidth) + 1),
    ],
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

function resampleDirect(
  x: Float32Array,
  xOffset: number,
  n: number,
  out: Float32Array,
  oFrom: number,
  step: number,
  d: KernelDesign,
  kernel: Float64Array,
): void {
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
