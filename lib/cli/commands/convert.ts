/** `whisper-napi convert`: a CTranslate2 or Hugging Face Whisper folder to a ggml model file. */
import { convertModel } from '../../tools/convert';
import { parseCommandArgs } from '../args';
import { usageError, type Command } from '../command';

export const convertCommand: Command = {
  name: 'convert',
  synopsis: 'convert <folder> --out <model.bin>',
  summary: 'a CTranslate2 or Hugging Face folder to a ggml model',
  usage: `Usage: whisper-napi convert <folder> --out <model.bin> [--type f16|f32] [--format ctranslate2|transformers]

  Converts a CTranslate2 (faster-whisper) or Hugging Face Whisper folder to a whisper.cpp ggml
  model.

  --out <model.bin>   the file to write
  --type <t>          f16 (default) or f32
  --format <f>        ctranslate2 or transformers (default: found from the folder)
  --verbose           the stack of an error
  -h, --help          this help`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, { out: { type: 'string' }, type: { type: 'string' }, format: { type: 'string' } });
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
