/** `whisper-napi transcribe`: one audio file (or stdin) to text, or to the whole transcript as JSON. */
import { parseArgs } from 'node:util';
import { loadModel } from '../../model/whisper-model';
import { setLogger } from '../../native/system';
import type { TranscribeOptions } from '../../transcription/options';
import { intOption, usageError, type Command } from '../command';

export const transcribeCommand: Command = {
  name: 'transcribe',
  usage: `  whisper-napi transcribe <audio file | -> --model <model.bin> [options]
      <audio file>         WAV, FLAC, MP3, Ogg Vorbis; anything else ffmpeg reads (Opus,
                           M4A, WebM, video, ...) when ffmpeg is installed. - reads stdin.
      --ffmpeg <path>      the ffmpeg executable (default: $WHISPER_NAPI_FFMPEG, or PATH)
      --json               print the whole transcript as JSON
      --language <code>    e.g. en, de, or auto (default)
      --translate          translate to English
      --threads <n>        CPU threads
      --beam-size <n>      beam search with n beams
      --token-timestamps   per-token times (in --json output)
      --cpu                do not use a GPU
      --verbose            print whisper.cpp's log to stderr`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        model: { type: 'string', short: 'm' },
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
    if (positionals.length !== 1) usageError('transcribe needs exactly one audio file');
    if (!values.model) usageError('transcribe needs --model <path>');
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
    // '-' is the audio on stdin, decoded as it arrives (e.g. `curl … | whisper-napi transcribe -`).
    const audio = positionals[0] === '-' ? process.stdin : positionals[0]!;
    const model = await loadModel(values.model, { gpu: !values.cpu });
    try {
      const transcript = await model.transcribe(audio, options);
      process.stdout.write(values.json ? `${JSON.stringify(transcript, null, 2)}\n` : `${transcript.text}\n`);
    } finally {
      await model.dispose();
    }
  },
};
