/** `whisper-napi worker`. (Stub, filled in by its own commit.) */
import { usageError, type Command } from '../command';

export const workerCommand: Command = {
  name: 'worker',
  synopsis: 'worker --redis <url> --queue <name> --model <name|path>',
  summary: 'take transcription jobs from a BullMQ queue',
  usage: `Usage: whisper-napi worker --redis <url> --queue <name> --model <name|path>`,
  async run() {
    usageError('not yet');
  },
};
