/** `whisper-napi info`: a model file described from its headers, without loading it. */
import { readModelInfo } from '../../model-files/summary';
import { parseCommandArgs } from '../args';
import { usageError, type Command } from '../command';

export const infoCommand: Command = {
  name: 'info',
  synopsis: 'info <model.bin>',
  summary: 'describe a model file from its headers (JSON)',
  usage: `Usage: whisper-napi info <model.bin>

  Describes a model file (architecture, weight type, size, ...) as JSON, from its headers
  only: nothing is loaded.

  --verbose    the stack of an error
  -h, --help   this help`,
  async run(args) {
    const { positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) usageError('info needs exactly one model path');
    process.stdout.write(`${JSON.stringify(await readModelInfo(positionals[0]), null, 2)}\n`);
  },
};
