#!/usr/bin/env node
/** whisper-napi command line: transcribe a file, inspect a model, list devices, diagnose the install. */
import { parseArgs } from 'node:util';
import { loadModel } from '../model/whisper-model';
import { readModelInfo } from '../model-files/model-file';
import { SYNTHETIC_WEIGHT_TYPES, writeSyntheticModel, type SyntheticWeightType } from '../tools/synthetic-model';
import { ARCHITECTURE_NAMES, isArchitectureName } from '../model-files/architectures';
import { convertModel } from '../tools/convert';
import { QUANTIZATION_TYPES, quantizeModel, type QuantizationType } from '../tools/quantize';
import { getDevices, getSystemInfo, setLogger } from '../native/system';
import { WhisperError } from '../errors/whisper-error';
import { diagnose, formatDiagnosis } from '../native/doctor';
import { parseGpuPreference } from '../native/loader';
import type { TranscribeOptions } from '../transcription/options';

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
  whisper-napi info <model.bin>            describe a model file (architecture, weight type, size) as JSON,
                                           from its headers only
  whisper-napi devices                     list compute devices and build info
  whisper-napi doctor [--json] [--gpu auto|cuda|cpu]
                                           platform, CPU features, the binaries found, CUDA driver and
                                           runtime, devices, and which binary 'auto' picks and why
  whisper-napi convert <folder> --out <model.bin> [--type f16|f32] [--format ctranslate2|transformers]
                                           convert a CTranslate2 (faster-whisper) or Hugging Face
                                           Whisper folder to a whisper.cpp ggml model
  whisper-napi quantize <in.bin> <out.bin> --type ${QUANTIZATION_TYPES.join('|')}
                                           quantize an f16/f32 ggml model (as whisper.cpp's quantize does)
  whisper-napi synthesize --arch <name> --out <model.bin> [--type <t>] [--seed <n>] [--vocab-from <model.bin>]
  whisper-napi synthesize --from <header-or-model.bin> --out <model.bin> [--type <t>] [--seed <n>]
                                           write a random-weight model (for tests and for planning
                                           memory and speed); --arch: ${ARCHITECTURE_NAMES.join(', ')};
                                           --type: ${SYNTHETIC_WEIGHT_TYPES.join(', ')}`;

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
      process.stdout.write(`${JSON.stringify(await readModelInfo(rest[0]), null, 2)}\n`);
      return;
    }
    case 'devices':
      process.stdout.write(`${JSON.stringify({ system: getSystemInfo(), devices: getDevices() }, null, 2)}\n`);
      return;
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, gpu: { type: 'string' } } });
      const gpu = values.gpu === undefined ? undefined : parseGpuPreference(values.gpu, '--gpu');
      const diagnosis = await diagnose({ gpu });
      process.stdout.write(values.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : `${formatDiagnosis(diagnosis)}\n`);
      if ('error' in diagnosis.loaded) process.exitCode = 1;
      return;
    }
    case 'synthesize': {
      const { values } = parseArgs({
        args: rest,
        options: {
          from: { type: 'string' },
          arch: { type: 'string' },
          'vocab-from': { type: 'string' },
          out: { type: 'string' },
          seed: { type: 'string' },
          type: { type: 'string' },
        },
      });
      if (!values.out) fail('synthesize needs --out');
      if (!values.from === !values.arch) fail('synthesize needs exactly one of --arch and --from');
      if (values.arch !== undefined && !isArchitectureName(values.arch)) fail(`--arch must be one of ${ARCHITECTURE_NAMES.join(', ')}, got "${values.arch}"`);
      if (values.from !== undefined && values['vocab-from'] !== undefined) fail('--vocab-from goes with --arch (--from copies the vocabulary too)');
      if (values.type !== undefined && !(SYNTHETIC_WEIGHT_TYPES as readonly string[]).includes(values.type)) {
        fail(`--type must be one of ${SYNTHETIC_WEIGHT_TYPES.join(', ')}, got "${values.type}"`);
      }
      const common = { outPath: values.out, seed: intOption('seed', values.seed), weightType: values.type as SyntheticWeightType | undefined };
      const info = await writeSyntheticModel(
        values.from !== undefined
          ? { ...common, headerFrom: values.from }
          : { ...common, architecture: values.arch as (typeof ARCHITECTURE_NAMES)[number], vocabFrom: values['vocab-from'] },
      );
      process.stdout.write(`${values.out}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes\n`);
      return;
    }
    case 'convert': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { out: { type: 'string' }, type: { type: 'string' }, format: { type: 'string' } },
      });
      if (positionals.length !== 1) fail('convert needs exactly one model folder');
      if (!values.out) fail('convert needs --out <model.bin>');
      if (values.type !== undefined && values.type !== 'f16' && values.type !== 'f32') fail(`--type must be f16 or f32, got "${values.type}"`);
      if (values.format !== undefined && values.format !== 'ctranslate2' && values.format !== 'transformers') {
        fail(`--format must be ctranslate2 or transformers, got "${values.format}"`);
      }
      const started = Date.now();
      const info = await convertModel({
        source: positionals[0],
        outPath: values.out,
        weightType: values.type as 'f16' | 'f32' | undefined,
        format: values.format as 'ctranslate2' | 'transformers' | undefined,
      });
      process.stdout.write(`${values.out}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      return;
    }
    case 'quantize': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { type: { type: 'string' } } });
      if (positionals.length !== 2) fail('quantize needs an input and an output model path');
      if (!values.type) fail(`quantize needs --type (${QUANTIZATION_TYPES.join(', ')})`);
      if (!(QUANTIZATION_TYPES as readonly string[]).includes(values.type)) fail(`--type must be one of ${QUANTIZATION_TYPES.join(', ')}, got "${values.type}"`);
      const started = Date.now();
      const info = await quantizeModel({ inPath: positionals[0], outPath: positionals[1], type: values.type as QuantizationType });
      process.stdout.write(`${positionals[1]}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
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
