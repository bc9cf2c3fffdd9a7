/**
 * The CLI in a real terminal: tmux on a private socket runs dist/cli/cli.js in a 120x30 pane,
 * and the screen is read back with capture-pane. The progress bar must draw while the work
 * runs, be redrawn in place (one line, not one per update), and end on a clean line, with the
 * output after it on lines of its own; Ctrl-C must stop a download and exit. Only this test's
 * own tmux server (on a socket in its own folder) is ever killed. Run `npm run build` first; needs tmux (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findCatalogueEntry } from '../../lib/model-files/catalogue';
import { startModelServer, type ModelServer } from '../support/model-server';
import { JFK_WAV, REPO_ROOT, SHARED } from '../support/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');
/** This test's own folder: its tmux server's socket (-S, so no other server is ever addressed) and the model caches. */
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-cli-terminal-'));
const SOCKET = path.join(SCRATCH, 'tmux.sock');
const VAD_NAME = 'silero-v6.2.0';
const VAD_BYTES = fs.readFileSync(path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin'));
const EXIT_MARK = 'EXIT:';

function tmux(...args: string[]): string {
  try {
    return execFileSync('tmux', ['-S', SOCKET, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('tmux is not installed (apt-get install tmux): the terminal tests need it');
    throw error;
  }
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The pane's text, wrapped lines joined, trailing blank lines dropped. -J keeps the blanks a
 * line was cleared to (a shorter redraw after a longer one), so each line's end is trimmed.
 */
function screen(session: string): string[] {
  const lines = tmux('capture-pane', '-p', '-J', '-t', session)
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  return lines;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TerminalRun {
  /** Every distinct screen seen while it ran, in order. */
  frames: string[][];
  /** The screen once it exited. */
  final: string[];
  exitCode: number;
}

/**
 * Runs the CLI in a new tmux session and watches its screen until it exits. `during` is called
 * with each new screen (to press keys).
 */
async function runInTerminal(session: string, args: string[], env: Record<string, string>, during?: (lines: string[]) => void): Promise<TerminalRun> {
  const command = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, CLI, ...args].map(quote).join(' ');
  // The shell stays after the CLI so the screen can be read; the test kills the session.
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', `${command}; echo "${EXIT_MARK}$?"; sleep 600`);
  const frames: string[][] = [];
  const deadline = Date.now() + 240_000;
  try {
    while (Date.now() < deadline) {
      const lines = screen(session);
      const exit = lines.find((line) => line.startsWith(EXIT_MARK));
      if (exit !== undefined) return { frames, final: lines, exitCode: Number(exit.slice(EXIT_MARK.length)) };
      if (frames.length === 0 || frames.at(-1)!.join('\n') !== lines.join('\n')) {
        frames.push(lines);
        during?.(lines);
      }
      await sleep(100);
    }
    throw new Error(`the CLI did not exit within 240 s; its screen:\n${screen(session).join('\n')}`);
  } finally {
    tmux('kill-session', '-t', session);
  }
}

const BAR = /[\u2588\u2591]{20}/;

describe('in a terminal (tmux)', () => {
  let server: ModelServer;
  const vadEntry = findCatalogueEntry(VAD_NAME)!;

  beforeAll(async () => {
    server = await startModelServer();
    // The server starts with no session; the sessions set their own size.
    tmux('start-server', ';', 'set-option', '-g', 'exit-empty', 'off');
  });
  afterAll(async () => {
    try {
      tmux('kill-server');
    } finally {
      await server.close();
      fs.rmSync(SCRATCH, { recursive: true, force: true });
    }
  });

  it('transcribe draws a bar in place that ends at 100 % on its own line, the text below it', async () => {
    const run = await runInTerminal('transcribe', ['transcribe', JFK_WAV, '-m', inject('syntheticTinyEn'), '-l', 'en'], {});
    expect(run.exitCode).toBe(0);
    // While it ran, the bar was on screen before it was done.
    expect(run.frames.some((frame) => frame.some((line) => line.startsWith('jfk.wav ') && BAR.test(line) && !line.includes('100%')))).toBe(true);
    const bars = run.final.filter((line) => BAR.test(line));
    expect(bars).toHaveLength(1);
    expect(bars[0]).toMatch(/^jfk\.wav [\u2588]{20} 100% \| 0:11\/0:11 \| \d+\.\d\u00d7 \| in \d+\.\d s$/);
    const at = run.final.indexOf(bars[0]);
    const text = run.final[at + 1];
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toMatch(/[\u2588\u2591]|%/);
    expect(run.final[at + 2]).toBe(`${EXIT_MARK}0`);
  });

  it('models download shows bytes, rate and ETA as it goes, and prints the path on the next line', async () => {
    const cache = path.join(SCRATCH, 'download');
    server.serve(vadEntry.url, VAD_BYTES, { trickle: { chunkBytes: 32 * 1024, intervalMs: 100 } });
    const run = await runInTerminal('download', ['models', 'download', VAD_NAME, '--base-url', server.url], { WHISPER_NAPI_MODELS: cache });
    expect(run.exitCode).toBe(0);
    const midway = run.frames.flat().find((line) => BAR.test(line) && /\s([1-9]|[1-9]\d)% \|/.test(line));
    expect(midway).toMatch(/^silero-v6\.2\.0 [\u2588\u2591]{20} +\d+% \| [\d.]+ kB\/885\.1 kB \| [\d.]+ [kM]?B\/s \| ETA \d+:\d\d$/);
    const bars = run.final.filter((line) => BAR.test(line));
    expect(bars).toEqual([expect.stringMatching(/^silero-v6\.2\.0 [\u2588]{20} 100% \| 885\.1 kB\/885\.1 kB \| [\d.]+ [kM]?B\/s \| done$/)]);
    const at = run.final.indexOf(bars[0]);
    expect(run.final.slice(at + 1)).toEqual([path.join(cache, vadEntry.file), `${EXIT_MARK}0`]);
    expect(fs.readFileSync(path.join(cache, vadEntry.file)).equals(VAD_BYTES)).toBe(true);
  });

  it('Ctrl-C stops a download: the bar stays where it was, the error on the next line, exit 130, the part kept', async () => {
    const cache = path.join(SCRATCH, 'interrupted');
    server.serve(vadEntry.url, VAD_BYTES, { trickle: { chunkBytes: 8 * 1024, intervalMs: 100 } });
    let pressed = false;
    const run = await runInTerminal('interrupt', ['models', 'download', VAD_NAME, '--base-url', server.url], { WHISPER_NAPI_MODELS: cache }, (lines) => {
      if (!pressed && lines.some((line) => BAR.test(line) && /\s[1-9]\d?% \|/.test(line))) {
        pressed = true;
        tmux('send-keys', '-t', 'interrupt', 'C-c');
      }
    });
    expect(pressed).toBe(true);
    expect(run.exitCode).toBe(130);
    const bars = run.final.filter((line) => BAR.test(line));
    expect(bars).toHaveLength(1);
    expect(bars[0]).not.toContain('100%');
    const at = run.final.indexOf(bars[0]);
    // ^C is echoed by the terminal where the cursor was: on the bar's line, never on the next one.
    expect(run.final[at + 1]).toMatch(/^whisper-napi: silero-v6\.2\.0: ABORTED: /);
    expect(run.final[at + 2]).toBe(`whisper-napi: ${VAD_NAME}: the part downloaded so far is kept; run the same command again to resume`);
    expect(run.final[at + 3]).toBe(`${EXIT_MARK}130`);
    expect(fs.statSync(path.join(cache, `${vadEntry.file}.part`)).size).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(cache, vadEntry.file))).toBe(false);
  });
});
