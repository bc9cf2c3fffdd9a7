#!/usr/bin/env node
/** whisper-napi command line: transcribe a file, inspect a model, list devices, diagnose the install. */
import { WhisperError } from '../errors/whisper-error';
import { packageManifest } from '../native/package';
import { UsageError, type Command } from './command';
import { convertCommand } from './commands/convert';
import { devicesCommand } from './commands/devices';
import { doctorCommand } from './commands/doctor';
import { infoCommand } from './commands/info';
import { quantizeCommand } from './commands/quantize';
import { synthesizeCommand } from './commands/synthesize';
import { transcribeCommand } from './commands/transcribe';

/** In the order --help lists them. */
const COMMANDS: readonly Command[] = [transcribeCommand, infoCommand, devicesCommand, doctorCommand, convertCommand, quantizeCommand, synthesizeCommand];

const USAGE = `Usage:\n${COMMANDS.map((command) => command.usage).join('\n')}\n  whisper-napi --version`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${packageManifest.version}\n`);
    return;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  await command.run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`whisper-napi: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof WhisperError) {
    process.stderr.write(`whisper-napi: ${error.code}: ${error.message}\n`);
  } else {
    process.stderr.write(`whisper-napi: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
});
