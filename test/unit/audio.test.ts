import { afterAll, describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAudio } from '../../lib/audio/load';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, type AudioInput, type AudioOptions } from '../../lib/audio/pcm';
import type { WhisperError, WhisperErrorCode } from '../../lib/errors/whisper-error';
import { rejectedWhisperError, thrownWhisperError } from '../support/errors';
import { buildWav, packInts } from './wav-fixtures';
import { fifo, ioErrorFile, permissionDeniedFile } from './audio-file-fixtures';

function expectError(err: WhisperError, code: WhisperErrorCode, message: RegExp): void {
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}

describe('loadAudio', () => {
  // Decoding WAV (the addon's dr_wav) is test/native/audio-wav.test.ts; these fail before any decoder runs.
  const wav = buildWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: packInts([1, -2, 3, -4], 16) });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-audio-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('returns a Float32Array input itself after checking it', async () => {
    const pcm = Float32Array.from([0, 0.5, -0.5]);
    expect(await loadAudio(pcm)).toBe(pcm);
    expect(await loadAudio(pcm, { channel: 0 })).toBe(pcm);
  });

  it('rejects an empty Float32Array and a channel index other than 0 for PCM', async () => {
    expectError(await rejectedWhisperError(loadAudio(new Float32Array(0))), 'INVALID_ARGUMENT', /^audio: expected a non-empty Float32Array/);
    expectError(await rejectedWhisperError(loadAudio(new Float32Array(4), { channel: 1 })), 'INVALID_ARGUMENT', /^channel: /);
  });

  it('rejects NaN and Infinity, naming the first bad sample', async () => {
    const pcm = new Float32Array(10);
    pcm[3] = Number.NaN;
    pcm[7] = Infinity;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 3 is NaN/);
    pcm[3] = 0;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 7 is Infinity/);
    pcm[7] = 0;
    pcm[0] = -Infinity;
    expectError(await rejectedWhisperError(loadAudio(pcm)), 'INVALID_AUDIO', /^audio: sample 0 is -Infinity/);
  });

  it('a malformed channel option or options value is INVALID_ARGUMENT', async () => {
    for (const channel of [-1, 1.5, 'left', Number.NaN, null]) {
      const err = await rejectedWhisperError(loadAudio(wav, { channel } as unknown as AudioOptions));
      expectError(err, 'INVALID_ARGUMENT', /^channel: expected 'mix' or a 0-based channel index/);
    }
    expectError(await rejectedWhisperError(loadAudio(wav, 'mix' as unknown as AudioOptions)), 'INVALID_ARGUMENT', /^options: expected an object/);
  });

  it('a missing path is AUDIO_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'nope', 'missing.wav');
    expectError(await rejectedWhisperError(loadAudio(missing)), 'AUDIO_NOT_FOUND', /^audio: audio file not found: .*missing\.wav$/);
    const file = path.join(tmp, 'a-file.wav');
    fs.writeFileSync(file, wav);
    // ENOTDIR: a path through a file, also missing.
    expectError(await rejectedWhisperError(loadAudio(path.join(file, 'inner.wav'))), 'AUDIO_NOT_FOUND', /^audio: audio file not found: .*inner\.wav$/);
  });

  it('a directory is INVALID_ARGUMENT saying it is a directory', async () => {
    expectError(await rejectedWhisperError(loadAudio(tmp)), 'INVALID_ARGUMENT', /^audio: expected a file \(audio file\), got a directory: /);
  });

  const pipe = fifo(tmp);
  it.skipIf(pipe === undefined)('a FIFO is INVALID_ARGUMENT, without waiting for a writer', async () => {
    expectError(await rejectedWhisperError(loadAudio(pipe!)), 'INVALID_ARGUMENT', /^audio: expected a file \(audio file\), got a FIFO: .*pipe\.wav$/);
  });

  const denied = permissionDeniedFile(tmp);
  it.skipIf(denied === undefined)('a file we may not read is FILE_UNREADABLE, not AUDIO_NOT_FOUND', async () => {
    const error = await rejectedWhisperError(loadAudio(denied!));
    expectError(error, 'FILE_UNREADABLE', /^audio: permission denied reading audio file /);
    expect(error.message.endsWith(denied!)).toBe(true);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EACCES');
  });

  const broken = ioErrorFile();
  it.skipIf(broken === undefined)('a file whose read fails (EIO) is FILE_UNREADABLE with the reason', async () => {
    const error = await rejectedWhisperError(loadAudio(broken!));
    expectError(error, 'FILE_UNREADABLE', /^audio: cannot read audio file \/proc\/self\/mem: EIO/);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EIO');
  });

  it('a file in no format we know is left to ffmpeg, or is UNSUPPORTED_AUDIO without it, naming the file', async () => {
    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, 'hello, this is not audio at all');
    const savedPath = process.env.PATH;
    const savedFfmpeg = process.env.WHISPER_NAPI_FFMPEG;
    try {
      process.env.PATH = '';
      delete process.env.WHISPER_NAPI_FFMPEG;
      const err = await rejectedWhisperError(loadAudio(file));
      expectError(
        err,
        'UNSUPPORTED_AUDIO',
        /^audio: audio that is not WAV, FLAC, MP3 or Ogg Vorbis \(\d+ bytes, no known signature\) needs ffmpeg, which was not found: install it .*notes\.txt\)$/,
      );
      // A stand-in ffmpeg that fails as ffmpeg fails on such bytes: its exit status and stderr make the error.
      const fake = path.join(tmp, 'fake-ffmpeg');
      fs.writeFileSync(fake, '#!/bin/sh\necho "pipe:0: Invalid data found when processing input" >&2\nexit 1\n', { mode: 0o755 });
      const viaFfmpeg = await rejectedWhisperError(loadAudio(file, { ffmpegPath: fake }));
      expectError(viaFfmpeg, 'INVALID_AUDIO', /^audio: ffmpeg could not decode .*Invalid data found when processing input.*notes\.txt\)$/);
    } finally {
      process.env.PATH = savedPath;
      if (savedFfmpeg !== undefined) process.env.WHISPER_NAPI_FFMPEG = savedFfmpeg;
    }
  });

  it('a playlist (HLS, ffconcat, DASH) is UNSUPPORTED_AUDIO, never handed to ffmpeg to open what it names', async () => {
    const target = path.join(tmp, 'target.wav');
    fs.writeFileSync(target, buildWav({ sampleRate: 16000, channels: 1, bitsPerSample: 16, data: packInts(new Int16Array(1600), 16) }));
    const playlists = [
      `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://${target}\n#EXT-X-ENDLIST\n`,
      `ffconcat version 1.0\nfile '${target}'\n`,
      `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>\n`,
    ];
    for (const text of playlists) {
      expectError(await rejectedWhisperError(loadAudio(Buffer.from(text))), 'UNSUPPORTED_AUDIO', /^audio: a playlist/);
      const file = path.join(tmp, 'list.m3u8');
      fs.writeFileSync(file, text);
      expectError(await rejectedWhisperError(loadAudio(file)), 'UNSUPPORTED_AUDIO', /a playlist/);
    }
  });

  it('rejects (never throws synchronously) unsupported input types with INVALID_ARGUMENT naming `audio`', async () => {
    const bad: unknown[] = [42, null, undefined, true, {}, [0.1, 0.2], '', new Int16Array(4), new Float64Array(4), new ArrayBuffer(8)];
    for (const input of bad) {
      const promise = loadAudio(input as AudioInput);
      expect(promise).toBeInstanceOf(Promise);
      expectError(await rejectedWhisperError(promise), 'INVALID_ARGUMENT', /^audio: expected /);
    }
    expectError(await rejectedWhisperError(loadAudio(wav, 7 as unknown as AudioOptions)), 'INVALID_ARGUMENT', /^options: /);
  });

  it('WHISPER_SAMPLE_RATE is 16 kHz', () => {
    expect(WHISPER_SAMPLE_RATE).toBe(16000);
  });
});

describe('assertFinitePcm', () => {
  it('accepts finite samples (also outside [-1, 1]) and names the parameter and index otherwise', () => {
    expect(() => assertFinitePcm(Float32Array.from([0, 1, -1, 3.5, -1e30]))).not.toThrow();
    expectError(
      thrownWhisperError(() => assertFinitePcm(Float32Array.from([0, 0, Number.NaN]), 'pcm')),
      'INVALID_AUDIO',
      /^pcm: sample 2 is NaN/,
    );
    expectError(
      thrownWhisperError(() => assertFinitePcm(Float32Array.from([Infinity]))),
      'INVALID_AUDIO',
      /^audio: sample 0 is Infinity/,
    );
  });
});
