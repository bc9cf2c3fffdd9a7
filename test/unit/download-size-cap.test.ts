/**
 * A model host that sends more bytes than the catalogue entry's size (and says so in its
 * Content-Length) is refused as the bytes arrive: the catalogue's size bounds the download, not
 * what the server states, and nothing past it reaches the disk.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addCatalogueEntry, clearAddedCatalogueEntries } from '../../lib/model-files/catalogue';
import { downloadModel } from '../../lib/model-files/download';
import { type ModelServer, startModelServer } from '../support/model-server';

let server: ModelServer;
let modelsDir: string;

beforeAll(async () => {
  server = await startModelServer();
  modelsDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-size-cap-'));
});
afterAll(async () => {
  clearAddedCatalogueEntries();
  await server.close();
  await fsp.rm(modelsDir, { recursive: true, force: true });
});

it('a server stating and sending 4 MiB for an entry of 64 KiB: DOWNLOAD_FAILED, nothing over 64 KiB written', async () => {
  const expected = Buffer.alloc(64 * 1024, 3);
  const served = Buffer.concat([expected, Buffer.alloc(4 * 1024 * 1024, 9)]);
  const url = 'test/oversize/resolve/main/ggml-oversize.bin';
  server.serve(url, served);
  const sha256 = createHash('sha256').update(expected).digest('hex');
  addCatalogueEntry({ name: 'oversize', kind: 'vad', file: 'ggml-oversize.bin', url, sizeBytes: expected.length, sha256 });
  const failure = await downloadModel('oversize', { modelsDir, baseUrl: server.url }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringMatching(/sent more than the 65536 bytes expected/) });
  for (const file of await fsp.readdir(modelsDir)) {
    const { size } = await fsp.stat(path.join(modelsDir, file));
    expect(size, file).toBeLessThanOrEqual(expected.length);
  }
}, 60_000);
