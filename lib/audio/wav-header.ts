/**
 * The WAV container: walking the RIFF/RIFX/RF64 chunks, parsing the fmt chunk (with wavefile,
 * on a header-only copy) and deciding how the samples are stored. No sample data is read here.
 */
import { WaveFile } from 'wavefile';
import type { WhisperError } from '../errors/whisper-error';
import { invalidAudio } from './pcm';

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
export interface WaveFmt {
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
  const ascii = (start: number, length: number) => String.fromCharCode(...bytes.subarray(start, Math.min(bytes.length, start + length)));
  if (ascii(0, 3) === 'ID3' || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0)) return 'MP3';
  if (ascii(0, 4) === 'fLaC') return 'FLAC';
  if (ascii(0, 4) === 'OggS') return 'Ogg (Vorbis/Opus)';
  if (ascii(4, 4) === 'ftyp') return 'MP4/M4A';
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'WebM/Matroska';
  if (ascii(0, 4) === 'FORM') return 'AIFF';
  return undefined;
}

/** @internal How the samples are stored, as far as decoding cares. */
export type SampleKind = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64' | 'alaw' | 'mulaw';

function sampleKind(formatTag: number, bits: number, validBits: number, extensible: boolean): SampleKind {
  const formatLabel = () => (extensible && validBits > 0 && validBits !== bits ? `${validBits}-bit in ${bits}-bit containers` : `${bits}-bit`);
  if (formatTag === FORMAT_PCM) {
    switch (bits) {
      case 8:
        return 'u8';
      case 16:
        return 's16';
      case 24:
        return 's24';
      case 32:
        return 's32';
      default:
        throw invalidAudio(
          `unsupported WAV format: ${formatLabel()} PCM (supported: 8-bit unsigned, 16/24/32-bit signed PCM, 32/64-bit float, A-law, mu-law); ${CONVERT_HINT}`,
        );
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
/** @internal wavefile's code for each sample kind (DecodedWav.bitDepth). */
export const BIT_DEPTH_CODE: Record<SampleKind, string> = { u8: '8', s16: '16', s24: '24', s32: '32', f32: '32f', f64: '64', alaw: '8a', mulaw: '8m' };

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
  const header = Buffer.concat([
    bytes.subarray(0, 12),
    ...(layout.ds64 ? riffChunkBytes('ds64', bytes.subarray(layout.ds64.start, layout.ds64.start + layout.ds64.available), le) : []),
    ...riffChunkBytes('fmt ', bytes.subarray(fmt.start, fmt.start + fmt.declared), le),
    ...riffChunkBytes('data', new Uint8Array(0), le),
  ]);
  const wav = new WaveFile();
  try {
    wav.fromBuffer(header, false);
  } catch (err) {
    throw invalidAudio(`malformed WAV header: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return wav.fmt as WaveFmt;
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

/** @internal The error for a WAV without a data chunk. */
export function noDataChunkError(): WhisperError {
  return invalidAudio('WAV has no data chunk (0 samples)');
}

/** @internal The error for a data chunk without one whole frame. */
export function noSamplesError(available: number, frameBytes: number): WhisperError {
  return invalidAudio(
    available === 0 ? 'WAV has 0 samples (the data chunk is empty)' : `WAV has 0 samples (the data chunk has ${available} bytes, less than one ${frameBytes}-byte frame)`,
  );
}

/**
 * @internal A RIFF chunk as bytes: the id, the size (`declared`, normally the body's length),
 * the body and the pad byte an odd-sized body gets.
 */
export function riffChunkBytes(id: string, body: Uint8Array, littleEndian: boolean, declared = body.length): Uint8Array[] {
  const head = new Uint8Array(8);
  for (let i = 0; i < 4; i++) head[i] = id.charCodeAt(i);
  new DataView(head.buffer).setUint32(4, declared, littleEndian);
  return [head, body, new Uint8Array(body.length % 2)];
}
