/** What a host process sees: a silent library by default, an opt-in logger, and the CLI. */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { formatTranscript, getDevices, getSystemInfo, loadModel, setLogger, TRANSCRIPT_FORMATS, type Transcript } from '../../lib';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';

const execFileAsync = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');
const INDEX = path.join(REPO_ROOT, 'dist', 'index.js');

describe('logging', () => {
  const modelPath = inject('syntheticTinyEn');
  afterEach(() => setLogger(null));

  it('prints nothing to stdout or stderr by default while loading and transcribing', async () => {
    const script = `
      const { loadModel } = require(${JSON.stringify(INDEX)});
      (async () => {
        const model = await loadModel(${JSON.stringify(modelPath)});
        await model.transcribe(${JSON.stringify(JFK_WAV)}, { language: 'en', temperatureIncrement: 0 });
        await model.dispose();
      })().catch((e) => { process.exitCode = 3; });`;
    const { stdout, stderr } = await execFileAsync(process.execPath, ['-e', script]);
    expect(stdout).toBe('');
    expect(stderr).toBe('');
  });

  it('sends whole whisper.cpp log lines to a logger at or above its level', async () => {
    const lines: Array<[string, string]> = [];
    setLogger((level, message) => lines.push([level, message]), { minLevel: 'info' });
    const model = await loadModel(modelPath);
    await model.dispose();
    for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines.some(([, message]) => message.includes('loading model'))).toBe(true);
    expect(lines.every(([level]) => level !== 'debug')).toBe(true);
    expect(lines.every(([, message]) => !message.includes('\n'))).toBe(true);
  });

  it('rejects a logger that is not a function', () => {
    expect(() => setLogger('console' as never)).toThrow(/logger: expected a function or null/);
  });
});

describe('devices and system info', () => {
  it('lists the CPU device with real memory figures', () => {
    const devices = getDevices();
    const cpu = devices.find((d) => d.type === 'cpu');
    expect(cpu).toBeDefined();
    expect(cpu!.totalBytes).toBeGreaterThan(0);
    expect(cpu!.freeBytes).toBeGreaterThan(0);
    expect(cpu!.freeBytes).toBeLessThanOrEqual(cpu!.totalBytes);
  });

  it('reports the pinned whisper.cpp version', async () => {
    const pin = (await import(path.join(REPO_ROOT, 'deps', 'whisper.cpp.json'))) as { whisperVersion: string };
    expect(getSystemInfo().whisperVersion).toBe(pin.whisperVersion);
  });
});

describe('CLI', () => {
  const modelPath = inject('syntheticTinyEn');

  it('transcribe --json prints the transcript', async () => {
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'transcribe', JFK_WAV, '--model', modelPath, '--json', '--language', 'en']);
    const { file, transcript } = JSON.parse(stdout) as { file: string; transcript: { segments: unknown[]; language: string; audioDurationMs: number } };
    expect(file).toBe(JFK_WAV);
    expect(transcript.language).toBe('en');
    expect(transcript.audioDurationMs).toBe(11000);
    expect(transcript.segments.length).toBeGreaterThan(0);
  });

  it('transcribe - reads an MP3 from stdin, as the same file by path', async () => {
    const mp3 = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
    const args = ['--model', modelPath, '--json', '--language', 'en'];
    type Line = { transcript: { text: string; audioDurationMs: number } };
    const byPath = (JSON.parse((await execFileAsync(process.execPath, [CLI, 'transcribe', mp3, ...args])).stdout) as Line).transcript;
    const viaStdin = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'transcribe', '-', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      fs.createReadStream(mp3).pipe(child.stdin);
    });
    const transcript = (JSON.parse(viaStdin) as Line).transcript;
    expect(transcript.audioDurationMs).toBe(byPath.audioDurationMs);
    expect(transcript.text).toBe(byPath.text);
  });

  it('transcribe -o writes each format of each file into --output-dir; a failed file is reported and the others still run', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-cli-out-'));
    try {
      const mp3 = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
      const missing = path.join(outDir, 'missing.wav');
      const failure = (await execFileAsync(process.execPath, [
        CLI,
        'transcribe',
        JFK_WAV,
        missing,
        mp3,
        '--model',
        modelPath,
        '--language',
        'en',
        '-o',
        'srt,vtt,json',
        '--output-dir',
        outDir,
      ]).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(failure.code).toBe(1);
      expect(failure.stderr.trim()).toBe(`whisper-napi: ${missing}: AUDIO_NOT_FOUND: audio: audio file not found: ${missing}`);
      expect(fs.readdirSync(outDir).sort()).toEqual(['jfk.json', 'jfk.srt', 'jfk.vtt']);
      // The last file of that name wins: jfk.mp3 after jfk.wav. Its subtitles are its transcript's.
      const transcript = JSON.parse(fs.readFileSync(path.join(outDir, 'jfk.json'), 'utf8')) as Transcript;
      expect(transcript.audioDurationMs).toBeGreaterThan(10_000);
      expect(fs.readFileSync(path.join(outDir, 'jfk.srt'), 'utf8')).toBe(formatTranscript(transcript, 'srt'));
      expect(fs.readFileSync(path.join(outDir, 'jfk.vtt'), 'utf8')).toBe(formatTranscript(transcript, 'vtt'));
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('--version prints the package version; a bad -o is a usage error (exit 2)', async () => {
    const { stdout } = await execFileAsync(process.execPath, [CLI, '--version']);
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).toBe(manifest.version);
    const usage = await execFileAsync(process.execPath, [CLI, 'transcribe', JFK_WAV, '--model', modelPath, '-o', 'docx']).catch((e: unknown) => e);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining(`--output-format: "docx" is not one of ${TRANSCRIPT_FORMATS.join(', ')}`) });
  });

  it('exits non-zero with the error code on a bad model', async () => {
    const bad = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');
    const failure = await execFileAsync(process.execPath, [CLI, 'transcribe', JFK_WAV, '--model', bad]).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('INVALID_MODEL') });
  });

  it('info prints a model header without loading it', async () => {
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'info', modelPath]);
    expect(JSON.parse(stdout)).toMatchObject({ modelType: 'tiny', multilingual: false, weightType: 'f16' });
  });
});

describe('the README demo', () => {
  it("transcribes whisper.cpp's own MP3 sample from the clone alone, with the default base model", async () => {
    // The default audio is the sample in the pinned source (deps/), never ../shared.
    const { stdout, stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'demo.mjs')], { cwd: os.tmpdir() });
    const sample = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
    expect(stderr).toContain(`audio: ${sample}`);
    expect(stderr).toContain('Whisper base');
    expect(stdout).toMatch(/ask not what your country can do for you,? ask what you can do for your country/);
  });
});
