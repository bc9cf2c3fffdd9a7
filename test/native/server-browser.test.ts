/**
 * The page at / in a real browser (Debian's chromium driven by playwright-core; nothing
 * downloads a browser): jfk uploaded through the page gives its text, with SRT and VTT
 * downloads; live mode with chromium's fake microphone playing jfk gives segments; the page at
 * a phone's width. Screenshots go to test-output/. Also, without a browser: how the page and
 * its assets are served (types, caching, no path outside the page's folder).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadModel, type WhisperModel } from '../../lib';
import { normalizeWords } from '../../lib/tools/wer';
import { JFK_WAV, REPO_ROOT } from '../support/paths';
import { realModels } from '../support/real-models';
import { startServer, type StartedServer } from '../support/server-fixture';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const SCREENSHOTS = path.join(REPO_ROOT, 'test-output');
const API_KEY = 'sesame';
const JFK_PHRASE = 'ask not what your country can do for you';
/** What streamed audio, cut into short windows (and Opus-coded), must give at least; whisper sometimes hears "asked not". */
const JFK_STREAMED = 'what your country can do for you';

let model: WhisperModel;
let server: StartedServer;

beforeAll(async () => {
  model = await loadModel(realModels().models.base.files.q8_0.path, { gpu: false, concurrency: 2 });
  server = await startServer({ models: model, apiKey: API_KEY, transcribeDefaults: { threads: 1, language: 'en' } });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await server?.close();
  await model?.dispose();
});

describe('serving the page', () => {
  it('GET / is the page: HTML, revalidated each load, with a content security policy and an ETag', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await response.text();
    expect(body).toBe(fs.readFileSync(path.join(REPO_ROOT, 'lib/server/page/index.html'), 'utf8'));
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(body));
    const etag = response.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${server.url}/`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it.each([
    ['app.js', 'text/javascript; charset=utf-8'],
    ['worklet.js', 'text/javascript; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
    ['index.html', 'text/html; charset=utf-8'],
  ])('/page/%s is served as %s, cached for an hour', async (name, type) => {
    const response = await fetch(`${server.url}/page/${name}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
    if (name !== 'index.html') expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await response.text()).toBe(fs.readFileSync(path.join(REPO_ROOT, 'lib/server/page', name), 'utf8'));
  });

  it('HEAD gives the headers without the body; the page needs no API key', async () => {
    const response = await fetch(`${server.url}/page/app.js`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(1000);
    expect(await response.text()).toBe('');
  });

  it.each([
    '/page/',
    '/page/missing.js',
    '/page/../options.ts',
    '/page/%2e%2e/options.ts',
    '/page/%2E%2E%2Foptions.ts',
    '/page/..%2f..%2fpackage.json',
    '/page/..%5c..%5cpackage.json',
    '/page/%2fetc%2fpasswd',
    '/page/app.js%00.css',
    '/page/.app.js',
    '/page/App.js',
    '/page/sub/app.js',
    '/page/%E0%A4%A',
    '/page/style.css.map',
  ])('%s is 404 with an OpenAI error body', async (requestPath) => {
    // Sent as written: fetch would resolve the dots itself.
    const response = await rawGet(requestPath);
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'not_found', type: 'invalid_request_error' } });
  });
});

/** A GET with the path exactly as given (no URL normalisation). */
async function rawGet(requestPath: string): Promise<{ status: number; body: string }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: server.port, path: requestPath, method: 'GET' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

function normalized(text: string): string {
  return normalizeWords(text).join(' ');
}

describe.skipIf(!HAVE_CHROMIUM)(`in chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is missing; .ci/run installs it)`}`, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${JFK_WAV}`, '--no-sandbox'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function openPage(viewport = { width: 1100, height: 900 }, storedKey?: string): Promise<Page> {
    const context = await browser.newContext({ viewport, acceptDownloads: true });
    if (storedKey !== undefined) await context.addInitScript(`localStorage.setItem('whisper-napi.apiKey', ${JSON.stringify(storedKey)})`);
    await context.grantPermissions(['microphone'], { origin: server.url });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    (page as Page & { problems: string[] }).problems = problems;
    await page.goto(`${server.url}/`);
    return page;
  }

  it('upload: a wrong key is said, the right one kept; jfk’s text appears with times; SRT and VTT download', async () => {
    const page = await openPage();
    await page.setInputFiles('#file', JFK_WAV);
    await page.click('#transcribe');
    await expect.poll(() => page.textContent('#error'), { timeout: 10_000 }).toMatch(/Incorrect API key/);
    expect(await page.getAttribute('#settings', 'open')).not.toBeNull();

    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API key').dispatchEvent('change');
    await page.getByRole('button', { name: 'Transcribe' }).click();
    await page.waitForSelector('#file-segments li', { timeout: 120_000 });
    expect(await page.isHidden('#error')).toBe(true);
    expect(await segmentText(page, '#file-segments')).toContain(JFK_PHRASE);
    expect(await page.textContent('#file-segments li time')).toMatch(/^0:00\.0 – 0:\d\d\.\d$/);
    expect(await page.textContent('#file-status')).toMatch(/^Done in [\d.]+ s: 11 s of audio, en/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'page-upload.png'), fullPage: true });

    const srt = await downloaded(page, '#file-result [data-download="srt"]');
    expect(srt.name).toBe('jfk.srt');
    expect(srt.text).toMatch(/^1\n00:00:00,000 --> 00:00:\d\d,\d\d\d\n\S/);
    expect(normalized(srt.text.replace(/^\d+$|^.*-->.*$/gm, ''))).toContain(JFK_PHRASE);
    const vtt = await downloaded(page, '#file-result [data-download="vtt"]');
    expect(vtt.name).toBe('jfk.vtt');
    expect(vtt.text).toMatch(/^WEBVTT\n\n00:00:00\.000 --> 00:00:\d\d\.\d\d\d\n\S/);

    await page.reload();
    expect(await page.inputValue('#api-key')).toBe(API_KEY);
    expect((page as Page & { problems: string[] }).problems.filter((p) => !/401/.test(p))).toEqual([]);
    await page.context().close();
  });

  it('live: the fake microphone playing jfk gives segments as they come, then stop ends with done', async () => {
    const page = await openPage(undefined, API_KEY);
    await page.getByRole('tab', { name: 'Live' }).click();
    await page.getByLabel('Segments every').selectOption('5000');
    await page.getByRole('button', { name: 'Start listening' }).click();
    await expect.poll(() => page.textContent('#live-status'), { timeout: 20_000 }).toMatch(/^Listening/);
    await page.waitForSelector('#live-segments li', { timeout: 90_000 });
    await expect.poll(async () => segmentText(page, '#live-segments'), { timeout: 90_000, interval: 500 }).toContain(JFK_STREAMED);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'page-live.png'), fullPage: true });
    const items = await page.locator('#live-segments li time').allTextContents();
    expect(items[0]).toMatch(/^0:0\d\.\d – 0:\d\d\.\d$/);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.textContent('#live-status'), { timeout: 60_000 }).toMatch(/^Done: \d+ segments?\.$/);
    expect(await page.isHidden('#error')).toBe(true);
    expect(await page.isEnabled('#live-toggle')).toBe(true);
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
    await page.context().close();
  });

  it('a MediaRecorder WebM/Opus stream of the fake microphone, sent as format webm, gives jfk’s text', async () => {
    const page = await openPage();
    // Runs in the page: 11.5 s of MediaRecorder chunks (250 ms each) straight onto the socket.
    const script = `(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      const url = new URL('v1/audio/stream?api_key=${API_KEY}', location.href);
      url.protocol = 'ws:';
      const ws = new WebSocket(url);
      const messages = [];
      const closed = new Promise((resolve) => (ws.onclose = (event) => resolve(event.code)));
      ws.onmessage = (event) => messages.push(JSON.parse(event.data));
      await new Promise((resolve) => (ws.onopen = resolve));
      ws.send(JSON.stringify({ type: 'start', format: 'webm', windowMs: 5000 }));
      const recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
      recorder.ondataavailable = (event) => event.data.size > 0 && ws.send(event.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start(250);
      await new Promise((resolve) => setTimeout(resolve, 11500));
      recorder.stop();
      await stopped;
      stream.getTracks().forEach((track) => track.stop());
      ws.send(JSON.stringify({ type: 'stop' }));
      return { code: await closed, messages };
    })()`;
    const { code, messages } = (await page.evaluate(script)) as { code: number; messages: Array<{ type: string; text?: string }> };
    expect(code).toBe(1000);
    expect(messages[0]).toEqual({ type: 'ready', model: 'whisper-1', format: 'webm' });
    expect(messages.filter((m) => m.type === 'segment').length).toBeGreaterThan(1);
    expect(normalized(messages.at(-1)!.text!)).toMatch(new RegExp(`fellow americans .*${JFK_STREAMED}`));
    await page.context().close();
  });

  it('live without the key: the refusal is said and the page is ready to start again', async () => {
    const page = await openPage();
    await page.getByRole('tab', { name: 'Live' }).click();
    await page.getByRole('button', { name: 'Start listening' }).click();
    await expect
      .poll(() => page.textContent('#error'), { timeout: 20_000 })
      .toBe('Live transcription stopped: the server refused the connection: check the API key in Settings');
    expect(await page.textContent('#live-toggle')).toBe('Start listening');
    expect(await page.isEnabled('#live-toggle')).toBe(true);
    expect(await page.getAttribute('#settings', 'open')).not.toBeNull();
    await page.context().close();
  });

  it('at a phone’s width (375 px) nothing overflows and every control has a label', async () => {
    const page = await openPage({ width: 375, height: 812 });
    await page.click('#settings summary');
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    for (const label of ['API key', 'Model', 'Language', 'Choose an audio or video file']) {
      expect(await page.getByLabel(label).count()).toBe(1);
    }
    const controls = await page.locator('button:visible, summary:visible, select:visible, input:visible:not([type=file])').all();
    expect(controls.length).toBeGreaterThan(5);
    for (const control of controls) expect((await control.boundingBox())!.height).toBeGreaterThanOrEqual(28);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'page-phone.png'), fullPage: true });
    await page.getByRole('tab', { name: 'Live' }).click();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'page-phone-live.png'), fullPage: true });
    await page.context().close();
  });
});

/** The segments' texts, joined and normalised for comparison. */
async function segmentText(page: Page, list: string): Promise<string> {
  return normalized((await page.locator(`${list} .text`).allTextContents()).join(' '));
}

async function pageWidth(page: Page): Promise<number> {
  return Number(await page.evaluate('document.documentElement.scrollWidth'));
}

async function downloaded(page: Page, selector: string): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const file = await download.path();
  return { name: download.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
}
