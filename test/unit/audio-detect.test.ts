import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DETECT_HEAD_BYTES, MAX_ID3_TAG_BYTES, detectAudio, type DetectedAudio } from '../../lib/audio/detect';
import { JFK_WAV } from '../support/paths';
import { prng } from './wav-fixtures';

const HAS_FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0;
const FFMPEG_ENCODERS = HAS_FFMPEG ? spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout : '';

/** Bytes from a string, one char per byte. */
function latin1(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function bytes(...parts: (Uint8Array | string | number[])[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((part) => (typeof part === 'string' ? latin1(part) : Uint8Array.from(part)))));
}

function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
}

/** The four 7-bit bytes of an ID3v2 size. */
function syncsafe(size: number): number[] {
  return [(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f];
}

/** An ID3v2 tag of `bodyBytes` bytes after its header (a TIT2 frame padded with zeros). */
function id3Tag(bodyBytes: number, major = 3, flags = 0): Uint8Array {
  const frame = bytes('TIT2', [0, 0, 0, 6, 0, 0, 0], 'title');
  const body = new Uint8Array(bodyBytes);
  body.set(frame.subarray(0, Math.min(frame.length, bodyBytes)));
  return bytes('ID3', [major, 0, flags, ...syncsafe(bodyBytes)], body);
}

/**
 * Detection as a caller streams it: offer DETECT_HEAD_BYTES, then whatever it asks for, until
 * it decides. Checks on the way that every request is for more than it had.
 */
function detectStreamed(file: Uint8Array): { result: DetectedAudio; requests: number[] } {
  const requests: number[] = [];
  let length = Math.min(DETECT_HEAD_BYTES, file.length);
  for (;;) {
    const result = detectAudio(file.subarray(0, length), length >= file.length);
    if (!('needBytes' in result)) return { result, requests };
    expect(result.needBytes).toBeGreaterThan(length);
    expect(requests.length).toBeLessThan(50);
    requests.push(result.needBytes);
    length = Math.min(result.needBytes, file.length);
  }
}

/** The decision on the whole input, which must match the streamed one. */
function detectWhole(file: Uint8Array): DetectedAudio {
  const whole = detectAudio(file, true);
  expect(whole).not.toHaveProperty('needBytes');
  expect(detectStreamed(file).result).toEqual(whole);
  return whole as DetectedAudio;
}

const native = (format: 'flac' | 'mp3' | 'vorbis', what: string): DetectedAudio => ({ kind: 'native', format, what });
const ffmpeg = (what: string): DetectedAudio => ({ kind: 'ffmpeg', what });
const UNKNOWN: DetectedAudio = { kind: 'unknown' };

/** An MPEG-1 layer III header: 128 kbps at 44.1 kHz, stereo, no CRC; 417 bytes a frame, 418 with padding. */
function mp3Header(padding = false): number[] {
  return [0xff, 0xfb, 0x90 | (padding ? 0x02 : 0), 0x00];
}

describe('detectAudio: crafted edge cases', () => {
  it('empty input is unknown once it has ended, and asks for a head while it may still come', () => {
    expect(detectAudio(new Uint8Array(0), true)).toEqual(UNKNOWN);
    expect(detectAudio(new Uint8Array(0), false)).toEqual({ needBytes: DETECT_HEAD_BYTES });
  });

  it('two MPEG-1 layer III headers exactly one computed frame apart are MP3; one byte off is not', () => {
    const frame = (padding: boolean) => bytes(mp3Header(padding), zeros(padding ? 414 : 413));
    expect(frame(false).length).toBe(417);
    expect(detectAudio(bytes(frame(false), frame(false), frame(false)), true)).toEqual(native('mp3', 'MP3'));
    // The padding bit adds one byte: the second header is found at 418.
    expect(detectAudio(bytes(frame(true), frame(false)), true)).toEqual(native('mp3', 'MP3'));
    expect(detectAudio(bytes(frame(false), [0], frame(false)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes(frame(true).subarray(0, 417), frame(false)), true)).toEqual(UNKNOWN);
  });

  it('the second header must be of the same stream: another sample rate or layer is not MP3', () => {
    const first = bytes(mp3Header(), zeros(413));
    expect(detectAudio(bytes(first, [0xff, 0xfb, 0x94, 0x00], zeros(500)), true)).toEqual(UNKNOWN); // 48 kHz
    expect(detectAudio(bytes(first, [0xff, 0xfd, 0x90, 0x00], zeros(500)), true)).toEqual(UNKNOWN); // layer II
    // A different bitrate is normal (VBR): still MP3.
    expect(detectAudio(bytes(first, [0xff, 0xfb, 0xa0, 0x00], zeros(500)), true)).toEqual(native('mp3', 'MP3'));
  });

  it('random bytes that open with FF FB are not MP3, however much of them there is', () => {
    const noise = randomBytes(64 * 1024, 7);
    noise.set(mp3Header(), 0);
    expect(detectAudio(noise, true)).toEqual(UNKNOWN);
    expect(detectAudio(noise.subarray(0, DETECT_HEAD_BYTES), false)).toEqual(UNKNOWN);
  });

  it('one frame header with the input ending inside the frame is MP3; while more may come it asks for the second header', () => {
    const oneFrame = bytes(mp3Header(), zeros(100));
    expect(detectAudio(oneFrame, true)).toEqual(native('mp3', 'MP3'));
    const asked = detectAudio(oneFrame, false);
    expect(asked).toHaveProperty('needBytes');
    expect((asked as { needBytes: number }).needBytes).toBeGreaterThanOrEqual(417 + 4);
  });

  it('reserved version, reserved layer, bitrate index 15 and sample-rate index 3 are refused', () => {
    const twoFrames = (header: number[]) => bytes(header, zeros(413), header, zeros(413));
    expect(detectAudio(twoFrames(mp3Header()), true)).toEqual(native('mp3', 'MP3'));
    expect(detectAudio(twoFrames([0xff, 0xeb, 0x90, 0x00]), true)).toEqual(UNKNOWN); // version 01
    expect(detectAudio(twoFrames([0xff, 0xe1, 0x90, 0x00]), true)).toEqual(UNKNOWN); // MPEG-2.5 sync, layer 00
    expect(detectAudio(twoFrames([0xff, 0xfb, 0xf0, 0x00]), true)).toEqual(UNKNOWN); // bitrate 15
    expect(detectAudio(twoFrames([0xff, 0xfb, 0x9c, 0x00]), true)).toEqual(UNKNOWN); // sample rate 3
  });

  it('layers I and II are MPEG audio dr_mp3 decodes (MP1, MP2), with their own frame lengths', () => {
    // Layer I, MPEG-1, 32 kbps, 44.1 kHz: (floor(12 * 32000 / 44100) + 0) * 4 = 32 bytes.
    const layer1 = [0xff, 0xff, 0x10, 0x00];
    expect(detectAudio(bytes(layer1, zeros(28), layer1, zeros(28)), true)).toEqual(native('mp3', 'MP1'));
    expect(detectAudio(bytes(layer1, zeros(29), layer1, zeros(28)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes(layer1, zeros(20)), true)).toEqual(native('mp3', 'MP1')); // ends inside the first frame
    // Layer II, MPEG-2 (16 kHz), 64 kbps: floor(144 * 64000 / 16000) = 576 bytes (layer III would be 288).
    const layer2 = [0xff, 0xf5, 0x88, 0x00];
    expect(detectAudio(bytes(layer2, zeros(572), layer2, zeros(10)), true)).toEqual(native('mp3', 'MP2'));
    expect(detectAudio(bytes(layer2, zeros(284), layer2, zeros(572)), true)).toEqual(UNKNOWN);
    // Layer III, MPEG-2 (16 kHz), 64 kbps: 72 * 64000 / 16000 = 288 bytes.
    const layer3 = [0xff, 0xf3, 0x88, 0x00];
    expect(detectAudio(bytes(layer3, zeros(284), layer3, zeros(10)), true)).toEqual(native('mp3', 'MP3'));
  });

  it('a free-format stream (bitrate index 0) is MP3 when the next free-format header of the stream follows', () => {
    const header = [0xff, 0xfb, 0x00, 0x00];
    expect(detectAudio(bytes(header, zeros(296), header, zeros(296), header, zeros(10)), true)).toEqual(native('mp3', 'MP3'));
    expect(detectAudio(bytes(header, zeros(5000)), true)).toEqual(UNKNOWN);
  });

  it('a Xing, Info or VBRI first frame is MP3 even with nothing after it', () => {
    // MPEG-1 stereo: 32 bytes of side information, so the tag is at byte 36; VBRI is always at 36.
    for (const tag of ['Xing', 'Info', 'VBRI']) {
      expect(detectAudio(bytes(mp3Header(), zeros(32), tag, randomBytes(4000, 3)), false)).toEqual(native('mp3', 'MP3'));
    }
    // MPEG-2 mono (FF F3 .. C0): 9 bytes of side information.
    expect(detectAudio(bytes([0xff, 0xf3, 0x88, 0xc0], zeros(9), 'Xing', randomBytes(4000, 4)), false)).toEqual(native('mp3', 'MP3'));
    expect(detectAudio(bytes(mp3Header(), zeros(20), 'Xing', randomBytes(4000, 5)), false)).toEqual(UNKNOWN);
  });

  it('ADTS: the 12-bit sync with layer 00 is AAC when its 13-bit frame length leads to the next header', () => {
    // Sync FFF, MPEG-4, layer 00, no CRC; AAC LC, 44.1 kHz (index 4), 2 channels; frame length 300.
    const adts = (length: number, sampleRateIndex = 4) => [
      0xff,
      0xf1,
      0x40 | (sampleRateIndex << 2),
      0x80 | (length >> 11),
      (length >> 3) & 0xff,
      ((length & 7) << 5) | 0x1f,
      0xfc,
    ];
    const frame = (length: number, sampleRateIndex?: number) => bytes(adts(length, sampleRateIndex), zeros(length - 7));
    expect(detectAudio(bytes(frame(300), frame(280), frame(310)), true)).toEqual(ffmpeg('AAC (ADTS)'));
    expect(detectAudio(bytes(frame(300), zeros(1), frame(280)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes(frame(300), frame(280, 3)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes(frame(300, 13), frame(280, 13)), true)).toEqual(UNKNOWN); // reserved sampling index
    expect(detectAudio(bytes(adts(5), zeros(100)), true)).toEqual(UNKNOWN); // shorter than its own header
    expect(detectAudio(frame(300), true)).toEqual(ffmpeg('AAC (ADTS)')); // ends after one frame
  });

  it('ID3v2: the tag is skipped whole (syncsafe size, v2.4 footer) and what follows decides', () => {
    const flac = bytes('fLaC', zeros(100));
    expect(detectAudio(bytes(id3Tag(500), flac), true)).toEqual(native('flac', 'FLAC'));
    expect(detectAudio(bytes(id3Tag(500), zeros(1), flac), true)).toEqual(native('flac', 'FLAC')); // zero padding after the tag
    expect(detectAudio(bytes(id3Tag(500, 4, 0x10), zeros(10), flac), true)).toEqual(native('flac', 'FLAC'));
    expect(detectAudio(bytes(id3Tag(500, 4, 0x10), flac), true)).toEqual(UNKNOWN); // the footer's 10 bytes are skipped, fLaC with them
    // Bit 4 is a footer only in v2.4: a v2.3 tag with it set has no footer.
    expect(detectAudio(bytes(id3Tag(500, 3, 0x10), flac), true)).toEqual(native('flac', 'FLAC'));
    // Two tags in a row (some taggers prepend a new one).
    expect(detectAudio(bytes(id3Tag(300), id3Tag(200, 4), flac), true)).toEqual(native('flac', 'FLAC'));
    // 128 bytes read as a plain size would be 0x00000100 = 256; as syncsafe [0,0,1,0] it is 128.
    expect(detectAudio(bytes(id3Tag(128), flac), true)).toEqual(native('flac', 'FLAC'));
  });

  it('ID3v2 in front of MP3 or AAC frames; in front of WAV or Ogg Vorbis it needs ffmpeg (our decoder and stb_vorbis do not skip it)', () => {
    const mp3 = bytes(mp3Header(), zeros(413), mp3Header(), zeros(413));
    expect(detectAudio(bytes(id3Tag(1000), mp3), true)).toEqual(native('mp3', 'MP3'));
    const wav = bytes('RIFF', [36, 0, 0, 0], 'WAVEfmt ', zeros(40));
    expect(detectAudio(wav, true)).toEqual({ kind: 'wav' });
    expect(detectAudio(bytes(id3Tag(100), wav), true)).toEqual(ffmpeg('WAV behind an ID3 tag'));
  });

  it('a cut ID3 tag asks for the whole tag and a head behind it, and is unknown once the input has ended', () => {
    const cut = bytes(id3Tag(10000)).subarray(0, 4096);
    expect(detectAudio(cut, false)).toEqual({ needBytes: 10 + 10000 + DETECT_HEAD_BYTES });
    expect(detectAudio(cut, true)).toEqual(UNKNOWN);
    expect(detectAudio(latin1('ID3\x03\x00'), true)).toEqual(UNKNOWN); // cut inside the tag header
    expect(detectAudio(latin1('ID'), false)).toEqual({ needBytes: DETECT_HEAD_BYTES });
  });

  it('a tag claiming more than MAX_ID3_TAG_BYTES is unknown, never a request for gigabytes', () => {
    const huge = bytes('ID3', [4, 0, 0, 0x7f, 0x7f, 0x7f, 0x7f], zeros(4000));
    expect(detectAudio(huge, false)).toEqual(UNKNOWN);
    expect(detectAudio(huge, true)).toEqual(UNKNOWN);
    const justUnder = bytes('ID3', [4, 0, 0, ...syncsafe(MAX_ID3_TAG_BYTES - 10)], zeros(4000));
    expect(detectAudio(justUnder, false)).toEqual({ needBytes: MAX_ID3_TAG_BYTES + DETECT_HEAD_BYTES });
    const justOver = bytes('ID3', [4, 0, 0, ...syncsafe(MAX_ID3_TAG_BYTES - 9)], zeros(4000));
    expect(detectAudio(justOver, false)).toEqual(UNKNOWN);
  });

  it('an invalid ID3 header (a size byte with its top bit set, version 5) is unknown', () => {
    expect(detectAudio(bytes('ID3', [3, 0, 0, 0, 0, 0x80, 0], 'fLaC', zeros(10)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes('ID3', [5, 0, 0, 0, 0, 0, 0], 'fLaC', zeros(10)), true)).toEqual(UNKNOWN);
  });

  it('magic numbers of formats only ffmpeg decodes', () => {
    const cases: [Uint8Array, string][] = [
      [bytes('#!AMR\n', zeros(32)), 'AMR'],
      [bytes('#!AMR-WB\n', zeros(32)), 'AMR-WB'],
      [bytes([0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c], zeros(32)), 'WMA/ASF'],
      [bytes('FORM', [0, 0, 0, 100], 'AIFF', zeros(32)), 'AIFF'],
      [bytes('FORM', [0, 0, 0, 100], 'AIFC', zeros(32)), 'AIFF-C'],
      [bytes('caff', [0, 1, 0, 0], zeros(32)), 'CAF'],
      [bytes('.snd', [0, 0, 0, 24], zeros(32)), 'Sun AU'],
      [bytes('RIFF', [100, 0, 0, 0], 'AVI LIST', zeros(32)), 'AVI'],
      [bytes([0, 0, 0, 20], 'ftypM4A ', zeros(32)), 'MP4/M4A (brand M4A )'],
      [bytes([0, 0, 0, 20], 'ftypqt  ', zeros(32)), 'QuickTime'],
      [bytes([0, 0, 0, 20], 'ftyp3gp5', zeros(32)), '3GP (brand 3gp5)'],
      [bytes([0, 0, 0, 8], 'wide', [0, 0, 0, 8], 'mdat', zeros(32)), 'QuickTime'],
    ];
    for (const [input, what] of cases) expect(detectAudio(input, true)).toEqual(ffmpeg(what));
  });

  it('RIFF, RIFX, RF64 and BW64 with WAVE are all ours; other RIFF forms, MIDI and HEIF images are not audio we know', () => {
    for (const riff of ['RIFF', 'RIFX', 'RF64', 'BW64']) expect(detectAudio(bytes(riff, [0xff, 0xff, 0xff, 0xff], 'WAVE', zeros(32)), true)).toEqual({ kind: 'wav' });
    expect(detectAudio(bytes('RIFF', [100, 0, 0, 0], 'WEBPVP8 ', zeros(32)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes('RF64', [100, 0, 0, 0], 'AVI ', zeros(32)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes('MThd', [0, 0, 0, 6, 0, 1, 0, 1, 0, 96], zeros(32)), true)).toEqual(UNKNOWN);
    expect(detectAudio(bytes([0, 0, 0, 24], 'ftypheic', zeros(32)), true)).toEqual(UNKNOWN);
    expect(detectAudio(latin1('just some text that is not audio at all'), true)).toEqual(UNKNOWN);
    // Cut before the form type: our WAV decoder says it is truncated.
    expect(detectAudio(latin1('RIFF\x24\x00'), true)).toEqual({ kind: 'wav' });
  });

  it('Ogg: a cut page header asks for more; a page that does not begin a stream is Ogg joined mid-stream', () => {
    const page = (flags: number, packet: Uint8Array) => bytes('OggS', [0, flags], zeros(20), [1, packet.length], packet);
    const theora = page(0x02, bytes('\x80theora', zeros(34)));
    expect(detectAudio(theora.subarray(0, 20), false)).toEqual({ needBytes: DETECT_HEAD_BYTES });
    expect(detectAudio(theora.subarray(0, 20), true)).toEqual(UNKNOWN);
    expect(detectAudio(theora, true)).toEqual(ffmpeg('Ogg with no audio stream'));
    expect(detectAudio(bytes(theora, page(0x02, bytes('\x01vorbis', zeros(22)))), true)).toEqual(ffmpeg('Ogg (Theora + Vorbis)'));
    expect(detectAudio(page(0x02, bytes('\x01vorbis', zeros(22))), true)).toEqual(native('vorbis', 'Ogg Vorbis'));
    expect(detectAudio(bytes(page(0x02, bytes('\x01vorbis', zeros(22))), page(0x02, bytes('fishead\0', zeros(56)))), true)).toEqual(ffmpeg('Ogg (Vorbis + Skeleton)'));
    expect(detectAudio(page(0x00, bytes('\x01vorbis', zeros(22))), true)).toEqual(ffmpeg('Ogg starting mid-stream'));
    expect(detectAudio(page(0x02, bytes('NoSuchCodec', zeros(22))), true)).toEqual(ffmpeg('Ogg (an unknown codec)'));
    // A single Vorbis page while more may come: the next page header decides whether it is alone.
    expect(detectAudio(page(0x02, bytes('\x01vorbis', zeros(22))), false)).toHaveProperty('needBytes');
  });

  it('EBML: the DocType is read from the header element, wherever it sits among the children', () => {
    const element = (id: number[], content: Uint8Array) => bytes(id, [0x80 | content.length], content);
    const header = (docType: string) =>
      element([0x1a, 0x45, 0xdf, 0xa3], bytes(element([0x42, 0x86], bytes([1])), element([0x42, 0xf7], bytes([1])), element([0x42, 0x82], latin1(docType))));
    expect(detectAudio(header('matroska'), true)).toEqual(ffmpeg('Matroska'));
    expect(detectAudio(header('webm'), true)).toEqual(ffmpeg('WebM'));
    expect(detectAudio(header('webm\0\0'), true)).toEqual(ffmpeg('WebM')); // padded with nulls
    expect(detectAudio(header('notmkv'), true)).toEqual(UNKNOWN);
    const track = (type: number, codec: string) => element([0xae], bytes(element([0x83], bytes([type])), element([0x86], latin1(codec))));
    const segment = (...tracks: Uint8Array[]) =>
      bytes([0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], element([0x16, 0x54, 0xae, 0x6b], bytes(...tracks)));
    expect(detectAudio(bytes(header('webm'), segment(track(2, 'A_OPUS'))), true)).toEqual(ffmpeg('Opus in WebM'));
    expect(detectAudio(bytes(header('matroska'), segment(track(1, 'V_VP9'), track(2, 'A_AAC/MPEG4/LC'))), true)).toEqual(ffmpeg('Matroska (VP9 + AAC)'));
    expect(detectAudio(bytes(header('matroska'), segment(track(1, 'V_VP9'))), true)).toEqual(ffmpeg('Matroska with no audio stream'));
  });

  it('with the input ended, every prefix of every crafted case decides: never a request for more', () => {
    const inputs = [bytes(id3Tag(300), mp3Header(), zeros(413), mp3Header(), zeros(10)), bytes('OggS', [0, 2], zeros(20), [1, 30], '\x01vorbis', zeros(22))];
    for (const input of inputs) {
      for (let n = 0; n <= input.length; n++) expect(detectAudio(input.subarray(0, n), true)).not.toHaveProperty('needBytes');
    }
  });
});

const ffmpegReason = HAS_FFMPEG ? '' : ' (skipped: ffmpeg is not installed)';

describe.skipIf(!HAS_FFMPEG)(`detectAudio: real files written by ffmpeg from jfk.wav${ffmpegReason}`, () => {
  let dir = '';

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-detect-'));
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs ffmpeg with jfk.wav's first 3 s as input 0 and returns the file it wrote. */
  function encode(name: string, args: string[], inputs: string[] = []): Uint8Array {
    const out = path.join(dir, name);
    const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-t', '3', '-i', JFK_WAV, ...inputs, ...args, out], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ffmpeg failed writing ${name}: ${run.stderr}`);
    return new Uint8Array(fs.readFileSync(out));
  }

  const testVideo = ['-f', 'lavfi', '-t', '1', '-i', 'testsrc=size=64x48:rate=5'];

  it('MP3, CBR: ffmpeg writes an ID3v2.4 tag and an Info frame first', () => {
    const file = encode('cbr.mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']);
    expect(Buffer.from(file.subarray(0, 3)).toString('latin1')).toBe('ID3');
    expect(Buffer.from(file.subarray(0, 400)).includes('Info')).toBe(true);
    expect(detectWhole(file)).toEqual(native('mp3', 'MP3'));
  });

  it('MP3, VBR, with a Xing frame', () => {
    const file = encode('vbr.mp3', ['-c:a', 'libmp3lame', '-q:a', '4']);
    expect(Buffer.from(file.subarray(0, 400)).includes('Xing')).toBe(true);
    expect(detectWhole(file)).toEqual(native('mp3', 'MP3'));
  });

  it('MP3 with neither tag nor Xing frame: the bare frame sync decides', () => {
    const file = encode('bare.mp3', ['-c:a', 'libmp3lame', '-b:a', '32k', '-id3v2_version', '0', '-write_xing', '0']);
    expect([file[0], file[1]! & 0xe0]).toEqual([0xff, 0xe0]);
    expect(detectWhole(file)).toEqual(native('mp3', 'MP3'));
    // Cut inside the second frame: the header it needs is there, so the answer is the same.
    expect(detectAudio(file.subarray(0, 500), true)).toEqual(native('mp3', 'MP3'));
  });

  it('MP3 with an ID3v2.3 tag holding a large picture: asks for the tag, then decides', () => {
    const cover = path.join(dir, 'cover.png');
    const png = spawnSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'nullsrc=s=400x400,geq=random(1)*255:128:128',
      '-frames:v',
      '1',
      cover,
    ]);
    expect(png.status).toBe(0);
    const file = encode(
      'apic.mp3',
      ['-map', '0:a', '-map', '1:v', '-c:a', 'libmp3lame', '-b:a', '64k', '-c:v', 'copy', '-id3v2_version', '3', '-metadata:s:v', 'title=Cover'],
      ['-i', cover],
    );
    const tagBytes = 10 + ((file[6]! << 21) | (file[7]! << 14) | (file[8]! << 7) | file[9]!);
    expect(file[3]).toBe(3);
    expect(tagBytes).toBeGreaterThan(100_000);
    const { result, requests } = detectStreamed(file);
    expect(result).toEqual(native('mp3', 'MP3'));
    expect(requests[0]).toBe(tagBytes + DETECT_HEAD_BYTES);
    expect(requests.length).toBe(1);
  });

  it('MP2 (layer II) is decoded by dr_mp3 too', () => {
    expect(detectWhole(encode('x.mp2', ['-c:a', 'mp2', '-b:a', '64k']))).toEqual(native('mp3', 'MP2'));
  });

  it('FLAC, and FLAC with an ID3 tag in front (dr_flac skips it)', () => {
    const file = encode('x.flac', ['-c:a', 'flac']);
    expect(detectWhole(file)).toEqual(native('flac', 'FLAC'));
    expect(detectWhole(bytes(id3Tag(6000), file))).toEqual(native('flac', 'FLAC'));
  });

  it('Ogg Vorbis is native; Ogg Opus, Ogg FLAC and Speex need ffmpeg', () => {
    expect(detectWhole(encode('x.ogg', ['-c:a', 'libvorbis']))).toEqual(native('vorbis', 'Ogg Vorbis'));
    expect(detectWhole(encode('x.opus', ['-c:a', 'libopus']))).toEqual(ffmpeg('Opus in Ogg'));
    expect(detectWhole(encode('flac.oga', ['-c:a', 'flac', '-f', 'ogg']))).toEqual(ffmpeg('Ogg FLAC'));
    expect(detectWhole(encode('x.spx', ['-c:a', 'libspeex']))).toEqual(ffmpeg('Speex in Ogg'));
  });

  it('Ogg with Theora video: the audio stream behind it is found, or its absence reported', () => {
    expect(detectWhole(encode('av.ogv', ['-map', '1:v', '-map', '0:a', '-c:v', 'libtheora', '-c:a', 'libvorbis', '-shortest'], testVideo))).toEqual(
      ffmpeg('Ogg (Theora + Vorbis)'),
    );
    expect(detectWhole(encode('v.ogv', ['-map', '1:v', '-c:v', 'libtheora'], testVideo))).toEqual(ffmpeg('Ogg with no audio stream'));
  });

  it('WebM and Matroska, named with their tracks', () => {
    expect(detectWhole(encode('x.webm', ['-c:a', 'libopus']))).toEqual(ffmpeg('Opus in WebM'));
    expect(detectWhole(encode('av.webm', ['-map', '1:v', '-map', '0:a', '-c:v', 'libvpx', '-c:a', 'libopus', '-shortest'], testVideo))).toEqual(
      ffmpeg('WebM (VP8 + Opus)'),
    );
    expect(detectWhole(encode('x.mkv', ['-c:a', 'flac']))).toEqual(ffmpeg('FLAC in Matroska'));
    expect(detectWhole(encode('av.mkv', ['-map', '1:v', '-map', '0:a', '-c:v', 'libx264', '-c:a', 'aac', '-shortest'], testVideo))).toEqual(
      ffmpeg('Matroska (H.264 + AAC)'),
    );
    expect(detectWhole(encode('v.mkv', ['-map', '1:v', '-c:v', 'libx264'], testVideo))).toEqual(ffmpeg('Matroska with no audio stream'));
  });

  it('MP4 family: M4A, MP4 with video, QuickTime, 3GP', () => {
    expect(detectWhole(encode('x.m4a', ['-c:a', 'aac']))).toEqual(ffmpeg('MP4/M4A (brand M4A )'));
    expect(detectWhole(encode('av.mp4', ['-map', '1:v', '-map', '0:a', '-c:v', 'libx264', '-c:a', 'aac', '-shortest'], testVideo))).toEqual(
      ffmpeg('MP4/M4A (brand isom)'),
    );
    expect(detectWhole(encode('x.mov', ['-c:a', 'aac']))).toEqual(ffmpeg('QuickTime'));
    expect(detectWhole(encode('x.3gp', ['-c:a', 'aac']))).toMatchObject({ kind: 'ffmpeg', what: expect.stringMatching(/^3GP \(brand 3g/) });
  });

  it('AAC in ADTS, bare and with an ID3 tag in front', () => {
    expect(detectWhole(encode('x.aac', ['-c:a', 'aac', '-f', 'adts']))).toEqual(ffmpeg('AAC (ADTS)'));
    const tagged = encode('tagged.aac', ['-c:a', 'aac', '-f', 'adts', '-write_id3v2', '1']);
    expect(Buffer.from(tagged.subarray(0, 3)).toString('latin1')).toBe('ID3');
    expect(detectWhole(tagged)).toEqual(ffmpeg('AAC (ADTS)'));
  });

  it('WAV is ours; AIFF, CAF, AU, AVI, WMA, WavPack, TTA, MPEG-TS, MPEG-PS and FLV need ffmpeg', () => {
    expect(detectWhole(encode('x.wav', []))).toEqual({ kind: 'wav' });
    expect(detectWhole(encode('x.aiff', []))).toEqual(ffmpeg('AIFF'));
    expect(detectWhole(encode('x.caf', []))).toEqual(ffmpeg('CAF'));
    expect(detectWhole(encode('x.au', []))).toEqual(ffmpeg('Sun AU'));
    expect(detectWhole(encode('x.avi', ['-c:a', 'pcm_s16le']))).toEqual(ffmpeg('AVI'));
    expect(detectWhole(encode('x.wma', ['-c:a', 'wmav2']))).toEqual(ffmpeg('WMA/ASF'));
    expect(detectWhole(encode('x.wv', ['-c:a', 'wavpack']))).toEqual(ffmpeg('WavPack'));
    expect(detectWhole(encode('x.tta', ['-c:a', 'tta']))).toEqual(ffmpeg('TTA'));
    expect(detectWhole(encode('x.ts', ['-c:a', 'mp2']))).toEqual(ffmpeg('MPEG-TS'));
    expect(detectWhole(encode('x.mpg', ['-c:a', 'mp2', '-f', 'mpeg']))).toEqual(ffmpeg('MPEG program stream'));
    expect(detectWhole(encode('x.flv', ['-c:a', 'aac']))).toEqual(ffmpeg('FLV'));
  });

  const amrReason = FFMPEG_ENCODERS.includes('libopencore_amrnb') ? '' : ' (skipped: this ffmpeg has no AMR encoder)';
  it.skipIf(amrReason !== '')(`AMR${amrReason}`, () => {
    expect(detectWhole(encode('x.amr', ['-c:a', 'libopencore_amrnb', '-ar', '8000', '-ac', '1', '-b:a', '12.2k']))).toEqual(ffmpeg('AMR'));
  });

  it('every prefix of real files decides once the input has ended, and asks only for more while it has not', () => {
    const files = [
      encode('prefix.mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']),
      encode('prefix-bare.mp3', ['-c:a', 'libmp3lame', '-id3v2_version', '0', '-write_xing', '0']),
      encode('prefix.flac', ['-c:a', 'flac']),
      encode('prefix.ogg', ['-c:a', 'libvorbis']),
      encode('prefix.webm', ['-c:a', 'libopus']),
      encode('prefix.m4a', ['-c:a', 'aac']),
      encode('prefix.aac', ['-c:a', 'aac', '-f', 'adts']),
      encode('prefix.wav', []),
    ];
    for (const file of files) {
      for (let n = 0; n <= 1200; n += 7) {
        const head = file.subarray(0, n);
        expect(detectAudio(head, true)).not.toHaveProperty('needBytes');
        const open = detectAudio(head, false);
        if ('needBytes' in open) expect(open.needBytes).toBeGreaterThan(n);
      }
    }
  });
});
