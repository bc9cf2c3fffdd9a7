/**
 * Runs whisper.cpp's own whisper-cli (built from deps/ by scripts/build-whisper-cli.mjs)
 * and reads its full JSON output, the parity oracle for the addon.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TranscribeOptions } from '../../lib/transcription/options';
import type { Transcript } from '../../lib/transcription/transcript';

const execFileAsync = promisify(execFile);

export interface OracleToken {
  /** Raw bytes: whisper-cli writes token text unescaped, possibly partial UTF-8. */
  text: Buffer;
  id: number;
  p: number;
  startMs?: number;
  endMs?: number;
  /** With `-dtw <preset>`: the token's DTW time (its "t_dtw", centiseconds, times 10); absent where whisper-cli wrote -1. */
  dtwMs?: number;
}

export interface OracleSegment {
  startMs: number;
  endMs: number;
  /** Decoded as UTF-8 with replacement characters, as the addon's strings are. */
  text: string;
  tokens: OracleToken[];
}

export interface OracleRun {
  language: string;
  segments: OracleSegment[];
}

export interface OracleOptions {
  model: string;
  audio: string;
  threads: number;
  language: string;
  flashAttention: boolean;
  extraArgs?: string[];
}

// whisper-cli escapes only quotes and backslashes; control bytes inside strings would make
// the file invalid JSON. Reading it as latin1 keeps every byte as one char, and escaping
// control chars inside string literals makes it parseable without changing any content.
function parseLenientJson(raw: Buffer): unknown {
  const text = raw
    .toString('latin1')
    .replace(/"(?:[^"\\]|\\.)*"/gs, (literal) => literal.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return JSON.parse(text);
}

interface RawToken {
  text: string;
  id: number;
  p: number;
  offsets?: { from: number; to: number };
  t_dtw?: number;
}
interface RawSegment {
  offsets: { from: number; to: number };
  text: string;
  tokens: RawToken[];
}

export async function runWhisperCli(cli: string, options: OracleOptions): Promise<OracleRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-cli-run-'));
  try {
    const outBase = path.join(dir, 'out');
    await execFileAsync(
      cli,
      [
        '-m',
        options.model,
        '-f',
        options.audio,
        '-t',
        String(options.threads),
        '-l',
        options.language,
        '-bs',
        '1',
        '-tp',
        '0',
        '-nf',
        options.flashAttention ? '-fa' : '-nfa',
        '-ojf',
        '-of',
        outBase,
        '-np',
        ...(options.extraArgs ?? []),
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const json = parseLenientJson(fs.readFileSync(`${outBase}.json`)) as {
      result: { language: string };
      transcription: RawSegment[];
    };
    return {
      language: json.result.language,
      segments: json.transcription.map((segment) => ({
        startMs: segment.offsets.from,
        endMs: segment.offsets.to,
        text: Buffer.from(segment.text, 'latin1').toString('utf8'),
        tokens: segment.tokens.map((token) => ({
          text: Buffer.from(token.text, 'latin1'),
          id: token.id,
          p: token.p,
          ...(token.offsets ? { startMs: token.offsets.from, endMs: token.offsets.to } : {}),
          ...(token.t_dtw !== undefined && token.t_dtw > -1 ? { dtwMs: token.t_dtw * 10 } : {}),
        })),
      })),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes still needed to complete the last UTF-8 sequence in `bytes` (whisper-cli's rule). */
function trailingBytesNeeded(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue; // continuation byte
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return Math.max(0, length - back);
  }
  return 0;
}

/**
 * The addon's transcript in whisper-cli's JSON shape: adjacent tokens that together form
 * one UTF-8 character are merged (keeping the first id and the last end time), as
 * whisper-cli does before writing them.
 */
export function toOracleShape(transcript: Transcript, tokenTextBytes: (id: number) => Buffer): OracleSegment[] {
  return transcript.segments.map((segment) => {
    const merged: OracleToken[] = [];
    for (let j = 0; j < segment.tokens.length;) {
      const first = segment.tokens[j];
      let text = tokenTextBytes(first.id);
      let endMs = first.endMs;
      j++;
      while (j < segment.tokens.length && trailingBytesNeeded(text) > 0) {
        const next = segment.tokens[j];
        text = Buffer.concat([text, tokenTextBytes(next.id)]);
        if (next.endMs !== undefined && next.endMs > -1) endMs = next.endMs;
        j++;
      }
      merged.push({
        text,
        id: first.id,
        // whisper-cli prints floats with six significant digits.
        p: Number(first.probability.toPrecision(6)),
        ...(first.startMs !== undefined && endMs !== undefined ? { startMs: first.startMs, endMs } : {}),
        // whisper-cli keeps the first token's data for a merged character.
        ...(first.dtwMs !== undefined ? { dtwMs: first.dtwMs } : {}),
      });
    }
    return { startMs: segment.startMs, endMs: segment.endMs, text: segment.text, tokens: merged };
  });
}

/** The addon's options equal to `whisper-cli -bs 1 -tp 0 -nf -ojf`: greedy, temperature 0, no fallback, token timestamps. */
export function cliParityOptions(threads: number): TranscribeOptions {
  return { language: 'en', threads, strategy: 'greedy', temperature: 0, temperatureIncrement: 0, tokenTimestamps: true };
}
