/**
 * The addon's own decoders (openAudioDecoder: miniaudio's dr_flac, dr_mp3, dr_wav and
 * stb_vorbis), called directly: the samples they give against loadAudio of the source WAV
 * (exactly, where the codec is lossless and nothing is resampled), the channel mix and pick,
 * reads in order, close(), and every bad input as a typed error rather than a crash. Files are
 * made with ffmpeg at test time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio } from '../../lib/audio/load';
import { native } from '../../lib/native/addon';
import type { NativeAudioDecoder, NativeAudioFormat } from '../../lib/native/native-api';
import { REPO_ROOT } from '../support/paths';
import { oggCrc, readAllPieces } from '../support/pcm-pieces';

const JFK_MP3 = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
const JFK_WAV = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'bindings', 'go', 'samples', 'jfk.wav');
const JFK_FRAMES = 176000; // 11 s at 16 kHz
const BINARY = path.resolve(process.env.WHISPER_NAPI_BINARY ?? path.join(REPO_ROOT, 'build', 'Release', 'whisper_napi.node'));

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function open(source: string | Uint8Array, format: NativeAudioFormat, channel = -1): Promise<NativeAudioDecoder> {
  return native().openAudioDecoder(source, { format, channel });
}

function readAll(decoder: NativeAudioDecoder, maxFrames = 16000): Promise<Float32Array> {
  return readAllPieces(decoder, maxFrames);
}

async function decodeAll(source: string | Uint8Array, format: NativeAudioFormat, channel = -1): Promise<Float32Array> {
  const decoder = await open(source, format, channel);
  try {
    return await readAll(decoder);
  } finally {
    decoder.close();
  }
}

/** The first index where the two differ (bit for bit), or -1 when they are equal. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : n;
}

/** The best normalised correlation of `a` against `b` shifted by -maxLag..maxLag samples. */
function bestCorrelation(a: Float32Array, b: Float32Array, maxLag: number): { correlation: number; lag: number } {
  let best = { correlation: -Infinity, lag: 0 };
  for (let lag = -maxLag; lag <= maxLag; lag += 1) {
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (let i = Math.max(0, lag); i < Math.min(a.length, b.length + lag); i++) {
      const x = a[i]!;
      const y = b[i - lag]!;
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    const correlation = dot / Math.sqrt(aa * bb);
    if (correlation > best.correlation) best = { correlation, lag };
  }
  return best;
}

function zeroCrossings(samples: Float32Array, from: number, to: number): number {
  let count = 0;
  for (let i = from + 1; i < to; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) count++;
  return count;
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message?: string };
  }
  throw new Error('expected a rejection');
}

function thrown(call: () => unknown): { code?: string; message?: string } {
  try {
    call();
  } catch (error) {
    return error as { code?: string; message?: string };
  }
  throw new Error('expected a throw');
}

/** Where each Ogg page starts and how long it is (header, segment table and body). */
function oggPages(ogg: Buffer): Array<{ at: number; length: number }> {
  const pages: Array<{ at: number; length: number }> = [];
  for (let at = 0; at + 27 <= ogg.length && ogg.toString('latin1', at, at + 4) === 'OggS';) {
    const segments = ogg[at + 26]!;
    let length = 27 + segments;
    for (let i = 0; i < segments; i++) length += ogg[at + 27 + i]!;
    pages.push({ at, length });
    at += length;
  }
  return pages;
}

/** A copy of `ogg` changed by `edit`, its page CRCs made right again (so only the edit is wrong). */
function editOgg(ogg: Buffer, edit: (out: Buffer) => void): Buffer {
  const out = Buffer.from(ogg);
  edit(out);
  for (const { at, length } of oggPages(out)) {
    out.writeUInt32LE(0, at + 22);
    out.writeUInt32LE(oggCrc(out.subarray(at, at + length)), at + 22);
  }
  return out;
}

/** Bits least significant first, as Vorbis packs them. */
class BitWriter {
  private readonly bits: number[] = [];
  put(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  bytes(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.bits.length / 8));
    this.bits.forEach((bit, i) => (out[i >> 3]! |= bit << (i & 7)));
    return out;
  }
}

const bitsFor = (n: number): number => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1);

interface SyntheticCodebook {
  entries: number;
  dimensions: number;
  /** 'ordered': every entry one codeword length; 'sparse': the entries with `used` set get length 1. */
  lengths: { kind: 'ordered'; length: number } | { kind: 'sparse'; used: (entry: number) => boolean };
  lookupType: 0 | 1 | 2;
}

/**
 * A Vorbis setup header written field by field (Vorbis I spec, section 4.2.4): the codebooks
 * given, one time transform, one floor 1 without partitions, one residue whose classbook is
 * codebook 0, one mapping of `submaps` submaps, one mode, the framing bit.
 */
function setupHeader(codebooks: SyntheticCodebook[], submaps = 1, framing = 1): Buffer {
  const w = new BitWriter();
  for (const byte of Buffer.from('\x05vorbis', 'latin1')) w.put(byte, 8);
  w.put(codebooks.length - 1, 8);
  for (const book of codebooks) {
    w.put(0x564342, 24).put(book.dimensions, 16).put(book.entries, 24);
    if (book.lengths.kind === 'ordered') {
      w.put(1, 1)
        .put(book.lengths.length - 1, 5)
        .put(book.entries, bitsFor(book.entries));
    } else {
      w.put(0, 1).put(1, 1);
      for (let entry = 0; entry < book.entries; entry++) {
        if (book.lengths.used(entry)) w.put(1, 1).put(0, 5);
        else w.put(0, 1);
      }
    }
    w.put(book.lookupType, 4);
    if (book.lookupType !== 0) {
      w.put(0, 32).put(0, 32).put(0, 4).put(0, 1); // minimum and delta 0, 1-bit values, not sequential
      const values = book.lookupType === 1 ? Math.floor(book.entries ** (1 / book.dimensions) + 1e-9) : book.entries * book.dimensions;
      w.put(0, values);
    }
  }
  w.put(0, 6).put(0, 16); // one time transform, type 0
  w.put(0, 6).put(1, 16).put(0, 5).put(0, 2).put(0, 4); // one floor: type 1, no partitions
  w.put(0, 6).put(0, 16).put(0, 24).put(0, 24).put(0, 24).put(0, 6).put(0, 8).put(0, 3).put(0, 1); // one residue, classbook 0
  w.put(0, 6).put(0, 16);
  if (submaps > 1) w.put(1, 1).put(submaps - 1, 4);
  else w.put(0, 1);
  w.put(0, 1).put(0, 2); // no coupling, reserved
  if (submaps > 1) w.put(0, 4); // the one channel's submap
  for (let i = 0; i < submaps; i++) w.put(0, 8).put(0, 8).put(0, 8);
  w.put(0, 6).put(0, 1).put(0, 16).put(0, 16).put(0, 8); // one mode
  w.put(framing, 1);
  return w.bytes();
}

/** An Ogg page holding `packets` whole (each under 64 KB), as libogg lays them out. */
function oggPage(flags: number, sequence: number, granule: bigint, packets: Buffer[]): Buffer {
  const lacing: number[] = [];
  for (const packet of packets) {
    for (let left = packet.length; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  if (lacing.length > 255) throw new Error('packets too long for one page');
  const header = Buffer.alloc(27);
  header.write('OggS', 0, 'latin1');
  header[5] = flags;
  header.writeBigUInt64LE(granule, 6);
  header.writeUInt32LE(0x5eed, 14);
  header.writeUInt32LE(sequence, 18);
  header[26] = lacing.length;
  const page = Buffer.concat([header, Buffer.from(lacing), ...packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/** A one-channel 16 kHz Ogg Vorbis stream with the given setup header and no audio. */
function syntheticVorbis(setup: Buffer): Buffer {
  const identification = Buffer.alloc(30);
  identification.write('\x01vorbis', 0, 'latin1');
  identification[11] = 1;
  identification.writeUInt32LE(16000, 12);
  identification[28] = 0xb8; // block sizes 256 and 2048
  identification[29] = 1;
  const comment = Buffer.concat([Buffer.from('\x03vorbis', 'latin1'), Buffer.from([4, 0, 0, 0]), Buffer.from('test'), Buffer.from([0, 0, 0, 0, 1])]);
  return Buffer.concat([oggPage(2, 0, 0n, [identification]), oggPage(4, 1, 0n, [comment, setup])]);
}

describe('native audio decoder', () => {
  const dir = path.join(inject('workDir'), 'audio-decoder');
  const file = (name: string): string => path.join(dir, name);
  let jfk: Float32Array;

  beforeAll(async () => {
    fs.mkdirSync(dir, { recursive: true });
    jfk = await loadAudio(JFK_WAV);
    expect(jfk.length).toBe(JFK_FRAMES);
    ffmpeg('-i', JFK_WAV, '-c:a', 'flac', file('jfk16.flac'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes whisper.cpp jfk.mp3 from a path and from bytes, close to jfk.wav', async () => {
    const decoder = await open(JFK_MP3, 'mp3');
    // LAME writes an Info header, so the length is stated without a scan.
    expect(decoder.info()).toEqual({ format: 'mp3', sourceSampleRate: 16000, sourceChannels: 1, statedFrames: JFK_FRAMES });
    const fromPath = await readAll(decoder, 7000);
    decoder.close();
    // whisper-cli reads exactly the stated frames; reading to the end gives the same count.
    expect(fromPath.length).toBe(JFK_FRAMES);
    const fromBytes = await decodeAll(new Uint8Array(fs.readFileSync(JFK_MP3)), 'mp3');
    expect(firstDifference(fromPath, fromBytes)).toBe(-1);
    // dr_mp3 drops the encoder delay, so the decoded audio lines up with the WAV.
    const { correlation, lag } = bestCorrelation(fromPath, jfk, 200);
    expect(correlation).toBeGreaterThan(0.9);
    expect(Math.abs(lag)).toBeLessThanOrEqual(2);
  });

  it('decodes 16-bit FLAC to exactly the samples of the WAV it was made from', async () => {
    const decoder = await open(file('jfk16.flac'), 'flac');
    expect(decoder.info()).toEqual({ format: 'flac', sourceSampleRate: 16000, sourceChannels: 1, statedFrames: JFK_FRAMES });
    const samples = await readAll(decoder);
    decoder.close();
    expect(firstDifference(samples, jfk)).toBe(-1);
  });

  it('decodes 24-bit FLAC exactly too', async () => {
    // The gain makes full use of the 24 bits (the low byte is not just zeros).
    ffmpeg('-i', JFK_WAV, '-af', 'volume=0.731', '-c:a', 'pcm_s24le', file('jfk24.wav'));
    ffmpeg('-i', file('jfk24.wav'), '-c:a', 'flac', '-sample_fmt', 's32', '-bits_per_raw_sample', '24', file('jfk24.flac'));
    const expected = await loadAudio(file('jfk24.wav'));
    expect(expected.some((sample) => !Number.isInteger(sample * 32768))).toBe(true);
    const decoder = await open(new Uint8Array(fs.readFileSync(file('jfk24.flac'))), 'flac');
    expect(decoder.info().statedFrames).toBe(JFK_FRAMES);
    const samples = await readAll(decoder);
    decoder.close();
    expect(firstDifference(samples, expected)).toBe(-1);
  });

  it("mixes and picks channels of a 16 kHz stereo FLAC exactly as its WAV (miniaudio's downmix)", async () => {
    // right = jfk reversed in time, so the two channels differ everywhere
    ffmpeg('-i', JFK_WAV, '-filter_complex', '[0:a]asplit[l][r0];[r0]areverse[r];[l][r]join=inputs=2:channel_layout=stereo', '-c:a', 'pcm_s16le', file('stereo.wav'));
    ffmpeg('-i', file('stereo.wav'), '-c:a', 'flac', file('stereo.flac'));
    const wav = file('stereo.wav');
    const mixed = await decodeAll(file('stereo.flac'), 'flac', -1);
    expect(firstDifference(mixed, await loadAudio(wav))).toBe(-1);
    const right = await decodeAll(file('stereo.flac'), 'flac', 1);
    expect(firstDifference(right, await loadAudio(wav, { channel: 1 }))).toBe(-1);
    expect(firstDifference(right, mixed)).not.toBe(-1);
  });

  it('decodes Ogg Vorbis', async () => {
    ffmpeg('-i', JFK_WAV, '-c:a', 'libvorbis', '-q:a', '4', file('jfk.ogg'));
    const decoder = await open(file('jfk.ogg'), 'vorbis');
    const info = decoder.info();
    expect(info).toMatchObject({ format: 'vorbis', sourceSampleRate: 16000, sourceChannels: 1 });
    const samples = await readAll(decoder);
    decoder.close();
    expect(info.statedFrames).toBe(samples.length);
    expect(Math.abs(samples.length - JFK_FRAMES)).toBeLessThan(160);
    expect(bestCorrelation(samples, jfk, 200).correlation).toBeGreaterThan(0.9);
    const fromBytes = await decodeAll(new Uint8Array(fs.readFileSync(file('jfk.ogg'))), 'vorbis');
    expect(firstDifference(samples, fromBytes)).toBe(-1);
  });

  describe('a 44.1 kHz stereo MP3 (left: speech, right: a 440 Hz tone)', () => {
    beforeAll(() => {
      ffmpeg(
        '-i',
        JFK_WAV,
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:duration=11:sample_rate=16000',
        '-filter_complex',
        '[0:a][1:a]join=inputs=2:channel_layout=stereo,aresample=44100',
        '-c:a',
        'libmp3lame',
        '-b:a',
        '128k',
        file('stereo44k.mp3'),
      );
    });

    it('resamples to 16 kHz; channel 0 is the speech and channel 1 the tone', async () => {
      const decoder = await open(file('stereo44k.mp3'), 'mp3', 0);
      const info = decoder.info();
      expect(info).toMatchObject({ format: 'mp3', sourceSampleRate: 44100, sourceChannels: 2 });
      const left = await readAll(decoder);
      decoder.close();
      expect(Math.abs(left.length - JFK_FRAMES)).toBeLessThan(16);
      // What whisper-cli reads (the stated length) and what reading to the end gives are within a frame or two.
      expect(Math.abs(left.length - info.statedFrames)).toBeLessThanOrEqual(2);
      expect(bestCorrelation(left, jfk, 200).correlation).toBeGreaterThan(0.9);
      const right = await decodeAll(file('stereo44k.mp3'), 'mp3', 1);
      expect(right.length).toBe(left.length);
      // 440 Hz crosses zero 880 times a second
      expect(Math.abs(zeroCrossings(right, 16000, 32000) - 880)).toBeLessThanOrEqual(4);
      expect(Math.abs(zeroCrossings(right, 16000 * 9, 16000 * 10) - 880)).toBeLessThanOrEqual(4);
    });

    it('channel -1 is the average of the two channels', async () => {
      const mixed = await decodeAll(file('stereo44k.mp3'), 'mp3', -1);
      const left = await decodeAll(file('stereo44k.mp3'), 'mp3', 0);
      const right = await decodeAll(file('stereo44k.mp3'), 'mp3', 1);
      expect(mixed.length).toBe(left.length);
      let worst = 0;
      for (let i = 0; i < mixed.length; i++) worst = Math.max(worst, Math.abs(mixed[i]! - (left[i]! + right[i]!) / 2));
      expect(worst).toBeLessThan(1e-5);
    });

    it('channel 2 is INVALID_ARGUMENT naming the channel count', async () => {
      expect(await rejection(open(file('stereo44k.mp3'), 'mp3', 2))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'options.audio.channel: expected a channel index below 2 (the audio has 2 channels), got 2',
      });
    });
  });

  describe('reads and close', () => {
    it('concurrent reads get consecutive pieces in call order', async () => {
      const sequential = await decodeAll(JFK_MP3, 'mp3');
      const decoder = await open(JFK_MP3, 'mp3');
      const sizes = Array.from({ length: 40 }, (_, i) => 3000 + 97 * i);
      const pieces = await Promise.all(sizes.map((size) => decoder.read(size)));
      decoder.close();
      pieces.forEach((piece, i) => expect(piece.length).toBeLessThanOrEqual(sizes[i]!));
      const joined = new Float32Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
      let at = 0;
      for (const piece of pieces) {
        joined.set(piece, at);
        at += piece.length;
      }
      expect(joined.length).toBe(JFK_FRAMES);
      expect(firstDifference(joined, sequential)).toBe(-1);
    });

    it('a read asked for before close() finishes; reads after it are refused; close twice is fine', async () => {
      const decoder = await open(JFK_MP3, 'mp3');
      const pending = decoder.read(16000);
      decoder.close();
      decoder.close();
      expect((await pending).length).toBe(16000);
      expect(await rejection(decoder.read(16000))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'decoder: closed' });
      expect(decoder.info().format).toBe('mp3');
    });

    it('keeps returning empty after the end', async () => {
      const decoder = await open(JFK_MP3, 'mp3');
      expect((await readAll(decoder, 960000)).length).toBe(JFK_FRAMES);
      expect((await decoder.read(100)).length).toBe(0);
      decoder.close();
    });

    it('survives its environment ending with reads in flight (worker_threads, process exit)', () => {
      // about 9 minutes of FLAC, so the queued reads are still running when the worker ends
      ffmpeg('-stream_loop', '48', '-i', JFK_WAV, '-c:a', 'flac', file('long.flac'));
      const script = `
        const { Worker } = require('node:worker_threads');
        const binary = process.env.DECODER_BINARY, file = process.env.DECODER_FILE;
        const workerCode = \`
          const { parentPort, workerData } = require('node:worker_threads');
          const addon = require(workerData.binary);
          addon.openAudioDecoder(workerData.file, { format: 'flac', channel: -1 }).then((decoder) => {
            for (let i = 0; i < 12; i++) decoder.read(960000);
            decoder.close();
            // opens in flight too, each scanning 20 MB of bytes that are no MP3
            const junk = Buffer.alloc(20e6, 0xff);
            for (let i = 0; i < 4; i++) addon.openAudioDecoder(junk, { format: 'mp3', channel: -1 }).catch(() => {});
            parentPort.postMessage('reading');
            if (workerData.exit) process.exit(0);
          });
        \`;
        function runWorker(exit) {
          return new Promise((resolve, reject) => {
            const worker = new Worker(workerCode, { eval: true, workerData: { binary, file, exit } });
            worker.on('error', reject);
            worker.on('message', () => { if (!exit) worker.terminate(); });
            worker.on('exit', resolve);
          });
        }
        (async () => {
          await runWorker(false);
          await runWorker(true);
          const addon = require(binary);
          const decoder = await addon.openAudioDecoder(file, { format: 'flac', channel: -1 });
          let total = 0;
          for (;;) { const piece = await decoder.read(960000); if (piece.length === 0) break; total += piece.length; }
          console.log('total ' + total);
          decoder.read(960000);
          process.exit(0);
        })();
      `;
      const child = spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        env: { ...process.env, DECODER_BINARY: BINARY, DECODER_FILE: file('long.flac') },
        timeout: 120_000,
      });
      expect(child.stderr).toBe('');
      expect(child.signal).toBeNull();
      expect(child.status).toBe(0);
      expect(child.stdout.trim()).toBe(`total ${49 * JFK_FRAMES}`);
    });
  });

  describe('bad input is a typed error, never a crash', () => {
    const random = (length: number, seed: number): Uint8Array => {
      const out = new Uint8Array(length);
      let state = seed;
      for (let i = 0; i < length; i++) {
        state = (state * 1103515245 + 12345) >>> 0;
        out[i] = state >>> 24;
      }
      return out;
    };

    it('empty bytes and an empty file', async () => {
      fs.writeFileSync(file('empty.flac'), '');
      for (const source of [new Uint8Array(0), file('empty.flac')]) {
        expect(await rejection(open(source, 'flac'))).toMatchObject({ code: 'INVALID_AUDIO', message: 'audio: empty' });
      }
    });

    it.each([
      ['mp3', 'MP3'],
      ['flac', 'FLAC'],
      ['vorbis', 'Ogg Vorbis'],
      ['wav', 'WAV'],
    ] as const)('random bytes as %s', async (format, name) => {
      for (const seed of [1, 2, 3]) {
        expect(await rejection(open(random(64 * 1024, seed), format))).toMatchObject({
          code: 'INVALID_AUDIO',
          // Ogg Vorbis headers are checked before stb_vorbis sees them.
          message:
            format === 'vorbis'
              ? 'audio: not a valid Ogg Vorbis stream (page 1 does not start with the capture pattern OggS)'
              : `audio: not a valid ${name} stream (miniaudio: its ${name} decoder could not read it)`,
        });
      }
    });

    it('one format asked for as another is refused, not guessed', async () => {
      expect(await rejection(open(JFK_MP3, 'flac'))).toMatchObject({ code: 'INVALID_AUDIO', message: expect.stringMatching(/^audio: not a valid FLAC stream/) });
      expect(await rejection(open(JFK_WAV, 'mp3'))).toMatchObject({ code: 'INVALID_AUDIO', message: expect.stringMatching(/^audio: not a valid MP3 stream/) });
    });

    describe('Ogg Vorbis headers are checked before stb_vorbis 1.22 reads them (CVE-2023-45675..45682)', () => {
      const bothWays = async (bytes: Buffer, name: string): Promise<Array<{ code?: string; message?: string }>> => {
        fs.writeFileSync(file(name), bytes);
        return [await rejection(open(file(name), 'vorbis')), await rejection(open(new Uint8Array(bytes), 'vorbis'))];
      };
      const refusal = (why: string | RegExp) => ({
        code: 'INVALID_AUDIO',
        message: typeof why === 'string' ? `audio: not a valid Ogg Vorbis stream (${why})` : expect.stringMatching(why),
      });
      let plain: Buffer;
      beforeAll(() => {
        ffmpeg('-i', JFK_WAV, '-c:a', 'libvorbis', file('headers.ogg'));
        plain = fs.readFileSync(file('headers.ogg'));
      });
      const commentAt = (ogg: Buffer): number => ogg.indexOf('\x03vorbis', 0, 'latin1');

      it("the fuzzer's two crashes are INVALID_AUDIO from a path and from bytes, in this process", async () => {
        // Seed 1's crash minimised to 131 bytes: a comment header whose vendor string and comment count run
        // past the end of the input; stb_vorbis wrote comment_list[i][-1] and freed entries it never set (SIGABRT).
        const minimised = Buffer.from(
          '4f676753000200000000000000003ddfe683000000005ff76f97011e01766f72626973000000000244ac00000000000000f4010000000000b801' +
            '4f676753000000000000000000003ddfe68301000000e0487a081240ffffffffffffffffffffffffffffffff3c03766f726269730d0000004c61766635392e32020040082184145248',
          'hex',
        );
        expect(await bothWays(minimised, 'minimised.ogg')).toEqual(Array(2).fill(expect.objectContaining(refusal('the stream ends inside page 2'))));
        // Seed 2's: a whole valid file but for 2^31 - 1 comments; the list's allocation failed and stb_vorbis's
        // cleanup walked the null list (SIGSEGV).
        const counted = editOgg(plain, (out) => out.writeUInt32LE(0x7fffffff, commentAt(out) + 11 + out.readUInt32LE(commentAt(out) + 7)));
        for (const error of await bothWays(counted, 'comment-count.ogg')) {
          expect(error).toMatchObject(refusal(/^audio: not a valid Ogg Vorbis stream \(the comment header claims 2147483647 comments, but only \d+ bytes follow\)$/));
        }
      });

      it('a vendor string or a comment whose length runs past the comment header', async () => {
        const vendor = editOgg(plain, (out) => out.writeUInt32LE(0xffffffff, commentAt(out) + 7));
        for (const error of await bothWays(vendor, 'vendor-length.ogg')) {
          expect(error).toMatchObject(refusal(/\(the comment header's vendor string \(4294967295 bytes\) runs past the end of its packet \(\d+ bytes left\)\)$/));
        }
        const comment = editOgg(plain, (out) => {
          const count = commentAt(out) + 11 + out.readUInt32LE(commentAt(out) + 7);
          expect(out.readUInt32LE(count)).toBeGreaterThan(0); // ffmpeg writes an encoder comment
          out.writeUInt32LE(0xfffffff0, count + 4);
        });
        for (const error of await bothWays(comment, 'comment-length.ogg')) {
          expect(error).toMatchObject(refusal(/\(comment 1 of \d+ \(4294967280 bytes\) runs past the end of the comment header \(\d+ bytes left\)\)$/));
        }
      });

      it('a page of another logical stream among the headers, and a setup header cut short', async () => {
        const pages = oggPages(plain);
        const serial = plain.readUInt32LE(14);
        const other = (serial ^ 1) >>> 0;
        const mixed = editOgg(plain, (out) => out.writeUInt32LE(other, pages[1]!.at + 14));
        expect(await bothWays(mixed, 'other-serial.ogg')).toEqual(
          Array(2).fill(expect.objectContaining(refusal(`page 2 belongs to another logical stream (serial ${other}, not ${serial}) before the headers end`))),
        );
        const setup = plain.indexOf('\x05vorbis', 0, 'latin1');
        const page = pages.findIndex(({ at, length }) => at <= setup && setup < at + length);
        expect(await bothWays(plain.subarray(0, setup + 200), 'cut-setup.ogg')).toEqual(
          Array(2).fill(expect.objectContaining(refusal(`the stream ends inside page ${page + 1}`))),
        );
      });

      describe('setup headers written field by field', () => {
        const ordered16: SyntheticCodebook = { entries: 16, dimensions: 2, lengths: { kind: 'ordered', length: 4 }, lookupType: 1 };

        it('a well-formed one passes the check and opens (no audio)', async () => {
          for (const source of [syntheticVorbis(setupHeader([ordered16], 15)), syntheticVorbis(setupHeader([ordered16]))]) {
            const decoder = await open(new Uint8Array(source), 'vorbis');
            expect(decoder.info()).toMatchObject({ format: 'vorbis', sourceSampleRate: 16000, sourceChannels: 1 });
            expect((await decoder.read(1000)).length).toBe(0);
            decoder.close();
          }
        });

        it('16 submaps: stb_vorbis has room for 15 (CVE-2023-45678)', async () => {
          expect(await bothWays(syntheticVorbis(setupHeader([ordered16], 16)), 'submaps.ogg')).toEqual(
            Array(2).fill(expect.objectContaining(refusal('mapping 0 has 16 submaps; stb_vorbis 1.22 overflows its tables above 15'))),
          );
        });

        it("a codebook whose multiplicand table overflows stb_vorbis's int size (upstream issue #1947)", async () => {
          // 4 bytes x 16519105 entries x 65 dimensions = 2^32 + 4, which stb_vorbis would allocate as 4 bytes.
          const book: SyntheticCodebook = { entries: 16519105, dimensions: 65, lengths: { kind: 'ordered', length: 24 }, lookupType: 1 };
          expect(await bothWays(syntheticVorbis(setupHeader([book])), 'multiplicands.ogg')).toEqual(
            Array(2).fill(expect.objectContaining(refusal("codebook 0's 16519105 entries of 65 dimensions overflow stb_vorbis's int sizes"))),
          );
        });

        it('a sparse codebook with no entry in use, used by the residue (CVE-2023-45682)', async () => {
          const none: SyntheticCodebook = { entries: 100, dimensions: 1, lengths: { kind: 'sparse', used: () => false }, lookupType: 0 };
          expect(await bothWays(syntheticVorbis(setupHeader([none])), 'empty-codebook.ogg')).toEqual(
            Array(2).fill(expect.objectContaining(refusal('codebook 0 is used for decoding but has no entry in use'))),
          );
          const two: SyntheticCodebook = { ...none, lengths: { kind: 'sparse', used: (entry) => entry < 2 } };
          const decoder = await open(new Uint8Array(syntheticVorbis(setupHeader([two]))), 'vorbis');
          decoder.close();
        });

        it('a setup header without its framing bit, or ending inside a field', async () => {
          const setup = setupHeader([ordered16]);
          const unframed = setupHeader([ordered16], 1, 0);
          expect(await rejection(open(new Uint8Array(syntheticVorbis(unframed)), 'vorbis'))).toMatchObject(refusal("the setup header's framing bit is not set"));
          expect(await rejection(open(new Uint8Array(syntheticVorbis(setup.subarray(0, 12))), 'vorbis'))).toMatchObject(
            refusal('the setup header ends inside codebook 0'),
          );
        });
      });

      it('ffmpeg libvorbis files of other qualities, rates and channel counts pass, and a 100 KB comment across pages', async () => {
        const made: Array<[string, string[], number, number]> = [
          ['q-1.ogg', ['-q:a', '-1'], 16000, 1],
          ['q10.ogg', ['-q:a', '10'], 16000, 1],
          ['48k-stereo.ogg', ['-ar', '48000', '-ac', '2'], 48000, 2],
          ['8k.ogg', ['-ar', '8000'], 8000, 1],
          ['6-channels.ogg', ['-ac', '6'], 16000, 6],
          ['44k-comment.ogg', ['-ar', '44100', '-metadata', `comment=${'x'.repeat(100_000)}`], 44100, 1],
        ];
        for (const [name, args, rate, channels] of made) {
          ffmpeg('-i', JFK_WAV, '-c:a', 'libvorbis', ...args, file(name));
          const decoder = await open(file(name), 'vorbis');
          expect(decoder.info(), name).toMatchObject({ sourceSampleRate: rate, sourceChannels: channels });
          const samples = await readAll(decoder, 160000);
          decoder.close();
          expect(Math.abs(samples.length - JFK_FRAMES), name).toBeLessThan(160);
          expect(firstDifference(samples, await decodeAll(new Uint8Array(fs.readFileSync(file(name))), 'vorbis')), name).toBe(-1);
        }
        // The comment header alone is longer than the largest Ogg page (65307 bytes).
        const big = fs.readFileSync(file('44k-comment.ogg'));
        expect(big.indexOf('\x05vorbis', 0, 'latin1') - commentAt(big)).toBeGreaterThan(100_000);
      });
    });

    it('a FLAC cut to its first 30 % decodes what is there and ends', async () => {
      const whole = fs.readFileSync(file('jfk16.flac'));
      const cut = whole.subarray(0, Math.floor(whole.length * 0.3));
      fs.writeFileSync(file('cut.flac'), cut);
      for (const source of [new Uint8Array(cut), file('cut.flac')]) {
        const decoder = await open(source, 'flac');
        expect(decoder.info().statedFrames).toBe(JFK_FRAMES); // the header still says 11 s
        const samples = await readAll(decoder);
        decoder.close();
        expect(samples.length).toBeGreaterThan(0.2 * JFK_FRAMES);
        expect(samples.length).toBeLessThan(0.35 * JFK_FRAMES);
        expect(firstDifference(samples, jfk.subarray(0, samples.length))).toBe(-1);
      }
    });

    it('garbage after a valid header, garbage inside, a huge stated length', async () => {
      const flac = fs.readFileSync(file('jfk16.flac'));
      const mp3 = fs.readFileSync(JFK_MP3);
      // dr_flac skips a frame that fails its CRC; dr_mp3 skips junk until the next frame sync
      const damagedFlac = new Uint8Array(flac);
      damagedFlac.set(random(2000, 4), 80_000);
      const damagedFlacLength = (await decodeAll(damagedFlac, 'flac')).length;
      expect(damagedFlacLength).toBeGreaterThan(0.9 * JFK_FRAMES);
      expect(damagedFlacLength).toBeLessThan(JFK_FRAMES);
      const damagedMp3 = new Uint8Array(mp3);
      damagedMp3.set(random(2000, 5), 30_000);
      expect((await decodeAll(damagedMp3, 'mp3')).length).toBeGreaterThan(0.9 * JFK_FRAMES);
      const mp3ThenJunk = Buffer.concat([mp3.subarray(0, 20_000), random(50_000, 6)]);
      const kept = (await decodeAll(mp3ThenJunk, 'mp3')).length;
      expect(kept).toBeGreaterThan(0.2 * JFK_FRAMES);
      expect(kept).toBeLessThan(0.35 * JFK_FRAMES);
      // Junk before the first frame hides the Info header: no stated length, and the encoder delay stays in.
      const junkThenMp3 = await open(Buffer.concat([random(5000, 7), mp3]), 'mp3');
      expect(junkThenMp3.info().statedFrames).toBe(-1);
      expect((await readAll(junkThenMp3)).length).toBeGreaterThan(JFK_FRAMES);
      junkThenMp3.close();
      // STREAMINFO's 36-bit sample count set to its maximum: stated, never allocated.
      const huge = new Uint8Array(flac);
      huge[8 + 13] = huge[8 + 13]! | 0x0f;
      huge.fill(0xff, 8 + 14, 8 + 18);
      const hugeDecoder = await open(huge, 'flac');
      expect(hugeDecoder.info().statedFrames).toBe(2 ** 36 - 1);
      expect((await readAll(hugeDecoder, 960000)).length).toBe(JFK_FRAMES);
      hugeDecoder.close();
      // A WAV whose data chunk claims 4 GB
      const wav = new Uint8Array(fs.readFileSync(JFK_WAV));
      const dataAt = Buffer.from(wav).indexOf('data', 12, 'latin1');
      expect(dataAt).toBeGreaterThan(0);
      new DataView(wav.buffer, wav.byteOffset, wav.byteLength).setUint32(dataAt + 4, 0xfffffff0, true);
      expect((await decodeAll(wav, 'wav')).length).toBe(JFK_FRAMES);
    });

    it('a missing path, a directory, a FIFO', async () => {
      expect(await rejection(open(file('missing.mp3'), 'mp3'))).toMatchObject({
        code: 'AUDIO_NOT_FOUND',
        message: `audio: audio file not found: ${file('missing.mp3')}`,
      });
      expect(await rejection(open(dir, 'mp3'))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `audio: expected a file (audio file), got a directory: ${dir}`,
      });
      // opening a FIFO for reading would block until a writer appears
      execFileSync('mkfifo', [file('fifo.mp3')]);
      expect(await rejection(open(file('fifo.mp3'), 'mp3'))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `audio: expected a file (audio file), got a FIFO: ${file('fifo.mp3')}`,
      });
    });

    it('bad arguments throw INVALID_ARGUMENT naming the parameter', async () => {
      const addon = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
      const openAudioDecoder = (...args: unknown[]): unknown => addon.openAudioDecoder!(...args);
      expect(thrown(() => openAudioDecoder(42, { format: 'mp3', channel: -1 }))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'openAudioDecoder.source: expected a file path or a Uint8Array, got 42',
      });
      expect(thrown(() => openAudioDecoder('', { format: 'mp3', channel: -1 }))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^openAudioDecoder\.source:/),
      });
      expect(thrown(() => openAudioDecoder(new Int16Array(4), { format: 'mp3', channel: -1 }))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^openAudioDecoder\.source:/),
      });
      expect(thrown(() => openAudioDecoder(JFK_MP3))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^openAudioDecoder\.options: expected an object/),
      });
      expect(thrown(() => openAudioDecoder(JFK_MP3, { format: 'ogg', channel: -1 }))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `openAudioDecoder.options.format: expected one of 'wav', 'flac', 'mp3', 'vorbis', got "ogg"`,
      });
      for (const channel of [-2, 1.5, 254, undefined, '0']) {
        expect(thrown(() => openAudioDecoder(JFK_MP3, { format: 'mp3', channel }))).toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/^openAudioDecoder\.options\.channel: expected an integer from -1 to 253, got /),
        });
      }
      const decoder = await open(JFK_MP3, 'mp3');
      for (const maxFrames of [0, -1, 960001, 1.5, Number.NaN, undefined, '100']) {
        expect(thrown(() => decoder.read(maxFrames as number))).toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/^decoder\.read\.maxFrames: expected an integer from 1 to 960000, got /),
        });
      }
      expect((await decoder.read(960000)).length).toBe(JFK_FRAMES);
      decoder.close();
    });
  });
});
