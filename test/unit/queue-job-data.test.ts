/** A queued job's data: what producers may send, what workers accept from Redis, and failures written and read back with their codes. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { errorFromFailure, failureReason, isPermanentFailure, MAX_INLINE_AUDIO_BYTES, parseJobData, toJobAudio, checkQueueOptions } from '../../lib/queue/job-data';
import { redisConnectionFromUrl } from '../../lib/queue/connection';
import { transcriptionJobData } from '../../lib/queue/producer';
import { itRefusesEach, thrownWhisperError } from '../support/errors';

describe('the audio a job carries', () => {
  it('keeps an absolute path, makes a relative one absolute, and takes http(s) URLs as URLs', () => {
    expect(toJobAudio('/data/a.wav')).toEqual({ path: '/data/a.wav' });
    expect(toJobAudio('clips/a.wav')).toEqual({ path: path.resolve('clips/a.wav') });
    expect(toJobAudio('https://example.test/a b.mp3')).toEqual({ url: 'https://example.test/a%20b.mp3' });
    expect(toJobAudio(new URL('http://127.0.0.1:8080/a.wav'))).toEqual({ url: 'http://127.0.0.1:8080/a.wav' });
  });

  it('carries bytes up to the limit inline as base64, exactly as given', () => {
    const bytes = new Uint8Array(MAX_INLINE_AUDIO_BYTES).map((_, index) => index % 251);
    const audio = toJobAudio(bytes.subarray(0));
    expect('inline' in audio && Buffer.from(audio.inline, 'base64').equals(Buffer.from(bytes))).toBe(true);
    const view = Buffer.from('RIFFxxxxWAVE').subarray(4, 8);
    expect(toJobAudio(view)).toEqual({ inline: Buffer.from('xxxx').toString('base64') });
  });

  const expected = `a path, an http(s) URL, or audio bytes (a Buffer or Uint8Array of at most ${MAX_INLINE_AUDIO_BYTES} bytes; put larger audio at a path or URL the workers can read)`;
  itRefusesEach([
    [
      'bytes one over the limit',
      () => toJobAudio(Buffer.alloc(MAX_INLINE_AUDIO_BYTES + 1)),
      `audio: expected ${expected}, got a Buffer of length ${MAX_INLINE_AUDIO_BYTES + 1}`,
    ],
    ['no bytes', () => toJobAudio(new Uint8Array(0)), `audio: expected ${expected}, got a Uint8Array of length 0`],
    ['an empty string', () => toJobAudio(''), `audio: expected ${expected}, got ""`],
    ['a number', () => toJobAudio(3), `audio: expected ${expected}, got 3`],
    ['a file: URL', () => toJobAudio('file:///a.wav'), 'audio: expected an http(s) URL (workers fetch only http and https), got "file:///a.wav"'],
    ['an ftp URL object', () => toJobAudio(new URL('ftp://host/a.wav')), 'audio: expected an http(s) URL (workers fetch only http and https), got "ftp://host/a.wav"'],
  ]);
});

describe('the options a job carries', () => {
  it('passes JSON options through unchanged', () => {
    const options = { language: 'en', threads: 1, vad: { modelPath: '/m/vad.bin', threshold: 0.5 }, audio: { channel: 0 } };
    expect(checkQueueOptions('request.options', options)).toEqual(options);
  });

  itRefusesEach([
    [
      'a signal',
      () => checkQueueOptions('request.options', { signal: new AbortController().signal }),
      'request.options.signal: expected no signal in a queued job (cancel the job instead (cancelTranscription)), got an object (AbortSignal)',
    ],
    [
      'onProgress',
      () => checkQueueOptions('request.options', { onProgress: () => undefined }),
      "request.options.onProgress: expected no onProgress in a queued job (the worker reports progress with job.updateProgress (the queue's 'progress' event)), got a function",
    ],
    [
      'priority',
      () => checkQueueOptions('request.options', { priority: 3 }),
      "request.options.priority: expected no priority in a queued job (pass the job's priority to enqueueTranscription), got 3",
    ],
    [
      'NaN deep inside',
      () => checkQueueOptions('request.options', { vad: { threshold: NaN } }),
      'request.options.vad.threshold: expected a finite number (job data travels as JSON), got NaN',
    ],
    [
      'a Date',
      () => checkQueueOptions('request.options', { initialPrompt: new Date(0) }),
      'request.options.initialPrompt: expected a JSON value: a string, number, boolean, null, array or plain object (job data travels as JSON), got an object (Date)',
    ],
  ]);
});

describe('a request made into job data', () => {
  it('has the audio, options, format and model', () => {
    expect(transcriptionJobData({ audio: '/a.wav', options: { language: 'de' }, format: 'srt', formatOptions: { maxLineLength: 40 }, model: 'small' })).toEqual({
      audio: { path: '/a.wav' },
      options: { language: 'de' },
      format: 'srt',
      formatOptions: { maxLineLength: 40 },
      model: 'small',
    });
  });

  itRefusesEach([
    [
      'an unknown format',
      () => transcriptionJobData({ audio: '/a.wav', format: 'docx' as never }),
      "request.format: expected one of 'txt', 'srt', 'vtt', 'json', 'verbose_json', 'tsv', 'lrc', got \"docx\"",
    ],
    [
      'a misspelt key',
      () => transcriptionJobData({ audio: '/a.wav', fromat: 'srt' } as never),
      'request.fromat: expected one of the known options (audio, options, format, formatOptions, model, priority, jobOptions), got "fromat"',
    ],
  ]);
});

describe('job data read from Redis', () => {
  it('reads what a producer wrote, with json as the default format', () => {
    const data = transcriptionJobData({ audio: Buffer.from('abc'), options: { threads: 1 } });
    expect(parseJobData(JSON.parse(JSON.stringify(data)))).toEqual({
      audio: { inline: 'YWJj' },
      options: { threads: 1 },
      format: 'json',
      formatOptions: undefined,
      model: undefined,
    });
  });

  itRefusesEach([
    ['no audio', () => parseJobData({}), 'job.data.audio: expected an object with exactly one of path, url or inline (base64), got undefined'],
    [
      'two kinds of audio',
      () => parseJobData({ audio: { path: '/a', url: 'http://h/a' } }),
      'job.data.audio: expected an object with exactly one of path, url or inline (base64), got an object (Object)',
    ],
    [
      'a non-http URL',
      () => parseJobData({ audio: { url: 'file:///etc/passwd' } }),
      'job.data.audio.url: expected an http(s) URL (workers fetch only http and https), got "file:///etc/passwd"',
    ],
    ['inline that is not base64', () => parseJobData({ audio: { inline: 'not base64!' } }), 'job.data.audio.inline: expected base64 audio bytes, got "not base64!"'],
    [
      'inline over the limit',
      () => parseJobData({ audio: { inline: 'A'.repeat(((MAX_INLINE_AUDIO_BYTES + 2) / 3) * 4) } }),
      `job.data.audio.inline: expected at most ${MAX_INLINE_AUDIO_BYTES} bytes of audio, got "${MAX_INLINE_AUDIO_BYTES + 2} bytes"`,
    ],
    [
      'an unknown key',
      () => parseJobData({ audio: { path: '/a' }, extra: 1 }),
      'job.data.extra: expected one of the known options (audio, options, format, formatOptions, model), got "extra"',
    ],
    ['not an object', () => parseJobData('x'), 'job.data: expected an object, got "x"'],
  ]);
});

describe('failures', () => {
  it('are written as CODE: message and read back as the same WhisperError', () => {
    const original = new WhisperError('INVALID_AUDIO', 'audio: not a WAV, FLAC, MP3 or Ogg file');
    const reason = failureReason(original);
    expect(reason).toBe('INVALID_AUDIO: audio: not a WAV, FLAC, MP3 or Ogg file');
    const back = errorFromFailure(reason);
    expect(back).toBeInstanceOf(WhisperError);
    expect([back.code, back.message]).toEqual(['INVALID_AUDIO', original.message]);
  });

  it('without a known code read back as TRANSCRIPTION_FAILED with the reason', () => {
    expect(errorFromFailure('job stalled more than allowable limit').message).toBe('the job failed: job stalled more than allowable limit');
    expect(errorFromFailure('NOT_A_CODE: x').code).toBe('TRANSCRIPTION_FAILED');
    expect(errorFromFailure(undefined).message).toBe('the job failed: the job failed without a reason');
  });

  it('are final for bad input, cancellation and deadlines, and retried for the rest', () => {
    for (const code of ['INVALID_AUDIO', 'UNSUPPORTED_AUDIO', 'AUDIO_NOT_FOUND', 'INVALID_ARGUMENT', 'INVALID_MODEL', 'ABORTED', 'TIMEOUT'] as const) {
      expect(isPermanentFailure(new WhisperError(code, 'x')), code).toBe(true);
    }
    for (const code of ['STATE_INIT_FAILED', 'DOWNLOAD_FAILED', 'DISPOSED', 'TRANSCRIPTION_FAILED', 'NATIVE_ERROR'] as const) {
      expect(isPermanentFailure(new WhisperError(code, 'x')), code).toBe(false);
    }
    expect(isPermanentFailure(new Error('Connection is closed.'))).toBe(false);
    expect(thrownWhisperError(() => toJobAudio(null)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('a Redis URL as connection options', () => {
  it('reads host, port, credentials, database and TLS', () => {
    expect(redisConnectionFromUrl('--redis', 'redis://127.0.0.1:6380')).toEqual({ host: '127.0.0.1', port: 6380 });
    expect(redisConnectionFromUrl('--redis', 'redis://cache')).toEqual({ host: 'cache', port: 6379 });
    expect(redisConnectionFromUrl('--redis', 'rediss://me:p%40ss@[::1]:7000/2')).toEqual({ host: '::1', port: 7000, username: 'me', password: 'p@ss', db: 2, tls: {} });
  });

  const expected = 'a Redis URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS)';
  itRefusesEach([
    ['another scheme', () => redisConnectionFromUrl('--redis', 'http://127.0.0.1:6379'), `--redis: expected ${expected}, got "http://127.0.0.1:6379"`],
    ['not a URL', () => redisConnectionFromUrl('--redis', '127.0.0.1:6379'), `--redis: expected ${expected}, got "127.0.0.1:6379"`],
    [
      'a path that is no database number',
      () => redisConnectionFromUrl('--redis', 'redis://h/zero'),
      `--redis: expected ${expected}; the path is the database number, got "redis://h/zero"`,
    ],
    ['a number', () => redisConnectionFromUrl('connection', 6379), `connection: expected ${expected}, got 6379`],
  ]);
});
