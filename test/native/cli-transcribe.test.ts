/**
 * The whisper-napi command as a user runs it (dist/cli/cli.js, child processes, stdio as pipes):
 * help and usage mistakes, exit codes, one-line errors, transcribe's flags and outputs, the
 * models commands over a model cache in a temp folder, and downloads from a local server on
 * 127.0.0.1. In a pipe nothing may carry an escape code. Run `npm run build` first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatTranscript, TRANSCRIPT_FORMATS, type Transcript } from '../../lib';
import { findCatalogueEntry } from '../../lib/model-files/catalogue';
import { startModelServer, type ModelServer } from '../support/model-server';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');
const VAD_NAME = 'silero-v6.2.0';
const VAD_FILE = path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin');
const VAD_BYTES = fs.readFileSync(VAD_FILE);
/** 3 s of real speech, for the runs that only need some. */
const SHORT_WAV = path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0880.wav');
/** Any ESC (every ANSI/VT control sequence starts with one) or carriage return: what a pipe must never get. */
const TERMINAL_CONTROL = /[\u001b\r]/;

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `whisper-napi <args>` with stdin, stdout and stderr as pipes. Never rejects on a non-zero exit. */
function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (options.onSpawn) options.onSpawn(child);
    else child.stdin.end();
  });
}

function expectNoTerminalControl(run: CliRun): void {
  expect(run.stdout).not.toMatch(TERMINAL_CONTROL);
  expect(run.stderr).not.toMatch(TERMINAL_CONTROL);
}

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-cli-'));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A fresh empty model cache. */
function modelsDir(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  return dir;
}

const COMMAND_NAMES = ['transcribe', 'models', 'serve', 'worker', 'submit', 'info', 'devices', 'doctor', 'convert', 'quantize', 'synthesize'];

describe('help and usage mistakes', () => {
  it('--help lists every command and exits 0; each command has its own --help', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stderr).toBe('');
    const listed = top.stdout
      .split('\n')
      .filter((line) => /^ {2}[a-z]/.test(line) && !line.trimStart().startsWith('-'))
      .map((line) => line.trim().split(/\s/)[0]);
    expect(listed).toEqual(COMMAND_NAMES);
    const helps = await Promise.all(COMMAND_NAMES.map((name) => runCli([name, '--help'])));
    helps.forEach((help, i) => {
      expect(help.code).toBe(0);
      expect(help.stderr).toBe('');
      expect(help.stdout.startsWith(`Usage: whisper-napi ${COMMAND_NAMES[i]}`)).toBe(true);
    });
    // -h anywhere before `--` asks for help, even with other arguments.
    const short = await runCli(['transcribe', 'a.wav', '-h']);
    expect(short.stdout).toBe(helps[0].stdout);
    for (const option of [
      '-m, --model <name|path>',
      '--word-timestamps',
      '--vad [<name|path.bin>]',
      '--beam-size',
      '--threads',
      '--json',
      '--max-line-length',
      '--quiet',
    ]) {
      expect(helps[0].stdout).toContain(option);
    }
    expect(helps[0].stdout).toContain(TRANSCRIPT_FORMATS.join(', '));
  });

  it('an unknown option, a missing value or a bad number is exit 2 with that command usage', async () => {
    const transcribeUsage = (await runCli(['transcribe', '--help'])).stdout;
    const cases: Array<[string[], string]> = [
      [['transcribe', JFK_WAV, '-m', 'x.bin', '--frobnicate'], 'whisper-napi transcribe: unknown option --frobnicate'],
      [['transcribe', JFK_WAV, '-m'], 'whisper-napi transcribe: --model needs a value'],
      [['transcribe', JFK_WAV], 'whisper-napi transcribe: transcribe needs -m <model name or path>'],
      [['transcribe', '-m', 'x.bin'], 'whisper-napi transcribe: transcribe needs at least one audio file (or - for stdin)'],
      [['transcribe', JFK_WAV, '-m', 'x.bin', '--beam-size', '0'], 'whisper-napi transcribe: --beam-size expects an integer of at least 1, got "0"'],
      [['transcribe', JFK_WAV, '-m', 'x.bin', '--threads', 'two'], 'whisper-napi transcribe: --threads expects an integer, got "two"'],
      [['transcribe', JFK_WAV, '-m', 'x.bin', '--quiet=yes'], 'whisper-napi transcribe: --quiet takes no value'],
      [
        ['transcribe', JFK_WAV, '-m', 'x.bin', '--json', '-o', 'srt'],
        'whisper-napi transcribe: --json prints JSON lines on stdout; write the -o formats into files with --output-dir',
      ],
      [['transcribe', JFK_WAV, '-m', 'x.bin', '-o', 'srt,docx'], `whisper-napi transcribe: --output-format: "docx" is not one of ${TRANSCRIPT_FORMATS.join(', ')}`],
      [['transcribe', '-', '-', '-m', 'x.bin'], 'whisper-napi transcribe: stdin (-) can be read only once'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((run, i) => {
      expect(run.code, cases[i][0].join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(`${cases[i][1]}\n\n${transcribeUsage}`);
    });

    const models = await runCli(['models', 'fetch', 'base']);
    expect(models.code).toBe(2);
    expect(models.stderr).toBe(`whisper-napi models: unknown subcommand "fetch" (expected list, download, path, rm)\n\n${(await runCli(['models', '--help'])).stdout}`);
    const wrongFlag = await runCli(['models', 'path', 'base', '--json']);
    expect(wrongFlag.code).toBe(2);
    expect(wrongFlag.stderr.split('\n')[0]).toBe('whisper-napi models: --json does not go with models path');
    const info = await runCli(['info', '--all', 'x.bin']);
    expect(info.code).toBe(2);
    expect(info.stderr.split('\n')[0]).toBe('whisper-napi info: unknown option --all');
    const unknown = await runCli(['transcrib', JFK_WAV]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`whisper-napi: unknown command "transcrib"\n\n${(await runCli(['--help'])).stdout}`);
  });
});

describe('errors', () => {
  it('is one line with the code; --verbose adds the stack', async () => {
    const env = { WHISPER_NAPI_MODELS: modelsDir('errors-cache') };
    const typo = await runCli(['transcribe', JFK_WAV, '-m', 'basee.en'], { env });
    expect(typo.code).toBe(1);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe(
      "whisper-napi: MODEL_NOT_FOUND: -m: no model named 'basee.en' in the catalogue (did you mean 'base.en'?); give a path to a ggml model file, or a name from `whisper-napi models list`\n",
    );
    const notCached = await runCli(['transcribe', JFK_WAV, '-m', 'base.en'], { env });
    expect(notCached.code).toBe(1);
    expect(notCached.stderr).toBe(
      `whisper-napi: MODEL_NOT_FOUND: -m: model 'base.en' is not downloaded yet (not in ${env.WHISPER_NAPI_MODELS}); add --download, or run \`whisper-napi models download base.en\`\n`,
    );
    const wrongKind = await runCli(['transcribe', JFK_WAV, '-m', VAD_NAME], { env });
    expect(wrongKind.stderr).toBe(`whisper-napi: INVALID_ARGUMENT: -m: '${VAD_NAME}' is a Silero VAD model; -m takes a Whisper model\n`);
    const verbose = await runCli(['transcribe', JFK_WAV, '-m', 'basee.en', '--verbose'], { env });
    expect(verbose.code).toBe(1);
    const [line, ...stack] = verbose.stderr.trimEnd().split('\n');
    expect(line).toBe(typo.stderr.trimEnd());
    expect(stack[0]).toMatch(/^WhisperError: /);
    expect(stack.slice(1).every((frame) => frame.startsWith('    at '))).toBe(true);
    expect(stack.length).toBeGreaterThan(2);
  });
});

describe('transcribe', () => {
  const tinyEn = inject('syntheticTinyEn');

  it('several files: --json gives a line per file, a failed one reports and the others run (exit 1), nothing on stderr but its line', async () => {
    const missing = path.join(scratch, 'missing.wav');
    const mp3 = path.join(REPO_ROOT, 'deps', 'whisper.cpp', 'samples', 'jfk.mp3');
    const run = await runCli(['transcribe', JFK_WAV, missing, mp3, '-m', tinyEn, '-l', 'en', '--json']);
    expect(run.code).toBe(1);
    expectNoTerminalControl(run);
    expect(run.stderr).toBe(`whisper-napi: ${missing}: AUDIO_NOT_FOUND: audio: audio file not found: ${missing}\n`);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const [wav, failed, compressed] = lines.map((line) => JSON.parse(line) as { file: string; transcript?: Transcript; error?: { code: string; message: string } });
    expect(wav.file).toBe(JFK_WAV);
    expect(wav.transcript!.audioDurationMs).toBe(11000);
    expect(wav.transcript!.segments.length).toBeGreaterThan(0);
    expect(failed).toEqual({ file: missing, error: { code: 'AUDIO_NOT_FOUND', message: `audio: audio file not found: ${missing}` } });
    expect(compressed.file).toBe(mp3);
    expect(compressed.transcript!.audioDurationMs).toBeGreaterThan(10_000);
  });

  it('--progress in a pipe: plain lines on stderr, no escape codes; the last one is the whole file', async () => {
    const run = await runCli(['transcribe', JFK_WAV, '-m', tinyEn, '-l', 'en', '--progress']);
    expect(run.code).toBe(0);
    expectNoTerminalControl(run);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^jfk\.wav: 100% \(0:11\/0:11, \d+\.\d\u00d7 real time, in \d+\.\d s\)$/);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^jfk\.wav: \d+% \(\d:\d\d\/0:11, (\d+\.\d|-)\u00d7 real time, ETA (\d+:\d\d|-)\)$/);
    // On a pipe plain text is the transcript's text, then nothing more.
    expect(run.stdout.endsWith('\n')).toBe(true);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('Ctrl-C aborts the running file and skips the rest: its ABORTED line, exit 130', async () => {
    // 66 s (jfk six times), so it is still running when the signal comes.
    const long = path.join(scratch, 'long.wav');
    execFileSync('sox', [...Array<string>(6).fill(JFK_WAV), long]);
    let sent = false;
    const run = await runCli(['transcribe', long, JFK_WAV, '-m', tinyEn, '-l', 'en', '--verbose', '-q'], {
      onSpawn: (child) => {
        child.stdin!.end();
        let log = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          // whisper.cpp's last line as a state is made: the transcription starts now.
          if (!sent && log.includes('compute buffer (decode)')) {
            sent = true;
            child.kill('SIGINT');
          }
        });
      },
    });
    expect(sent).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stdout).toBe('');
    const ours = run.stderr.split('\n').filter((line) => line.startsWith('whisper-napi: '));
    expect(ours).toEqual([`whisper-napi: ${long}: ABORTED: the transcription was aborted`]);
  });

  it('a catalogue name for -m and for --vad, from WHISPER_NAPI_MODELS; -o verbose_json, srt with line limits; --word-timestamps', async () => {
    const cache = modelsDir('named-cache');
    // The synthetic tiny.en under the catalogue's file name for tiny.en: -m tiny.en finds it there.
    fs.symlinkSync(tinyEn, path.join(cache, findCatalogueEntry('tiny.en')!.file));
    fs.copyFileSync(VAD_FILE, path.join(cache, findCatalogueEntry(VAD_NAME)!.file));
    const outDir = path.join(scratch, 'named-out');
    // A bare --vad before an audio file: the catalogue's Silero model, and the file is still audio.
    const args = [
      'transcribe',
      '-m',
      'tiny.en',
      '--vad',
      SHORT_WAV,
      '-l',
      'en',
      '--word-timestamps',
      '-o',
      'json,verbose_json,srt',
      '--max-line-length',
      '24',
      '--output-dir',
      outDir,
    ];
    const run = await runCli(args, { env: { WHISPER_NAPI_MODELS: cache } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    const base = path.basename(SHORT_WAV, '.wav');
    expect(fs.readdirSync(outDir).sort()).toEqual([`${base}.json`, `${base}.srt`, `${base}.verbose.json`]);
    const transcript = JSON.parse(fs.readFileSync(path.join(outDir, `${base}.json`), 'utf8')) as Transcript;
    expect(transcript.segments.length).toBeGreaterThan(0);
    for (const segment of transcript.segments) {
      // --word-timestamps: words in every segment with text, in order.
      if (segment.text.trim() !== '') expect(segment.words!.length).toBeGreaterThan(0);
      const starts = (segment.words ?? []).map((word) => word.startMs);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
    const srt = fs.readFileSync(path.join(outDir, `${base}.srt`), 'utf8');
    expect(srt).toBe(formatTranscript(transcript, 'srt', { maxLineLength: 24 }));
    const verbose = fs.readFileSync(path.join(outDir, `${base}.verbose.json`), 'utf8');
    expect(verbose).toBe(formatTranscript(transcript, 'verbose_json'));
    const parsed = JSON.parse(verbose) as { task: string; language: string; words: unknown[] };
    expect(parsed.task).toBe('transcribe');
    expect(parsed.language).toBe('english');
    expect(parsed.words.length).toBe(transcript.segments.reduce((sum, segment) => sum + (segment.words?.length ?? 0), 0));

    // The VAD name not cached: said, with how to get it.
    fs.rmSync(path.join(cache, findCatalogueEntry(VAD_NAME)!.file));
    const noVad = await runCli(['transcribe', JFK_WAV, '-m', 'tiny.en', `--vad=${VAD_NAME}`], { env: { WHISPER_NAPI_MODELS: cache } });
    expect(noVad.code).toBe(1);
    expect(noVad.stderr).toBe(
      `whisper-napi: MODEL_NOT_FOUND: --vad: model '${VAD_NAME}' is not downloaded yet (not in ${cache}); add --download, or run \`whisper-napi models download ${VAD_NAME}\`\n`,
    );
  });
});

describe('models', () => {
  let server: ModelServer;
  const vadEntry = findCatalogueEntry(VAD_NAME)!;
  beforeAll(async () => {
    server = await startModelServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('list, path and rm over the model cache named by WHISPER_NAPI_MODELS', async () => {
    const cache = modelsDir('list-cache');
    const env = { WHISPER_NAPI_MODELS: cache };
    fs.copyFileSync(VAD_FILE, path.join(cache, vadEntry.file));
    const list = await runCli(['models', 'list'], { env });
    expect(list.code).toBe(0);
    expectNoTerminalControl(list);
    const rows = list.stdout.split('\n');
    expect(rows[0]).toMatch(/^NAME +KIND +SIZE +CACHED$/);
    expect(rows.find((row) => row.startsWith('base.en '))).toMatch(/^base\.en +whisper +148\.0 MB$/);
    expect(rows.find((row) => row.startsWith(`${VAD_NAME} `))).toMatch(new RegExp(`^${VAD_NAME.replace(/\./g, '\\.')} +vad +885\\.1 kB +yes$`));
    expect(rows.at(-2)).toBe(`model cache: ${cache} (1 cached, 885.1 kB)`);

    const json = JSON.parse((await runCli(['models', 'list', '--cached', '--json'], { env })).stdout) as Array<{
      name: string;
      cached: boolean;
      path: string;
      cachedBytes: number;
    }>;
    expect(json).toEqual([{ ...vadEntry, cached: true, path: path.join(cache, vadEntry.file), cachedBytes: VAD_BYTES.length }]);

    const found = await runCli(['models', 'path', VAD_NAME], { env });
    expect(found).toMatchObject({ code: 0, stdout: `${path.join(cache, vadEntry.file)}\n`, stderr: '' });
    const absent = await runCli(['models', 'path', 'tiny.en'], { env });
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toBe(
      `whisper-napi: MODEL_NOT_FOUND: models path: 'tiny.en' is not downloaded (no ${path.join(cache, 'ggml-tiny.en.bin')}); run \`whisper-napi models download tiny.en\`\n`,
    );
    const typo = await runCli(['models', 'path', 'tiny-en'], { env });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^whisper-napi: MODEL_NOT_FOUND: models path: no model named 'tiny-en' in the catalogue \(did you mean 'tiny\.en'.*\n$/);

    const removed = await runCli(['models', 'rm', VAD_NAME], { env });
    expect(removed).toMatchObject({ code: 0, stdout: `removed ${path.join(cache, vadEntry.file)}\n`, stderr: '' });
    expect(fs.readdirSync(cache)).toEqual([]);
    const again = await runCli(['models', 'rm', VAD_NAME], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`whisper-napi: MODEL_NOT_FOUND: models rm: '${VAD_NAME}' is not downloaded (no ${path.join(cache, vadEntry.file)})\n`);
  });

  it('download: from a local server, plain progress lines in a pipe; Ctrl-C keeps the part (exit 130) and the next run resumes it', async () => {
    const cache = modelsDir('download-cache');
    server.serve(vadEntry.url, VAD_BYTES, { trickle: { chunkBytes: 16 * 1024, intervalMs: 100 } });
    server.requests.length = 0;
    let interrupted = false;
    const stopped = await runCli(['models', 'download', VAD_NAME, '--models-dir', cache, '--base-url', server.url], {
      onSpawn: (child) => {
        child.stdin!.end();
        const poll = setInterval(() => {
          // Ctrl-C once some bytes are on disk.
          const part = path.join(cache, `${vadEntry.file}.part`);
          if (!interrupted && fs.existsSync(part) && fs.statSync(part).size > 100_000) {
            interrupted = true;
            child.kill('SIGINT');
          }
        }, 50);
        child.on('close', () => clearInterval(poll));
      },
    });
    expect(interrupted).toBe(true);
    expect(stopped.code).toBe(130);
    expectNoTerminalControl(stopped);
    expect(stopped.stdout).toBe('');
    const [aborted, hint] = stopped.stderr.trimEnd().split('\n');
    expect(aborted).toMatch(new RegExp(`^whisper-napi: ${VAD_NAME.replace(/\./g, '\\.')}: ABORTED: `));
    expect(hint).toBe(`whisper-napi: ${VAD_NAME}: the part downloaded so far is kept; run the same command again to resume`);
    const kept = fs.statSync(path.join(cache, `${vadEntry.file}.part`)).size;
    expect(kept).toBeGreaterThan(100_000);
    expect(fs.existsSync(path.join(cache, vadEntry.file))).toBe(false);

    server.serve(vadEntry.url, VAD_BYTES, { trickle: { chunkBytes: 64 * 1024, intervalMs: 400 } });
    server.requests.length = 0;
    const resumed = await runCli(['models', 'download', VAD_NAME, '--models-dir', cache, '--base-url', server.url, '--progress']);
    expect(resumed.code).toBe(0);
    expectNoTerminalControl(resumed);
    const file = path.join(cache, vadEntry.file);
    expect(resumed.stdout).toBe(`${file}\n`);
    expect(createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(vadEntry.sha256);
    expect(server.requests.map((request) => request.range)).toEqual([`bytes=${kept}-`]);
    const lines = resumed.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(new RegExp(`^${VAD_NAME.replace(/\./g, '\\.')}: 100% \\(885\\.1 kB/885\\.1 kB, [\\d.]+ [kM]?B/s, done\\)$`));
    expect(lines.length).toBeGreaterThanOrEqual(1);

    // Cached now: another download is the path at once, with no request.
    server.requests.length = 0;
    const cached = await runCli(['models', 'download', VAD_NAME, '--models-dir', cache, '--base-url', server.url]);
    expect(cached).toMatchObject({ code: 0, stdout: `${file}\n`, stderr: '' });
    expect(server.requests).toEqual([]);
  });

  it('transcribe --download fetches a named VAD model it needs (HF_ENDPOINT is the server)', async () => {
    const cache = modelsDir('transcribe-download');
    server.serve(vadEntry.url, VAD_BYTES);
    server.requests.length = 0;
    const run = await runCli(['transcribe', SHORT_WAV, '-m', inject('syntheticTinyEn'), `--vad=${VAD_NAME}`, '--download', '-l', 'en', '-q'], {
      env: { WHISPER_NAPI_MODELS: cache, HF_ENDPOINT: server.url },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.requests.map((request) => request.path)).toEqual([vadEntry.url]);
    expect(fs.readFileSync(path.join(cache, vadEntry.file)).equals(VAD_BYTES)).toBe(true);
  });
});
