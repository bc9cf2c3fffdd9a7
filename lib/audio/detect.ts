/**
 * What an audio input is, from its first bytes alone: never from a file name, which can lie
 * and which a Buffer or a stream does not have. The answer routes the input to a decoder: the
 * addon's miniaudio decoders (dr_wav, dr_flac, dr_mp3, stb_vorbis), or ffmpeg.
 */

export type DetectedAudio =
  /** RIFF/RIFX/RF64/BW64 with form type WAVE: the addon's dr_wav decodes it. */
  | { kind: 'wav' }
  /** The addon decodes it. `what` names it for people ('FLAC', 'MP3', 'MP2', 'MP1', 'Ogg Vorbis'). */
  | { kind: 'native'; format: 'flac' | 'mp3' | 'vorbis'; what: string }
  /** Recognised, but only ffmpeg decodes it; `what` names it ('Opus in Ogg', 'AAC (ADTS)', 'Ogg with no audio stream', ...). */
  | { kind: 'ffmpeg'; what: string }
  /** Not recognised: let ffmpeg try when it is present. */
  | { kind: 'unknown' };

/** @internal More of the input is needed to decide: the first `needBytes` bytes (more than were given). */
export interface NeedBytes {
  needBytes: number;
}

/** @internal How many bytes to offer detectAudio first. */
export const DETECT_HEAD_BYTES = 4096;

/**
 * @internal The largest ID3v2 tag (cover art included) skipped to find the audio behind it.
 * A tag claiming more is answered 'unknown' rather than asking to buffer that much, so the
 * buffered head never exceeds this plus DETECT_SCAN_BYTES.
 */
export const MAX_ID3_TAG_BYTES = 16 * 1024 * 1024;

/** How far past the last ID3 tag detection reads at most: Ogg start pages, Matroska tracks, zero padding. */
const DETECT_SCAN_BYTES = 1024 * 1024;

/** Detection never asks for, or looks at, more than this many bytes. */
const DETECT_LIMIT_BYTES = MAX_ID3_TAG_BYTES + DETECT_SCAN_BYTES;

const UNKNOWN: DetectedAudio = { kind: 'unknown' };

const ffmpeg = (what: string): DetectedAudio => ({ kind: 'ffmpeg', what });

/**
 * @internal What the input is, by magic bytes. `head`: the first bytes of the input; `ended`:
 * true when `head` is the whole input. When it cannot decide yet (an ID3v2 tag of N bytes
 * precedes the audio, an Ogg page is cut, the second MPEG frame header lies beyond the head)
 * it returns how many bytes from the start it needs, always more than `head.length` and never
 * more than MAX_ID3_TAG_BYTES plus 1 MiB; with `ended` it always decides. Empty input is
 * 'unknown' (the caller reports it as empty).
 */
export function detectAudio(head: Uint8Array, ended: boolean): DetectedAudio | NeedBytes {
  try {
    return detectAfterTags(new Head(head, ended));
  } catch (error) {
    if (!(error instanceof NeedMore)) throw error;
    // At least double what was given, so a caller peeking a stream goes round a few times, not once a byte.
    return { needBytes: Math.min(DETECT_LIMIT_BYTES, Math.max(error.bytes, 2 * head.length, DETECT_HEAD_BYTES)) };
  }
}

/** Thrown inside detection when bytes that may still arrive are needed; `bytes` counts from the start of the input. */
class NeedMore extends Error {
  constructor(readonly bytes: number) {
    super(`detection needs the first ${bytes} bytes`);
  }
}

/** The head of the input, with reads that either succeed, report the input ended first, or throw NeedMore. */
class Head {
  constructor(
    readonly bytes: Uint8Array,
    readonly ended: boolean,
  ) {}

  /** True when bytes [at, at + n) are in the head; false when the input ends first (or they lie past the detection limit); otherwise NeedMore. */
  has(at: number, n: number): boolean {
    const end = at + n;
    if (end <= this.bytes.length) return true;
    if (this.ended || end > DETECT_LIMIT_BYTES) return false;
    throw new NeedMore(end);
  }

  /** True when the input holds `magic` (one char per byte) at `at`; asks for more only while what is there still matches. */
  startsWith(at: number, magic: string): boolean {
    for (let i = 0; i < magic.length; i++) {
      if (at + i >= this.bytes.length) return this.has(at, magic.length);
      if (this.bytes[at + i] !== magic.charCodeAt(i)) return false;
    }
    return true;
  }

  u8(at: number): number {
    return this.bytes[at]!;
  }

  u32be(at: number): number {
    return ((this.u8(at) << 24) | (this.u8(at + 1) << 16) | (this.u8(at + 2) << 8) | this.u8(at + 3)) >>> 0;
  }

  latin1(at: number, n: number): string {
    return String.fromCharCode(...this.bytes.subarray(at, at + n));
  }
}

/** ID3v2 tags (one or several, as some taggers leave) are skipped, then the format is read from what follows. */
function detectAfterTags(h: Head): DetectedAudio {
  let at = 0;
  while (h.startsWith(at, 'ID3')) {
    const tagEnd = id3TagEnd(h, at);
    if (tagEnd === undefined || tagEnd > MAX_ID3_TAG_BYTES) return UNKNOWN;
    // Ask for the whole tag and a head's worth behind it at once, not byte by byte.
    if (tagEnd >= h.bytes.length && !h.ended) throw new NeedMore(tagEnd + DETECT_HEAD_BYTES);
    at = tagEnd;
    // Some taggers pad with zeros the tag size does not count.
    const paddingLimit = at + DETECT_SCAN_BYTES;
    while (at < paddingLimit && h.has(at, 1) && h.u8(at) === 0) at++;
  }
  if (at === 0) return detectFormat(h, 0);
  const behindTag = detectFormat(h, at);
  // dr_flac and dr_mp3 skip an ID3v2 tag themselves; dr_wav and stb_vorbis do not, ffmpeg does.
  if (behindTag.kind === 'wav') return ffmpeg('WAV behind an ID3 tag');
  if (behindTag.kind === 'native' && behindTag.format === 'vorbis') return ffmpeg('Ogg Vorbis behind an ID3 tag');
  return behindTag;
}

/**
 * Where an ID3v2 tag at `at` ends: a 10-byte header ("ID3", major version 2 to 4, revision,
 * flags, a 28-bit size in four 7-bit bytes that counts neither the header nor the 10-byte
 * footer v2.4 flags with bit 4). Undefined when the header is cut or invalid.
 */
function id3TagEnd(h: Head, at: number): number | undefined {
  if (!h.has(at, 10)) return undefined;
  const major = h.u8(at + 3);
  if (major < 2 || major > 4 || h.u8(at + 4) === 0xff) return undefined;
  let size = 0;
  for (let i = 6; i < 10; i++) {
    const byte = h.u8(at + i);
    if (byte >= 0x80) return undefined;
    size = size * 128 + byte;
  }
  const footer = major === 4 && (h.u8(at + 5) & 0x10) !== 0 ? 10 : 0;
  return at + 10 + size + footer;
}

const ASF_HEADER_GUID = '\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c';
const EBML_MAGIC = '\x1a\x45\xdf\xa3';

/** Magic numbers at the very start that name a format only ffmpeg decodes. Longer ones sharing a prefix come first. */
const FFMPEG_MAGIC: readonly (readonly [string, string])[] = [
  ['#!AMR-WB\n', 'AMR-WB'],
  ['#!AMR_MC1.0\n', 'AMR (multichannel)'],
  ['#!AMR\n', 'AMR'],
  [ASF_HEADER_GUID, 'WMA/ASF'],
  ['caff', 'CAF'],
  ['.snd', 'Sun AU'],
  ['wvpk', 'WavPack'],
  ['MAC ', "Monkey's Audio"],
  ['TTA1', 'TTA'],
  ['FLV\x01', 'FLV'],
  ['.RMF', 'RealMedia'],
  ['\x00\x00\x01\xba', 'MPEG program stream'],
];

/** Magic numbers of well-known files that are not audio, answered 'unknown' without looking further. */
const NOT_AUDIO_MAGIC = ['MThd' /* Standard MIDI: notes, not sound */];

function detectFormat(h: Head, at: number): DetectedAudio {
  if (!h.has(at, 1)) return UNKNOWN;
  for (const riff of ['RIFF', 'RIFX', 'RF64', 'BW64']) if (h.startsWith(at, riff)) return detectRiff(h, at, riff);
  if (h.startsWith(at, 'fLaC')) return { kind: 'native', format: 'flac', what: 'FLAC' };
  if (h.startsWith(at, 'OggS')) return detectOgg(h, at);
  if (h.startsWith(at, EBML_MAGIC)) return detectEbml(h, at);
  if (h.u8(at) === 0xff) return detectMpegAudio(h, at);
  if (h.startsWith(at + 4, 'ftyp')) return detectIsoBmff(h, at);
  if (h.startsWith(at, 'FORM')) return detectIff(h, at);
  for (const [magic, what] of FFMPEG_MAGIC) if (h.startsWith(at, magic)) return ffmpeg(what);
  if (NOT_AUDIO_MAGIC.some((magic) => h.startsWith(at, magic))) return UNKNOWN;
  if (isQuickTimeWithoutFtyp(h, at)) return ffmpeg('QuickTime');
  if (isMpegTransportStream(h, at)) return ffmpeg('MPEG-TS');
  return UNKNOWN;
}

/** RIFF-style containers: the form type at byte 8 says what is inside. */
function detectRiff(h: Head, at: number, riff: string): DetectedAudio {
  // Cut before the form type: still a WAV to our decoder, whose error says the header is truncated.
  if (!h.has(at + 8, 4)) return { kind: 'wav' };
  const form = h.latin1(at + 8, 4);
  if (form === 'WAVE') return { kind: 'wav' };
  if (riff !== 'RIFF') return UNKNOWN;
  if (form === 'AVI ') return ffmpeg('AVI');
  if (form === 'CDXA') return ffmpeg('Video CD (RIFF CDXA)');
  return UNKNOWN; // RMID, WEBP, ANI and others: not audio we know
}

function detectIff(h: Head, at: number): DetectedAudio {
  if (!h.has(at + 8, 4)) return UNKNOWN;
  const form = h.latin1(at + 8, 4);
  if (form === 'AIFF') return ffmpeg('AIFF');
  if (form === 'AIFC') return ffmpeg('AIFF-C');
  if (form === '8SVX') return ffmpeg('IFF 8SVX');
  return UNKNOWN;
}

/** HEIF/AVIF and JPEG 2000 images share the ISO box layout. */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis', 'jp2 ', 'jpx ', 'crx ']);

/** ISO base media (MP4, M4A, 3GP, QuickTime): the major brand of the leading ftyp box. */
function detectIsoBmff(h: Head, at: number): DetectedAudio {
  if (!h.has(at + 8, 4)) return UNKNOWN;
  const brand = h.latin1(at + 8, 4);
  if (IMAGE_BRANDS.has(brand)) return UNKNOWN;
  if (brand === 'qt  ') return ffmpeg('QuickTime');
  const shown = printable(brand);
  if (brand.startsWith('3g')) return ffmpeg(`3GP (brand ${shown})`);
  return ffmpeg(`MP4/M4A (brand ${shown})`);
}

/** Old QuickTime files start with a moov, mdat or wide atom instead of ftyp. */
function isQuickTimeWithoutFtyp(h: Head, at: number): boolean {
  if (!['moov', 'mdat', 'wide'].some((atom) => h.startsWith(at + 4, atom))) return false;
  const size = h.u32be(at);
  return size === 0 || size === 1 || size >= 8; // 0: to the end of the file, 1: a 64-bit size follows
}

/** 188-byte packets, each starting with the sync byte 0x47: three in a row. */
function isMpegTransportStream(h: Head, at: number): boolean {
  return h.u8(at) === 0x47 && h.has(at + 376, 1) && h.u8(at + 188) === 0x47 && h.u8(at + 376) === 0x47;
}

/** A four-character code as is when it is printable ASCII, else quoted with escapes. */
function printable(code: string): string {
  return /^[\x20-\x7e]*$/.test(code) ? code : JSON.stringify(code);
}

/** kbps by bitrate index, for [MPEG-1, MPEG-2/2.5][layer 1, 2, 3]. Index 0 is free format, 15 is invalid. */
const MPEG_KBPS = [
  [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
] as const;

const MPEG1_SAMPLE_RATES = [44100, 48000, 32000] as const;

/** Free-format frames have no stated length: the next header is searched for this far. */
const MAX_FREE_FORMAT_FRAME_BYTES = 4096;

interface MpegFrame {
  /** 1 (MPEG-1), 2 (MPEG-2) or 2.5 (MPEG-2.5). */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  sampleRate: number;
  /** The frame's length in bytes, padding included; undefined for free format. */
  length: number | undefined;
  mono: boolean;
  crc: boolean;
}

/**
 * An MPEG audio frame header at `at`: 11 sync bits, a version that is not the reserved 01, a
 * layer that is not the reserved 00, a bitrate index that is not 15 and a sample-rate index
 * that is not 3. Undefined when any of them fails.
 */
function mpegFrameAt(h: Head, at: number): MpegFrame | undefined {
  if (!h.has(at, 4)) return undefined;
  const b1 = h.u8(at + 1);
  const b2 = h.u8(at + 2);
  if (h.u8(at) !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const sampleRateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 15 || sampleRateIndex === 3) return undefined;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const sampleRate = MPEG1_SAMPLE_RATES[sampleRateIndex]! / (version === 1 ? 1 : version === 2 ? 2 : 4);
  const bitsPerSecond = MPEG_KBPS[version === 1 ? 0 : 1][layer - 1][bitrateIndex]! * 1000;
  const padding = (b2 >> 1) & 1;
  let length: number | undefined;
  if (bitsPerSecond > 0) {
    // Layer I counts 4-byte slots of 384 samples; layers II and III bytes of 1152 samples (576 for layer III below MPEG-1).
    if (layer === 1) length = (Math.floor((12 * bitsPerSecond) / sampleRate) + padding) * 4;
    else length = Math.floor(((layer === 3 && version !== 1 ? 72 : 144) * bitsPerSecond) / sampleRate) + padding;
  }
  return { version, layer, sampleRate, length, mono: h.u8(at + 3) >> 6 === 3, crc: (b1 & 1) === 0 };
}

function sameMpegStream(a: MpegFrame, b: MpegFrame): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate && (a.length === undefined) === (b.length === undefined);
}

/**
 * A frame sync (0xFF then three set bits): MPEG audio layers I-III, which dr_mp3 decodes all
 * three of, or with the layer bits 00 and the 12-bit sync an ADTS AAC frame. One valid header
 * is not enough (0xFF 0xFB opens plenty of non-audio bytes): a second header must sit where the
 * first frame ends, unless the input ends first or the first frame is a Xing/Info/VBRI frame.
 */
function detectMpegAudio(h: Head, at: number): DetectedAudio {
  if (!h.has(at, 4)) return UNKNOWN;
  const b1 = h.u8(at + 1);
  if ((b1 & 0xf6) === 0xf0) return detectAdts(h, at);
  const frame = mpegFrameAt(h, at);
  if (frame === undefined) return UNKNOWN;
  const found: DetectedAudio = { kind: 'native', format: 'mp3', what: `MP${frame.layer}` };
  if (frame.layer === 3 && hasVbrHeader(h, at, frame)) return found;
  const next = frame.length === undefined ? nextFreeFormatHeader(h, at, frame) : at + frame.length;
  if (next === undefined) return UNKNOWN;
  if (!h.has(next, 4)) return found; // the input ends inside the first frame
  const second = mpegFrameAt(h, next);
  return second !== undefined && sameMpegStream(frame, second) ? found : UNKNOWN;
}

/**
 * The Xing/Info tag (LAME, VBR and CBR) sits right after the side information of the first
 * layer III frame; Fraunhofer's VBRI always 32 bytes after the header.
 */
function hasVbrHeader(h: Head, at: number, frame: MpegFrame): boolean {
  const sideInfoBytes = frame.version === 1 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xingAt = at + 4 + (frame.crc ? 2 : 0) + sideInfoBytes;
  return h.startsWith(xingAt, 'Xing') || h.startsWith(xingAt, 'Info') || h.startsWith(at + 36, 'VBRI');
}

/** Where the frame after a free-format one starts: the first header of the same stream, also free format. */
function nextFreeFormatHeader(h: Head, at: number, frame: MpegFrame): number | undefined {
  for (let next = at + 4; next <= at + MAX_FREE_FORMAT_FRAME_BYTES; next++) {
    if (!h.has(next, 4)) return next; // ended inside the first frame: nothing contradicts it
    const candidate = h.u8(next) === 0xff ? mpegFrameAt(h, next) : undefined;
    if (candidate !== undefined && sameMpegStream(frame, candidate)) return next;
  }
  return undefined;
}

/**
 * ADTS: 12 sync bits, layer 00, a sampling-frequency index below 13 and a 13-bit frame length
 * that covers at least the header (7 bytes, 9 with a CRC); the next frame header follows it.
 */
function detectAdts(h: Head, at: number): DetectedAudio {
  const header = adtsHeaderAt(h, at);
  if (header === undefined) return UNKNOWN;
  const next = at + header.length;
  if (!h.has(next, 7)) return ffmpeg('AAC (ADTS)');
  const second = adtsHeaderAt(h, next);
  return second !== undefined && second.sampleRateIndex === header.sampleRateIndex ? ffmpeg('AAC (ADTS)') : UNKNOWN;
}

function adtsHeaderAt(h: Head, at: number): { length: number; sampleRateIndex: number } | undefined {
  if (!h.has(at, 7)) return undefined;
  const b1 = h.u8(at + 1);
  if (h.u8(at) !== 0xff || (b1 & 0xf6) !== 0xf0) return undefined;
  const sampleRateIndex = (h.u8(at + 2) >> 2) & 0xf;
  const length = ((h.u8(at + 3) & 3) << 11) | (h.u8(at + 4) << 3) | (h.u8(at + 5) >> 5);
  const headerBytes = (b1 & 1) === 1 ? 7 : 9;
  if (sampleRateIndex > 12 || length < headerBytes) return undefined;
  return { length, sampleRateIndex };
}

interface OggStream {
  name: string;
  audio: boolean;
}

/** The first packet of each logical stream, which names its codec. */
const OGG_CODECS: readonly (readonly [string, OggStream])[] = [
  ['\x01vorbis', { name: 'Vorbis', audio: true }],
  ['OpusHead', { name: 'Opus', audio: true }],
  ['\x7fFLAC', { name: 'FLAC', audio: true }],
  ['Speex   ', { name: 'Speex', audio: true }],
  ['PCM     ', { name: 'PCM', audio: true }],
  ['CELT    ', { name: 'CELT', audio: true }],
  ['\x80theora', { name: 'Theora', audio: false }],
  ['OVP80', { name: 'VP8', audio: false }],
  ['BBCD\x00', { name: 'Dirac', audio: false }],
  ['\x80kate\x00\x00\x00', { name: 'Kate', audio: false }],
  ['fishead\x00', { name: 'Skeleton', audio: false }],
];

const OGG_SINGLE_STREAM_NAMES: Record<string, string> = { Opus: 'Opus in Ogg', FLAC: 'Ogg FLAC', Speex: 'Speex in Ogg', PCM: 'PCM in Ogg', CELT: 'CELT in Ogg' };

/** An Ogg file opens with one beginning-of-stream page per logical stream; we read them all (up to 16). */
const MAX_OGG_START_PAGES = 16;

/**
 * Ogg: the codec of every logical stream, from the first packet of each beginning-of-stream
 * page (the spec puts all of them before any other page). Only a lone Vorbis stream goes to
 * stb_vorbis, which reads one stream; anything multiplexed goes to ffmpeg.
 */
function detectOgg(h: Head, at: number): DetectedAudio {
  const streams: OggStream[] = [];
  let page = at;
  while (streams.length < MAX_OGG_START_PAGES && page < at + DETECT_SCAN_BYTES && h.startsWith(page, 'OggS')) {
    if (!h.has(page, 27) || h.u8(page + 4) !== 0) break;
    const beginsStream = (h.u8(page + 5) & 0x02) !== 0;
    if (!beginsStream) break;
    const segments = h.u8(page + 26);
    if (!h.has(page + 27, segments)) break;
    let bodyBytes = 0;
    let firstPacketBytes: number | undefined;
    for (let i = 0; i < segments; i++) {
      const lacing = h.u8(page + 27 + i);
      bodyBytes += lacing;
      if (lacing < 255 && firstPacketBytes === undefined) firstPacketBytes = bodyBytes;
    }
    const body = page + 27 + segments;
    streams.push(oggCodec(h, body, firstPacketBytes ?? bodyBytes));
    page = body + bodyBytes;
  }
  if (streams.length === 0) {
    if (!h.has(at, 27)) return UNKNOWN; // cut inside the first page header
    return h.u8(at + 4) === 0 ? ffmpeg('Ogg starting mid-stream') : UNKNOWN;
  }
  const audio = streams.filter((stream) => stream.audio);
  if (audio.length === 0) return streams.some((stream) => stream.name === 'an unknown codec') ? ffmpeg('Ogg (an unknown codec)') : ffmpeg('Ogg with no audio stream');
  if (streams.length > 1) return ffmpeg(`Ogg (${streams.map((stream) => stream.name).join(' + ')})`);
  const only = streams[0]!.name;
  return only === 'Vorbis' ? { kind: 'native', format: 'vorbis', what: 'Ogg Vorbis' } : ffmpeg(OGG_SINGLE_STREAM_NAMES[only]!);
}

function oggCodec(h: Head, packet: number, packetBytes: number): OggStream {
  for (const [magic, stream] of OGG_CODECS) {
    if (magic.length <= packetBytes && h.startsWith(packet, magic)) return stream;
  }
  return { name: 'an unknown codec', audio: false };
}

const EBML_DOC_TYPE = 0x4282;
const MATROSKA_SEGMENT = 0x18538067;
const MATROSKA_CLUSTER = 0x1f43b675;
const MATROSKA_TRACKS = 0x1654ae6b;
const MATROSKA_TRACK_ENTRY = 0xae;
const MATROSKA_TRACK_TYPE = 0x83;
const MATROSKA_CODEC_ID = 0x86;
const MATROSKA_AUDIO_TRACK = 2;

const MATROSKA_CODEC_NAMES: Record<string, string> = {
  A_OPUS: 'Opus',
  A_VORBIS: 'Vorbis',
  A_FLAC: 'FLAC',
  'A_MPEG/L3': 'MP3',
  'A_MPEG/L2': 'MP2',
  A_AC3: 'AC-3',
  A_EAC3: 'E-AC-3',
  A_DTS: 'DTS',
  A_ALAC: 'ALAC',
  A_TRUEHD: 'TrueHD',
  V_VP8: 'VP8',
  V_VP9: 'VP9',
  V_AV1: 'AV1',
  V_THEORA: 'Theora',
  'V_MPEG4/ISO/AVC': 'H.264',
  'V_MPEGH/ISO/HEVC': 'H.265',
};

function matroskaCodecName(codecId: string): string {
  if (codecId.startsWith('A_AAC')) return 'AAC';
  if (codecId.startsWith('A_PCM')) return 'PCM';
  return MATROSKA_CODEC_NAMES[codecId] ?? printable(codecId);
}

interface Element {
  id: number;
  /** Where the content starts. */
  data: number;
  /** The content's size; undefined for an unknown size (all value bits set). */
  size: number | undefined;
}

/** An EBML variable-length integer: the leading zero bits of the first byte give its length (1 to 8 bytes). */
function readVint(h: Head, at: number, keepMarker: boolean): { value: number; bytes: number; allOnes: boolean } | undefined {
  if (!h.has(at, 1)) return undefined;
  const first = h.u8(at);
  if (first === 0) return undefined;
  const bytes = Math.clz32(first) - 23;
  if (!h.has(at, bytes)) return undefined;
  const marker = 0x80 >> (bytes - 1);
  let value = keepMarker ? first : first & (marker - 1);
  let allOnes = (first & (marker - 1)) === marker - 1;
  for (let i = 1; i < bytes; i++) {
    const byte = h.u8(at + i);
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value, bytes, allOnes };
}

function readElement(h: Head, at: number): Element | undefined {
  const id = readVint(h, at, true);
  if (id === undefined || id.bytes > 4) return undefined;
  const size = readVint(h, at + id.bytes, false);
  if (size === undefined) return undefined;
  return { id: id.value, data: at + id.bytes + size.bytes, size: size.allOnes ? undefined : size.value };
}

/** The children of a known-size element, or of everything from `from` up to `end`; stops at the first cut or unknown-size child. */
function* children(h: Head, from: number, end: number): Generator<Element> {
  let at = from;
  while (at < end) {
    const element = readElement(h, at);
    if (element === undefined) return;
    yield element;
    if (element.size === undefined) return;
    at = element.data + element.size;
  }
}

function elementString(h: Head, element: Element): string | undefined {
  if (element.size === undefined || element.size > 256 || !h.has(element.data, element.size)) return undefined;
  return h.latin1(element.data, element.size).replace(/\0+$/, '');
}

function elementUint(h: Head, element: Element): number | undefined {
  if (element.size === undefined || element.size > 6 || !h.has(element.data, element.size)) return undefined;
  let value = 0;
  for (let i = 0; i < element.size; i++) value = value * 256 + h.u8(element.data + i);
  return value;
}

/**
 * EBML: the header's DocType says Matroska or WebM; the Tracks element of the Segment (found
 * before the first Cluster) says which codecs are inside, so the answer can say 'Opus in WebM'.
 */
function detectEbml(h: Head, at: number): DetectedAudio {
  const header = readElement(h, at);
  if (header === undefined) return UNKNOWN;
  const headerEnd = header.size === undefined ? at + DETECT_SCAN_BYTES : header.data + header.size;
  let docType: string | undefined;
  for (const child of children(h, header.data, headerEnd)) {
    if (child.id === EBML_DOC_TYPE) {
      docType = elementString(h, child);
      break;
    }
  }
  const container = docType === 'webm' ? 'WebM' : docType === 'matroska' ? 'Matroska' : undefined;
  if (container === undefined) return UNKNOWN;
  if (header.size === undefined) return ffmpeg(container);
  const tracks = matroskaTracks(h, headerEnd, at + DETECT_SCAN_BYTES);
  if (tracks === undefined) return ffmpeg(container);
  const audio = tracks.filter((track) => track.audio);
  if (audio.length === 0) return ffmpeg(`${container} with no audio stream`);
  if (tracks.length === 1) return ffmpeg(`${tracks[0]!.codec} in ${container}`);
  return ffmpeg(`${container} (${tracks.map((track) => track.codec).join(' + ')})`);
}

function matroskaTracks(h: Head, segmentAt: number, scanEnd: number): { codec: string; audio: boolean }[] | undefined {
  const segment = readElement(h, segmentAt);
  if (segment === undefined || segment.id !== MATROSKA_SEGMENT) return undefined;
  const segmentEnd = Math.min(scanEnd, segment.size === undefined ? scanEnd : segment.data + segment.size);
  for (const child of children(h, segment.data, segmentEnd)) {
    if (child.id === MATROSKA_CLUSTER) return undefined;
    if (child.id !== MATROSKA_TRACKS || child.size === undefined) continue;
    const tracks: { codec: string; audio: boolean }[] = [];
    for (const entry of children(h, child.data, child.data + child.size)) {
      if (entry.id !== MATROSKA_TRACK_ENTRY || entry.size === undefined) continue;
      let type: number | undefined;
      let codecId = '';
      for (const field of children(h, entry.data, entry.data + entry.size)) {
        if (field.id === MATROSKA_TRACK_TYPE) type = elementUint(h, field);
        if (field.id === MATROSKA_CODEC_ID) codecId = elementString(h, field) ?? '';
      }
      tracks.push({ codec: matroskaCodecName(codecId), audio: type === MATROSKA_AUDIO_TRACK || (type === undefined && codecId.startsWith('A_')) });
    }
    return tracks;
  }
  return undefined;
}
