/** `whisper-napi convert`: a CTranslate2 or Hugging Face Whisper folder to a ggml model file. */
import { parseArgs } from 'node:util';
import { convertModel } from '../../tools/convert';
import { usageError, type Command } from '../command';

export const convertCommand: Command = {
  name: 'convert',
  usage: `  whisper-napi convert <folder> --out <model.bin> [--type f16|f32] [--format ctranslate2|transformers]
                                           convert a CTranslate2 (faster-whisper) or Hugging Face
                                           Whisper folder to a whisper.cpp ggml model`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { out: { type: 'string' }, type: { type: 'string' }, format: { type: 'string' } },
    });
    if (positionals.length !== 1) usageError('convert needs exactly one model folder');
    if (!values.out) usageError('convert needs --out <model.bin>');
    if (values.type !== undefined && values.type !== 'f16' && values.type !== 'f32') usageError(`--type must be f16 or f32, got "${values.type}"`);
    if (values.format !== undefined && values.format !== 'ctranslate2' && values.format !== 'transformers') {
      usageError(`--format must be ctranslate2 or transformers, got "${values.format}"`);
    }
    const started = Date.now();
    const info = await convertModel({
      source: positionals[0],
      outPath: values.out,
      weightType: values.type as 'f16' | 'f32' | undefined,
      format: values.format as 'ctranslate2' | 'transformers' | undefined,
    });
    process.stdout.write(`${values.out}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  },
};
