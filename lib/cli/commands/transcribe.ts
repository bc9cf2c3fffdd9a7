/** `whisper-napi transcribe`: audio files (or stdin) to text, subtitles or JSON, on stdout or into a folder. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import { loadModel, type WhisperModel } from '../../model/whisper-model';
import { setLogger } from '../../native/system';
import { formatTranscript, TRANSCRIPT_FORMATS, type SubtitleOptions, type TranscriptFormat } from '../../transcription/formats';
import type { LoadModelOptions, TranscribeOptions, Windowing } from '../../transcription/options';
import type { Transcript } from '../../transcription/transcript';
import { parseCommandArgs } from '../args';
import { intOption, usageError, type Command } from '../command';
import { describeFailure, errorLine } from '../errors';
import { DEFAULT_VAD_NAME, resolveModelArgument, statedDurationMs } from '../model-argument';
import { progressMode, TranscriptionProgress, type ProgressMode } from '../progress';

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  'output-format': { type: 'string', short: 'o' },
  'output-dir': { type: 'string' },
  json: { type: 'boolean' },
  language: { type: 'string', short: 'l' },
  translate: { type: 'boolean' },
  'word-timestamps': { type: 'boolean' },
  'token-timestamps': { type: 'boolean' },
  vad: { type: 'string' },
  windowing: { type: 'string' },
  'audio-context': { type: 'string' },
  'beam-size': { type: 'string' },
  threads: { type: 'string', short: 't' },
  'max-line-length': { type: 'string' },
  'max-line-count': { type: 'string' },
  'keep-non-speech': { type: 'boolean' },
  download: { type: 'boolean' },
  'models-dir': { type: 'string' },
  ffmpeg: { type: 'string' },
  cpu: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  progress: { type: 'boolean' },
} as const;

/** Bare --vad (no value after it) means the catalogue's Silero model; this stands in for it while parsing. */
const BARE_VAD = '\0default';

export const transcribeCommand: Command = {
  name: 'transcribe',
  synopsis: 'transcribe <audio...|-> -m <model>',
  summary: 'audio files (or stdin) to text, subtitles or JSON',
  usage: `Usage: whisper-napi transcribe <audio file...|-> -m <name|model.bin> [options]

  <audio file>            WAV, FLAC, MP3, Ogg Vorbis; anything else ffmpeg reads (Opus, M4A,
                          WebM, video, ...) when ffmpeg is installed. - reads stdin. Several
                          files run one after another; one that fails is reported and the
                          others still run (exit code 1).

Model:
  -m, --model <name|path> a model file, or a name from \`whisper-napi models list\` (base.en,
                          large-v3-turbo-q8_0, ...) found in the model cache
  --download              download a named model (or VAD model) that is not cached yet
  --models-dir <dir>      the model cache (default: $WHISPER_NAPI_MODELS, or
                          ~/.cache/whisper-napi/models)
  --cpu                   do not use a GPU

Output:
  -o, --output-format <list>
                          ${TRANSCRIPT_FORMATS.join(', ')} (comma-separated; default txt)
  --output-dir <dir>      write <dir>/<audio name>.<format> instead of printing to stdout
  --json                  one JSON line per file on stdout: {"file", "transcript"} or
                          {"file", "error": {"code", "message"}} (with --output-dir also "outputs")
  --max-line-length <n>   srt/vtt: wrap cue text at n characters, on words
  --max-line-count <n>    srt/vtt: at most n lines per cue (longer segments become more cues)

Transcription:
  -l, --language <code>   en, de, ... or auto (default: detect it)
  --translate             translate to English
  --word-timestamps       words[] with times and probabilities in every segment (json,
                          verbose_json); loads the model with DTW alignment
  --token-timestamps      per-token times (json)
  --vad [<name|path.bin>] Silero voice activity detection first: the catalogue's
                          ${DEFAULT_VAD_NAME} when no model follows, or a VAD name or .bin path
                          (write --vad=<value> for anything else)
  --windowing <mode>      how audio over 30 s (not read whole) is split: sequential (default;
                          each window after the one before, cut in a pause) or parallel
                          (needs --vad: the speech is packed into 30 s windows, the silence
                          left out, and the windows run at once on as many whisper states as
                          memory and cores allow)
  --audio-context <n|auto>
                          encoder context in 20 ms frames (default: the model's 1500);
                          auto fits it to each clip (faster on short clips; a result that
                          went wrong is decoded again with the full context)
  --keep-non-speech       keep segments that are only [BLANK_AUDIO], (music) and the like
  --beam-size <n>         beam search with n beams (1..8)
  -t, --threads <n>       CPU threads
  --ffmpeg <path>         the ffmpeg executable (default: $WHISPER_NAPI_FFMPEG, or PATH)

Progress and messages (all on stderr):
  -q, --quiet             no progress
  --progress              progress as plain lines when stderr is not a terminal (a terminal
                          always gets a bar: percent, audio done, speed, ETA)
  --verbose               whisper.cpp's log, and the stack of an error (progress then
                          comes as plain lines)
  -h, --help              this help

Exit codes: 0 all files done, 1 a file or the model failed, 2 a usage mistake, 130 Ctrl-C.`,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(markBareVad(args), OPTIONS);
    if (positionals.length === 0) usageError('transcribe needs at least one audio file (or - for stdin)');
    if (positionals.filter((p) => p === '-').length > 1) usageError('stdin (-) can be read only once');
    // Reading audio from a keyboard would wait forever.
    if (positionals.includes('-') && process.stdin.isTTY)
      usageError('- reads audio from stdin, which is a terminal here: pipe the audio in (e.g. `curl … | whisper-napi transcribe - -m base.en`)');
    if (values.model === undefined || values.model === '') usageError('transcribe needs -m <model name or path>');
    const outputDir = values['output-dir'];
    const json = values.json === true;
    if (json && values['output-format'] !== undefined && outputDir === undefined) {
      usageError('--json prints JSON lines on stdout; write the -o formats into files with --output-dir');
    }
    const formats = outputFormats(values['output-format'], json, outputDir);
    const subtitles: SubtitleOptions = {
      maxLineLength: intOption('max-line-length', values['max-line-length'], 1),
      maxLineCount: intOption('max-line-count', values['max-line-count'], 1),
    };
    const beamSize = intOption('beam-size', values['beam-size'], 1);
    const threads = intOption('threads', values.threads, 1);
    const mode = progressMode(values);
    const download = values.download === true;
    const modelsDir = values['models-dir'];
    if (values.verbose) setLogger((level, message) => process.stderr.write(`[${level}] ${message}\n`));

    const windowing = windowingOption(values.windowing, values.vad !== undefined);
    const audioContext = audioContextOption(values['audio-context']);
    const vadValue = values.vad === BARE_VAD ? DEFAULT_VAD_NAME : values.vad;
    const vadPath =
      vadValue === undefined ? undefined : await resolveModelArgument(vadValue, { kind: 'vad', option: '--vad', download, modelsDir, mode, signal: context.signal });
    const modelPath = await resolveModelArgument(values.model, { kind: 'whisper', option: '-m', download, modelsDir, mode, signal: context.signal });
    const wordTimestamps = values['word-timestamps'] === true;
    const options: TranscribeOptions = {
      language: values.language,
      translate: values.translate,
      threads,
      tokenTimestamps: values['token-timestamps'],
      signal: context.signal,
      ...(wordTimestamps ? { wordTimestamps } : {}),
      ...(values['keep-non-speech'] ? { keepNonSpeech: true } : {}),
      ...(beamSize !== undefined ? { strategy: 'beam' as const, beamSize } : {}),
      ...(vadPath !== undefined ? { vad: { modelPath: vadPath } } : {}),
      ...(windowing !== undefined ? { windowing } : {}),
      ...(audioContext !== undefined ? { audioContext } : {}),
      ...(values.ffmpeg !== undefined ? { audio: { ffmpegPath: values.ffmpeg } } : {}),
    };
    if (outputDir !== undefined) await fsp.mkdir(outputDir, { recursive: true });
    // Parallel windows need states to run on: as many as the planner finds room for.
    const loadOptions: LoadModelOptions = {
      gpu: !values.cpu,
      ...(wordTimestamps ? { wordTimestamps: true } : {}),
      ...(windowing === 'parallel' ? { concurrency: 'auto' as const } : {}),
    };
    const model = await loadModel(modelPath, loadOptions);
    let failed = 0;
    try {
      for (const input of positionals) {
        if (context.signal.aborted) break;
        const ok = await transcribeOne(model, input, { options, formats, subtitles, outputDir, json, mode, verbose: values.verbose === true });
        if (!ok) failed++;
      }
    } finally {
      await model.dispose();
    }
    if (failed > 0) process.exitCode = 1;
  },
};

/**
 * `--vad` followed by a VAD name or a .bin path takes it as its value; anything else after it
 * (an audio file, an option, nothing) leaves it bare, so `--vad talk.wav` still reads talk.wav.
 */
function markBareVad(args: string[]): string[] {
  const end = args.indexOf('--');
  return args.map((arg, i) => {
    if (arg !== '--vad' || (end !== -1 && i > end)) return arg;
    const next = args[i + 1];
    const takesNext = next !== undefined && (end === -1 || i + 1 < end) && !next.startsWith('-') && (next.endsWith('.bin') || next.startsWith('silero'));
    return takesNext ? arg : `--vad=${BARE_VAD}`;
  });
}

/** --audio-context's value: auto, or a number of frames that transcribe() checks against the model. */
function audioContextOption(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value;
  if (!/^\d+$/.test(value)) usageError(`--audio-context expects auto or a number of frames, got "${value}"`);
  return Number(value);
}

/** --windowing's value; parallel windows are planned by Silero, so they need --vad. */
function windowingOption(value: string | undefined, vad: boolean): Windowing | undefined {
  if (value === undefined) return undefined;
  if (value !== 'sequential' && value !== 'parallel') usageError(`--windowing expects sequential or parallel, got "${value}"`);
  if (value === 'parallel' && !vad) usageError('--windowing parallel needs --vad: its windows are planned from Silero VAD');
  return value;
}

function outputFormats(list: string | undefined, json: boolean, outputDir: string | undefined): TranscriptFormat[] {
  // --json alone: its lines are the output; with --output-dir (and no -o), each file's .json as well.
  if (json && list === undefined) return outputDir === undefined ? [] : ['json'];
  const names = list === undefined ? ['txt'] : list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(TRANSCRIPT_FORMATS as readonly string[]).includes(name)) usageError(`--output-format: "${name}" is not one of ${TRANSCRIPT_FORMATS.join(', ')}`);
  }
  return [...new Set(names)] as TranscriptFormat[];
}

/** The file name a format is written under: verbose_json is JSON too, beside the plain one. */
function outputFileName(base: string, format: TranscriptFormat): string {
  return format === 'verbose_json' ? `${base}.verbose.json` : `${base}.${format}`;
}

interface Run {
  options: TranscribeOptions;
  formats: TranscriptFormat[];
  subtitles: SubtitleOptions;
  outputDir: string | undefined;
  json: boolean;
  mode: ProgressMode;
  verbose: boolean;
}

async function transcribeOne(model: WhisperModel, input: string, run: Run): Promise<boolean> {
  const label = input === '-' ? 'stdin' : input;
  const durationMs = input === '-' || run.mode === 'off' ? undefined : await statedDurationMs(input);
  const progress = new TranscriptionProgress(run.mode, path.basename(label), durationMs);
  // '-' is the audio on stdin, decoded as it arrives (e.g. `curl … | whisper-napi transcribe -`).
  const audio = input === '-' ? process.stdin : input;
  let transcript: Transcript;
  try {
    transcript = await model.transcribe(audio, {
      ...run.options,
      ...(run.mode === 'off' ? {} : { onProgress: (percent) => progress.onProgress(percent), onSegment: (segment) => progress.onSegment(segment.endMs) }),
    });
    progress.done(transcript.audioDurationMs);
  } catch (error) {
    progress.failed();
    if (!(error instanceof WhisperError)) throw error;
    process.stderr.write(errorLine(error, run.verbose, label));
    if (run.json) process.stdout.write(`${JSON.stringify({ file: label, error: describeFailure(error) })}\n`);
    return false;
  }
  const outputs: string[] = [];
  try {
    for (const format of run.formats) {
      // On a terminal, plain text is the transcript's text; a .txt file is whisper-cli's (a line per segment).
      const text = format === 'txt' && run.outputDir === undefined ? `${transcript.text}\n` : formatTranscript(transcript, format, run.subtitles);
      if (run.outputDir === undefined) {
        process.stdout.write(text);
        continue;
      }
      const base = input === '-' ? 'stdin' : path.basename(input, path.extname(input));
      const file = path.join(run.outputDir, outputFileName(base, format));
      await fsp.writeFile(file, text);
      outputs.push(file);
    }
  } catch (error) {
    process.stderr.write(errorLine(error, run.verbose, label));
    if (run.json) process.stdout.write(`${JSON.stringify({ file: label, error: describeFailure(error) })}\n`);
    return false;
  }
  if (run.json) process.stdout.write(`${JSON.stringify({ file: label, transcript, ...(run.outputDir !== undefined ? { outputs } : {}) })}\n`);
  return true;
}
