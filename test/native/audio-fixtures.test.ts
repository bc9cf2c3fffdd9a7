/**
 * The encoded audio fixtures of scripts/make-audio-fixtures.mjs are what their names say: ffprobe's
 * codec, rate, channels and duration for each, sample-exact lossless files, and a cache folder keyed
 * by the recipes, so that a changed recipe never reuses old files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUDIO_FIXTURE_NAMES, AUDIO_FIXTURES_SCRIPT, audioFixtures, type AudioFixtureName } from '../support/audio-fixtures';
import { JFK_WAV, SHARED } from '../support/paths';

interface FixturesScript {
  fixturesKey(inputs: { script: string | Buffer; ffmpeg: string; sox: string }): string;
  fixturesDir(key: string, env?: Record<string, string | undefined>): string;
}

interface ProbedStream {
  index: number;
  codec_type: string;
  codec_name: string;
  sample_rate?: string;
  channels?: number;
  bits_per_raw_sample?: string;
  bits_per_sample?: number;
}

function ffprobe(file: string): { streams: ProbedStream[]; format: { format_name: string; duration: string } } {
  const json = execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' });
  return JSON.parse(json) as { streams: ProbedStream[]; format: { format_name: string; duration: string } };
}

/** The file's first audio stream as raw little-endian PCM, by ffmpeg, without resampling or mixing. */
function decode(file: string, format: 's16le' | 's32le'): Buffer {
  return execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-f', format, '-'], { maxBuffer: 256 * 1024 * 1024 });
}

function int16(bytes: Buffer): Int16Array {
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
}

function int32(bytes: Buffer): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

interface Expected {
  format: string;
  codec: string;
  sampleRate: number;
  channels: number;
  seconds: number;
  bits?: number;
}

const JFK_SECONDS = 11;
const LIBRIVOX_SECONDS = 7.1;

const EXPECTED: Record<AudioFixtureName, Expected> = {
  'jfk.flac': { format: 'flac', codec: 'flac', sampleRate: 16000, channels: 1, seconds: JFK_SECONDS, bits: 16 },
  'jfk-24.wav': { format: 'wav', codec: 'pcm_s24le', sampleRate: 16000, channels: 1, seconds: JFK_SECONDS, bits: 24 },
  'jfk-24.flac': { format: 'flac', codec: 'flac', sampleRate: 16000, channels: 1, seconds: JFK_SECONDS, bits: 24 },
  'jfk-44k-stereo-cbr.mp3': { format: 'mp3', codec: 'mp3', sampleRate: 44100, channels: 2, seconds: JFK_SECONDS },
  'jfk-44k-stereo-vbr.mp3': { format: 'mp3', codec: 'mp3', sampleRate: 44100, channels: 2, seconds: JFK_SECONDS },
  'librivox.mp3': { format: 'mp3', codec: 'mp3', sampleRate: 44100, channels: 2, seconds: LIBRIVOX_SECONDS },
  'librivox.flac': { format: 'flac', codec: 'flac', sampleRate: 16000, channels: 1, seconds: LIBRIVOX_SECONDS, bits: 16 },
  'jfk.ogg': { format: 'ogg', codec: 'vorbis', sampleRate: 44100, channels: 2, seconds: JFK_SECONDS },
  'jfk-opus.ogg': { format: 'ogg', codec: 'opus', sampleRate: 48000, channels: 1, seconds: JFK_SECONDS },
  'jfk-opus.webm': { format: 'webm', codec: 'opus', sampleRate: 48000, channels: 1, seconds: JFK_SECONDS },
  'jfk.m4a': { format: 'mp4', codec: 'aac', sampleRate: 44100, channels: 2, seconds: JFK_SECONDS },
  'jfk-faststart.m4a': { format: 'mp4', codec: 'aac', sampleRate: 44100, channels: 2, seconds: JFK_SECONDS },
  'jfk-video.mp4': { format: 'mp4', codec: 'aac', sampleRate: 48000, channels: 2, seconds: JFK_SECONDS },
  'jfk-8k-telephone.wav': { format: 'wav', codec: 'pcm_mulaw', sampleRate: 8000, channels: 1, seconds: JFK_SECONDS },
  'jfk-8k.amr': { format: 'amr', codec: 'amr_nb', sampleRate: 8000, channels: 1, seconds: JFK_SECONDS },
  'jfk-stereo-right-silent.flac': { format: 'flac', codec: 'flac', sampleRate: 16000, channels: 2, seconds: JFK_SECONDS, bits: 16 },
  'long.mp3': { format: 'mp3', codec: 'mp3', sampleRate: 16000, channels: 1, seconds: 1210 },
};

/** The top-level MP4 boxes in file order ('ftyp', 'moov', 'mdat', ...). */
function mp4Boxes(file: string): string[] {
  const bytes = fs.readFileSync(file);
  const boxes: string[] = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = bytes.readUInt32BE(at);
    boxes.push(bytes.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  return boxes;
}

describe('audio fixtures', () => {
  const fixtures = audioFixtures();
  let script: FixturesScript;
  beforeAll(async () => {
    script = (await import(AUDIO_FIXTURES_SCRIPT)) as FixturesScript;
  });

  it('lists every fixture, made or skipped for a missing encoder, and nothing else', () => {
    const { files, skipped } = fixtures.manifest;
    expect([...Object.keys(files), ...Object.keys(skipped)].sort()).toEqual([...AUDIO_FIXTURE_NAMES].sort());
    const encoders = execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
    expect(fixtures.has('jfk-8k.amr')).toBe(/^ A\S{5} libopencore_amrnb /m.test(encoders));
    for (const name of Object.keys(skipped) as AudioFixtureName[]) {
      expect(name).toBe('jfk-8k.amr');
      expect(() => fixtures.file(name)).toThrow(/was not made on this machine: this ffmpeg has no libopencore_amrnb encoder/);
    }
    expect(fs.readdirSync(fixtures.dir).sort()).toEqual([...Object.keys(files), 'manifest.json'].sort());
  });

  it.each(AUDIO_FIXTURE_NAMES.filter((name) => fixtures.has(name)))('%s is the codec, rate and channels its name says', (name) => {
    const expected = EXPECTED[name];
    const file = fixtures.file(name);
    const { streams, format } = ffprobe(file);
    const audio = streams.filter((stream) => stream.codec_type === 'audio');
    expect(audio).toHaveLength(1);
    expect(audio[0]).toMatchObject({ codec_name: expected.codec, sample_rate: String(expected.sampleRate), channels: expected.channels });
    if (expected.bits !== undefined) expect(Number(audio[0].bits_per_raw_sample ?? audio[0].bits_per_sample)).toBe(expected.bits);
    expect(format.format_name.split(',')).toContain(expected.format);
    const seconds = Number(format.duration);
    expect(seconds).toBeGreaterThanOrEqual(expected.seconds - 0.05);
    expect(seconds).toBeLessThan(expected.seconds + 0.3);
    expect(fixtures.manifest.files[name]?.bytes).toBe(fs.statSync(file).size);
    // Each recipe reads a real shared clip and writes the file of its own name.
    const entry = fixtures.manifest.files[name];
    expect(entry?.recipe).toContain(name);
    expect(fs.existsSync(path.join(SHARED, entry?.source ?? 'missing'))).toBe(true);
  });

  it('long.mp3 is over 20 minutes of 64 kbit/s mono and stays small', () => {
    const { format } = ffprobe(fixtures.file('long.mp3'));
    expect(Number(format.duration)).toBeGreaterThanOrEqual(20 * 60);
    expect(fs.statSync(fixtures.file('long.mp3')).size).toBeLessThan(12 * 1024 * 1024);
  });

  it('the video has its video stream first and the audio after it', () => {
    const { streams } = ffprobe(fixtures.file('jfk-video.mp4'));
    expect(streams.map((stream) => stream.codec_type)).toEqual(['video', 'audio']);
  });

  it('jfk.m4a keeps its moov box at the end, jfk-faststart.m4a moves it to the front', () => {
    const late = mp4Boxes(fixtures.file('jfk.m4a'));
    const early = mp4Boxes(fixtures.file('jfk-faststart.m4a'));
    expect(late.indexOf('moov')).toBeGreaterThan(late.indexOf('mdat'));
    expect(early.indexOf('moov')).toBeLessThan(early.indexOf('mdat'));
  });

  it('the lossless files decode to exactly their sources', () => {
    const jfk = decode(JFK_WAV, 's16le');
    expect(jfk.length).toBe(JFK_SECONDS * 16000 * 2);
    expect(decode(fixtures.file('jfk.flac'), 's16le').equals(jfk)).toBe(true);
    const librivox = decode(path.join(SHARED, fixtures.manifest.files['librivox.flac']?.source ?? 'missing'), 's16le');
    expect(decode(fixtures.file('librivox.flac'), 's16le').equals(librivox)).toBe(true);
    expect(decode(fixtures.file('jfk-24.flac'), 's32le').equals(decode(fixtures.file('jfk-24.wav'), 's32le'))).toBe(true);
  });

  it('jfk-24 is jfk.wav at 0.8 volume with signal in the low byte, not 16 bits padded', () => {
    const source = int16(decode(JFK_WAV, 's16le'));
    // ffmpeg hands 24-bit samples over in the top three bytes of an int32.
    const wide = int32(decode(fixtures.file('jfk-24.wav'), 's32le'));
    expect(wide.length).toBe(source.length);
    let lowByteSet = 0;
    let worst = 0;
    for (let i = 0; i < wide.length; i++) {
      const sample24 = wide[i] >> 8;
      if ((sample24 & 0xff) !== 0) lowByteSet++;
      worst = Math.max(worst, Math.abs(sample24 / 256 - 0.8 * source[i]));
    }
    expect(lowByteSet).toBeGreaterThan(wide.length / 2);
    // Within one 24-bit step (1/256 of a 16-bit one) of the exact product: rounding, no dither.
    expect(worst).toBeLessThanOrEqual(1 / 256);
  });

  it('jfk-stereo-right-silent.flac is jfk.wav on the left and zeros on the right', () => {
    const source = int16(decode(JFK_WAV, 's16le'));
    const stereo = int16(decode(fixtures.file('jfk-stereo-right-silent.flac'), 's16le'));
    expect(stereo.length).toBe(2 * source.length);
    const left = stereo.filter((_, i) => i % 2 === 0);
    const right = stereo.filter((_, i) => i % 2 === 1);
    expect(Buffer.from(left.buffer).equals(Buffer.from(source.buffer, source.byteOffset, source.byteLength))).toBe(true);
    expect(right.every((sample) => sample === 0)).toBe(true);
  });

  it('a manifest recipe, run again in an empty folder, makes the same bytes', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'audio-fixture-recipe-'));
    try {
      for (const name of ['jfk.flac', 'jfk-stereo-right-silent.flac', 'jfk-8k-telephone.wav'] as const) {
        const [command, ...args] = fixtures.manifest.files[name]?.recipe ?? [];
        execFileSync(command, args, { cwd: scratch, stdio: 'ignore' });
        expect(fs.readFileSync(path.join(scratch, name)).equals(fs.readFileSync(fixtures.file(name)))).toBe(true);
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('the folder is keyed by the script text and the tool versions: a changed recipe gets a new folder', () => {
    const text = fs.readFileSync(AUDIO_FIXTURES_SCRIPT, 'utf8');
    const { ffmpeg, sox } = fixtures.manifest;
    const key = script.fixturesKey({ script: text, ffmpeg, sox });
    expect(fixtures.manifest.key).toBe(key);
    expect(path.basename(fixtures.dir)).toBe(key);
    expect(fixtures.dir).toBe(script.fixturesDir(key));

    const changedRecipe = script.fixturesKey({ script: text.replace("'-b:a', '64k'", "'-b:a', '32k'"), ffmpeg, sox });
    expect(changedRecipe).not.toBe(key);
    expect(script.fixturesDir(changedRecipe)).not.toBe(fixtures.dir);
    expect(script.fixturesKey({ script: text, ffmpeg: `${ffmpeg}.1`, sox })).not.toBe(key);
    expect(script.fixturesKey({ script: text, ffmpeg, sox: `${sox}.1` })).not.toBe(key);
    // Text moved from one part to the next is a different input, not the same concatenation.
    expect(script.fixturesKey({ script: `${text}x`, ffmpeg: ffmpeg.slice(1), sox })).not.toBe(script.fixturesKey({ script: text, ffmpeg, sox }));
    expect(script.fixturesKey({ script: Buffer.from(text), ffmpeg, sox })).toBe(key);
    expect(script.fixturesDir('0123abcd', { WHISPER_NAPI_CACHE: '/var/cache/w' })).toBe(path.join('/var/cache/w', 'audio-fixtures', '0123abcd'));
  });

  it('a second run reuses the folder without remaking it', () => {
    const manifest = path.join(fixtures.dir, 'manifest.json');
    const before = fs.statSync(manifest).mtimeMs;
    const stdout = execFileSync(process.execPath, [AUDIO_FIXTURES_SCRIPT], { encoding: 'utf8' });
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(fixtures.dir);
    expect(fs.statSync(manifest).mtimeMs).toBe(before);
  });

  describe('without the tools', () => {
    // A PATH holding only the tools given, so the script finds exactly those.
    function runWithTools(tools: string[]) {
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'audio-fixture-tools-'));
      try {
        for (const tool of tools) {
          const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
          fs.symlinkSync(found, path.join(bin, tool));
        }
        const cache = path.join(bin, 'cache');
        const result = spawnSync(process.execPath, [AUDIO_FIXTURES_SCRIPT], { encoding: 'utf8', env: { ...process.env, PATH: bin, WHISPER_NAPI_CACHE: cache } });
        return { ...result, cacheMade: fs.existsSync(cache) };
      } finally {
        fs.rmSync(bin, { recursive: true, force: true });
      }
    }

    it('fails naming ffmpeg when it is missing, and makes nothing', () => {
      const result = runWithTools(['sox']);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^audio-fixtures: ffmpeg is not installed \(not found on PATH\).*apt-get install ffmpeg sox/);
      expect(result.cacheMade).toBe(false);
    });

    it('fails naming sox when only sox is missing, and makes nothing', () => {
      const result = runWithTools(['ffmpeg']);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^audio-fixtures: sox is not installed \(not found on PATH\)/);
      expect(result.cacheMade).toBe(false);
    });
  });
});
