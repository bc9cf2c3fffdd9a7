/**
 * The audio fuzzer (scripts/fuzz-audio.mjs) in small: mutated FLAC, MP3, Ogg Vorbis and M4A files
 * decoded in child processes through the built library, every failure a WhisperError and no
 * crash or hang. The harness itself is checked against a crash and a hang planted in the child,
 * so a run that reports none is known to be able to see one.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { audioFixtures } from '../support/audio-fixtures';
import { REPO_ROOT } from '../support/paths';
import { oggCrc } from '../support/pcm-pieces';

const execFileAsync = promisify(execFile);
const FUZZ = path.join(REPO_ROOT, 'scripts', 'fuzz-audio.mjs');
const CHILD = path.join(REPO_ROOT, 'test', 'support', 'audio-fuzz-child.cjs');

/**
 * The fuzzer's first crash (seed 1, vorbis-0092-duplicate-range.ogg), minimised to 131 bytes: an
 * identification page, then a comment header whose vendor string and comment count run past the
 * end of the input. stb_vorbis 1.22's start_decoder takes the count (about 1.2 billion) and the
 * lengths read past the end (-1) as given, writes comment_list[i][-1] and, failing, frees
 * comment_list entries it never set (upstream GHSL-2023-169 / CVE-2023-45679): glibc aborts with
 * "free(): invalid pointer", from a path and from bytes alike.
 */
const STB_VORBIS_COMMENT_CRASH = Buffer.from(
  '4f676753000200000000000000003ddfe683000000005ff76f97011e01766f72626973000000000244ac00000000000000f4010000000000b801' +
    '4f676753000000000000000000003ddfe68301000000e0487a081240ffffffffffffffffffffffffffffffff3c03766f726269730d0000004c61766635392e32020040082184145248',
  'hex',
);

interface FormatRow {
  files: number;
  decodes: number;
  ok: number;
  typed: Record<string, number>;
  untyped: number;
  crash: number;
  hang: number;
}

interface Failure {
  file: string;
  kind: 'crash' | 'hang';
  how: string;
  atExit?: boolean;
}

interface FuzzSummary {
  count: number;
  formats: Record<string, FormatRow>;
  untyped: Array<{ file: string; mode: string; message: string }>;
  failures: Failure[];
}

/** Runs the fuzzer and returns its exit status and the JSON summary it prints last. */
async function fuzz(args: string[]): Promise<{ status: number; summary: FuzzSummary; stdout: string }> {
  const argv = [FUZZ, '--fixtures', audioFixtures().dir, '--json', ...args];
  const result = await execFileAsync(process.execPath, argv, { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }).then(
    ({ stdout }) => ({ status: 0, stdout }),
    (error: Error & { code?: number; stdout?: string; stderr?: string }) => {
      if (typeof error.code !== 'number' || error.stdout === undefined) throw new Error(`fuzz-audio.mjs did not run: ${error.stderr ?? error.message}`);
      return { status: error.code, stdout: error.stdout };
    },
  );
  const last = result.stdout.trimEnd().split('\n').at(-1) ?? '';
  return { status: result.status, summary: JSON.parse(last) as FuzzSummary, stdout: result.stdout };
}

/** An Ogg Vorbis file whose comment header claims `count` comments, its page CRCs made right again (ffprobe reads it). */
function withCommentCount(ogg: Buffer, count: number): Buffer {
  const out = Buffer.from(ogg);
  const comment = out.indexOf('\x03vorbis', 0, 'latin1');
  out.writeUInt32LE(count, comment + 11 + out.readUInt32LE(comment + 7));
  for (let page = 0; page + 27 <= out.length && out.toString('latin1', page, page + 4) === 'OggS';) {
    const segments = out[page + 26]!;
    let length = 27 + segments;
    for (let i = 0; i < segments; i++) length += out[page + 27 + i]!;
    out.writeUInt32LE(0, page + 22);
    out.writeUInt32LE(oggCrc(out.subarray(page, page + length)), page + 22);
    page += length;
  }
  return out;
}

const typedCount = (row: FormatRow) => Object.values(row.typed).reduce((sum, n) => sum + n, 0);

describe('audio fuzzing', () => {
  it('300 mutated FLAC, MP3, Ogg Vorbis and M4A files: every failure typed, no crash, no hang', async () => {
    const { status, summary, stdout } = await fuzz(['--count', '300', '--seed', '7']);
    expect(summary.untyped, stdout).toEqual([]);
    expect(summary.failures, stdout).toEqual([]);
    expect(status, stdout).toBe(0);
    expect(summary.count).toBe(300);
    expect(Object.keys(summary.formats).sort()).toEqual(['flac', 'm4a', 'mp3', 'vorbis']);
    expect(summary.formats['m4a']!.files).toBe(30);
    for (const [format, row] of Object.entries(summary.formats)) {
      // Every file was decoded twice (path and bytes) and each decode is counted once.
      expect(row.decodes, format).toBe(2 * row.files);
      expect(row.ok + typedCount(row) + row.untyped, format).toBe(row.decodes);
      expect(row.crash + row.hang + row.untyped, format).toBe(0);
      // Both outcomes occur: mutations a decoder gets past, and ones it refuses.
      expect(row.ok, format).toBeGreaterThan(0);
      expect(typedCount(row), format).toBeGreaterThan(0);
      // Damaged input is INVALID_AUDIO; a NATIVE_ERROR would mean a C++ exception on the way.
      expect(Object.keys(row.typed), format).toEqual(['INVALID_AUDIO']);
    }
  });

  // Both used to kill the child; the addon now checks the headers before stb_vorbis reads them
  // (binding/vorbis_guard.cpp). Run in a child still, so a regression is a failure, not a crash of the suite.
  it('Vorbis comment headers that stb_vorbis 1.22 crashes on are INVALID_AUDIO (CVE-2023-45679, CVE-2023-45680)', async () => {
    const files = {
      'minimised.ogg': STB_VORBIS_COMMENT_CRASH,
      // The fuzzer's second (seed 2, vorbis-0439): all of jfk.ogg, valid but for 2^31 - 1 comments.
      // stb_vorbis's allocation of the list fails and its cleanup walks the null list: SIGSEGV.
      'comment-count.ogg': withCommentCount(fs.readFileSync(audioFixtures().file('jfk.ogg')), 0x7fffffff),
    };
    const outcomes: Record<string, unknown> = {};
    for (const [name, bytes] of Object.entries(files)) {
      const file = path.join(inject('workDir'), `stb-vorbis-${name}`);
      fs.writeFileSync(file, bytes);
      outcomes[name] = await execFileAsync(process.execPath, [CHILD, file], { timeout: 60_000 }).then(
        ({ stdout }) => JSON.parse(stdout.trim()) as unknown,
        (error: Error & { signal?: string }) => `died: ${error.signal ?? error.message}`,
      );
    }
    const typed = { outcome: 'typed', path: { code: 'INVALID_AUDIO' }, bytes: { code: 'INVALID_AUDIO' } };
    expect(outcomes).toMatchObject({ 'minimised.ogg': typed, 'comment-count.ogg': typed });
  });

  it('attributes a crash and a hang to the very files that caused them, and decodes the rest of their batches', async () => {
    // 24 files in batches of 8, formats interleaved: the crash is second in the second batch, the hang fourth in the third.
    const crashing = 'mp3-0002-overwrite.mp3';
    const hanging = 'vorbis-0005-remove-range.ogg';
    const { status, summary, stdout } = await fuzz([
      '--count',
      '24',
      '--seed',
      '3',
      '--batch',
      '8',
      '--hang-ms',
      '3000',
      '--startup-ms',
      '3000',
      '--crash-on',
      crashing,
      '--hang-on',
      hanging,
      // The planted failures are copied out as real ones would be: into the suite's own folder.
      '--out',
      path.join(inject('workDir'), 'planted-fuzz-failures'),
    ]);
    expect(status, stdout).toBe(1);
    const failures = summary.failures.map((failure) => ({ file: path.basename(failure.file), kind: failure.kind, how: failure.how }));
    expect(failures.sort((a, b) => a.file.localeCompare(b.file))).toEqual([
      { file: crashing, kind: 'crash', how: 'alone: killed by SIGABRT' },
      { file: hanging, kind: 'hang', how: 'alone: killed after 3000 ms without an answer' },
    ]);
    const rows = Object.values(summary.formats);
    expect(rows.reduce((sum, row) => sum + row.files, 0)).toBe(24);
    expect(rows.reduce((sum, row) => sum + row.crash, 0)).toBe(1);
    expect(rows.reduce((sum, row) => sum + row.hang, 0)).toBe(1);
    // The 22 other files, including those after the crash and the hang in their batches, were all decoded.
    expect(rows.reduce((sum, row) => sum + row.decodes, 0)).toBe(2 * 22);
    expect(summary.untyped).toEqual([]);
    expect(fs.readdirSync(path.join(inject('workDir'), 'planted-fuzz-failures')).sort()).toEqual([crashing, hanging]);
  });
});
