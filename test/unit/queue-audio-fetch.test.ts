/**
 * What a job's audio may reach on a worker: files only under its audio roots (links followed
 * first), URLs only on public hosts or those it allows (every resolved address, every
 * redirect), a bounded number of bytes, within the job's deadline, and failures in our words.
 * Local HTTP servers on 127.0.0.1; no Redis, no model.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { audioRoots, checkedPath, jobAudioInput, MAX_REDIRECTS, type AudioAccess } from '../../lib/queue/audio-fetch';
import { UrlPolicy, type ResolvedAddress } from '../../lib/queue/url-policy';
import { rejectedWhisperError, thrownWhisperError } from '../support/errors';

const BLOCKED = 'expected a URL on a public host, or on one the worker allows (--allow-host), got a host that';

describe('the hosts a job URL may be on', () => {
  const url = (text: string) => new URL(text);
  const fakeDns = (table: Record<string, string[]>) => async (host: string) => {
    const found = table[host.replace(/\.$/, '')];
    if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const policy = (allowHosts: string[] = [], allowPrivateUrls = false) =>
    new UrlPolicy(
      { allowHosts, allowPrivateUrls },
      'options.allowHosts',
      fakeDns({ 'cdn.example': ['93.184.215.14'], 'rebind.example': ['93.184.215.14', '10.0.0.7'], 'metadata.example': ['169.254.169.254'], 'v6.example': ['fd00::1'] }),
    );

  it('refuses loopback, private, link-local, unspecified, multicast and reserved addresses, however written', async () => {
    const hosts = [
      'http://127.0.0.1/',
      'http://127.8.9.10:6379/',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://0.0.0.0/',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://172.31.255.255/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://[::1]/',
      'http://[::]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[fd12:3456::1]/',
      'http://[fe80::1]/',
      'http://[ff02::1]/',
      'http://metadata.example/',
      'http://v6.example/',
      // One public and one private address: a later lookup could pick either.
      'http://rebind.example/',
    ];
    for (const host of hosts) {
      const error = await rejectedWhisperError(policy().addressesFor(url(host), 'job.data.audio.url'));
      expect([error.code, error.message.startsWith(`job.data.audio.url: ${BLOCKED}`)], host).toEqual(['INVALID_ARGUMENT', true]);
      // The message names no address: the producer learns nothing about the worker's network.
      expect(error.message).not.toMatch(/\d+\.\d+\.\d+\.\d+|fd00|169\.254/);
    }
  });

  it('takes public hosts, giving the checked addresses to connect to', async () => {
    expect(await policy().addressesFor(url('https://cdn.example/a.mp3'), 'u')).toEqual([{ address: '93.184.215.14', family: 4 }]);
    expect(await policy().addressesFor(url('http://8.8.8.8/a.mp3'), 'u')).toEqual([{ address: '8.8.8.8', family: 4 }]);
    expect(await policy().addressesFor(url('http://[2606:4700::1111]/'), 'u')).toEqual([{ address: '2606:4700::1111', family: 6 }]);
    const unresolved = await rejectedWhisperError(policy().addressesFor(url('http://nowhere.example/'), 'u'));
    expect([unresolved.code, unresolved.message]).toEqual(['DOWNLOAD_FAILED', 'u: the host name could not be resolved']);
  });

  it('allows what allowHosts names: an address on one port or any, a subnet, a name; allowPrivateUrls allows all', async () => {
    const onPort = policy(['127.0.0.1:8080']);
    expect(await onPort.addressesFor(url('http://127.0.0.1:8080/a.wav'), 'u')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect((await rejectedWhisperError(onPort.addressesFor(url('http://127.0.0.1:6379/'), 'u'))).code).toBe('INVALID_ARGUMENT');
    expect(await policy(['10.0.0.0/8']).addressesFor(url('http://rebind.example/'), 'u')).toHaveLength(2);
    expect(await policy(['Metadata.Example']).addressesFor(url('http://metadata.example./'), 'u')).toHaveLength(1);
    expect(await policy(['[::1]:80']).addressesFor(url('http://[::1]/'), 'u')).toEqual([{ address: '::1', family: 6 }]);
    expect(await policy([], true).addressesFor(url('http://127.0.0.1:6379/'), 'u')).toHaveLength(1);
  });

  it('refuses allowHosts entries that are not hosts', () => {
    const expected = 'a host name, an IP address or a subnet such as 10.0.0.0/8, optionally with :port';
    expect(thrownWhisperError(() => policy(['10.0.0.0/33'])).message).toBe(`options.allowHosts[0]: expected ${expected}, got "10.0.0.0/33"`);
    expect(thrownWhisperError(() => policy(['host:99999'])).message).toBe(`options.allowHosts[0]: expected ${expected}, got "host:99999"`);
    expect(thrownWhisperError(() => policy(['a b'])).message).toBe(`options.allowHosts[0]: expected ${expected}, got "a b"`);
    expect(thrownWhisperError(() => new UrlPolicy({ allowHosts: 'x' as never })).message).toBe(`options.allowHosts: expected an array, each entry ${expected}, got "x"`);
  });
});

describe('the files a job path may name', () => {
  let scratch: string;
  let root: string;

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-roots-'));
    root = path.join(scratch, 'audio');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sub', 'a.wav'), 'RIFF');
    fs.writeFileSync(path.join(scratch, 'secret.txt'), 'root:x:0:0');
    fs.symlinkSync(path.join(scratch, 'secret.txt'), path.join(root, 'link-out.wav'));
    fs.symlinkSync(path.join(root, 'sub', 'a.wav'), path.join(root, 'link-in.wav'));
    fs.symlinkSync(scratch, path.join(root, 'dir-out'));
  });

  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('are none unless the worker names audio roots', async () => {
    const error = await rejectedWhisperError(checkedPath('/etc/shadow', []));
    expect([error.code, error.message]).toEqual([
      'INVALID_ARGUMENT',
      'job.data.audio.path: this worker takes no audio by path (start it with --audio-root <dir>, or send the audio inline or by URL)',
    ]);
  });

  it('are the files under a root, by their real path', async () => {
    const roots = audioRoots('options.audioRoots', [root]);
    expect(await checkedPath(path.join(root, 'sub', 'a.wav'), roots)).toBe(fs.realpathSync(path.join(root, 'sub', 'a.wav')));
    expect(await checkedPath(path.join(root, 'link-in.wav'), roots)).toBe(fs.realpathSync(path.join(root, 'sub', 'a.wav')));
  });

  it('never leave the roots: not by name, not by .., not by a link; and say nothing of what exists outside', async () => {
    const roots = audioRoots('options.audioRoots', [root]);
    const outside = "job.data.audio.path: expected a file under one of this worker's audio roots, got a path outside them";
    for (const file of [
      '/etc/shadow',
      '/proc/self/environ',
      '/no/such/file',
      path.join(root, '..', 'secret.txt'),
      `${root}-sibling/a.wav`,
      root,
      path.join(root, 'link-out.wav'),
      path.join(root, 'dir-out', 'secret.txt'),
    ]) {
      const error = await rejectedWhisperError(checkedPath(file, roots));
      expect([error.code, error.message], file).toEqual(['INVALID_ARGUMENT', outside]);
    }
    const missing = await rejectedWhisperError(checkedPath(path.join(root, 'missing.wav'), roots));
    expect([missing.code, missing.message]).toEqual(['AUDIO_NOT_FOUND', 'job.data.audio.path: no such file']);
    const directory = await rejectedWhisperError(checkedPath(path.join(root, 'sub'), roots));
    expect([directory.code, directory.message]).toEqual(['FILE_UNREADABLE', 'job.data.audio.path: not a regular file']);
  });

  it('roots must be existing directories', () => {
    expect(thrownWhisperError(() => audioRoots('options.audioRoots', [path.join(scratch, 'none')])).message).toBe(
      `options.audioRoots[0]: expected an existing directory, got "${path.join(scratch, 'none')}"`,
    );
    expect(thrownWhisperError(() => audioRoots('options.audioRoots', [path.join(scratch, 'secret.txt')])).message).toMatch(
      /^options\.audioRoots\[0\]: expected a directory, got /,
    );
  });
});

describe('fetching a job URL', () => {
  let server: http.Server;
  let base: string;
  let otherServer: http.Server;
  let otherPort: number;
  let otherHits = 0;
  let sentBytes = 0;
  const sockets = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      const route = request.url ?? '';
      if (route === '/a.wav') response.writeHead(200, { 'content-length': '4' }).end('RIFF');
      else if (route === '/forbidden') {
        response.statusCode = 403;
        response.statusMessage = 'SECRET-REASON-PHRASE';
        response.end('SECRET-BODY');
      } else if (route === '/to-other') response.writeHead(302, { location: `http://localhost:${otherPort}/` }).end();
      else if (route === '/to-file') response.writeHead(301, { location: 'file:///etc/passwd' }).end();
      else if (route.startsWith('/loop')) response.writeHead(307, { location: `/loop${Number(route.slice(5) || 0) + 1}` }).end();
      else if (route === '/relative') response.writeHead(308, { location: 'a.wav' }).end();
      else if (route === '/endless') {
        response.writeHead(200);
        const piece = Buffer.alloc(64 * 1024);
        const more = () => {
          while (!response.destroyed && response.write(piece)) sentBytes += piece.length;
        };
        response.on('drain', more);
        more();
      } else if (route === '/huge') response.writeHead(200, { 'content-length': String(2 ** 40) }).write('x');
      else if (route === '/silent' || route === '/stalls') {
        if (route === '/stalls') response.writeHead(200).write('RIFF');
      } else response.writeHead(500).end();
    });
    server.on('connection', (socket) => sockets.add(socket));
    otherServer = http.createServer((_request, response) => {
      otherHits++;
      response.end('redis would be here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => otherServer.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    otherPort = (otherServer.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => otherServer.close(resolve));
  });

  function access(overrides: Partial<AudioAccess> = {}): AudioAccess {
    return { roots: [], urls: new UrlPolicy({ allowHosts: [new URL(base).host] }), maxUrlBytes: 1024 * 1024, urlTimeoutMs: 5000, ...overrides };
  }

  async function read(input: unknown): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of input as AsyncIterable<Uint8Array>) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts);
  }

  it('gives the body of an allowed URL, following a relative redirect', async () => {
    const fetched = await jobAudioInput({ url: `${base}/relative` }, access(), new AbortController().signal);
    expect((await read(fetched.input)).toString()).toBe('RIFF');
    expect(fetched.failure()).toBeUndefined();
  });

  it('refuses a loopback URL unless allowed, and the port allowed is the only one', async () => {
    const error = await rejectedWhisperError(jobAudioInput({ url: `${base}/a.wav` }, access({ urls: new UrlPolicy({}) }), new AbortController().signal));
    expect(error.code).toBe('INVALID_ARGUMENT');
    const redis = await rejectedWhisperError(jobAudioInput({ url: `http://127.0.0.1:${otherPort}/` }, access(), new AbortController().signal));
    expect(redis.code).toBe('INVALID_ARGUMENT');
    expect(otherHits).toBe(0);
  });

  it('checks every redirect: not to a host it may not fetch, not to file:, not forever', async () => {
    const other = await rejectedWhisperError(jobAudioInput({ url: `${base}/to-other` }, access(), new AbortController().signal));
    expect([other.code, other.message]).toEqual([
      'INVALID_ARGUMENT',
      `job.data.audio.url (after 1 redirect): ${BLOCKED} resolves to a loopback, private, link-local or reserved address`,
    ]);
    expect(otherHits).toBe(0);
    const file = await rejectedWhisperError(jobAudioInput({ url: `${base}/to-file` }, access(), new AbortController().signal));
    expect([file.code, file.message]).toEqual(['FILE_UNREADABLE', 'job.data.audio.url (after 1 redirect): redirected to a URL that is not http or https']);
    const loop = await rejectedWhisperError(jobAudioInput({ url: `${base}/loop` }, access(), new AbortController().signal));
    expect([loop.code, loop.message]).toEqual(['FILE_UNREADABLE', `audio ${base}/loop: more than ${MAX_REDIRECTS} redirects`]);
  });

  it('says the status number, never the server’s words', async () => {
    const error = await rejectedWhisperError(jobAudioInput({ url: `${base}/forbidden` }, access(), new AbortController().signal));
    expect([error.code, error.message]).toEqual(['FILE_UNREADABLE', `audio ${base}/forbidden: HTTP 403`]);
    const broken = await rejectedWhisperError(jobAudioInput({ url: `${base}/broken` }, access(), new AbortController().signal));
    expect([broken.code, broken.message]).toEqual(['DOWNLOAD_FAILED', `audio ${base}/broken: HTTP 500`]);
  });

  it('stops at maxUrlBytes as the bytes arrive, and refuses a larger stated length at once', async () => {
    const fetched = await jobAudioInput({ url: `${base}/endless` }, access({ maxUrlBytes: 1024 * 1024 }), new AbortController().signal);
    const error = await rejectedWhisperError(read(fetched.input));
    expect([error.code, error.message]).toEqual([
      'INVALID_AUDIO',
      `audio ${base}/endless: more than this worker's limit of 1048576 bytes (maxUrlBytes, --max-url-bytes)`,
    ]);
    expect(fetched.failure()).toBe(error);
    // What the server managed to write before the connection closed: the limit and the socket buffers, not a gigabyte.
    expect(sentBytes).toBeLessThan(16 * 1024 * 1024);
    const huge = await rejectedWhisperError(jobAudioInput({ url: `${base}/huge` }, access(), new AbortController().signal));
    expect(huge.code).toBe('INVALID_AUDIO');
  });

  it("a server that never answers fails at the job's deadline with TIMEOUT, or after urlTimeoutMs with DOWNLOAD_FAILED", async () => {
    const deadline = new AbortController();
    setTimeout(() => deadline.abort(new WhisperError('TIMEOUT', 'the job did not finish within its timeout of 300 ms')), 300);
    const started = Date.now();
    const error = await rejectedWhisperError(jobAudioInput({ url: `${base}/silent` }, access({ urlTimeoutMs: 60_000 }), deadline.signal));
    expect([error.code, error.message]).toEqual(['TIMEOUT', 'the job did not finish within its timeout of 300 ms']);
    expect(Date.now() - started).toBeLessThan(3000);
    const idle = await rejectedWhisperError(jobAudioInput({ url: `${base}/silent` }, access({ urlTimeoutMs: 200 }), new AbortController().signal));
    expect([idle.code, idle.message]).toEqual(['DOWNLOAD_FAILED', `audio ${base}/silent: the server sent nothing for 200 ms`]);
    const stalls = await jobAudioInput({ url: `${base}/stalls` }, access({ urlTimeoutMs: 200 }), new AbortController().signal);
    const stalled = await rejectedWhisperError(read(stalls.input));
    expect([stalled.code, stalled.message]).toEqual(['DOWNLOAD_FAILED', `audio ${base}/stalls: the server sent nothing for 200 ms`]);
  });

  it('inline audio is its bytes', async () => {
    const fetched = await jobAudioInput({ inline: Buffer.from('RIFF').toString('base64') }, access(), new AbortController().signal);
    expect(fetched.input).toEqual(Buffer.from('RIFF'));
  });
});
