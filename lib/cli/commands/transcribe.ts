/** `whisper-napi transcribe`: audio files (or stdin) to text, subtitles or JSON, on stdout or into a folder. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WhisperError } from '../../errors/whisper-error';
import { loadModel, type WhisperModel } from '../../model/whisper-model';
import { setLogger } from '../../native/system';
import { formatTranscript, TRANSCRIPT_FORMATS, type TranscriptFormat } from '../../transcription/formats';
import type { TranscribeOptions } from '../../transcription/options';
import { intOption, usageError, type Command } from '../command';

export const transcribeCommand: Command = {
  name: 'transcribe',
  usage: `  whisper-napi transcribe <audio file...|-> --model <model.bin> [options]
      <audio file>         WAV, FLAC, MP3, Ogg Vorbis; anything else ffmpeg reads (Opus,
                           M4A, WebM, video, ...) when ffmpeg is installed. - reads stdin.
      -o, --output-format <list>
                           ${TRANSCRIPT_FORMATS.join(', ')} (comma-separated; default txt)
      --output-dir <dir>   write <dir>/<file name>.<format> instead of printing to stdout
      --json               the same as -o json
      --language <code>    e.g. en, de, or auto (default)
      --translate          translate to English
      --threads <n>        CPU threads
      --beam-size <n>      beam search with n beams
      --token-timestamps   per-token times (in json output)
      --ffmpeg <path>      the ffmpeg executable (default: $WHISPER_NAPI_FFMPEG, or PATH)
      --cpu                do not use a GPU
      --verbose            print whisper.cpp's log to stderr`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        model: { type: 'string', short: 'm' },
        'output-format': { type: 'string', short: 'o' },
        'output-dir': { type: 'string' },
        json: { type: 'boolean' },
        language: { type: 'string', short: 'l' },
        translate: { type: 'boolean' },
        threads: { type: 'string', short: 't' },
        'beam-size': { type: 'string' },
        'token-timestamps': { type: 'boolean' },
        cpu: { type: 'boolean' },
        verbose: { type: 'boolean' },
        ffmpeg: { type: 'string' },
      },
    });
    if (positionals.length === 0) usageError('transcribe needs at least one audio file (or - for stdin)');
    if (positionals.filter((p) => p === '-').length > 1) usageError('stdin (-) can be read only once');
    if (!values.model) usageError('transcribe needs --model <path>');
    const formats = outputFormats(values['output-format'], values.json);
    if (values.verbose) setLogger((level, message) => process.stderr.write(`[${level}] ${message}\n`));
    const beamSize = intOption('beam-size', values['beam-size']);
    const options: TranscribeOptions = {
      language: values.language,
      translate: values.translate,
      threads: intOption('threads', values.threads),
      tokenTimestamps: values['token-timestamps'],
      ...(beamSize !== undefined ? { strategy: 'beam' as const, beamSize } : {}),
      ...(values.ffmpeg !== undefined ? { audio: { ffmpegPath: values.ffmpeg } } : {}),
    };
    const outputDir = values['output-dir'];
    if (outputDir !== undefined) await fs.mkdir(outputDir, { recursive: true });
    const model = await loadModel(values.model, { gpu: !values.cpu });
    let failed = 0;
    try {
      for (const input of positionals) {
        // One file failing is reported and the others still run; the exit code says so.
        const ok = await transcribeOne(model, input, options, formats, outputDir);
        if (!ok) failed++;
      }
    } finally {
      await model.dispose();
    }
    if (failed > 0) process.exitCode = 1;
  },
};

function outputFormats(list: string | undefined, json: boolean | undefined): TranscriptFormat[] {
  const names = list === undefined ? [json ? 'json' : 'txt'] : list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(TRANSCRIPT_FORMATS as readonly string[]).includes(name)) usageError(`--output-format: "${name}" is not one of ${TRANSCRIPT_FORMATS.join(', ')}`);
  }
  if (json && !names.includes('json')) names.push('json');
  return [...new Set(names)] as TranscriptFormat[];
}

async function transcribeOne(
  model: WhisperModel,
  input: string,
  options: TranscribeOptions,
  formats: TranscriptFormat[],
  outputDir: string | undefined,
): Promise<boolean> {
  // '-' is the audio on stdin, decoded as it arrives (e.g. `curl … | whisper-napi transcribe -`).
  const audio = input === '-' ? process.stdin : input;
  let transcript;
  try {
    transcript = await model.transcribe(audio, options);
  } catch (error) {
    if (!(error instanceof WhisperError)) throw error;
    process.stderr.write(`whisper-napi: ${input === '-' ? 'stdin' : input}: ${error.code}: ${error.message}\n`);
    return false;
  }
  for (const format of formats) {
    // On a terminal, plain text is the transcript's text; a .txt file is whisper-cli's (a line per segment).
    const text = format === 'txt' && outputDir === undefined ? `${transcript.text}\n` : formatTranscript(transcript, format);
    if (outputDir === undefined) {
      process.stdout.write(text);
      continue;
    }
    const base = input === '-' ? 'stdin' : path.basename(input, path.extname(input));
    await fs.writeFile(path.join(outputDir, `${base}.${format}`), text);
  }
  return true;
}
