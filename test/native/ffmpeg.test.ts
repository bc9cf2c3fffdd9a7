/**
 * ffmpeg as an AudioSource, against the real ffmpeg on PATH: inputs are made from jfk.wav at
 * test time (Opus in Ogg, AAC in M4A with its index at the end and at the start, stereo FLAC
 * with a silent right channel, a long WAV), and decoded from paths and from chunks. Fake
 * "ffmpeg" shell scripts stand in where the real one cannot misbehave on demand (silence, a
 * stderr flood, stray or NaN output bytes), and record their PID so every test can check that
 * the process is gone after close, abort or timeout. Needs no addon.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegMissing, findFfmpeg, openFfmpegSource, type FfmpegSourceOptions } from '../../lib/audio/ffmpeg';
import { loadAudio } from '../../lib/audio/load';
import type { AudioSource } from '../../lib/audio/source';
import { WhisperError } from '../../lib/errors/whisper-error';
import { rejectedWhisperError, thrownWhisperError } from '../support/errors';
import { mulberry32 } from '../support/prng';
import { JFK_WAV } from '../support/paths';
import { readAllPieces } from '../support/pcm-pieces';

const RATE = 16000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ffmpeg-source-'));
const file = (name: string) => path.join(dir, name);
const LONG_LOOPS = 27;
/** A hang (a process never reaped, a read never settled) fails in seconds, not at the native suite's 10 minutes. */
const TEST_TIMEOUT_MS = 30_000;

let ffmpeg: string;
let jfk: Float32Array;

function makeWithFfmpeg(args: string[]): void {
  execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

beforeAll(async () => {
  const found = findFfmpeg(undefined);
  if (found === undefined) throw new Error('these tests need ffmpeg on PATH (apt install ffmpeg)');
  ffmpeg = found;
  jfk = await loadAudio(JFK_WAV);
  makeWithFfmpeg(['-i', JFK_WAV, '-c:a', 'libopus', '-b:a', '48k', file('jfk.opus')]);
  // ffmpeg's default for MP4 puts the index (moov) after the audio; +faststart moves it first.
  makeWithFfmpeg(['-i', JFK_WAV, '-c:a', 'aac', file('jfk.m4a')]);
  makeWithFfmpeg(['-i', JFK_WAV, '-c:a', 'aac', '-movflags', '+faststart', file('jfk-faststart.m4a')]);
  makeWithFfmpeg([
    '-i',
    JFK_WAV,
    '-filter_complex',
    '[0:a]aformat=channel_layouts=mono[speech];anullsrc=r=16000:cl=mono[silence];[speech][silence]amerge=inputs=2[stereo]',
    '-map',
    '[stereo]',
    '-shortest',
    '-c:a',
    'flac',
    file('stereo.flac'),
  ]);
  makeWithFfmpeg(['-f', 'lavfi', '-i', 'color=c=black:s=64x64:d=0.2', '-c:v', 'mpeg4', file('video-only.mp4')]);
  makeWithFfmpeg(['-stream_loop', String(LONG_LOOPS - 1), '-i', JFK_WAV, '-c:a', 'pcm_s16le', file('long.wav')]);
  const random = mulberry32(12);
  fs.writeFileSync(
    file('garbage.bin'),
    Uint8Array.from({ length: 20000 }, () => random() & 0xff),
  );
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A #!/bin/sh script standing in for ffmpeg; it writes its PID (kept by exec) to <name>.pid first. */
function fakeFfmpeg(name: string, body: string): { path: string; pid: () => number } {
  const script = file(name);
  const pidFile = `${script}.pid`;
  fs.writeFileSync(script, `#!/bin/sh\necho $$ > '${pidFile}'\n${body}\n`, { mode: 0o755 });
  return { path: script, pid: () => Number(fs.readFileSync(pidFile, 'utf8')) };
}

/** The real ffmpeg behind a script that records its PID. */
function recordedFfmpeg(name: string) {
  return fakeFfmpeg(name, `exec '${ffmpeg}' "$@"`);
}

async function waitForPid(pid: () => number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const value = pid();
      if (value > 0) return value;
    } catch {
      // not written yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the fake ffmpeg never wrote its PID');
}

function expectGone(pid: number): void {
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
}

function options(overrides: Partial<FfmpegSourceOptions> = {}): FfmpegSourceOptions {
  return { ffmpegPath: ffmpeg, channel: 'mix', idleTimeoutMs: 30_000, what: 'test audio', ...overrides };
}

function readAll(source: AudioSource, maxSamples = 5 * RATE): Promise<Float32Array> {
  return readAllPieces(source, maxSamples);
}

async function decodeAll(input: Parameters<typeof openFfmpegSource>[0], overrides: Partial<FfmpegSourceOptions> = {}): Promise<Float32Array> {
  const source = openFfmpegSource(input, options(overrides));
  try {
    return await readAll(source);
  } finally {
    await source.close();
  }
}

async function* chunksOf(bytes: Uint8Array, size: number, delayMs = 0): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    yield bytes.subarray(i, i + size);
  }
}

/** An input stream that never delivers its first chunk. */
function silentStream(): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Uint8Array>>(() => {}) }) };
}

/** Sample-exact equality, reported as the first difference (a diff of 176000 floats would take minutes to print). */
function expectSameSamples(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const first = actual.findIndex((v, i) => !Object.is(v, expected[i]));
  expect(first === -1 ? 'none' : `sample ${first}: ${actual[first]} instead of ${expected[first]}`).toBe('none');
}

/** The normalised correlation of `decoded` with `reference` at the lag (within ±maxLag) that fits best. */
function bestCorrelation(decoded: Float32Array, reference: Float32Array, maxLag = 300): number {
  const n = Math.min(decoded.length, reference.length) - 2 * maxLag;
  let best = -1;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let dot = 0;
    let dd = 0;
    let rr = 0;
    for (let i = maxLag; i < n; i += 4) {
      const d = decoded[i + lag]!;
      const r = reference[i]!;
      dot += d * r;
      dd += d * d;
      rr += r * r;
    }
    best = Math.max(best, dot / Math.sqrt(dd * rr));
  }
  return best;
}

describe('findFfmpeg', { timeout: TEST_TIMEOUT_MS }, () => {
  const bin = (name: string) => path.join(dir, 'bins', name);
  beforeAll(() => {
    for (const d of ['one', 'two', 'three', 'empty', 'dir/ffmpeg']) fs.mkdirSync(bin(d), { recursive: true });
    fs.writeFileSync(bin('one/ffmpeg'), '#!/bin/sh\n', { mode: 0o644 });
    fs.writeFileSync(bin('two/ffmpeg'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(bin('three/ffmpeg'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(bin('three/ffmpeg7'), '#!/bin/sh\n', { mode: 0o755 });
  });

  it('takes the first executable ffmpeg on PATH, skipping empty entries, directories and files without an execute bit', () => {
    const PATH = ['', bin('empty'), bin('dir'), bin('one'), bin('two'), bin('three')].join(path.delimiter);
    expect(findFfmpeg(undefined, { PATH })).toBe(bin('two/ffmpeg'));
    expect(findFfmpeg(undefined, { PATH: bin('three') })).toBe(bin('three/ffmpeg'));
  });

  it('is undefined when nothing on PATH is an executable ffmpeg', () => {
    expect(findFfmpeg(undefined, { PATH: [bin('empty'), bin('one'), bin('dir')].join(path.delimiter) })).toBeUndefined();
    expect(findFfmpeg(undefined, {})).toBeUndefined();
    expect(findFfmpeg(undefined, { PATH: '', WHISPER_NAPI_FFMPEG: '' })).toBeUndefined();
  });

  it('prefers the option to $WHISPER_NAPI_FFMPEG, and that to PATH, resolving relative paths', () => {
    const env = { PATH: bin('three'), WHISPER_NAPI_FFMPEG: bin('two/ffmpeg') };
    expect(findFfmpeg(undefined, env)).toBe(bin('two/ffmpeg'));
    expect(findFfmpeg(path.relative(process.cwd(), bin('three/ffmpeg7')), env)).toBe(bin('three/ffmpeg7'));
    expect(findFfmpeg(bin('two/ffmpeg'), { PATH: bin('three') })).toBe(bin('two/ffmpeg'));
  });

  it('looks a bare name up on PATH', () => {
    expect(findFfmpeg('ffmpeg7', { PATH: [bin('two'), bin('three')].join(path.delimiter) })).toBe(bin('three/ffmpeg7'));
    expect(findFfmpeg(undefined, { PATH: bin('two'), WHISPER_NAPI_FFMPEG: 'ffmpeg' })).toBe(bin('two/ffmpeg'));
    const error = thrownWhisperError(() => findFfmpeg('ffmpeg7', { PATH: bin('two') }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('options.audio.ffmpegPath: no executable "ffmpeg7" found on PATH; give the full path of ffmpeg');
  });

  it('refuses an explicit path that is not an executable file, naming where it came from', () => {
    const cases: Array<[string | undefined, NodeJS.ProcessEnv, string]> = [
      [bin('one/ffmpeg'), {}, `options.audio.ffmpegPath: expected the path of the ffmpeg executable, got ${bin('one/ffmpeg')}, which is not executable (chmod +x it)`],
      [bin('missing/ffmpeg'), {}, `options.audio.ffmpegPath: expected the path of the ffmpeg executable, got ${bin('missing/ffmpeg')}, which does not exist`],
      [bin('dir/ffmpeg'), {}, `options.audio.ffmpegPath: expected the path of the ffmpeg executable, got ${bin('dir/ffmpeg')}, which is a directory`],
      ['', {}, 'options.audio.ffmpegPath: expected the path of the ffmpeg executable, got an empty string'],
      [
        undefined,
        { WHISPER_NAPI_FFMPEG: bin('one/ffmpeg'), PATH: bin('two') },
        `WHISPER_NAPI_FFMPEG: expected the path of the ffmpeg executable, got ${bin('one/ffmpeg')}, which is not executable (chmod +x it)`,
      ],
      [
        undefined,
        { WHISPER_NAPI_FFMPEG: bin('two/ffmpeg/x') },
        `WHISPER_NAPI_FFMPEG: expected the path of the ffmpeg executable, got ${bin('two/ffmpeg/x')}, which does not exist`,
      ],
    ];
    for (const [explicit, env, message] of cases) {
      const error = thrownWhisperError(() => findFfmpeg(explicit, env));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(message);
    }
  });

  it('ffmpegMissing says what needs ffmpeg and how to get it', () => {
    const error = ffmpegMissing('Opus in Ogg');
    expect(error).toBeInstanceOf(WhisperError);
    expect(error.code).toBe('UNSUPPORTED_AUDIO');
    expect(error.message).toBe(
      'audio: Opus in Ogg needs ffmpeg, which was not found: install it (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; Windows: winget install ffmpeg), ' +
        'put it on PATH or pass options.audio.ffmpegPath / WHISPER_NAPI_FFMPEG',
    );
  });
});

describe('openFfmpegSource with the real ffmpeg', { timeout: TEST_TIMEOUT_MS }, () => {
  it('decodes Opus in Ogg from a path to the speech of the WAV, and the same samples from chunks', async () => {
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ what: 'Opus in Ogg' }));
    expect(source.format).toBe('Opus in Ogg');
    expect(source.statedSamples).toBeUndefined();
    const fromPath = await readAll(source);
    await source.close();
    expect(Math.abs(fromPath.length - jfk.length)).toBeLessThan(400);
    expect(bestCorrelation(fromPath, jfk)).toBeGreaterThan(0.95);

    const bytes = fs.readFileSync(file('jfk.opus'));
    expectSameSamples(await decodeAll({ chunks: chunksOf(bytes, 4096) }), fromPath);
    expectSameSamples(await decodeAll({ chunks: fs.createReadStream(file('jfk.opus'), { highWaterMark: 1000 }) }), fromPath);
  });

  it('gives the same samples whatever the read sizes (samples split across output chunks)', async () => {
    const whole = await decodeAll({ path: file('jfk.opus') });
    const source = openFfmpegSource({ path: file('jfk.opus') }, options());
    const pieces = await readAll(source, 777);
    await source.close();
    expectSameSamples(pieces, whole);
  });

  it('decodes AAC in M4A from a path, with the index at the end or at the start', async () => {
    for (const name of ['jfk.m4a', 'jfk-faststart.m4a']) {
      const samples = await decodeAll({ path: file(name) });
      expect(Math.abs(samples.length - jfk.length)).toBeLessThan(1100);
      expect(bestCorrelation(samples, jfk)).toBeGreaterThan(0.95);
    }
  });

  it('decodes an M4A from chunks only with its index first; without, says why and what to do', async () => {
    const faststart = await decodeAll({ chunks: chunksOf(fs.readFileSync(file('jfk-faststart.m4a')), 65536) });
    expect(bestCorrelation(faststart, jfk)).toBeGreaterThan(0.95);

    // ffmpeg 5.1 exits 0 here, with no audio and "partial file" on stderr.
    const source = openFfmpegSource({ chunks: chunksOf(fs.readFileSync(file('jfk.m4a')), 65536) }, options({ what: 'AAC in MP4' }));
    const error = await rejectedWhisperError(readAll(source));
    await source.close();
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toMatch(/^audio: ffmpeg could not decode AAC in MP4: .*partial file.*Invalid data found when processing input/);
    expect(error.message).toMatch(/needs its index \(the moov atom\) before the audio: pass a file path instead, or re-encode it with ffmpeg -movflags \+faststart$/);
  });

  it('mixes channels to their mean or picks one, exactly', async () => {
    const stereo = { path: file('stereo.flac') };
    expectSameSamples(await decodeAll(stereo, { channel: 0 }), jfk);
    const right = await decodeAll(stereo, { channel: 1 });
    expect(right.length).toBe(jfk.length);
    expect(right.every((v) => v === 0)).toBe(true);
    expectSameSamples(
      await decodeAll(stereo),
      jfk.map((v) => v / 2),
    );
  });

  it('refuses a channel the input does not have', async () => {
    const source = openFfmpegSource({ path: file('stereo.flac') }, options({ channel: 2, what: 'FLAC' }));
    const error = await rejectedWhisperError(source.read(RATE));
    await source.close();
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe("channel: expected 'mix' or a 0-based channel index that FLAC has (its channel layout is stereo), got 2");
  });

  it('reads a file whose name looks like an option or a protocol', async () => {
    const odd = file('-y http:x.opus');
    fs.copyFileSync(file('jfk.opus'), odd);
    expectSameSamples(await decodeAll({ path: odd }), await decodeAll({ path: file('jfk.opus') }));
  });

  it("reports ffmpeg's own words for bytes it cannot decode, from a path and from chunks", async () => {
    for (const input of [{ path: file('garbage.bin') }, { chunks: chunksOf(fs.readFileSync(file('garbage.bin')), 1000) }]) {
      const source = openFfmpegSource(input, options({ what: 'unknown audio' }));
      const error = await rejectedWhisperError(source.read(RATE));
      await source.close();
      expect(error.code).toBe('INVALID_AUDIO');
      expect(error.message).toMatch(/^audio: ffmpeg could not decode unknown audio: (file:.*garbage\.bin|pipe:0): Invalid data found when processing input$/);
    }
  });

  it('says a file without an audio stream has none', async () => {
    const source = openFfmpegSource({ path: file('video-only.mp4') }, options({ what: 'an MP4 video' }));
    const error = await rejectedWhisperError(source.read(RATE));
    await source.close();
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toBe('audio: an MP4 video has no audio stream');
  });

  it('stops the input stream when ffmpeg gives up early', async () => {
    let finished = false;
    const random = mulberry32(5);
    async function* endlessGarbage(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Uint8Array.from({ length: 4096 }, () => random() & 0xff);
      } finally {
        finished = true;
      }
    }
    const source = openFfmpegSource({ chunks: endlessGarbage() }, options());
    expect((await rejectedWhisperError(readAll(source))).code).toBe('INVALID_AUDIO');
    await source.close();
    await expect.poll(() => finished).toBe(true);
  });

  it('holds ffmpeg back while the reader is behind, instead of taking the whole input', async () => {
    const bytes = fs.readFileSync(file('long.wav'));
    let taken = 0;
    async function* countedChunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 65536) {
        taken = i;
        yield bytes.subarray(i, i + 65536);
      }
      taken = bytes.length;
    }
    const source = openFfmpegSource({ chunks: countedChunks() }, options({ idleTimeoutMs: 500 }));
    expect((await source.read(10)).length).toBeGreaterThan(0);
    // Long past the idle timeout: a reader being behind is not ffmpeg being idle.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(bytes.length / 2);
    const rest = await readAll(source);
    await source.close();
    expect(taken).toBe(bytes.length);
    expect(rest.length + 10).toBe(jfk.length * LONG_LOOPS);
  });

  it('does not count time spent waiting for the caller’s next chunk against the idle timeout', async () => {
    const bytes = fs.readFileSync(file('jfk.opus'));
    const slow = await decodeAll({ chunks: chunksOf(bytes, Math.ceil(bytes.length / 3), 700) }, { idleTimeoutMs: 300 });
    expectSameSamples(slow, await decodeAll({ path: file('jfk.opus') }));
  });

  it('rejects the next read when the input stream fails midway, and kills ffmpeg', async () => {
    const fake = recordedFfmpeg('recorded-for-failing-stream');
    const bytes = fs.readFileSync(file('long.wav'));
    const cause = new Error('connection reset');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* chunksOf(bytes.subarray(0, 200_000), 50_000);
      // Killed before its first line, the script would leave no PID to check.
      await waitForPid(fake.pid);
      throw cause;
    }
    const source = openFfmpegSource({ chunks: failing() }, options({ ffmpegPath: fake.path }));
    const error = await rejectedWhisperError(readAll(source));
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toBe('audio: the input stream failed: connection reset');
    expect(error.cause).toBe(cause);
    await source.close();
    expectGone(fake.pid());
    // The first failure stays: later reads give the same error.
    expect(await rejectedWhisperError(source.read(1))).toBe(error);
  });

  it('refuses a chunk that is not bytes', async () => {
    async function* strings(): AsyncGenerator<Uint8Array> {
      yield 'RIFF' as unknown as Uint8Array;
    }
    const source = openFfmpegSource({ chunks: strings() }, options());
    const error = await rejectedWhisperError(source.read(1));
    await source.close();
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('audio: expected a stream of Uint8Array chunks, got "RIFF"');
  });

  it('close() while a read waits rejects that read, kills ffmpeg, and is idempotent', async () => {
    const fake = recordedFfmpeg('recorded-for-close');
    const source = openFfmpegSource({ chunks: silentStream() }, options({ ffmpegPath: fake.path, idleTimeoutMs: 100 }));
    const pending = source.read(RATE);
    const pid = await waitForPid(fake.pid);
    // Waiting for the caller's chunks is never ffmpeg's timeout.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await source.close();
    const error = await rejectedWhisperError(pending);
    expect(error.code).toBe('ABORTED');
    expect(error.message).toBe('audio: the source was closed before test audio was read to the end');
    expectGone(pid);
    await source.close();
    expect(await rejectedWhisperError(source.read(1))).toBe(error);
  });

  it('close() while ffmpeg is held back by unread output ends it at once', async () => {
    const fake = recordedFfmpeg('recorded-for-close-paused');
    const source = openFfmpegSource({ path: file('long.wav') }, options({ ffmpegPath: fake.path }));
    expect((await source.read(1)).length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    await source.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expectGone(await waitForPid(fake.pid));
  });

  it('an abort kills ffmpeg and rejects the pending read with the abort', async () => {
    const fake = recordedFfmpeg('recorded-for-abort');
    const controller = new AbortController();
    const source = openFfmpegSource({ chunks: silentStream() }, options({ ffmpegPath: fake.path, signal: controller.signal }));
    const pending = source.read(RATE);
    const pid = await waitForPid(fake.pid);
    controller.abort();
    const error = await rejectedWhisperError(pending);
    expect(error.code).toBe('ABORTED');
    expect(error.message).toBe('the audio was aborted');
    await source.close();
    expectGone(pid);

    const timeout = new WhisperError('TIMEOUT', 'the transcription timed out after 5 ms');
    const second = new AbortController();
    const other = openFfmpegSource({ path: file('jfk.opus') }, options({ signal: second.signal }));
    second.abort(timeout);
    expect(await rejectedWhisperError(other.read(RATE))).toBe(timeout);
    await other.close();
  });

  it('refuses to start with a signal that has already fired', () => {
    const fake = fakeFfmpeg('never-started', 'exit 0');
    const error = thrownWhisperError(() => openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fake.path, signal: AbortSignal.abort() })));
    expect(error.code).toBe('ABORTED');
    expect(fs.existsSync(`${fake.path}.pid`)).toBe(false);
  });

  it('reports an ffmpeg that cannot be started', async () => {
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: file('no-such-ffmpeg'), what: 'Opus in Ogg' }));
    const error = await rejectedWhisperError(source.read(RATE));
    expect(error.code).toBe('UNSUPPORTED_AUDIO');
    expect(error.message).toMatch(/^audio: Opus in Ogg needs ffmpeg, but .*no-such-ffmpeg could not be started: spawn .* ENOENT$/);
    await source.close();
  });
});

describe('openFfmpegSource with a misbehaving ffmpeg', { timeout: TEST_TIMEOUT_MS }, () => {
  it('kills an ffmpeg that produces nothing for idleTimeoutMs, from a path', async () => {
    const fake = fakeFfmpeg('silent-ffmpeg', 'exec sleep 60');
    const started = Date.now();
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fake.path, idleTimeoutMs: 1000 }));
    const pending = rejectedWhisperError(source.read(RATE));
    const pid = await waitForPid(fake.pid);
    const error = await pending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toBe('audio: ffmpeg produced no audio for 1000 ms (options.audio.ffmpegTimeoutMs); is the input complete?');
    await source.close();
    expectGone(pid);
  });

  it('kills an ffmpeg that stops taking its input, from chunks', async () => {
    const fake = fakeFfmpeg('stuck-ffmpeg', 'exec sleep 60');
    let stopped = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield new Uint8Array(1 << 20);
      } finally {
        stopped = true;
      }
    }
    const source = openFfmpegSource({ chunks: endless() }, options({ ffmpegPath: fake.path, idleTimeoutMs: 1000 }));
    const pending = rejectedWhisperError(source.read(RATE));
    const pid = await waitForPid(fake.pid);
    const error = await pending;
    expect(error.message).toBe('audio: ffmpeg produced no audio for 1000 ms (options.audio.ffmpegTimeoutMs); is the input complete?');
    await source.close();
    expectGone(pid);
    await expect.poll(() => stopped).toBe(true);
  });

  it('quotes the last lines of a failing ffmpeg’s stderr, keeping only its tail', async () => {
    const fake = fakeFfmpeg('noisy-ffmpeg', 'i=0; while [ $i -lt 5000 ]; do echo "noise line $i" >&2; i=$((i+1)); done; echo "the last line" >&2; exit 3');
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fake.path }));
    const error = await rejectedWhisperError(source.read(RATE));
    await source.close();
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toMatch(/^audio: ffmpeg could not decode test audio: …; noise line \d+; .*; noise line 4999; the last line$/);
    expect(error.message.length).toBeLessThan(600);
  });

  it('names the exit code or signal when ffmpeg says nothing', async () => {
    const cases: Array<[string, string]> = [
      ['exit 4', 'audio: ffmpeg could not decode test audio: it exited with code 4 and printed nothing'],
      ['kill -SEGV $$', 'audio: ffmpeg could not decode test audio: it was killed by SIGSEGV'],
    ];
    for (const [body, message] of cases) {
      const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fakeFfmpeg('quiet-ffmpeg', body).path }));
      expect((await rejectedWhisperError(source.read(RATE))).message).toBe(message);
      await source.close();
    }
  });

  it('ends empty when ffmpeg exits 0 with no audio and no complaint', async () => {
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fakeFfmpeg('empty-ffmpeg', 'exit 0').path }));
    expect((await source.read(RATE)).length).toBe(0);
    await source.close();
  });

  it('reassembles little-endian floats split across output chunks', async () => {
    // 1.0, 0.5, -0.25 as f32le, written in three pieces that cut through the samples.
    const body = "printf '\\000\\000'; sleep 0.1; printf '\\200\\077\\000'; sleep 0.1; printf '\\000\\000\\077\\000\\000\\200\\276'";
    const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fakeFfmpeg('split-ffmpeg', body).path }));
    expect(Array.from(await readAll(source))).toEqual([1, 0.5, -0.25]);
    await source.close();
  });

  it('refuses output that ends inside a sample or holds a NaN', async () => {
    const cases: Array<[string, string]> = [
      ["printf '\\000\\000\\200\\077\\000\\000'", "audio: ffmpeg's output for test audio ended inside a sample (2 stray bytes)"],
      ["printf '\\000\\000\\200\\077\\000\\000\\300\\177'", 'audio: sample 1 is NaN (PCM samples must be finite numbers)'],
    ];
    for (const [body, message] of cases) {
      const source = openFfmpegSource({ path: file('jfk.opus') }, options({ ffmpegPath: fakeFfmpeg('odd-output-ffmpeg', body).path }));
      const error = await rejectedWhisperError(readAll(source));
      expect(error.code).toBe('INVALID_AUDIO');
      expect(error.message).toBe(message);
      await source.close();
    }
  });

  it('refuses a maxSamples that is not a positive integer', async () => {
    const source = openFfmpegSource({ path: file('jfk.opus') }, options());
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect((await rejectedWhisperError(source.read(bad))).code).toBe('INVALID_ARGUMENT');
    }
    await source.close();
  });
});
