/**
 * Audio as users have it, through model.transcribe() with real Whisper base weights: every
 * fixture format (made by ffmpeg and sox from the shared clips, scripts/make-audio-fixtures.mjs)
 * gives the words of the WAV it was made from, every kind of input gives the same transcript,
 * and long compressed audio is one job, windowed under the pool.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio, loadModel, type WhisperModel } from '../../lib';
import { resolveAudioOptions } from '../../lib/audio/audio-options';
import { openAudioSource } from '../../lib/audio/open-source';
import { sourcePieces, transcribeWindowed } from '../../lib/stream/long-file';
import type { StreamTranscriber } from '../../lib/stream/windows';
import { wordErrorRate } from '../../lib/tools/wer';
import { audioFixtures, type AudioFixtureName } from '../support/audio-fixtures';
import { rejectedWhisperError } from '../support/errors';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';

const THREADS = 2;
const OPTIONS = { language: 'en', threads: THREADS } as const;
const LIBRIVOX_WAV = path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav');
const JFK_MP3 = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
const fixtures = audioFixtures();
const workDir = inject('workDir');

let model: WhisperModel;
const wavText = new Map<string, string>();

beforeAll(async () => {
  model = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false });
  for (const wav of [JFK_WAV, LIBRIVOX_WAV]) wavText.set(wav, (await model.transcribe(wav, OPTIONS)).text);
}, 120_000);
afterAll(() => model?.dispose());

async function expectWhisperError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await rejectedWhisperError(promise);
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
}

async function wavDurationMs(wav: string): Promise<number> {
  return (await loadAudio(wav)).length / 16;
}

/** WER of `text` against the WAV's own transcript, in percentage points. */
function werAgainst(wav: string, text: string): number {
  return wordErrorRate(wavText.get(wav)!, text).wer * 100;
}

describe('every format gives the words of the WAV it was made from', () => {
  it('lossless FLAC (16 and 24 bit) gives exactly the WAV transcript', async () => {
    const flac = await model.transcribe(fixtures.file('jfk.flac'), OPTIONS);
    expect(flac.text).toBe(wavText.get(JFK_WAV));
    expect(flac.segments.map((s) => [s.startMs, s.endMs])).toEqual((await model.transcribe(JFK_WAV, OPTIONS)).segments.map((s) => [s.startMs, s.endMs]));
    const flac24 = await model.transcribe(fixtures.file('jfk-24.flac'), OPTIONS);
    expect(flac24.text).toBe((await model.transcribe(fixtures.file('jfk-24.wav'), OPTIONS)).text);
    expect((await model.transcribe(fixtures.file('librivox.flac'), OPTIONS)).text).toBe(wavText.get(LIBRIVOX_WAV));
  });

  const lossy: Array<[AudioFixtureName | 'jfk.mp3 (whisper.cpp sample)', string]> = [
    ['jfk-44k-stereo-cbr.mp3', JFK_WAV],
    ['jfk-44k-stereo-vbr.mp3', JFK_WAV],
    ['librivox.mp3', LIBRIVOX_WAV],
    ['jfk.ogg', JFK_WAV],
    ['jfk-opus.ogg', JFK_WAV],
    ['jfk-opus.webm', JFK_WAV],
    ['jfk.m4a', JFK_WAV],
    ['jfk-faststart.m4a', JFK_WAV],
    ['jfk-video.mp4', JFK_WAV],
    ['jfk.mp3 (whisper.cpp sample)', JFK_WAV],
  ];
  for (const [name, wav] of lossy) {
    it(`${name}: WER within 1 pp of the WAV's transcript`, async () => {
      const file = name.startsWith('jfk.mp3') ? JFK_MP3 : fixtures.file(name as AudioFixtureName);
      const result = await model.transcribe(file, OPTIONS);
      expect(result.text.trim().length).toBeGreaterThan(20);
      expect(werAgainst(wav, result.text)).toBeLessThanOrEqual(1);
      // Encoders pad the start and the end (MP3 and AAC by a frame or two): a few tens of ms.
      expect(Math.abs(result.audioDurationMs - (await wavDurationMs(wav)))).toBeLessThan(120);
    });
  }

  it('8 kHz mu-law telephone audio keeps all but a word or so', async () => {
    // Not a compression of the same audio: everything above 4 kHz is gone. Measured here: 9.1 pp
    // (one word of eleven) against the 16 kHz WAV's transcript.
    const result = await model.transcribe(fixtures.file('jfk-8k-telephone.wav'), OPTIONS);
    expect(werAgainst(JFK_WAV, result.text)).toBeLessThanOrEqual(10);
    expect(Math.abs(result.audioDurationMs - (await wavDurationMs(JFK_WAV)))).toBeLessThan(120);
  });

  it('8 kHz AMR-NB telephone audio, when this ffmpeg can make it', async (context) => {
    if (!fixtures.has('jfk-8k.amr')) context.skip('this ffmpeg has no AMR-NB encoder (see the fixtures manifest)');
    const result = await model.transcribe(fixtures.file('jfk-8k.amr'), OPTIONS);
    expect(werAgainst(JFK_WAV, result.text)).toBeLessThanOrEqual(10);
  });

  it('picks a channel of a stereo FLAC, or mixes them', async () => {
    const file = fixtures.file('jfk-stereo-right-silent.flac');
    const left = await loadAudio(file, { channel: 0 });
    expect(Array.from(left)).toEqual(Array.from(await loadAudio(JFK_WAV)));
    const right = await loadAudio(file, { channel: 1 });
    expect(right.every((v) => v === 0)).toBe(true);
    expect((await model.transcribe(file, { ...OPTIONS, audio: { channel: 0 } })).text).toBe(wavText.get(JFK_WAV));
    await expectWhisperError(loadAudio(file, { channel: 2 }), 'INVALID_ARGUMENT', /channel/);
  });
});

describe('every kind of input', () => {
  const inputs: Array<[string, (file: string) => unknown]> = [
    ['a Buffer', (file) => fs.readFileSync(file)],
    ['a Uint8Array', (file) => new Uint8Array(fs.readFileSync(file))],
    ['a Node Readable', (file) => fs.createReadStream(file, { highWaterMark: 4096 })],
    ['a web ReadableStream', (file) => Readable.toWeb(fs.createReadStream(file))],
    [
      'an async iterable of small chunks',
      (file) =>
        (async function* () {
          const bytes = fs.readFileSync(file);
          for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
        })(),
    ],
  ];
  for (const name of ['jfk-44k-stereo-cbr.mp3', 'jfk-opus.webm', 'jfk.flac'] as const) {
    for (const [kind, make] of inputs) {
      it(`${name} as ${kind} gives the path's transcript`, async () => {
        const file = fixtures.file(name);
        const fromPath = await model.transcribe(file, OPTIONS);
        const result = await model.transcribe(make(file) as never, OPTIONS);
        expect(result.text).toBe(fromPath.text);
      });
    }
  }
});

describe('long compressed audio', () => {
  it('is decoded with about one window of PCM held (a 20-minute MP3)', async () => {
    // A transcriber that answers at once: what is measured is the decoding and windowing.
    const source = await openAudioSource(fixtures.file('long.mp3'), resolveAudioOptions(undefined));
    let decoded = 0;
    let transcribed = 0;
    let mostAhead = 0;
    const silent: StreamTranscriber = {
      transcribe: async (pcm) => {
        transcribed += pcm.length;
        // Decoding never runs further ahead of the transcription than a window's carried part and one piece.
        mostAhead = Math.max(mostAhead, decoded - transcribed);
        return {
          text: '',
          segments: [],
          language: 'en',
          audioDurationMs: pcm.length / 16,
          timings: { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 0 },
        };
      },
    };
    async function* counted() {
      for await (const piece of sourcePieces(source)) {
        decoded += piece.length;
        yield piece;
      }
    }
    let held = 0;
    try {
      const result = await transcribeWindowed(
        silent,
        { pieces: counted(), statedSamples: source.statedSamples, format: source.format },
        { onBuffer: (n) => (held = Math.max(held, n)) },
      );
      expect(result.audioDurationMs).toBeGreaterThan(20 * 60 * 1000);
    } finally {
      await source.close();
    }
    expect(decoded).toBeGreaterThan(20 * 60 * 16000);
    expect(held).toBeLessThanOrEqual(35 * 16000);
    expect(mostAhead).toBeLessThanOrEqual(20 * 16000);
  });

  it('is one job: stats count it once, and one timeoutMs covers every window', async () => {
    // 71 s of speech as an MP3 (the LibriVox clip ten times): three windows.
    const file = path.join(workDir, 'librivox-x10.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '9', '-i', LIBRIVOX_WAV, '-c:a', 'libmp3lame', '-b:a', '64k', file]);
    const bytes = fs.readFileSync(file);
    const before = model.stats();
    const segments: number[] = [];
    const progress: number[] = [];
    const started = performance.now();
    const result = await model.transcribe(bytes, { ...OPTIONS, onSegment: (s) => segments.push(s.startMs), onProgress: (p) => progress.push(p) });
    const wallMs = performance.now() - started;
    const after = model.stats();
    expect(after.completed - before.completed).toBe(1);
    expect(result.audioDurationMs).toBeGreaterThan(70_000);
    expect(result.segments.at(-1)!.endMs).toBeGreaterThan(60_000);
    expect(result.timings.encoderRuns).toBeGreaterThanOrEqual(3);
    expect(segments).toEqual(result.segments.map((s) => s.startMs));
    expect(progress.at(-1)).toBe(100);
    // A deadline of three windows' time on audio of eight windows: per window it would never
    // fire; for the call it fires after some windows have given their segments.
    const perWindowMs = wallMs / result.timings.encoderRuns;
    const longer = path.join(workDir, 'librivox-x30.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '29', '-i', LIBRIVOX_WAV, '-c:a', 'libmp3lame', '-b:a', '64k', longer]);
    let segmentsBeforeDeadline = 0;
    await expectWhisperError(model.transcribe(longer, { ...OPTIONS, timeoutMs: Math.round(perWindowMs * 3), onSegment: () => segmentsBeforeDeadline++ }), 'TIMEOUT');
    expect(segmentsBeforeDeadline).toBeGreaterThan(0);
    expect(model.stats().timedOut - after.timedOut).toBe(1);
  });
});

describe('bad input gets a typed error, or the audio that is really there', () => {
  const make = (name: string, args: string[]) => {
    const file = path.join(workDir, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, file]);
    return file;
  };

  it('names what it is and what to do', async () => {
    await expectWhisperError(model.transcribe(Buffer.alloc(0), OPTIONS), 'INVALID_AUDIO', /empty/);
    const emptyFile = path.join(workDir, 'empty.mp3');
    fs.writeFileSync(emptyFile, '');
    await expectWhisperError(model.transcribe(emptyFile, OPTIONS), 'INVALID_AUDIO', /the file is empty.*empty\.mp3/);
    await expectWhisperError(model.transcribe(Buffer.from('not audio at all, just some text\n'), { ...OPTIONS, audio: { ffmpegPath: '/bin/false' } }), 'INVALID_AUDIO');
    const empty = (async function* () {})();
    await expectWhisperError(model.transcribe(empty, OPTIONS), 'INVALID_AUDIO', /ended before any audio/);
    const failing = (async function* () {
      yield fs.readFileSync(fixtures.file('jfk-opus.webm')).subarray(0, 4096);
      throw new Error('connection reset');
    })();
    await expectWhisperError(model.transcribe(failing, OPTIONS), 'INVALID_AUDIO', /connection reset/);
  });

  it('containers with no audio stream', async () => {
    const theora = make('video-only.ogg', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '1', '-c:v', 'libtheora']);
    await expectWhisperError(model.transcribe(theora, OPTIONS), 'INVALID_AUDIO', /Ogg with no audio stream/);
    const webm = make('video-only.webm', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '1', '-c:v', 'libvpx']);
    await expectWhisperError(model.transcribe(fs.readFileSync(webm), OPTIONS), 'INVALID_AUDIO', /WebM with no audio stream/);
    const mp4 = make('video-only.mp4', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '1', '-c:v', 'mpeg4']);
    await expectWhisperError(model.transcribe(mp4, OPTIONS), 'INVALID_AUDIO', /has no audio stream/);
  });

  it('truncated files give the audio before the cut; a header that claims gigabytes gives what is there', async () => {
    const mp3 = fs.readFileSync(fixtures.file('jfk-44k-stereo-cbr.mp3'));
    const half = await model.transcribe(mp3.subarray(0, mp3.length >> 1), OPTIONS);
    expect(Math.abs(half.audioDurationMs - (await wavDurationMs(JFK_WAV)) / 2)).toBeLessThan(700);
    expect(wavText.get(JFK_WAV)!.startsWith(half.text.split(' ').slice(0, 3).join(' '))).toBe(true);
    await expectWhisperError(model.transcribe(mp3.subarray(0, 300), OPTIONS), 'INVALID_AUDIO');

    const flac = Buffer.from(fs.readFileSync(fixtures.file('jfk.flac')));
    // STREAMINFO (right after "fLaC" and its 4-byte block header): the low 36 bits of bytes 21..25 of the file are the total samples.
    flac[21] = (flac[21]! & 0xf0) | 0x0f;
    flac.fill(0xff, 22, 26);
    const claimed = await model.transcribe(flac, OPTIONS);
    expect(claimed.text).toBe(wavText.get(JFK_WAV));
    expect(claimed.audioDurationMs).toBe(await wavDurationMs(JFK_WAV));
  });

  it('a valid header followed by garbage is refused or decoded, never a crash', async () => {
    for (const name of ['jfk.flac', 'jfk-44k-stereo-cbr.mp3', 'jfk.ogg'] as const) {
      const bytes = Buffer.from(fs.readFileSync(fixtures.file(name)));
      let seed = 7;
      for (let i = 512; i < bytes.length; i++) bytes[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      const outcome = await model.transcribe(bytes, OPTIONS).then(
        (t) => ({ ok: t.audioDurationMs }),
        (error: unknown) => ({ code: (error as { code?: string }).code }),
      );
      if ('code' in outcome) expect(outcome.code).toBe('INVALID_AUDIO');
      else expect(outcome.ok).toBeLessThanOrEqual(12_000);
    }
  });

  it('ffmpeg that never answers is stopped by ffmpegTimeoutMs, and an abort stops a stream that never ends', async () => {
    const hang = path.join(workDir, 'hanging-ffmpeg');
    fs.writeFileSync(hang, '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
    const started = performance.now();
    await expectWhisperError(
      model.transcribe(fixtures.file('jfk.m4a'), { ...OPTIONS, audio: { ffmpegPath: hang, ffmpegTimeoutMs: 500 } }),
      'INVALID_AUDIO',
      /ffmpeg produced no audio for 500 ms/,
    );
    expect(performance.now() - started).toBeLessThan(10_000);

    const controller = new AbortController();
    const head = fs.readFileSync(fixtures.file('jfk-opus.webm')).subarray(0, 2000);
    const never = (async function* () {
      yield head;
      await new Promise(() => undefined);
    })();
    setTimeout(() => controller.abort(), 300);
    await expectWhisperError(model.transcribe(never, { ...OPTIONS, signal: controller.signal }), 'ABORTED');
  });
});
