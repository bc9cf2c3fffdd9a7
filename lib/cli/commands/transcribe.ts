/** `whisper-napi transcribe`: one audio file to text, or to the whole transcript as JSON. */
import { parseArgs } from 'node:util';
import { loadModel } from '../../model/whisper-model';
import { setLogger } from '../../native/system';
import type { TranscribeOptions } from '../../transcription/options';
import { intOption, usageError, type Command } from '../command';

export const transcribeCommand: Command = {
  name: 'transcribe',
  usage: `  whisper-napi transcribe <audio.wav> --model <model.bin> [options]
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
    };
    const model = await loadModel(values.model, { gpu: !values.cpu });
    try {
      const transcript = await model.transcribe(positionals[0], options);
      process.stdout.write(values.json ? `${JSON.stringify(transcript, null, 2)}\n` : `${transcript.text}\n`);
    } finally {
      await model.dispose();
    }
  },
};
