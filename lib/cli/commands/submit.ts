/** `whisper-napi submit`. (Stub, filled in by its own commit.) */
import { usageError, type Command } from '../command';

export const submitCommand: Command = {
  name: 'submit',
  synopsis: 'submit --redis <url> --queue <name> <file>',
  summary: 'put a transcription job on a BullMQ queue',
  usage: `Usage: whisper-napi submit --redis <url> --queue <name> <file>`,
  async run() {
    usageError('not yet');
  },
};
