/** `whisper-napi synthesize`: a random-weight model of a known architecture, or shaped like another file. */
import { ARCHITECTURE_NAMES, isArchitectureName, type ArchitectureName } from '../../model-files/architectures';
import { SYNTHETIC_WEIGHT_TYPES, writeSyntheticModel, type SyntheticWeightType } from '../../tools/synthetic-model';
import { parseCommandArgs } from '../args';
import { intOption, usageError, type Command } from '../command';

export const synthesizeCommand: Command = {
  name: 'synthesize',
  synopsis: 'synthesize --arch <a> --out <model.bin>',
  summary: 'a random-weight model (for tests and planning)',
  usage: `Usage: whisper-napi synthesize --arch <name> --out <model.bin> [--type <t>] [--seed <n>] [--vocab-from <model.bin>]
       whisper-napi synthesize --from <header-or-model.bin> --out <model.bin> [--type <t>] [--seed <n>]

  Writes a random-weight model, for tests and for planning memory and speed.

  --arch <name>             ${ARCHITECTURE_NAMES.join(', ')}
  --from <file>             the shape (and vocabulary) of this model or header file
  --vocab-from <model.bin>  with --arch: the vocabulary of this model
  --out <model.bin>         the file to write
  --type <t>                ${SYNTHETIC_WEIGHT_TYPES.join(', ')}
  --seed <n>                the random seed
  --verbose                 the stack of an error
  -h, --help                this help`,
  async run(args) {
    const { values } = parseCommandArgs(
      args,
      {
        from: { type: 'string' },
        arch: { type: 'string' },
        'vocab-from': { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        type: { type: 'string' },
      },
      false,
    );
    if (!values.out) usageError('synthesize needs --out');
    if (!values.from === !values.arch) usageError('synthesize needs exactly one of --arch and --from');
    if (values.arch !== undefined && !isArchitectureName(values.arch)) usageError(`--arch must be one of ${ARCHITECTURE_NAMES.join(', ')}, got "${values.arch}"`);
    if (values.from !== undefined && values['vocab-from'] !== undefined) usageError('--vocab-from goes with --arch (--from copies the vocabulary too)');
    if (values.type !== undefined && !(SYNTHETIC_WEIGHT_TYPES as readonly string[]).includes(values.type)) {
      usageError(`--type must be one of ${SYNTHETIC_WEIGHT_TYPES.join(', ')}, got "${values.type}"`);
    }
    const common = { outPath: values.out, seed: intOption('seed', values.seed), weightType: values.type as SyntheticWeightType | undefined };
    const info = await writeSyntheticModel(
      values.from !== undefined ? { ...common, headerFrom: values.from } : { ...common, architecture: values.arch as ArchitectureName, vocabFrom: values['vocab-from'] },
    );
    process.stdout.write(`${values.out}: ${info.architecture}, ${info.weightType}, ${info.fileSize} bytes\n`);
  },
};
