/** A queued job's data: what producers may send, what workers accept from Redis, and failures written and read back with their codes. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { errorFromFailure, failureReason, isPermanentFailure, MAX_INLINE_AUDIO_BYTES, parseJobData, queueMessage, toJobAudio } from '../../lib/queue/job-data';
import { checkJobOptions, MAX_JOB_PROMPT_CHARS } from '../../lib/queue/job-options';
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
  it('passes the allowed decoding and result options through, as a new object', () => {
    const options = {
      language: 'en',
      beamSize: 3,
      strategy: 'beam',
      vad: { threshold: 0.5 },
      audio: { channel: 0 },
      initialPrompt: 'Names: Ada.',
      timeoutMs: 5000,
    } as const;
    const checked = checkJobOptions('request.options', options);
    expect(checked).toEqual(options);
    expect(checked).not.toBe(options);
    expect(checkJobOptions('o', { vad: true, windowing: 'parallel', audioContext: 'auto' })).toEqual({ vad: true, windowing: 'parallel', audioContext: 'auto' });
  });

  // Each of these was settable from a job: the worker spread job options into transcribe().
  itRefusesEach([
    [
      'an ffmpeg to run',
      () => checkJobOptions('job.data.options', { audio: { ffmpegPath: '/tmp/x.sh' } }),
      'job.data.options.audio.ffmpegPath: expected no ffmpegPath in a queued job (ffmpeg is the worker\'s own (transcribeDefaults.audio.ffmpegPath, $WHISPER_NAPI_FFMPEG)), got "/tmp/x.sh"',
    ],
    [
      'a VAD model file',
      () => checkJobOptions('job.data.options', { vad: { modelPath: '/etc/passwd' } }),
      'job.data.options.vad.modelPath: expected no modelPath in a queued job (the worker\'s VAD model is its own (--vad, vadModel); send vad: true or the VAD settings), got "/etc/passwd"',
    ],
    [
      'a 4 GiB input limit',
      () => checkJobOptions('job.data.options', { audio: { maxInputBytes: 2 ** 32 - 1 } }),
      "job.data.options.audio.maxInputBytes: expected no maxInputBytes in a queued job (the worker's limits apply (transcribeDefaults.audio.maxInputBytes, maxUrlBytes)), got 4294967295",
    ],
    [
      '256 threads',
      () => checkJobOptions('job.data.options', { threads: 256 }),
      "job.data.options.threads: expected no threads in a queued job (the worker's --threads (transcribeDefaults.threads) decides the threads), got 256",
    ],
    [
      'a regular expression for std::regex',
      () => checkJobOptions('job.data.options', { suppressRegex: '(a*)*b' }),
      'job.data.options.suppressRegex: expected no suppressRegex in a queued job (set by the worker\'s transcribeDefaults only (a pattern std::regex compiles and runs can stall or crash the worker)), got "(a*)*b"',
    ],
    [
      "another job's text as prompt",
      () => checkJobOptions('job.data.options', { noContext: false }),
      "job.data.options.noContext: expected no noContext in a queued job (every job starts without another job's text (noContext false would prompt it with the text of whichever job ran before on the same state)), got false",
    ],
    [
      'a signal',
      () => checkJobOptions('request.options', { signal: new AbortController().signal }),
      'request.options.signal: expected no signal in a queued job (cancel the job instead (cancelTranscription)), got an object (AbortSignal)',
    ],
    [
      'onProgress',
      () => checkJobOptions('request.options', { onProgress: () => undefined }),
      "request.options.onProgress: expected no onProgress in a queued job (the worker reports progress with job.updateProgress (the queue's 'progress' event)), got a function",
    ],
    [
      'priority',
      () => checkJobOptions('request.options', { priority: 3 }),
      "request.options.priority: expected no priority in a queued job (pass the job's priority to enqueueTranscription), got 3",
    ],
    ['NaN', () => checkJobOptions('o', { vad: { threshold: NaN } }), 'o.vad.threshold: expected a number from 0 to 1, got NaN'],
    [
      'a Date',
      () => checkJobOptions('o', { initialPrompt: new Date(0) }),
      'o.initialPrompt: expected a prompt (a string of at most 4096 characters), got an object (Date)',
    ],
    [
      'a huge prompt',
      () => checkJobOptions('o', { initialPrompt: 'x'.repeat(MAX_JOB_PROMPT_CHARS + 1) }),
      'o.initialPrompt: expected a prompt (a string of at most 4096 characters), got a string of length 4097',
    ],
    ['nine beams', () => checkJobOptions('o', { beamSize: 9 }), 'o.beamSize: expected an integer from 1 to 8, got 9'],
    [
      'a long language',
      () => checkJobOptions('o', { language: 'e'.repeat(1000) }),
      "o.language: expected 'auto' or a language code (a string of at most 16 characters), got a string of length 1000",
    ],
    ['an unknown option', () => checkJobOptions('o', { beamsize: 2 }), 'o: expected only the options a queued job may carry, got the key "beamsize"'],
    [
      'a long unknown key',
      () => checkJobOptions('o', { ['k'.repeat(10_000)]: 1 }),
      'o: expected only the options a queued job may carry, got a key of 10000 characters that no option has',
    ],
    [
      'a key with a line break',
      () => checkJobOptions('o', { 'a\nb': 1 }),
      'o: expected only the options a queued job may carry, got a key of 3 characters that no option has',
    ],
    ['an array', () => checkJobOptions('o', [1, 2]), 'o: expected an object, got an array of length 2'],
    ['vad as a string', () => checkJobOptions('o', { vad: 'silero' }), 'o.vad: expected an object, got "silero"'],
    [
      'parallel windows without VAD',
      () => checkJobOptions('o', { windowing: 'parallel' }),
      "o.windowing: expected 'sequential', or 'parallel' together with vad (parallel windows are cut by Silero VAD), got \"parallel\"",
    ],
  ]);

  it('refuses __proto__ from JSON without touching any prototype', () => {
    const hostile: unknown = JSON.parse('{"__proto__": {"polluted": true}, "language": "en"}');
    expect(thrownWhisperError(() => checkJobOptions('o', hostile)).message).toBe('o: expected only the options a queued job may carry, got the key "__proto__"');
    const nested: unknown = JSON.parse('{"vad": {"__proto__": {"modelPath": "/etc/passwd"}}}');
    expect(thrownWhisperError(() => checkJobOptions('o', nested)).message).toBe('o.vad: expected only the options a queued job may carry, got the key "__proto__"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).modelPath).toBeUndefined();
  });
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
    const data = transcriptionJobData({ audio: Buffer.from('abc'), options: { beamSize: 1 } });
    expect(parseJobData(JSON.parse(JSON.stringify(data)))).toEqual({
      audio: { inline: 'YWJj' },
      options: { beamSize: 1 },
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
      'job.data: expected only audio, options, format, formatOptions, model, got the key "extra"',
    ],
    ['a relative path', () => parseJobData({ audio: { path: 'etc/passwd' } }), 'job.data.audio.path: expected an absolute path, got "etc/passwd"'],
    [
      'a path with a NUL',
      () => parseJobData({ audio: { path: '/a.wav\0.txt' } }),
      'job.data.audio.path: expected a path without NUL characters, got "/a.wav\\u0000.txt"',
    ],
    [
      'a path of 5000 characters',
      () => parseJobData({ audio: { path: `/${'a'.repeat(4999)}` } }),
      'job.data.audio.path: expected a path of at most 4096 characters, got a string of length 5000',
    ],
    [
      'a URL of a million characters',
      () => parseJobData({ audio: { url: `http://h/${'a'.repeat(1_000_000)}` } }),
      'job.data.audio.url: expected a URL of at most 8192 characters, got a string of length 1000009',
    ],
    [
      'inline of 100 MB',
      () => parseJobData({ audio: { inline: 'A'.repeat(100_000_000) } }),
      `job.data.audio.inline: expected at most ${MAX_INLINE_AUDIO_BYTES} bytes of audio, got "100000000 characters of base64"`,
    ],
    ['a number as path', () => parseJobData({ audio: { path: 7 } }), 'job.data.audio.path: expected a non-empty string, got 7'],
    [
      'a long model name',
      () => parseJobData({ audio: { path: '/a' }, model: 'm'.repeat(200) }),
      'job.data.model: expected a model name (a string of 1 to 128 characters), got a string of length 200',
    ],
    [
      'an unknown format option',
      () => parseJobData({ audio: { path: '/a' }, formatOptions: { x: 1 } }),
      'job.data.formatOptions: expected only the options a queued job may carry, got the key "x"',
    ],
    [
      'a format option out of range',
      () => parseJobData({ audio: { path: '/a' }, formatOptions: { maxLineCount: 1e9 } }),
      'job.data.formatOptions.maxLineCount: expected an integer from 1 to 1000, got 1000000000',
    ],
    [
      'worker-only options',
      () => parseJobData({ audio: { path: '/a' }, options: { threads: 2 } }),
      "job.data.options.threads: expected no threads in a queued job (the worker's --threads (transcribeDefaults.threads) decides the threads), got 2",
    ],
    ['not an object', () => parseJobData('x'), 'job.data: expected an object, got "x"'],
  ]);
});

describe('failures', () => {
  it('are written as CODE: message and read back as the same WhisperError', () => {
    const original = queueMessage(new WhisperError('INVALID_AUDIO', 'audio: not a WAV, FLAC, MP3 or Ogg file'));
    const reason = failureReason(original);
    expect(reason).toBe('INVALID_AUDIO: audio: not a WAV, FLAC, MP3 or Ogg file');
    const back = errorFromFailure(reason);
    expect(back).toBeInstanceOf(WhisperError);
    expect([back.code, back.message]).toEqual(['INVALID_AUDIO', original.message]);
  });

  it('never quote what the audio, ffmpeg, whisper.cpp or a server said: the code and our words', () => {
    // lib/audio's message for an unknown format quotes its first bytes (here /etc/shadow's "root:$6$").
    const firstBytes = new WhisperError(
      'UNSUPPORTED_AUDIO',
      'audio: audio that is not WAV, FLAC, MP3 or Ogg Vorbis (its first bytes are 72 6f 6f 74 3a 24 36 24) needs ffmpeg, which was not found',
    );
    expect(failureReason(firstBytes)).toBe('UNSUPPORTED_AUDIO: the audio is in a format this worker cannot decode');
    const ffmpegSaid = new WhisperError('INVALID_AUDIO', 'audio: ffmpeg failed: SECRET=hunter2: Invalid data found when processing input');
    expect(failureReason(ffmpegSaid)).toBe('INVALID_AUDIO: the audio could not be decoded');
    expect(failureReason(new WhisperError('TRANSCRIPTION_FAILED', 'whisper_full failed (-6): /home/worker/models/x.bin'))).toBe(
      'TRANSCRIPTION_FAILED: the transcription failed',
    );
    expect(failureReason(new Error('ENOENT: /srv/secret'))).toBe('TRANSCRIPTION_FAILED: the worker failed unexpectedly');
    // What the queue wrote itself, and option errors made of checked values, are kept, on one line.
    expect(failureReason(queueMessage(new WhisperError('INVALID_AUDIO', 'audio http://h/a: more than 10 bytes')))).toBe(
      'INVALID_AUDIO: audio http://h/a: more than 10 bytes',
    );
    expect(failureReason(new WhisperError('INVALID_ARGUMENT', 'options.beamSize: expected an integer from 1 to 8, got 99'))).toBe(
      'INVALID_ARGUMENT: options.beamSize: expected an integer from 1 to 8, got 99',
    );
    expect(failureReason(queueMessage(new WhisperError('FILE_UNREADABLE', 'a\r\nb')))).toBe('FILE_UNREADABLE: a b');
    expect(failureReason(new WhisperError('INVALID_ARGUMENT', 'x'.repeat(5000)))).toHaveLength('INVALID_ARGUMENT: '.length + 1003);
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
