/**
 * formatTranscript against whisper-cli's own writers: the same model, audio and parameters,
 * and our srt, vtt, lrc and txt must be its -osrt, -ovtt, -olrc and -otxt files byte for byte;
 * our tsv must hold the rows of its -ocsv.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getLanguages, loadModel, type WhisperModel } from '../../lib';
import { formatTranscript } from '../../lib/transcription/formats';
import type { Transcript } from '../../lib/transcription/transcript';
import { LANGUAGE_NAMES } from '../../lib/transcription/languages';
import type { VerboseJson } from '../../lib/transcription/verbose-json';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { cliParityOptions } from '../support/whisper-cli';

const execFileAsync = promisify(execFile);
const THREADS = 2;
const LIBRIVOX = path.join(SHARED, 'audio', 'librivox');
const LIBRIVOX_CLIP = path.join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0870.wav');

interface CliFiles {
  srt: Buffer;
  vtt: Buffer;
  lrc: Buffer;
  txt: Buffer;
  csv: Buffer;
}

/** whisper-cli with the arguments runWhisperCli uses (so cliParityOptions match), writing its text formats. */
async function runCliWriters(cli: string, model: string, audio: string): Promise<CliFiles> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-cli-formats-'));
  try {
    const out = path.join(dir, 'out');
    const args = ['-m', model, '-f', audio, '-t', String(THREADS), '-l', 'en', '-bs', '1', '-tp', '0', '-nf', '-fa', '-ojf'];
    await execFileAsync(cli, [...args, '-osrt', '-ovtt', '-olrc', '-otxt', '-ocsv', '-of', out, '-np'], { maxBuffer: 64 * 1024 * 1024 });
    const read = (ext: string) => fs.readFileSync(`${out}.${ext}`);
    return { srt: read('srt'), vtt: read('vtt'), lrc: read('lrc'), txt: read('txt'), csv: read('csv') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  startMs: number;
  endMs: number;
  text: string;
}

/** whisper-cli's CSV: a start,end,text header, then integer ms and the text in quotes, a quote doubled. */
function parseCliCsv(csv: string): Row[] {
  expect(csv.startsWith('start,end,text\n')).toBe(true);
  const rows: Row[] = [];
  const row = /(\d+),(\d+),"((?:[^"]|"")*)"\n/gy;
  let parsed = 'start,end,text\n'.length;
  row.lastIndex = parsed;
  let match: RegExpExecArray | null;
  while ((match = row.exec(csv)) !== null) {
    rows.push({ startMs: Number(match[1]), endMs: Number(match[2]), text: match[3].replaceAll('""', '"') });
    parsed = row.lastIndex;
  }
  expect(parsed, 'the whole CSV parsed').toBe(csv.length);
  return rows;
}

function parseTsv(tsv: string): Row[] {
  const [header, ...lines] = tsv.split('\n');
  expect(header).toBe('start\tend\ttext');
  expect(lines.pop()).toBe('');
  return lines.map((line) => {
    const [start, end, text, ...rest] = line.split('\t');
    expect(rest).toEqual([]);
    return { startMs: Number(start), endMs: Number(end), text };
  });
}

/** Transcribes `clip` with our model and with whisper-cli, and compares every format; returns our transcript. */
async function expectCliFiles(model: WhisperModel, modelPath: string, cli: string, clip: string): Promise<Transcript> {
  // One after the other: ggml's threads spin while waiting on a small machine.
  // whisper-cli writes non-speech markers too, so ours are kept for the same transcript.
  const ours = await model.transcribe(clip, { ...cliParityOptions(THREADS), keepNonSpeech: true });
  const theirs = await runCliWriters(cli, modelPath, clip);
  expect(ours.segments.length).toBeGreaterThan(0);

  for (const format of ['srt', 'vtt', 'lrc', 'txt'] as const) {
    const written = Buffer.from(formatTranscript(ours, format), 'utf8');
    // As text first, for a readable diff; then the bytes, which are what must match.
    expect(written.toString('utf8'), format).toBe(theirs[format].toString('utf8'));
    expect(written.equals(theirs[format]), `${format} bytes`).toBe(true);
  }

  const csvRows = parseCliCsv(theirs.csv.toString('utf8'));
  expect(csvRows).toHaveLength(ours.segments.length);
  const expected = csvRows.map((row) => ({ ...row, text: row.text.replace(/[\t\r\n]/g, ' ').trim() }));
  expect(parseTsv(formatTranscript(ours, 'tsv'))).toEqual(expected);
  return ours;
}

describe('formatTranscript equals whisper-cli output files', () => {
  const cli = inject('whisperCli');
  const workDir = inject('workDir');
  // Every librivox clip in one WAV (24.7 s, under one 30 s window, so both sides decode it the
  // same way): several segments with real punctuation and hyphens.
  const librivoxJoined = path.join(workDir, 'formats-librivox-joined.wav');

  beforeAll(async () => {
    const clips = fs.readdirSync(LIBRIVOX).filter((name) => name.endsWith('.wav'));
    await execFileAsync('sox', [...clips.sort().map((name) => path.join(LIBRIVOX, name)), librivoxJoined]);
  });

  describe('synthetic tiny.en', () => {
    const modelPath = inject('syntheticTinyEn');
    let model: WhisperModel;
    beforeAll(async () => {
      model = await loadModel(modelPath, { flashAttention: true });
    });
    afterAll(() => model?.dispose());

    for (const clip of [JFK_WAV, LIBRIVOX_CLIP]) {
      it(`${path.basename(clip)}: srt, vtt, lrc and txt byte for byte, tsv the csv's rows`, async () => {
        await expectCliFiles(model, modelPath, cli, clip);
      });
    }
  });

  // The random-weight model writes the same short text in every segment; the real base model
  // gives whisper's own texts (a leading space, punctuation), so the writers are tested on them.
  describe('real base q8_0', () => {
    const modelPath = realModels().models.base.files.q8_0.path;
    let model: WhisperModel;
    beforeAll(async () => {
      model = await loadModel(modelPath, { flashAttention: true });
    });
    afterAll(() => model?.dispose());

    for (const clip of [JFK_WAV, LIBRIVOX_CLIP]) {
      it(`${path.basename(clip)}: every format as whisper-cli writes it`, async () => {
        const ours = await expectCliFiles(model, modelPath, cli, clip);
        expect(ours.segments[0].text).toMatch(/^ [A-Z]/);
      });
    }

    it("jfk.wav as verbose_json: OpenAI's fields from the real decode", async () => {
      const ours = await model.transcribe(JFK_WAV, cliParityOptions(THREADS));
      const json = JSON.parse(formatTranscript(ours, 'verbose_json')) as VerboseJson;
      expect(json).toMatchObject({ task: 'transcribe', language: 'english', duration: 11, text: ours.text });
      expect(json).not.toHaveProperty('words');
      expect(json.segments).toHaveLength(ours.segments.length);
      for (const [i, segment] of json.segments.entries()) {
        const source = ours.segments[i];
        expect(segment).toMatchObject({ id: i, seek: 0, start: source.startMs / 1000, end: source.endMs / 1000, text: source.text, temperature: 0 });
        expect(segment.tokens).toEqual(source.tokens.map((t) => t.id));
        // clear speech: confident and not repetitive, as OpenAI's thresholds read them
        expect(segment.avg_logprob).toBeLessThan(0);
        expect(segment.avg_logprob).toBeGreaterThan(-1);
        expect(segment.compression_ratio).toBeGreaterThan(1);
        expect(segment.compression_ratio).toBeLessThan(2.4);
        expect(segment.no_speech_prob).toBe(source.noSpeechProbability);
      }
      // the first segment opens with <|0.00|>, the multilingual vocabulary's timestamp_begin, as OpenAI's
      expect(json.segments[0].tokens[0]).toBe(50364);
    });

    it("languages.ts names every language the addon knows, as whisper.cpp's g_lang", () => {
      const native = getLanguages();
      expect(native).toHaveLength(Object.keys(LANGUAGE_NAMES).length);
      expect(Object.fromEntries(native.map(({ code, name }) => [code, name]))).toEqual(LANGUAGE_NAMES);
      expect(Object.keys(LANGUAGE_NAMES)).toEqual(native.map(({ code }) => code));
    });

    it('the joined librivox clips: several segments, every format as whisper-cli writes it', async () => {
      const ours = await expectCliFiles(model, modelPath, cli, librivoxJoined);
      expect(ours.segments.length).toBeGreaterThan(3);

      // Split into one-line cues, the real tokens time them: each inner boundary is a token's start.
      const tokenStarts = new Set(ours.segments.flatMap((s) => s.tokens.map((t) => t.startMs)));
      const vtt = formatTranscript(ours, 'vtt', { maxLineLength: 20, maxLineCount: 1 });
      const cues = [...vtt.matchAll(/^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.*)\n\n/gm)].map((m) => {
        const ms = (at: number) => ((Number(m[at]) * 60 + Number(m[at + 1])) * 60 + Number(m[at + 2])) * 1000 + Number(m[at + 3]);
        return { startMs: ms(1), endMs: ms(5), text: m[9] };
      });
      expect(cues.length).toBeGreaterThan(ours.segments.length * 2);
      const segmentEdges = new Set(ours.segments.flatMap((s) => [s.startMs, s.endMs]));
      for (const [i, cue] of cues.entries()) {
        expect(cue.text.length === 0 || cue.text.length <= 20 || !cue.text.includes(' ')).toBe(true);
        expect(cue.endMs).toBeGreaterThanOrEqual(cue.startMs);
        if (i > 0) expect(cue.startMs).toBeGreaterThanOrEqual(cues[i - 1].endMs);
        if (!segmentEdges.has(cue.startMs)) expect(tokenStarts.has(cue.startMs), `cue ${i} starts at a token`).toBe(true);
      }
      expect(cues.map((c) => c.text).join(' ')).toBe(ours.segments.map((s) => s.text.trim()).join(' '));
    });
  });
});
