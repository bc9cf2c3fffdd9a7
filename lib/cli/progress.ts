/**
 * Progress on stderr: a bar redrawn in place when stderr is a terminal (cli-progress), plain
 * lines now and then when asked for with --progress elsewhere, or nothing. A pipe never gets
 * an escape code: git's rule, so logs and captured output stay clean unless asked.
 */
import { Format, SingleBar } from 'cli-progress';

export type ProgressMode = 'bar' | 'lines' | 'off';

/**
 * How progress is shown: --quiet wins, then a terminal gets the bar (plain lines with --verbose,
 * whose log lines would break a bar redrawn in place), then --progress asks for lines.
 */
export function progressMode(flags: { quiet?: boolean; progress?: boolean; verbose?: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (flags.quiet) return 'off';
  if (stream.isTTY === true) return flags.verbose ? 'lines' : 'bar';
  return flags.progress ? 'lines' : 'off';
}

/** A plain line at most this often, besides the last one. */
const LINE_INTERVAL_MS = 5000;
const BAR_STEPS = 1000;
const LABEL_WIDTH = 24;

/**
 * One line of progress for one task (a file, a download). `describe` renders what follows the
 * bar from the caller's live state, so speed and ETA keep moving between updates.
 */
export class ProgressLine {
  private readonly bar: SingleBar | undefined;
  /** The first plain line comes after an interval too: a short task gets only its last line. */
  private lastLineAt = Date.now();
  private stopped = false;

  constructor(
    private readonly mode: ProgressMode,
    private readonly label: string,
    private readonly describe: (style: 'bar' | 'line') => string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (mode !== 'bar') return;
    this.bar = new SingleBar({
      stream,
      format: (options, params) => `${fitLabel(label)} ${Format.BarFormat(params.progress, options)} ${describe('bar')}`,
      barsize: 20,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      // Wrapping stays on, so a process killed mid-bar leaves the terminal as it was; cli-progress
      // then cuts the line to the terminal's width itself.
      linewrap: true,
      hideCursor: false,
      fps: 10,
    });
    this.bar.start(BAR_STEPS, 0);
  }

  /** The share done, 0..1, or undefined while it is unknown (the bar stays where it was). */
  update(fraction: number | undefined): void {
    if (this.stopped) return;
    if (this.bar) {
      if (fraction !== undefined) this.bar.update(Math.round(clamp01(fraction) * BAR_STEPS));
      return;
    }
    if (this.mode === 'lines' && Date.now() - this.lastLineAt >= LINE_INTERVAL_MS) {
      this.lastLineAt = Date.now();
      this.stream.write(`${this.label}: ${this.describe('line')}\n`);
    }
  }

  /**
   * Ends the line: the bar drawn a last time and the cursor on a fresh line; in lines mode a
   * last line, unless the task failed (its error says enough). `fraction` is where it ended (1 when done).
   */
  stop(fraction?: number, failed = false): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.bar) {
      if (fraction !== undefined) this.bar.update(Math.round(clamp01(fraction) * BAR_STEPS));
      this.bar.stop();
      return;
    }
    if (this.mode === 'lines' && !failed) this.stream.write(`${this.label}: ${this.describe('line')}\n`);
  }
}

function fitLabel(label: string): string {
  return label.length > LABEL_WIDTH ? `${label.slice(0, LABEL_WIDTH - 1)}\u2026` : label;
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/** A length of time as m:ss (h:mm:ss from an hour), for audio positions and ETAs. */
export function clock(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Bytes as people read them: 1000-based, as model sizes are published. */
export function byteSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Transcription progress of one file: percent, audio done, speed as × real time, ETA. */
export class TranscriptionProgress {
  private readonly line: ProgressLine;
  private readonly startedAt = performance.now();
  private percent: number | undefined;
  private segmentEndMs = 0;
  private finishedIn: number | undefined;

  /** `durationMs`: the audio's length when known up front (a file's header states it), else undefined. */
  constructor(
    mode: ProgressMode,
    label: string,
    private durationMs: number | undefined,
    stream?: NodeJS.WriteStream,
  ) {
    this.line = new ProgressLine(mode, label, (style) => this.describe(style), stream);
  }

  /** transcribe()'s onProgress: the percent of the whole file, whether it runs as one call or in windows. */
  onProgress(percent: number): void {
    this.percent = percent;
    this.line.update(this.fraction());
  }

  /** transcribe()'s onSegment: audio up to the segment's end is done (all the bar has when the length is unknown). */
  onSegment(endMs: number): void {
    this.segmentEndMs = Math.max(this.segmentEndMs, endMs);
    this.line.update(this.fraction());
  }

  /** The file is done: its real length is now known. */
  done(audioDurationMs: number): void {
    this.durationMs = audioDurationMs;
    this.percent = 100;
    this.segmentEndMs = audioDurationMs;
    this.finishedIn = (performance.now() - this.startedAt) / 1000;
    this.line.stop(1);
  }

  /** The file failed or was aborted: the bar stops where it was. */
  failed(): void {
    this.line.stop(this.fraction(), true);
  }

  private doneMs(): number {
    if (this.durationMs === undefined) return this.segmentEndMs;
    return Math.min(this.durationMs, Math.max(this.segmentEndMs, ((this.percent ?? 0) / 100) * this.durationMs));
  }

  private fraction(): number | undefined {
    if (this.durationMs !== undefined && this.durationMs > 0) return this.doneMs() / this.durationMs;
    return this.percent === undefined ? undefined : this.percent / 100;
  }

  private describe(style: 'bar' | 'line'): string {
    const elapsed = this.finishedIn ?? (performance.now() - this.startedAt) / 1000;
    const doneS = this.doneMs() / 1000;
    const fraction = this.fraction();
    const percent = fraction === undefined ? '  ?%' : `${String(Math.floor(fraction * 100)).padStart(3)}%`;
    const audio = this.durationMs === undefined ? `${clock(doneS)} audio` : `${clock(doneS)}/${clock(this.durationMs / 1000)}`;
    const speed = elapsed > 0 && doneS > 0 ? `${(doneS / elapsed).toFixed(1)}\u00d7` : '-\u00d7';
    let tail: string;
    if (this.finishedIn !== undefined) tail = `in ${elapsed.toFixed(1)} s`;
    else if (this.durationMs !== undefined && doneS > 0 && elapsed > 0) tail = `ETA ${clock((this.durationMs / 1000 - doneS) / (doneS / elapsed))}`;
    else tail = 'ETA -';
    if (style === 'bar') return `${percent} | ${audio} | ${speed} | ${tail}`;
    return `${percent.trim()} (${audio}, ${speed} real time, ${tail})`;
  }
}

/** What a download reports: the shape of DownloadProgress, the fields the line needs. */
export interface DownloadState {
  receivedBytes: number;
  totalBytes: number | undefined;
  bytesPerSecond: number;
  etaSeconds: number | undefined;
}

/** Download progress of one model: bytes, rate, ETA. */
export class DownloadProgressLine {
  private readonly line: ProgressLine;
  private state: DownloadState = { receivedBytes: 0, totalBytes: undefined, bytesPerSecond: 0, etaSeconds: undefined };
  private finished = false;

  constructor(mode: ProgressMode, label: string, stream?: NodeJS.WriteStream) {
    this.line = new ProgressLine(mode, label, (style) => this.describe(style), stream);
  }

  update(state: DownloadState): void {
    this.state = state;
    this.line.update(this.fraction());
  }

  done(): void {
    this.finished = true;
    this.line.stop(1);
  }

  failed(): void {
    this.line.stop(this.fraction(), true);
  }

  private fraction(): number | undefined {
    const { receivedBytes, totalBytes } = this.state;
    return totalBytes === undefined || totalBytes <= 0 ? undefined : receivedBytes / totalBytes;
  }

  private describe(style: 'bar' | 'line'): string {
    const { receivedBytes, totalBytes, bytesPerSecond, etaSeconds } = this.state;
    const fraction = this.fraction();
    const percent = fraction === undefined ? '  ?%' : `${String(Math.floor(fraction * 100)).padStart(3)}%`;
    const bytes = totalBytes === undefined ? byteSize(receivedBytes) : `${byteSize(receivedBytes)}/${byteSize(totalBytes)}`;
    const rate = `${byteSize(Math.round(bytesPerSecond))}/s`;
    const tail = this.finished ? 'done' : etaSeconds === undefined ? 'ETA -' : `ETA ${clock(etaSeconds)}`;
    if (style === 'bar') return `${percent} | ${bytes} | ${rate} | ${tail}`;
    return `${percent.trim()} (${bytes}, ${rate}, ${tail})`;
  }
}
