/** `whisper-napi serve`. (Stub, filled in by its own commit.) */
import { usageError, type Command } from '../command';

export const serveCommand: Command = {
  name: 'serve',
  synopsis: 'serve --model <name|path>',
  summary: 'an OpenAI-compatible transcription server',
  usage: `Usage: whisper-napi serve --model <name|path>`,
  async run() {
    usageError('not yet');
  },
};
