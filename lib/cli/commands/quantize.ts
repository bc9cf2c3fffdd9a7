/** `whisper-napi quantize`: an f16/f32 ggml model to a quantized one, as whisper.cpp's quantize does. */
import { QUANTIZATION_TYPES, quantizeModel, type QuantizationType } from '../../tools/quantize';
import { parseCommandArgs } from '../args';
import { usageError, type Command } from '../command';

export const quantizeCommand: Command = {
  name: 'quantize',
  synopsis: 'quantize <in.bin> <out.bin> --type <t>',
  summary: 'quantize an f16/f32 ggml model',
  usage: `Usage: whisper-napi quantize <in.bin> <out.bin> --type <type>

  Quantizes an f16/f32 ggml model, as whisper.cpp's quantize does.

  --type <type>   ${QUANTIZATION_TYPES.join(', ')}
  --verbose       the stack of an error
  -h, --help      this help`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, { type: { type: 'string' } });
    if (positionals.length !== 2) usageError('quantize needs an input and an output model path');
    if (!values.type) usageError(`quantize needs --type (${QUANTIZATION_TYPES.join(', ')})`);
    if (!(QUANTIZATION_TYPES as readonly string[]).includes(values.type)) usageError(`--type must be one of ${QUANTIZATION_TYPES.join(', ')}, got "${values.type}"`);
    const started = Date.now();
    const info = await quantizeModel({ inPath: positionals[0], outPath: positionals[1], type: values.type as QuantizationType });
    process.stdout.write(`${positionals[1]}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  },
};
