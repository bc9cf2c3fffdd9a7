/**
 * Transcript writers: txt, srt, vtt and lrc as whisper-cli writes them (-otxt, -osrt, -ovtt,
 * -olrc), tsv as OpenAI's whisper writes it, json, and OpenAI's verbose_json.
 */
import { integerIn, optionsObject, pick, rejectUnknownKeys } from '../errors/validate';
import { checkedSegments, isTime } from './transcript-checks';
import { invalidArgument } from '../errors/whisper-error';
import type { Segment, Transcript } from './transcript';
import { resolveTask, verboseJson, type VerboseJsonOptions } from './verbose-json';

export type TranscriptFormat = 'txt' | 'srt' | 'vtt' | 'json' | 'verbose_json' | 'tsv' | 'lrc';

export const TRANSCRIPT_FORMATS: readonly TranscriptFormat[] = Object.freeze(['txt', 'srt', 'vtt', 'json', 'verbose_json', 'tsv', 'lrc'] as const);

export interface SubtitleOptions {
  /** srt/vtt only: wrap a cue's text at this many characters, splitting on words (a word longer than it stays whole). Default: no wrapping (as whisper-cli). */
  maxLineLength?: number;
  /** srt/vtt only: at most this many lines per cue; a longer segment is split into several cues, its time shared out in proportion to characters (or by token times when the tokens carry startMs/endMs). Default: no limit. */
  maxLineCount?: number;
}

/** formatTranscript's options: the subtitle layout for srt and vtt, the task for verbose_json. */
export interface FormatOptions extends SubtitleOptions, VerboseJsonOptions {}

const FORMAT_OPTION_KEYS: ReadonlySet<string> = new Set(['maxLineLength', 'maxLineCount', 'task']);
const LINE_LIMIT = integerIn(1, 1000);

interface Cue {
  startMs: number;
  endMs: number;
  text: string;
}

/**
 * The transcript as text in `format`. Without options, txt, srt, vtt and lrc are byte-identical
 * to whisper-cli's -otxt, -osrt, -ovtt and -olrc (segment texts as whisper gives them, leading
 * space included), except that vtt writes a `-->` inside a text as `--&gt;`, since WebVTT reads
 * that arrow as the start of a new cue. tsv is OpenAI whisper's: a `start\tend\ttext` header,
 * integer milliseconds, the text trimmed with tabs and line breaks made spaces (the same rows as
 * whisper-cli's -ocsv, in another notation). json is the Transcript itself, indented by two;
 * verbose_json is toVerboseJson's object (OpenAI's shape), indented by two. `maxLineLength` and
 * `maxLineCount` shape srt and vtt cues, `task` is verbose_json's; each format accepts and
 * ignores the others' options.
 */
export function formatTranscript(transcript: Transcript, format: TranscriptFormat, options?: FormatOptions): string {
  if (typeof format !== 'string' || !(TRANSCRIPT_FORMATS as readonly string[]).includes(format)) {
    throw invalidArgument('format', `one of ${TRANSCRIPT_FORMATS.join(', ')}`, format);
  }
  const o = optionsObject('options', options);
  rejectUnknownKeys('options', o, FORMAT_OPTION_KEYS);
  const layout = resolveSubtitleOptions(o);
  const task = resolveTask(o);
  const segments = checkedSegments(transcript);
  switch (format) {
    case 'txt':
      return segments.map((segment) => `${segment.text}\n`).join('');
    case 'srt':
      return subtitleCues(segments, layout)
        .map((cue, i) => `${i + 1}\n${clockTime(cue.startMs, ',')} --> ${clockTime(cue.endMs, ',')}\n${cue.text}\n\n`)
        .join('');
    case 'vtt':
      return `WEBVTT\n\n${subtitleCues(segments, layout)
        .map((cue) => `${clockTime(cue.startMs, '.')} --> ${clockTime(cue.endMs, '.')}\n${cue.text.replaceAll('-->', '--&gt;')}\n\n`)
        .join('')}`;
    case 'lrc':
      return `[by:whisper.cpp]\n${segments.map((segment) => `[${lyricTime(segment.startMs)}]${segment.text}\n`).join('')}`;
    case 'tsv':
      return `start\tend\ttext\n${segments.map((segment) => `${Math.round(segment.startMs)}\t${Math.round(segment.endMs)}\t${segment.text.replace(/[\t\r\n]/g, ' ').trim()}\n`).join('')}`;
    case 'json':
      return `${JSON.stringify(transcript, null, 2)}\n`;
    case 'verbose_json':
      return `${JSON.stringify(verboseJson(transcript, task), null, 2)}\n`;
  }
}

interface SubtitleLayout {
  maxLineLength: number | undefined;
  maxLineCount: number | undefined;
}

function resolveSubtitleOptions(o: Record<string, unknown>): SubtitleLayout {
  return {
    maxLineLength: pick<number | undefined>(o, 'maxLineLength', LINE_LIMIT, undefined),
    maxLineCount: pick<number | undefined>(o, 'maxLineCount', LINE_LIMIT, undefined),
  };
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** whisper-cli's to_timestamp: HH:MM:SS,mmm (srt) or HH:MM:SS.mmm (vtt); hours do not wrap. */
function clockTime(ms: number, separator: ',' | '.'): string {
  const total = Math.round(ms);
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}${separator}${pad(total % 1000, 3)}`;
}

/** whisper-cli's lrc time, MM:SS.cc: minutes go past 59 rather than into hours. */
function lyricTime(ms: number): string {
  const centiseconds = Math.round(ms / 10);
  const minutes = Math.floor(centiseconds / 6000);
  const seconds = Math.floor((centiseconds % 6000) / 100);
  return `${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(centiseconds % 100, 2)}`;
}

function subtitleCues(segments: readonly Segment[], layout: SubtitleLayout): Cue[] {
  // Without options the text goes out untouched, as whisper-cli writes it.
  if (layout.maxLineLength === undefined && layout.maxLineCount === undefined) {
    return segments.map((segment) => ({ startMs: segment.startMs, endMs: segment.endMs, text: segment.text }));
  }
  return segments.flatMap((segment) => segmentCues(segment, layout));
}

interface Word {
  text: string;
  /** Where the word starts in the segment's text, in UTF-16 units. */
  offset: number;
}

function segmentCues(segment: Segment, layout: SubtitleLayout): Cue[] {
  const words: Word[] = [...segment.text.matchAll(/\S+/g)].map((match) => ({ text: match[0], offset: match.index }));
  if (words.length === 0) return [{ startMs: segment.startMs, endMs: segment.endMs, text: '' }];
  const lines = wrapWords(words, layout.maxLineLength ?? Infinity);
  const perCue = layout.maxLineCount ?? lines.length;
  const groups: Word[][][] = [];
  for (let i = 0; i < lines.length; i += perCue) groups.push(lines.slice(i, i + perCue));
  if (groups.length === 1) return [{ startMs: segment.startMs, endMs: segment.endMs, text: linesText(groups[0]) }];

  const boundaries = cueBoundaries(segment, groups);
  return groups.map((group, i) => ({ startMs: boundaries[i], endMs: boundaries[i + 1], text: linesText(group) }));
}

/** Greedy wrapping: as many words on a line as fit in `width` characters (code points); a longer word gets a line of its own. */
function wrapWords(words: readonly Word[], width: number): Word[][] {
  const lines: Word[][] = [];
  let line: Word[] = [];
  let lineLength = 0;
  for (const word of words) {
    const length = characterCount(word.text);
    if (line.length > 0 && lineLength + 1 + length > width) {
      lines.push(line);
      line = [];
      lineLength = 0;
    }
    lineLength += (line.length > 0 ? 1 : 0) + length;
    line.push(word);
  }
  lines.push(line);
  return lines;
}

function linesText(lines: readonly Word[][]): string {
  return lines.map((line) => line.map((word) => word.text).join(' ')).join('\n');
}

function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The times between a segment's cues, from its start to its end and never decreasing: each
 * cue starts at the start time of the token its first word begins in when the tokens carry
 * times and spell the segment's text, otherwise the segment's span is shared out in
 * proportion to each cue's characters.
 */
function cueBoundaries(segment: Segment, groups: readonly Word[][][]): number[] {
  const firstWords = groups.map((group) => group[0][0]);
  const fromTokens = tokenStartTimes(segment, firstWords.slice(1));
  const span = segment.endMs - segment.startMs;
  let inner: number[];
  if (fromTokens !== undefined) {
    inner = fromTokens;
  } else {
    const sizes = groups.map((group) => characterCount(linesText(group)));
    const total = sizes.reduce((sum, size) => sum + size, 0);
    let before = 0;
    inner = sizes.slice(0, -1).map((size) => {
      before += size;
      return segment.startMs + Math.round((span * before) / total);
    });
  }
  const boundaries = [segment.startMs];
  for (const time of inner) boundaries.push(Math.min(segment.endMs, Math.max(boundaries[boundaries.length - 1], time)));
  boundaries.push(segment.endMs);
  return boundaries;
}

/** The start time of the token each word begins in, or undefined when the tokens cannot say. */
function tokenStartTimes(segment: Segment, words: readonly Word[]): number[] | undefined {
  const tokens = Array.isArray(segment.tokens) ? segment.tokens.filter((token) => !token.special) : [];
  if (tokens.length === 0 || tokens.some((token) => !isTime(token.startMs) || !isTime(token.endMs))) return undefined;
  if (tokens.map((token) => token.text).join('') !== segment.text) return undefined;
  const starts: number[] = [];
  let tokenIndex = 0;
  let tokenEnd = tokens[0].text.length;
  for (const word of words) {
    while (tokenEnd <= word.offset && tokenIndex < tokens.length - 1) {
      tokenIndex++;
      tokenEnd += tokens[tokenIndex].text.length;
    }
    starts.push(tokens[tokenIndex].startMs as number);
  }
  return starts;
}
