/** `whisper-napi info`: a model file described from its headers, without loading it. */
import { readModelInfo } from '../../model-files/summary';
import { usageError, type Command } from '../command';

export const infoCommand: Command = {
  name: 'info',
  usage: `  whisper-napi info <model.bin>            describe a model file (architecture, weight type, size) as JSON,
                                           from its headers only`,
  async run(args) {
    if (args.length !== 1) usageError('info needs a model path');
    process.stdout.write(`${JSON.stringify(await readModelInfo(args[0]), null, 2)}\n`);
  },
};
