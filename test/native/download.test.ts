/**
 * loadModel by name, end to end: a name added to the catalogue is downloaded from a local server
 * on 127.0.0.1 (a Hugging Face-style redirect with X-Linked-ETag, the connection dropped once
 * midway), checked, cached, loaded and run on real speech; then loaded from the cache alone.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../lib';
import { addCatalogueEntry, clearAddedCatalogueEntries } from '../../lib/model-files/catalogue';
import type { DownloadProgress } from '../../lib/model-files/download';
import { JFK_WAV } from '../support/paths';
import { realModels } from '../support/real-models';
import { startModelServer, type ModelServer } from '../support/model-server';

const q5 = realModels().models.base.files.q5_0;
const URL_PATH = 'test/whisper-base/resolve/main/ggml-base-q5_0.bin';

describe('loadModel by name', () => {
  let server: ModelServer;
  let modelsDir: string;
  const savedEndpoint = process.env.HF_ENDPOINT;

  beforeAll(async () => {
    server = await startModelServer();
    server.serve(URL_PATH, readFileSync(q5.path), { redirect: true, dropAfter: { bytes: 20_000_000, times: 1 } });
    modelsDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-models-'));
    process.env.HF_ENDPOINT = server.url;
    delete process.env.WHISPER_NAPI_OFFLINE;
    // no sha256 here: the file is checked against the X-Linked-ETag the server states
    addCatalogueEntry({ name: 'base-test-q5_0', kind: 'whisper', file: 'ggml-base-test-q5_0.bin', url: URL_PATH });
  });

  afterAll(async () => {
    clearAddedCatalogueEntries();
    if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = savedEndpoint;
    await server.close();
    await fsp.rm(modelsDir, { recursive: true, force: true });
  });

  it("downloads a name with download: 'auto', resumes after a dropped connection, verifies it and transcribes with it", async () => {
    const progress: DownloadProgress[] = [];
    const model = await loadModel('base-test-q5_0', { gpu: false, download: 'auto', modelsDir, onDownloadProgress: (p) => progress.push(p) });
    try {
      const cached = path.join(modelsDir, 'ggml-base-test-q5_0.bin');
      expect(createHash('sha256').update(readFileSync(cached)).digest('hex')).toBe(q5.sha256);
      expect(await fsp.readdir(modelsDir)).toEqual(['ggml-base-test-q5_0.bin']);
      expect(progress.at(-1)).toMatchObject({ name: 'base-test-q5_0', receivedBytes: q5.bytes, totalBytes: q5.bytes });
      const bodies = server.requestsFor(URL_PATH).filter((r) => r.path.startsWith('cdn/'));
      expect(bodies.map((r) => r.status)).toEqual([200, 206]);
      const result = await model.transcribe(JFK_WAV, { language: 'en', threads: 2 });
      expect(result.text).toMatch(/ask not what your country can do for you/i);
    } finally {
      await model.dispose();
    }
  });

  it('loads the cached file by name without the network, and says how to get a name that is not cached', async () => {
    const before = server.requests.length;
    const model = await loadModel('base-test-q5_0', { gpu: false, modelsDir });
    await model.dispose();
    expect(server.requests.length).toBe(before);
    await expect(loadModel('base.en', { gpu: false, modelsDir })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: `model: 'base.en' is not in the model cache (${modelsDir}): pass download: 'auto' to loadModel, or run \`whisper-napi models download base.en\``,
    });
    await expect(loadModel('base-tset-q5_0', { gpu: false, modelsDir })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining("did you mean 'base-test-q5_0'") as string,
    });
    process.env.WHISPER_NAPI_OFFLINE = '1';
    try {
      await expect(loadModel('tiny.en', { gpu: false, modelsDir, download: 'auto' })).rejects.toMatchObject({ code: 'OFFLINE' });
    } finally {
      delete process.env.WHISPER_NAPI_OFFLINE;
    }
    expect(server.requests.length).toBe(before);
  });
});
