/**
 * The server's bounds without a model: the handler's new options and their checks, API keys
 * compared by hash, what a client may put in a form field or a live start message (an
 * allow-list, each bounded), metrics labels that never come from a client, and the admission
 * counts that bound uploads and queued jobs.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { WhisperModel } from '../../lib/model/whisper-model';
import { Admissions, ApiKeys, ModelRegistry } from '../../lib/server/context';
import { parseClientMessage, MAX_PROMPT_BYTES, MAX_TEXT_MESSAGE_BYTES } from '../../lib/server/live-protocol';
import { createMetrics, UNKNOWN_MODEL_LABEL } from '../../lib/server/metrics';
import { HttpError } from '../../lib/server/openai-errors';
import { parseTranscriptionFields, transcribeOptionsFor } from '../../lib/server/openai-fields';
import { DEFAULT_MAX_AUDIO_DURATION_MS, resolveHandlerOptions } from '../../lib/server/options';

const pending = new Promise<WhisperModel>(() => {});

/** Enough of a WhisperModel for the admission counts. */
function fakeModel(concurrency: number, stats: { running?: number; queued?: number; maxQueue?: number } = {}): WhisperModel {
  return {
    concurrency,
    stats: () => ({ running: 0, queued: 0, maxQueue: Number.POSITIVE_INFINITY, concurrency, ...stats }),
  } as unknown as WhisperModel;
}

function refusal(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  return expect.unreachable('expected a refusal');
}

describe('handler options', () => {
  it('defaults: same-origin only, /metrics open, a 2 h audio cap, the queue and uploads from the models', () => {
    const resolved = resolveHandlerOptions({ models: pending });
    expect(resolved).toMatchObject({ metricsAuth: false, maxQueue: undefined, maxUploads: undefined, maxAudioDurationMs: DEFAULT_MAX_AUDIO_DURATION_MS });
    expect(resolved.allowedOrigins).toEqual(new Set());
    expect(DEFAULT_MAX_AUDIO_DURATION_MS).toBe(7_200_000);
  });

  it('takes origins as origins and refuses anything else', () => {
    expect(resolveHandlerOptions({ models: pending, allowedOrigins: ['https://app.example', 'http://localhost:3000/'] }).allowedOrigins).toEqual(
      new Set(['https://app.example', 'http://localhost:3000']),
    );
    expect(resolveHandlerOptions({ models: pending, allowedOrigins: '*' }).allowedOrigins).toBe('*');
    for (const bad of [['https://app.example/path'], ['ftp://x.example'], ['app.example'], 'https://app.example', [42]]) {
      expect(() => resolveHandlerOptions({ models: pending, allowedOrigins: bad as never }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^options\.allowedOrigins/) }),
      );
    }
  });

  it.each([
    ['maxQueue', -1],
    ['maxUploads', 0],
    ['maxAudioDurationMs', 999],
    ['metricsAuth', 'yes'],
  ])('refuses %s: %j', (key, value) => {
    expect(() => resolveHandlerOptions({ models: pending, [key]: value })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(new RegExp(`^options\\.${key}: expected`)) }),
    );
  });
});

describe('API keys', () => {
  it('accepts only a configured key, whatever its length or likeness', () => {
    const keys = new ApiKeys(['sk-one', 'sk-two']);
    expect(keys.open).toBe(false);
    expect(keys.accepts('sk-one')).toBe(true);
    expect(keys.accepts('sk-two')).toBe(true);
    for (const wrong of [undefined, '', 'sk-on', 'sk-one ', 'SK-ONE', 'sk-one'.repeat(1000), 'x'.repeat(2000)]) expect(keys.accepts(wrong)).toBe(false);
    expect(new ApiKeys([]).open).toBe(true);
  });
});

describe('form fields: only OpenAI’s reach transcribe(), each bounded', () => {
  const form = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([name, value]) => [name, [value]]));

  it('fields that name paths, ffmpeg, VAD, threads or limits are ignored, not passed on', () => {
    const fields = parseTranscriptionFields(
      form({ threads: '64', ffmpegPath: '/bin/sh', vad: 'true', vadModel: '/etc/passwd', maxInputBytes: '1', timeoutMs: '1', audio: '{}', beam_size: '8' }),
      'transcriptions',
    );
    const options = transcribeOptionsFor(fields, { threads: 2 }, {});
    expect(options).toEqual({ threads: 2 });
  });

  it('a prompt over 4096 bytes is a 400 naming prompt; one of 4096 bytes passes', () => {
    const long = refusal(() => parseTranscriptionFields(form({ prompt: 'é'.repeat(MAX_PROMPT_BYTES / 2 + 1) }), 'transcriptions'));
    expect(long).toMatchObject({ status: 400, message: 'prompt: expected at most 4096 bytes, got 4098', details: { param: 'prompt' } });
    expect(parseTranscriptionFields(form({ prompt: 'a'.repeat(MAX_PROMPT_BYTES) }), 'transcriptions').options.initialPrompt).toHaveLength(MAX_PROMPT_BYTES);
  });

  it('a long model name is refused without being echoed', () => {
    const error = refusal(() => parseTranscriptionFields(form({ model: 'm'.repeat(5000) }), 'transcriptions'));
    expect(error).toMatchObject({ status: 400, details: { param: 'model', code: 'model_not_found' } });
    expect(error.message.length).toBeLessThan(120);
  });

  it('long bad values are described, not echoed', () => {
    for (const name of ['language', 'temperature', 'response_format', 'stream', 'timestamp_granularities[]']) {
      const error = refusal(() => parseTranscriptionFields(form({ [name]: 'z'.repeat(6000) }), 'transcriptions'));
      expect(error.message, name).toMatch(/a string of length 6000/);
    }
  });
});

describe('live start messages: bounded', () => {
  it('refuses a prompt over 4096 bytes, a model name over 256 characters, and a text message over 16 KiB', () => {
    expect(() => parseClientMessage(JSON.stringify({ type: 'start', format: 's16', prompt: 'p'.repeat(MAX_PROMPT_BYTES + 1) }))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'start.prompt: expected a string of at most 4096 bytes, got a string of length 4097' }),
    );
    expect(() => parseClientMessage(JSON.stringify({ type: 'start', format: 's16', model: 'm'.repeat(257) }))).toThrow(
      expect.objectContaining({ message: 'start.model: expected the name of a served model, got a string of length 257' }),
    );
    expect(() => parseClientMessage(JSON.stringify({ type: 'start', format: 's16', pad: ' '.repeat(MAX_TEXT_MESSAGE_BYTES) }))).toThrow(
      expect.objectContaining({ message: 'message: a text message is at most 16384 bytes' }),
    );
    expect(parseClientMessage(JSON.stringify({ type: 'start', format: 's16', prompt: 'p'.repeat(MAX_PROMPT_BYTES) }))).toMatchObject({ type: 'start' });
  });

  it('refuses any field a client adds (threads, paths, limits)', () => {
    for (const key of ['threads', 'ffmpegPath', 'vad', 'maxInputBytes', 'timeoutMs', 'audio']) {
      expect(() => parseClientMessage(JSON.stringify({ type: 'start', format: 's16', [key]: 1 })), key).toThrow(
        expect.objectContaining({ message: expect.stringMatching(new RegExp(`^start\\.${key}: expected one of the known options`)) }),
      );
    }
  });
});

describe('metrics labels', () => {
  it('a job reported for a name not served is labelled unknown: 300 random names make one series', async () => {
    const models = new ModelRegistry(new Map([['whisper-1', pending]]), 'whisper-1');
    const registry = new Registry();
    const metrics = createMetrics(new Admissions(models, { maxQueue: undefined, maxUploads: undefined }), { registry, prefix: 'x_' });
    for (let i = 0; i < 300; i++) {
      metrics.observer.jobSettled({ model: `m${i}-${'r'.repeat(1000)}`, endpoint: 'stream', outcome: 'failed', wallSeconds: 0 });
    }
    metrics.observer.jobSettled({ model: 'whisper-1', endpoint: 'stream', outcome: 'failed', wallSeconds: 0 });
    const text = await registry.metrics();
    const series = text.split('\n').filter((line) => line.startsWith('x_jobs_total{'));
    expect(series.sort()).toEqual([
      `x_jobs_total{model="${UNKNOWN_MODEL_LABEL}",endpoint="stream",outcome="failed"} 300`,
      'x_jobs_total{model="whisper-1",endpoint="stream",outcome="failed"} 1',
    ]);
    expect(text.length).toBeLessThan(20_000);
  });
});

describe('admissions', () => {
  it('uploads: the ready models’ concurrency and queue bound added up, or maxUploads; released once each', () => {
    const model = fakeModel(2);
    const admissions = new Admissions(new ModelRegistry(new Map([['a', model]]), 'a'), { maxQueue: undefined, maxUploads: undefined });
    expect(admissions.queueBound(model)).toBe(8);
    expect(admissions.uploadLimit()).toBe(10);
    const releases = Array.from({ length: 10 }, () => admissions.takeUpload());
    expect(releases.every((release) => release !== undefined)).toBe(true);
    expect(admissions.takeUpload()).toBeUndefined();
    releases[0]!();
    releases[0]!();
    expect(admissions.uploads).toBe(9);
    expect(admissions.takeUpload()).toBeDefined();
    expect(new Admissions(new ModelRegistry(new Map([['a', model]]), 'a'), { maxQueue: 1, maxUploads: 3 }).uploadLimit()).toBe(3);
  });

  it('jobs: the handler’s own count, the model’s smaller maxQueue, and a shared model’s stats() all refuse', () => {
    const model = fakeModel(1);
    const admissions = new Admissions(new ModelRegistry(new Map([['a', model]]), 'a'), { maxQueue: 1, maxUploads: undefined });
    const first = admissions.takeJob('a', model);
    const second = admissions.takeJob('a', model);
    expect(first && second).toBeDefined();
    expect(admissions.takeJob('a', model)).toBeUndefined();
    first!();
    expect(admissions.takeJob('a', model)).toBeDefined();

    const own = fakeModel(1, { maxQueue: 0 });
    expect(new Admissions(new ModelRegistry(new Map([['b', own]]), 'b'), { maxQueue: undefined, maxUploads: undefined }).queueBound(own)).toBe(0);
    const busy = fakeModel(1, { running: 1, queued: 4 });
    expect(new Admissions(new ModelRegistry(new Map([['c', busy]]), 'c'), { maxQueue: undefined, maxUploads: undefined }).takeJob('c', busy)).toBeUndefined();
  });
});
