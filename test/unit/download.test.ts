/**
 * Model downloads against a local server on 127.0.0.1 serving the real Silero VAD file: resume,
 * redirects with X-Linked-ETag, 404/416/500, wrong bytes, abort, the lock between processes,
 * offline mode, and loadModel's name resolution. Nothing here reaches any other host.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addCatalogueEntry, clearAddedCatalogueEntries, findCatalogueEntry, type CatalogueEntry } from '../../lib/model-files/catalogue';
import { downloadModel, type DownloadProgress } from '../../lib/model-files/download';
import { cachedModelPath, defaultModelsDir, listModels, removeModel } from '../../lib/model-files/model-cache';
import { looksLikeModelPath, resolveModelPath } from '../../lib/model-files/resolve-model';
import { WhisperError } from '../../lib/errors/whisper-error';
import { REPO_ROOT, SHARED } from '../support/paths';
import { ModelServer, startModelServer } from '../support/model-server';

const VAD_BYTES = readFileSync(path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin'));
const VAD_SHA256 = createHash('sha256').update(VAD_BYTES).digest('hex');
const VAD_PATH = 'ggml-org/whisper-vad/resolve/main/ggml-silero-v6.2.0.bin';

let server: ModelServer;
let modelsDir: string;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  server = await startModelServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  modelsDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-models-'));
  delete process.env.WHISPER_NAPI_OFFLINE;
  delete process.env.HF_ENDPOINT;
  delete process.env.WHISPER_NAPI_MODELS;
  server.requests.length = 0;
});
afterEach(async () => {
  process.env = { ...savedEnvironment };
  clearAddedCatalogueEntries();
  await fsp.rm(modelsDir, { recursive: true, force: true });
});

/** A test model: the VAD bytes under a path of its own, served as `behaviour` says. */
function testModel(name: string, behaviour: Parameters<ModelServer['serve']>[2] = {}, entry: Partial<CatalogueEntry> = {}): CatalogueEntry {
  const url = `test/${name}/resolve/main/ggml-${name}.bin`;
  server.serve(url, VAD_BYTES, behaviour);
  const full: CatalogueEntry = { name, kind: 'vad', file: `ggml-${name}.bin`, url, sizeBytes: VAD_BYTES.length, sha256: VAD_SHA256, ...entry };
  addCatalogueEntry(full);
  return full;
}

async function thrown(promise: Promise<unknown>): Promise<WhisperError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WhisperError);
    return error as WhisperError;
  }
  throw new Error('expected a rejection');
}

async function cacheFiles(): Promise<string[]> {
  return (await fsp.readdir(modelsDir)).sort();
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('downloadModel', () => {
  it('downloads the built-in silero-v6.2.0 entry from a base URL, verified, with progress, and then uses the cache', async () => {
    server.serve(VAD_PATH, VAD_BYTES);
    const progress: DownloadProgress[] = [];
    const file = await downloadModel('silero-v6.2.0', { modelsDir, baseUrl: server.url, onProgress: (p) => progress.push(p) });
    expect(file).toBe(path.join(modelsDir, 'ggml-silero-v6.2.0.bin'));
    expect(sha256(file)).toBe(VAD_SHA256);
    expect(await cacheFiles()).toEqual(['ggml-silero-v6.2.0.bin']);
    expect(progress.length).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) expect(progress[i].receivedBytes).toBeGreaterThanOrEqual(progress[i - 1].receivedBytes);
    expect(progress.at(-1)).toMatchObject({ name: 'silero-v6.2.0', receivedBytes: VAD_BYTES.length, totalBytes: VAD_BYTES.length, etaSeconds: 0 });
    expect(server.requests).toHaveLength(1);
    expect(await downloadModel('silero-v6.2.0', { modelsDir, baseUrl: server.url })).toBe(file);
    expect(server.requests).toHaveLength(1);
  });

  it('uses HF_ENDPOINT when no base URL is given', async () => {
    const entry = testModel('endpoint');
    process.env.HF_ENDPOINT = `${server.url}/`;
    expect(sha256(await downloadModel(entry.name, { modelsDir }))).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url)).toHaveLength(1);
  });

  it('follows a Hugging Face-style redirect and checks the file against its X-Linked-ETag when the catalogue has no hash', async () => {
    const entry = testModel('linked', { redirect: true }, { sha256: undefined });
    const file = await downloadModel(entry.name, { modelsDir, baseUrl: server.url });
    expect(sha256(file)).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url).map((r) => [r.path.startsWith('cdn/'), r.status])).toEqual([
      [false, 302],
      [true, 200],
    ]);
  });

  it('refuses a file whose X-Linked-ETag disagrees with the catalogue before downloading it', async () => {
    const entry = testModel('disagrees', { redirect: true, linkedSha256: 'ab'.repeat(32) });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.message).toContain(`the server offers ggml-disagrees.bin with SHA-256 ${'ab'.repeat(32)}, but the catalogue expects ${VAD_SHA256}`);
    expect(server.requestsFor(entry.url).every((r) => r.bodyBytes === 0)).toBe(true);
    expect(await cacheFiles()).toEqual([]);
  });

  it('with a wrong X-Linked-ETag and no catalogue hash: CHECKSUM_MISMATCH and nothing under the final name', async () => {
    const entry = testModel('wrong-linked', { redirect: true, linkedSha256: 'cd'.repeat(32) }, { sha256: undefined });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.message).toMatch(
      /^the download of model 'wrong-linked': the downloaded ggml-wrong-linked\.bin has SHA-256 [0-9a-f]{64}, expected (cd){32}; it was deleted/,
    );
    expect(await cacheFiles()).toEqual([]);
  });

  it('serves wrong bytes: CHECKSUM_MISMATCH, no final file, no part left', async () => {
    const entry = testModel('corrupt', { corrupt: true });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.message).toContain(`expected ${VAD_SHA256}`);
    expect(await cacheFiles()).toEqual([]);
  });

  it('resumes with Range and If-Range after the connection drops midway, and the hash matches', async () => {
    const entry = testModel('dropped', { dropAfter: { bytes: 300_000, times: 2 } });
    const file = await downloadModel(entry.name, { modelsDir, baseUrl: server.url });
    expect(sha256(file)).toBe(VAD_SHA256);
    const requests = server.requestsFor(entry.url);
    expect(requests.map((r) => r.status)).toEqual([200, 206, 206]);
    // each attempt resumes where the part ended: after the bytes that arrived, never from 0
    const starts = requests.map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? 'bytes=0-')![1]));
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThan(200_000);
    expect(starts[1]).toBeLessThanOrEqual(300_000);
    expect(starts[2]).toBeGreaterThan(starts[1] + 200_000);
    expect(starts[2]).toBeLessThanOrEqual(starts[1] + 300_000);
    expect(requests[1].ifRange).toBe(requests[2].ifRange);
    expect(requests[1].ifRange).toMatch(/^"[0-9a-f]{16}"$/);
    expect(await cacheFiles()).toEqual(['ggml-dropped.bin']);
  });

  it('starts over when the file changed since the part was written (If-Range fails, the server sends it whole)', async () => {
    const entry = testModel('changed');
    // a part from an older version of the file, with that version's validator
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.part`), Buffer.alloc(100_000, 7));
    await fsp.writeFile(
      path.join(modelsDir, `${entry.file}.part.json`),
      JSON.stringify({ url: new URL(entry.url, `${server.url}/`).href, validator: '"older"', totalBytes: VAD_BYTES.length }),
    );
    const file = await downloadModel(entry.name, { modelsDir, baseUrl: server.url });
    expect(sha256(file)).toBe(VAD_SHA256);
    const [first] = server.requestsFor(entry.url);
    expect(first).toMatchObject({ range: 'bytes=100000-', ifRange: '"older"', status: 200 });
  });

  it('answers 416 for a part that is already whole: it is checked and used', async () => {
    const entry = testModel('complete-part');
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.part`), VAD_BYTES);
    await fsp.writeFile(
      path.join(modelsDir, `${entry.file}.part.json`),
      JSON.stringify({ url: new URL(entry.url, `${server.url}/`).href, validator: `"${VAD_SHA256.slice(0, 16)}"`, totalBytes: VAD_BYTES.length }),
    );
    const file = await downloadModel(entry.name, { modelsDir, baseUrl: server.url });
    expect(sha256(file)).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url).map((r) => r.status)).toEqual([416]);
    expect(await cacheFiles()).toEqual([entry.file]);
  });

  it('answers 416 for a stale part longer than the file: the part is dropped and the file fetched whole', async () => {
    const entry = testModel('stale-part');
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.part`), Buffer.alloc(VAD_BYTES.length + 10, 1));
    await fsp.writeFile(
      path.join(modelsDir, `${entry.file}.part.json`),
      JSON.stringify({ url: new URL(entry.url, `${server.url}/`).href, validator: `"${VAD_SHA256.slice(0, 16)}"`, totalBytes: VAD_BYTES.length + 10 }),
    );
    const file = await downloadModel(entry.name, { modelsDir, baseUrl: server.url });
    expect(sha256(file)).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url).map((r) => r.status)).toEqual([416, 200]);
  });

  it('a server that always answers 416: DOWNLOAD_FAILED after a bounded number of restarts', async () => {
    const entry = testModel('always-416', { status: 416 });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(server.requestsFor(entry.url).length).toBeLessThanOrEqual(3);
  });

  it('404: DOWNLOAD_FAILED at once, without retrying', async () => {
    const entry = testModel('missing', { status: 404 });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.message).toBe(
      `the download of model 'missing': 127.0.0.1:${new URL(server.url).port} has no ggml-missing.bin (HTTP 404 for ${server.url}/${entry.url}); check the base URL (HF_ENDPOINT)`,
    );
    expect(server.requestsFor(entry.url)).toHaveLength(1);
    expect(await cacheFiles()).toEqual([]);
  });

  it('500: retried with backoff, then DOWNLOAD_FAILED', async () => {
    const entry = testModel('broken', { status: 500 });
    const started = performance.now();
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.message).toMatch(/answered HTTP 500; gave up after 5 attempts/);
    expect(server.requestsFor(entry.url)).toHaveLength(5);
    // 250 + 500 + 1000 + 2000 ms between the attempts
    expect(performance.now() - started).toBeGreaterThan(3_500);
  });

  it('500 twice, then the file: retried and downloaded', async () => {
    const entry = testModel('flaky', { failFirst: { count: 2, status: 503 } });
    expect(sha256(await downloadModel(entry.name, { modelsDir, baseUrl: server.url }))).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('a refused connection: retried, then DOWNLOAD_FAILED naming the host', async () => {
    const closed = await startModelServer();
    const url = closed.url;
    await closed.close();
    const entry = testModel('refused');
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: url }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.message).toContain(`the connection to ${new URL(url).host} failed`);
  });

  it('refuses a redirect to another protocol', async () => {
    const entry = testModel('ftp', { redirect: true, redirectTo: 'ftp://127.0.0.1/file' });
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', message: "the download of model 'ftp': refused a redirect to ftp: (only http and https are followed)" });
  });

  it('aborts a trickling download: ABORTED, the part kept, the lock released, and a later call resumes it', async () => {
    const entry = testModel('trickle', { trickle: { chunkBytes: 16 * 1024, intervalMs: 20 } });
    const controller = new AbortController();
    const started = performance.now();
    const error = await thrown(
      downloadModel(entry.name, {
        modelsDir,
        baseUrl: server.url,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.receivedBytes >= 100_000) controller.abort();
        },
      }),
    );
    expect(error.code).toBe('ABORTED');
    expect(error.message).toBe("the download of model 'trickle' was aborted");
    expect(performance.now() - started).toBeLessThan(5_000);
    const files = await cacheFiles();
    expect(files).toEqual([`${entry.file}.part`, `${entry.file}.part.json`]);
    const kept = (await fsp.stat(path.join(modelsDir, `${entry.file}.part`))).size;
    expect(kept).toBeGreaterThanOrEqual(100_000);
    server.serve(entry.url, VAD_BYTES);
    expect(sha256(await downloadModel(entry.name, { modelsDir, baseUrl: server.url }))).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url).at(-1)).toMatchObject({ status: 206, range: `bytes=${kept}-` });
  });

  it('a progress listener that throws ends the download with its own error; the lock is released', async () => {
    const entry = testModel('listener', { trickle: { chunkBytes: 64 * 1024, intervalMs: 5 } });
    const mine = new Error('listener broke');
    await expect(
      downloadModel(entry.name, {
        modelsDir,
        baseUrl: server.url,
        onProgress: (p) => {
          if (p.receivedBytes > 0) throw mine;
        },
      }),
    ).rejects.toBe(mine);
    expect(await cacheFiles()).not.toContain(`${entry.file}.lock`);
    expect(await cacheFiles()).not.toContain(entry.file);
    expect(server.requestsFor(entry.url)).toHaveLength(1);
  });

  it('a model cache that cannot be created: DOWNLOAD_FAILED naming it, no request made', async () => {
    const entry = testModel('no-cache');
    const blocker = path.join(modelsDir, 'a-file');
    await fsp.writeFile(blocker, '');
    const error = await thrown(downloadModel(entry.name, { modelsDir: path.join(blocker, 'models'), baseUrl: server.url }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.message).toMatch(new RegExp(`^the download of model 'no-cache': cannot create the model cache ${path.join(blocker, 'models')}: ENOTDIR`));
    expect(server.requests).toHaveLength(0);
  });

  it('an already aborted signal: ABORTED before any request', async () => {
    const entry = testModel('pre-aborted');
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url, signal: AbortSignal.abort() }));
    expect(error.code).toBe('ABORTED');
    expect(server.requests).toHaveLength(0);
  });

  it('WHISPER_NAPI_OFFLINE=1: never touches the network and says what is missing; a cached file still works', async () => {
    const entry = testModel('offline');
    process.env.WHISPER_NAPI_OFFLINE = '1';
    const error = await thrown(downloadModel(entry.name, { modelsDir, baseUrl: server.url }));
    expect(error.code).toBe('OFFLINE');
    expect(error.message).toBe(
      `model 'offline': it is not in the model cache (${path.join(modelsDir, entry.file)}) and WHISPER_NAPI_OFFLINE is set, so nothing is downloaded: ` +
        `run \`whisper-napi models download offline\` where there is a network, or copy ggml-offline.bin into ${modelsDir}`,
    );
    await fsp.writeFile(path.join(modelsDir, entry.file), VAD_BYTES);
    expect(await downloadModel(entry.name, { modelsDir, baseUrl: server.url, verify: true })).toBe(path.join(modelsDir, entry.file));
    expect(server.requests).toHaveLength(0);
  });

  it('verify: a damaged cached file is downloaded again', async () => {
    const entry = testModel('damaged');
    await fsp.writeFile(path.join(modelsDir, entry.file), Buffer.alloc(1000));
    expect(await downloadModel(entry.name, { modelsDir, baseUrl: server.url })).toBe(path.join(modelsDir, entry.file));
    expect(server.requests).toHaveLength(0);
    expect(sha256(await downloadModel(entry.name, { modelsDir, baseUrl: server.url, verify: true }))).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url)).toHaveLength(1);
  });

  it('takes over the lock of a process that died', async () => {
    const entry = testModel('stale-lock');
    const dead = await new Promise<number>((resolve, reject) => {
      const child = execFile(process.execPath, ['-e', '']);
      child.on('error', reject);
      child.on('exit', () => resolve(child.pid!));
    });
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.lock`), `${dead} ${os.hostname()}\n`);
    expect(sha256(await downloadModel(entry.name, { modelsDir, baseUrl: server.url }))).toBe(VAD_SHA256);
    expect(await cacheFiles()).toEqual([entry.file]);
  });

  it('waits for a download already running in this process and uses its file', async () => {
    const entry = testModel('same-process', { trickle: { chunkBytes: 64 * 1024, intervalMs: 10 } });
    const [a, b] = await Promise.all([downloadModel(entry.name, { modelsDir, baseUrl: server.url }), downloadModel(entry.name, { modelsDir, baseUrl: server.url })]);
    expect(a).toBe(b);
    expect(server.requestsFor(entry.url)).toHaveLength(1);
  });

  it('two processes downloading one model: the server sees one download, both get the file', async () => {
    const entry = testModel('two-processes', { redirect: true, trickle: { chunkBytes: 32 * 1024, intervalMs: 15 } });
    const child = async () => downloadInChild(entry, server.url);
    const results = await Promise.all([child(), child()]);
    expect(results).toEqual([{ path: path.join(modelsDir, entry.file) }, { path: path.join(modelsDir, entry.file) }]);
    const bodies = server.requestsFor(entry.url).filter((r) => r.path.startsWith('cdn/'));
    expect(bodies).toHaveLength(1);
    expect(bodies[0].bodyBytes).toBe(VAD_BYTES.length);
    expect(sha256(path.join(modelsDir, entry.file))).toBe(VAD_SHA256);
    expect(await cacheFiles()).toEqual([entry.file]);
  });

  it('follows https, and refuses a redirect from https to plain http', async () => {
    // Node reads NODE_EXTRA_CA_CERTS at startup only: the downloads run in children that trust the test certificate
    const tlsDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-tls-'));
    const [key, cert] = [path.join(tlsDir, 'key.pem'), path.join(tlsDir, 'cert.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      {
        stdio: 'ignore',
      },
    );
    const secure = await new ModelServer({ key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') }).start();
    try {
      const entry = testModel('over-https');
      secure.serve(entry.url, VAD_BYTES);
      expect(await downloadInChild(entry, secure.url, { NODE_EXTRA_CA_CERTS: cert })).toEqual({ path: path.join(modelsDir, entry.file) });
      const downgraded = testModel('downgraded');
      secure.serve(downgraded.url, VAD_BYTES, { redirect: true, redirectTo: `${server.url}/${downgraded.url}` });
      expect(await downloadInChild(downgraded, secure.url, { NODE_EXTRA_CA_CERTS: cert })).toEqual({
        code: 'DOWNLOAD_FAILED',
        message: `the download of model 'downgraded': refused a redirect from https to plain http (${new URL(server.url).host}); use an https mirror`,
      });
      expect(server.requestsFor(downgraded.url)).toHaveLength(0);
    } finally {
      await secure.close();
      await fsp.rm(tlsDir, { recursive: true, force: true });
    }
  });

  it('checks its options', async () => {
    await expect(downloadModel('silero-v6.2.0', { modelsDir, baseUrl: 'ftp://mirror' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'options.baseUrl: expected an http or https URL, got "ftp://mirror"',
    });
    await expect(downloadModel('silero-v6.2.0', { modelsDir, verify: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(downloadModel('silero-v6.2.0', { modelsDir, retries: 3 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(downloadModel('bse.en', { modelsDir })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining("did you mean 'base.en'") as string,
    });
    process.env.HF_ENDPOINT = 'not a url';
    await expect(downloadModel('silero-v6.2.0', { modelsDir })).rejects.toMatchObject({ message: 'HF_ENDPOINT: expected an http or https URL, got "not a url"' });
  });
});

describe('the model cache', () => {
  it('defaults to WHISPER_NAPI_MODELS, else ~/.cache/whisper-napi/models', () => {
    expect(defaultModelsDir()).toBe(path.join(os.homedir(), '.cache', 'whisper-napi', 'models'));
    process.env.WHISPER_NAPI_MODELS = modelsDir;
    expect(defaultModelsDir()).toBe(modelsDir);
    expect(cachedModelPath('base.en')).toBe(path.join(modelsDir, 'ggml-base.en.bin'));
    expect(cachedModelPath('large-v3-turbo-q8_0', '/m')).toBe('/m/ggml-large-v3-turbo-q8_0.bin');
    expect(() => cachedModelPath('large-v4')).toThrow(/no model named 'large-v4' in the catalogue \(did you mean 'large-v1', 'large-v2', 'large-v3'\?\)/);
  });

  it('lists every entry with whether it is cached, and removes a model with its partial download', async () => {
    const entry = testModel('listed');
    await fsp.writeFile(path.join(modelsDir, 'ggml-base.en.bin'), Buffer.alloc(123));
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.part`), Buffer.alloc(10));
    const listing = await listModels({ modelsDir });
    expect(listing.map((l) => l.entry.name)).toContain('large-v3-turbo-q8_0');
    expect(listing.find((l) => l.entry.name === 'base.en')).toMatchObject({ cached: true, cachedBytes: 123, path: path.join(modelsDir, 'ggml-base.en.bin') });
    expect(listing.find((l) => l.entry.name === 'listed')).toMatchObject({ cached: false, cachedBytes: undefined });
    expect(await removeModel('base.en', { modelsDir })).toBe(true);
    expect(await removeModel('base.en', { modelsDir })).toBe(false);
    expect(await removeModel('listed', { modelsDir })).toBe(true);
    expect(await cacheFiles()).toEqual([]);
    await expect(removeModel('nope', { modelsDir })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('keeps the partial file of a download that is running now', async () => {
    const entry = testModel('running');
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.part`), Buffer.alloc(10));
    await fsp.writeFile(path.join(modelsDir, `${entry.file}.lock`), `${process.pid} ${os.hostname()}\n`);
    expect(await removeModel('running', { modelsDir })).toBe(false);
    expect(await cacheFiles()).toEqual([`${entry.file}.lock`, `${entry.file}.part`]);
  });
});

describe('resolveModelPath', () => {
  it('tells paths from names', async () => {
    expect(await looksLikeModelPath('./base.en')).toBe(true);
    expect(await looksLikeModelPath('models/base.en')).toBe(true);
    expect(await looksLikeModelPath('ggml-base.en.bin')).toBe(true);
    expect(await looksLikeModelPath('base.en')).toBe(false);
    expect(await looksLikeModelPath('large-v3-q5_0')).toBe(false);
    expect(await looksLikeModelPath(path.relative(process.cwd(), path.join(REPO_ROOT, 'package.json')))).toBe(true);
    expect(await resolveModelPath('/no/such/model.bin', { download: 'auto', modelsDir })).toBe('/no/such/model.bin');
  });

  it('a name not cached with download false: MODEL_NOT_FOUND saying how to get it', async () => {
    const error = await thrown(resolveModelPath('large-v3-q5_0', { download: false, modelsDir }));
    expect(error).toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: `model: 'large-v3-q5_0' is not in the model cache (${modelsDir}): pass download: 'auto' to loadModel, or run \`whisper-napi models download large-v3-q5_0\``,
    });
    expect(findCatalogueEntry('large-v3-q5_0')?.sizeBytes).toBe(1_081_140_203);
  });

  it('an unknown name: MODEL_NOT_FOUND with the close names', async () => {
    const error = await thrown(resolveModelPath('large-v3-turbo-q8', { download: 'auto', modelsDir }));
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toMatch(/^model: no model named 'large-v3-turbo-q8' in the catalogue \(did you mean 'large-v3-turbo-q8_0'/);
  });

  it("'auto' downloads a missing name; false uses the cache; true re-checks the cached file's hash", async () => {
    const entry = testModel('resolved');
    process.env.HF_ENDPOINT = server.url;
    const progress: DownloadProgress[] = [];
    const file = await resolveModelPath(entry.name, { download: 'auto', modelsDir, onDownloadProgress: (p) => progress.push(p) });
    expect(file).toBe(path.join(modelsDir, entry.file));
    expect(progress.at(-1)?.receivedBytes).toBe(VAD_BYTES.length);
    expect(await resolveModelPath(entry.name, { download: false, modelsDir })).toBe(file);
    await fsp.writeFile(file, Buffer.alloc(5));
    expect(await resolveModelPath(entry.name, { download: 'auto', modelsDir })).toBe(file);
    expect((await fsp.stat(file)).size).toBe(5);
    expect(await resolveModelPath(entry.name, { download: true, modelsDir })).toBe(file);
    expect(sha256(file)).toBe(VAD_SHA256);
    expect(server.requestsFor(entry.url)).toHaveLength(2);
  });
});

let compiledForChildren: Promise<string> | undefined;

afterAll(async () => {
  if (compiledForChildren !== undefined) await fsp.rm(await compiledForChildren, { recursive: true, force: true });
});

/** Runs downloadModel(entry.name) in a child process of its own (test/support/download-child.cjs). */
async function downloadInChild(
  entry: CatalogueEntry,
  baseUrl: string,
  environment: Record<string, string> = {},
): Promise<{ path?: string; code?: string; message?: string }> {
  compiledForChildren ??= compileForChildren();
  const compiled = await compiledForChildren;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'test', 'support', 'download-child.cjs'), compiled, JSON.stringify(entry), modelsDir, baseUrl],
      { timeout: 60_000, env: { ...process.env, ...environment } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as { path?: string });
      },
    );
  });
}

/**
 * The library's model-files modules as CommonJS for the child processes: each file transpiled on
 * its own (types dropped), with the relative imports it reaches, into a temporary folder.
 */
async function compileForChildren(): Promise<string> {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-napi-compiled-'));
  const pending = [path.join(REPO_ROOT, 'lib', 'model-files', 'download.ts'), path.join(REPO_ROOT, 'lib', 'model-files', 'catalogue.ts')];
  const done = new Set<string>();
  while (pending.length > 0) {
    const source = pending.pop()!;
    if (done.has(source)) continue;
    done.add(source);
    const text = await fsp.readFile(source, 'utf8');
    for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) pending.push(path.resolve(path.dirname(source), `${match[1]}.ts`));
    const { outputText } = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    const target = path.join(out, path.relative(REPO_ROOT, source)).replace(/\.ts$/, '.js');
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.writeFile(target, outputText);
  }
  return out;
}
