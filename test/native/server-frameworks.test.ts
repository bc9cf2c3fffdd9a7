/**
 * One handler, three hosts: node:http, Express (`app.use(handler)`) and Fastify
 * (`app.register(handler.fastify)`). The same upload gives the same transcript through each,
 * the app's own routes still answer beside it, and refusals keep OpenAI's error shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Transcript, type WhisperModel } from '../../lib';
import { SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { startServer, type ServerKind, type StartedServer } from '../support/server-fixture';

const MODEL = realModels().models.base.files.q8_0.path;
const CLIP = path.join(SHARED, 'audio', 'cards', '001.wav');
const DEFAULTS = { threads: 1 };
const KINDS: ServerKind[] = ['http', 'express', 'fastify'];

let model: WhisperModel;
let direct: Transcript;
let clip: Buffer;
const servers = new Map<ServerKind, StartedServer>();

function upload(fields: Record<string, string>, file: Buffer | null = clip): FormData {
  const form = new FormData();
  if (file) form.append('file', new Blob([file], { type: 'audio/wav' }), 'clip.wav');
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

beforeAll(async () => {
  clip = fs.readFileSync(CLIP);
  model = await loadModel(MODEL, { concurrency: 1 });
  direct = await model.transcribe(CLIP, DEFAULTS);
  expect(direct.text).toMatch(/clubs/i);
  for (const kind of KINDS)
    servers.set(kind, await startServer({ models: model, transcribeDefaults: DEFAULTS, page: false }, { kind, ownRoutes: { '/own': `${kind} route` } }));
});

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.close()));
  await model?.dispose();
});

describe.each(KINDS)('%s', (kind) => {
  const url = () => servers.get(kind)!.url;

  it('transcribes the upload as transcribe() does', async () => {
    const response = await fetch(`${url()}/v1/audio/transcriptions`, { method: 'POST', body: upload({ model: 'whisper-1' }) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ text: direct.text, usage: { type: 'duration', seconds: direct.audioDurationMs / 1000 } });
  });

  it('refuses a form without a file in OpenAI’s error shape', async () => {
    const response = await fetch(`${url()}/v1/audio/transcriptions`, { method: 'POST', body: upload({ model: 'whisper-1' }, null) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { message: expect.stringMatching(/^file: missing/) as string, type: 'invalid_request_error', param: 'file', code: 'missing_required_parameter' },
    });
  });

  it('answers a method it does not serve with 405', async () => {
    const response = await fetch(`${url()}/v1/audio/transcriptions`);
    expect([404, 405]).toContain(response.status);
    if (kind === 'http') expect(response.headers.get('allow')).toBe('POST');
  });

  it('leaves the app’s own routes working beside it (node:http: answers every path itself)', async () => {
    if (kind === 'http') {
      const missing = await fetch(`${url()}/elsewhere`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
      return;
    }
    const response = await fetch(`${url()}/own`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`${kind} route`);
    // A path neither serves is the framework's own 404, not the handler's.
    const missing = await fetch(`${url()}/elsewhere`);
    expect(missing.status).toBe(404);
  });
});

it('streams events through Fastify’s hijacked reply', async () => {
  const response = await fetch(`${servers.get('fastify')!.url}/v1/audio/transcriptions`, { method: 'POST', body: upload({ model: 'whisper-1', stream: 'true' }) });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const events = (await response.text())
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => JSON.parse(block.slice('data: '.length)) as { type: string; delta?: string; text?: string });
  expect(events.at(-1)).toEqual({ type: 'transcript.text.done', text: direct.text, usage: { type: 'duration', seconds: direct.audioDurationMs / 1000 } });
  expect(
    events
      .filter((event) => event.type === 'transcript.text.delta')
      .map((event) => event.delta)
      .join(''),
  ).toBe(direct.text);
  expect(model.stats()).toMatchObject({ running: 0, queued: 0 });
});
