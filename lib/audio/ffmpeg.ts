/**
 * ffmpeg as an AudioSource: for the formats the addon does not decode (Opus, AAC/M4A, WebM,
 * video files, ...), an ffmpeg child process turns the input into raw 16 kHz mono f32le on its
 * stdout, which is read as it comes, so a long input is never held whole.
 *
 * - The input is a file (`-i file:<absolute path>`: the `file:` protocol stops a name such as
 *   `-x` or `http:...` being read as an option or a protocol) or chunks written to stdin with
 *   backpressure (`-i pipe:0`), with `-protocol_whitelist` naming that one protocol, so a
 *   playlist inside the input cannot reach the network (nor, from a pipe, a file). No shell
 *   is involved anywhere.
 * - 'mix' is ffmpeg's downmix (`-ac 1`) with `-rematrix_maxval 1`, which scales the matrix so
 *   the sum of its gains is 1: stereo becomes (L + R) / 2, as miniaudio
 *   mix it, where ffmpeg alone would give 0.707 (L + R) and leave [-1, 1]. A channel index is
 *   picked with `channelmap`, which fails for a channel the input lacks (`pan` would give silence).
 * - ffmpeg's exit status and stderr decide the outcome. ffmpeg 5.1 exits 0 with no output when it
 *   cannot read an input at all in some cases (an MP4 whose index, the moov atom, is at the end,
 *   read from a pipe: "partial file"), so no audio plus something on stderr is a failure too.
 * - The idle timeout counts only while ffmpeg is the one being waited for: for a path, from the
 *   start; for chunks, while a written chunk has not been taken yet and after the input has
 *   ended, never while the caller's next chunk is awaited (a slow upload is not ffmpeg's fault).
 *   It also stops while ffmpeg's output is held back because the reader is behind. Output and
 *   input taken both count as progress.
 * - After a failure (timeout, abort, a failed input stream, close) ffmpeg is killed with SIGKILL
 *   and every later read rejects with that first error. A read pending during close() rejects
 *   with ABORTED rather than resolving empty: an empty read means the end, and a closed source
 *   did not reach it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { abortError, throwIfAborted } from '../errors/abort';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, invalidAudio } from './pcm';
import type { AudioSource } from './source';

const BYTES_PER_SAMPLE = 4;
/** The tail of ffmpeg's stderr kept for messages: its last lines say what went wrong. */
const STDERR_KEPT_CHARS = 64 * 1024;
const STDERR_MESSAGE_CHARS = 500;
/** Undelivered output above this (about 65 s of audio) pauses ffmpeg's stdout, so a slow reader holds ffmpeg back instead of growing memory. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/**
 * @internal Where ffmpeg is: `explicitPath` (options.audio.ffmpegPath), else
 * $WHISPER_NAPI_FFMPEG (empty counts as unset), else the first executable `ffmpeg` on PATH;
 * undefined when there is none. A value without a directory part (e.g. 'ffmpeg7') is looked up
 * on PATH as a command would be. An explicit value that names no executable file is
 * INVALID_ARGUMENT naming where it came from. Nothing is cached: PATH may change.
 */
export function findFfmpeg(explicitPath: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicitPath !== undefined) return explicitExecutable(explicitPath, 'options.audio.ffmpegPath', env);
  const fromEnv = env['WHISPER_NAPI_FFMPEG'];
  if (fromEnv !== undefined && fromEnv !== '') return explicitExecutable(fromEnv, 'WHISPER_NAPI_FFMPEG', env);
  return searchPath('ffmpeg', env);
}

/** @internal UNSUPPORTED_AUDIO for input only ffmpeg can decode when there is no ffmpeg. */
export function ffmpegMissing(what: string): WhisperError {
  return new WhisperError(
    'UNSUPPORTED_AUDIO',
    `audio: ${what} needs ffmpeg, which was not found: install it (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; Windows: winget install ffmpeg), ` +
      'put it on PATH or pass options.audio.ffmpegPath / WHISPER_NAPI_FFMPEG',
  );
}

/** @internal */
export interface FfmpegSourceOptions {
  /** The executable, as findFfmpeg resolved it. */
  ffmpegPath: string;
  /** 'mix': all channels averaged; n: channel n alone (INVALID_ARGUMENT on read when the input has no such channel). */
  channel: 'mix' | number;
  /** ffmpeg giving no output (and taking no input) for this long while it is waited for is killed: INVALID_AUDIO. */
  idleTimeoutMs: number;
  /** What the input was detected as, e.g. 'Opus in Ogg': the source's format and the subject of messages. */
  what: string;
  /** Kills ffmpeg; the pending and later reads reject with abortError(signal, 'the audio'). */
  signal?: AbortSignal;
}

/** @internal Decodes with ffmpeg: raw 16 kHz mono f32le read from its stdout as it comes. Throws at once if `signal` has fired. */
export function openFfmpegSource(input: { path: string } | { chunks: AsyncIterable<Uint8Array> }, options: FfmpegSourceOptions): AudioSource {
  throwIfAborted(options.signal, 'the audio');
  return new FfmpegSource(input, options);
}

function explicitExecutable(given: string, parameter: string, env: NodeJS.ProcessEnv): string {
  if (given === '') throw new WhisperError('INVALID_ARGUMENT', `${parameter}: expected the path of the ffmpeg executable, got an empty string`);
  if (path.basename(given) === given) {
    const found = searchPath(given, env);
    if (found !== undefined) return found;
    throw new WhisperError('INVALID_ARGUMENT', `${parameter}: no executable ${JSON.stringify(given)} found on PATH; give the full path of ffmpeg`);
  }
  const full = path.resolve(given);
  const problem = notExecutableBecause(full);
  if (problem !== undefined) throw new WhisperError('INVALID_ARGUMENT', `${parameter}: expected the path of the ffmpeg executable, got ${full}, which ${problem}`);
  return full;
}

function searchPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const windows = process.platform === 'win32';
  // A plain object passed as env is case-sensitive, and Windows spells it 'Path'.
  const key = windows ? (Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH') : 'PATH';
  // Without a shell only real executables can be spawned, so .cmd/.bat wrappers are not candidates.
  const file = windows && !name.toLowerCase().endsWith('.exe') ? `${name}.exe` : name;
  for (const entry of (env[key] ?? '').split(path.delimiter)) {
    const dir = windows ? entry.replace(/^"(.*)"$/, '$1') : entry;
    // An empty entry means the current directory to a shell; searching it unasked is a known hazard.
    if (dir === '') continue;
    const candidate = path.resolve(dir, file);
    if (notExecutableBecause(candidate) === undefined) return candidate;
  }
  return undefined;
}

function notExecutableBecause(file: string): string | undefined {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
  }
  if (stats.isDirectory()) return 'is a directory';
  if (!stats.isFile()) return 'is not a regular file';
  if (process.platform === 'win32') return undefined;
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return 'is not executable (chmod +x it)';
  }
  return undefined;
}

function ffmpegArguments(input: { path: string } | { chunks: unknown }, channel: 'mix' | number): string[] {
  // The input may only open its own protocol: a playlist (HLS, concat) in the bytes cannot make
  // ffmpeg fetch a URL or, from a pipe, read a local file.
  const from = 'path' in input ? ['-nostdin', '-protocol_whitelist', 'file', '-i', `file:${path.resolve(input.path)}`] : ['-protocol_whitelist', 'pipe', '-i', 'pipe:0'];
  const toMono = channel === 'mix' ? ['-ac', '1', '-rematrix_maxval', '1'] : ['-af', `channelmap=map=${channel}-0:channel_layout=mono`];
  return ['-hide_banner', '-loglevel', 'error', ...from, '-map', '0:a:0', '-vn', '-sn', '-dn', ...toMono, '-ar', String(WHISPER_SAMPLE_RATE), '-f', 'f32le', 'pipe:1'];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last lines of `text` that fit in STDERR_MESSAGE_CHARS, joined on one line. */
function stderrTail(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const kept: string[] = [];
  let length = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (kept.length === 0 && line.length > STDERR_MESSAGE_CHARS) return `…${line.slice(-STDERR_MESSAGE_CHARS)}`;
    if (length + line.length + 2 > STDERR_MESSAGE_CHARS) break;
    kept.unshift(line);
    length += line.length + 2;
  }
  return (kept.length < lines.length ? '…; ' : '') + kept.join('; ');
}

class FfmpegSource implements AudioSource {
  readonly format: string;
  readonly statedSamples = undefined;
  private readonly child: ChildProcess;
  private readonly stdin: Writable | null;
  private readonly stdout: Readable;
  private readonly stderr: Readable;
  private readonly what: string;
  private readonly channel: 'mix' | number;
  private readonly fromStdin: boolean;
  private readonly idleTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.fail(abortError(this.signal, 'the audio'));
  /** Output not yet read, in arrival order. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private deliveredSamples = 0;
  private stderrText = '';
  private failure: WhisperError | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private wakeReader: (() => void) | undefined;
  private readChain: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private awaitingCallerInput = false;
  private outputPaused = false;

  constructor(input: { path: string } | { chunks: AsyncIterable<Uint8Array> }, options: FfmpegSourceOptions) {
    this.format = options.what;
    this.what = options.what;
    this.channel = options.channel;
    this.fromStdin = 'chunks' in input;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.signal = options.signal;
    try {
      this.child = spawn(options.ffmpegPath, ffmpegArguments(input, options.channel), {
        stdio: [this.fromStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      throw this.couldNotStart(options.ffmpegPath, error);
    }
    this.stdin = this.child.stdin;
    this.stdout = this.child.stdout!;
    this.stderr = this.child.stderr!;
    let exited!: () => void;
    this.exited = new Promise((resolve) => (exited = resolve));

    // After a spawn failure Node still emits 'close' (with a negative code), so exited always settles.
    this.child.on('error', (error) => {
      if (this.child.pid === undefined) this.fail(this.couldNotStart(options.ffmpegPath, error));
    });
    this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exit = { code, signal };
      this.updateIdleTimer();
      this.signal?.removeEventListener('abort', this.onAbort);
      this.stdin?.destroy();
      this.wake();
      exited();
    });
    // ffmpeg exiting early makes our writes fail (EPIPE); its exit status says why, not this.
    this.stdin?.on('error', () => {});
    this.stdout.on('error', () => {});
    this.stderr.on('error', () => {});
    this.stderr.setEncoding('utf8');
    this.stderr.on('data', (text: string) => {
      this.stderrText += text;
      if (this.stderrText.length > STDERR_KEPT_CHARS) this.stderrText = this.stderrText.slice(-STDERR_KEPT_CHARS);
    });
    this.stdout.on('data', (chunk: Buffer) => this.onOutput(chunk));
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.updateIdleTimer();
    if ('chunks' in input && this.stdin) void this.writeInput(input.chunks, this.stdin);
  }

  read(maxSamples: number): Promise<Float32Array> {
    if (!Number.isSafeInteger(maxSamples) || maxSamples < 1) return Promise.reject(invalidArgument('maxSamples', 'a positive integer', maxSamples));
    // One read at a time, in call order: each takes from the front of the same queue.
    const result = this.readChain.then(() => this.readNow(maxSamples));
    this.readChain = result.catch(() => undefined);
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.fail(new WhisperError('ABORTED', `audio: the source was closed before ${this.what} was read to the end`));
      await this.exited;
    })();
    return this.closing;
  }

  private async readNow(maxSamples: number): Promise<Float32Array> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.queuedBytes >= BYTES_PER_SAMPLE) return this.take(maxSamples);
      if (this.exit) return this.finish();
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  private take(maxSamples: number): Float32Array {
    const samples = new Float32Array(Math.min(maxSamples, Math.floor(this.queuedBytes / BYTES_PER_SAMPLE)));
    const bytes = new Uint8Array(samples.buffer);
    let filled = 0;
    while (filled < bytes.length) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, bytes.length - filled);
      bytes.set(head.subarray(0, n), filled);
      filled += n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    this.queuedBytes -= bytes.length;
    if (!LITTLE_ENDIAN_HOST) {
      const view = new DataView(samples.buffer);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getFloat32(i * BYTES_PER_SAMPLE, true);
    }
    try {
      assertFinitePcm(samples, 'audio', this.deliveredSamples);
    } catch (error) {
      this.fail(error as WhisperError);
      throw error;
    }
    this.deliveredSamples += samples.length;
    if (this.outputPaused && this.queuedBytes < HIGH_WATER_BYTES / 2) {
      this.outputPaused = false;
      this.stdout.resume();
      this.updateIdleTimer();
    }
    return samples;
  }

  /** ffmpeg has exited and all its output has been read. */
  private finish(): Float32Array {
    const { code, signal } = this.exit!;
    if (this.queuedBytes > 0) throw invalidAudio(`ffmpeg's output for ${this.what} ended inside a sample (${this.queuedBytes} stray bytes)`);
    if (code === 0 && (this.deliveredSamples > 0 || this.stderrText.trim() === '')) return new Float32Array(0);
    throw this.decodeError(code, signal);
  }

  private decodeError(code: number | null, signal: NodeJS.Signals | null): WhisperError {
    const text = this.stderrText.trim();
    if (/does not contain any stream|matches no streams/.test(text)) return invalidAudio(`${this.what} has no audio stream`);
    const layout = /not available from input layout '([^']*)'/.exec(text);
    if (layout && this.channel !== 'mix') {
      return invalidArgument('channel', `'mix' or a 0-based channel index that ${this.what} has (its channel layout is ${layout[1]})`, this.channel);
    }
    const killed = signal !== null ? `it was killed by ${signal}` : '';
    const detail = text !== '' ? stderrTail(text) + (killed ? ` (${killed})` : '') : killed || `it exited with code ${code} and printed nothing`;
    const moovHint =
      this.fromStdin && /partial file/.test(text)
        ? '; an MP4/M4A read from a stream needs its index (the moov atom) before the audio: pass a file path instead, or re-encode it with ffmpeg -movflags +faststart'
        : '';
    return invalidAudio(`ffmpeg could not decode ${this.what}: ${detail}${moovHint}`);
  }

  private couldNotStart(ffmpegPath: string, error: unknown): WhisperError {
    return new WhisperError('UNSUPPORTED_AUDIO', `audio: ${this.what} needs ffmpeg, but ${ffmpegPath} could not be started: ${messageOf(error)}`, { cause: error });
  }

  private onOutput(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (!this.outputPaused && this.queuedBytes >= HIGH_WATER_BYTES) {
      this.outputPaused = true;
      this.stdout.pause();
    }
    this.updateIdleTimer(true);
    this.wake();
  }

  private async writeInput(chunks: AsyncIterable<Uint8Array>, stdin: Writable): Promise<void> {
    let iterator: AsyncIterator<Uint8Array> | undefined;
    let ended = false;
    try {
      iterator = chunks[Symbol.asyncIterator]();
      for (;;) {
        this.setAwaitingCallerInput(true);
        const step = await iterator.next();
        this.setAwaitingCallerInput(false);
        if (this.stopped()) return;
        if (step.done) break;
        const chunk: unknown = step.value;
        if (!(chunk instanceof Uint8Array)) {
          this.fail(invalidArgument('audio', 'a stream of Uint8Array chunks', chunk));
          return;
        }
        // A stdin closed under us (ffmpeg exited, EPIPE) emits nothing more: stop writing; the exit status says why.
        if (stdin.destroyed) return;
        if (chunk.length > 0 && !stdin.write(chunk)) await this.drained(stdin);
      }
      ended = true;
      stdin.end();
    } catch (error) {
      this.setAwaitingCallerInput(false);
      // Our own layers' errors (an abort, a refused chunk) keep their code and words.
      if (!this.stopped()) this.fail(error instanceof WhisperError ? error : invalidAudio(`the input stream failed: ${messageOf(error)}`, error));
    } finally {
      // Stopped early: let the caller's stream release what it holds.
      if (!ended && iterator?.return) {
        try {
          await iterator.return();
        } catch {
          // The stream's own cleanup failing changes nothing here.
        }
      }
    }
  }

  /** Resolves when stdin can take more, or can take nothing ever again (closed, failed). */
  private drained(stdin: Writable): Promise<void> {
    return new Promise((resolve) => {
      if (stdin.destroyed) {
        resolve();
        return;
      }
      const done = () => {
        stdin.off('drain', done).off('close', done).off('error', done);
        // ffmpeg took the input it was given: that is progress too.
        this.updateIdleTimer(true);
        resolve();
      };
      stdin.on('drain', done).on('close', done).on('error', done);
    });
  }

  private stopped(): boolean {
    return this.failure !== undefined || this.exit !== undefined;
  }

  /** Records the first failure, kills ffmpeg and wakes the reader; later failures change nothing. */
  private fail(error: WhisperError): void {
    this.failure ??= error;
    this.updateIdleTimer();
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL');
    // Unread output would otherwise hold 'close' back: a paused stdout never sees its end.
    this.stdin?.destroy();
    this.stdout.destroy();
    this.stderr.destroy();
    this.wake();
  }

  private wake(): void {
    const wakeReader = this.wakeReader;
    this.wakeReader = undefined;
    wakeReader?.();
  }

  private setAwaitingCallerInput(awaiting: boolean): void {
    this.awaitingCallerInput = awaiting;
    this.updateIdleTimer();
  }

  /** Runs the idle timer exactly while ffmpeg is the one being waited for; `progress` starts its count again. */
  private updateIdleTimer(progress = false): void {
    const waitingForFfmpeg = !this.stopped() && !this.awaitingCallerInput && !this.outputPaused;
    if (!waitingForFfmpeg) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    } else if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => this.onIdle(), this.idleTimeoutMs);
    } else if (progress) {
      this.idleTimer.refresh();
    }
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    this.fail(invalidAudio(`ffmpeg produced no audio for ${this.idleTimeoutMs} ms (options.audio.ffmpegTimeoutMs); is the input complete?`));
  }
}
