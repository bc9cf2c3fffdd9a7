#!/usr/bin/env node
/** whisper-napi command line: transcribe a file, inspect a model, list devices. */
import { parseArgs } from 'node:util';
import { loadModel } from './model';
import { inspectModelFile } from './model-file';
import { writeSyntheticModel } from './synthetic-model';
import { getDevices, getSystemInfo, setLogger } from './system';
import { WhisperError } from './errors';
import type { TranscribeOptions } from './options';

const USAGE = `Usage:
  whisper-napi transcribe <audio.wav> --model <model.bin> [options]
      --json               print the whole transcript as JSON
      --language <code>    e.g. en, de, or auto (default)
      --translate          translate to English
      --threads <n>        CPU threads
      --beam-size <n>      beam search with n beams
      --token-timestamps   per-token times (in --json output)
      --cpu                do not use a GPU
      --verbose            print whisper.cpp's log to stderr
  whisper-napi info <model.bin>            print a model file's header as JSON
  whisper-napi devices                     list compute devices and build info
  whisper-napi synthesize --from <header-or-model.bin> --out <model.bin> [--seed <n>] [--type f16|f32]
                                           write a random-weight model (for tests and planning)`;

function fail(message: string): never {
  process.stderr.write(`whisper-napi: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) fail(`--${name} expects an integer, got "${value}"`);
  return parsed;
}

async function transcribeCommand(args: string[]): Promise<void> {
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
  if (positionals.length !== 1) fail('transcribe needs exactly one audio file');
  if (!values.model) fail('transcribe needs --model <path>');
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
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'transcribe':
      return transcribeCommand(rest);
    case 'info': {
      if (rest.length !== 1) fail('info needs a model path');
      const info = await inspectModelFile(rest[0]);
      const { tensors, ...summary } = info;
      process.stdout.write(`${JSON.stringify({ ...summary, tensorCount: tensors.length }, null, 2)}\n`);
      return;
    }
    case 'devices':
      process.stdout.write(`${JSON.stringify({ system: getSystemInfo(), devices: getDevices() }, null, 2)}\n`);
      return;
    case 'synthesize': {
      const { values } = parseArgs({
        args: rest,
        options: { from: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, type: { type: 'string' } },
      });
      if (!values.from || !values.out) fail('synthesize needs --from and --out');
      if (values.type !== undefined && values.type !== 'f16' && values.type !== 'f32') fail('--type must be f16 or f32');
      const info = await writeSyntheticModel({
        headerFrom: values.from,
        outPath: values.out,
        seed: intOption('seed', values.seed),
        weightType: values.type as 'f16' | 'f32' | undefined,
      });
      process.stdout.write(`${values.out}: ${info.modelType}, ${info.weightType}, ${info.fileSize} bytes\n`);
      return;
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof WhisperError) {
    process.stderr.write(`whisper-napi: ${error.code}: ${error.message}\n`);
  } else {
    process.stderr.write(`whisper-napi: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
});
