#!/usr/bin/env node
/** whisper-napi command line: transcribe audio, manage models by name, inspect a model, list devices, diagnose the install. */
import { packageManifest } from '../native/package';
import { asksForHelp, asksForVerbose } from './args';
import { UsageError, type Command } from './command';
import { convertCommand } from './commands/convert';
import { devicesCommand } from './commands/devices';
import { doctorCommand } from './commands/doctor';
import { infoCommand } from './commands/info';
import { modelsCommand } from './commands/models';
import { quantizeCommand } from './commands/quantize';
import { serveCommand } from './commands/serve';
import { submitCommand } from './commands/submit';
import { synthesizeCommand } from './commands/synthesize';
import { transcribeCommand } from './commands/transcribe';
import { workerCommand } from './commands/worker';
import { errorLine } from './errors';

/** In the order --help lists them. */
const COMMANDS: readonly Command[] = [
  transcribeCommand,
  modelsCommand,
  serveCommand,
  workerCommand,
  submitCommand,
  infoCommand,
  devicesCommand,
  doctorCommand,
  convertCommand,
  quantizeCommand,
  synthesizeCommand,
];

function commandList(): string {
  const width = Math.max(...COMMANDS.map((command) => command.synopsis.length));
  return COMMANDS.map((command) => `  ${command.synopsis.padEnd(width)}  ${command.summary}`).join('\n');
}

const USAGE = `Usage: whisper-napi <command> [options]

Commands:
${commandList()}

Options:
  -h, --help      this help; \`whisper-napi <command> --help\` shows a command's options
  -v, --version   the package version

Exit codes: 0 ok, 1 a file or command failed, 2 a usage mistake, 130 interrupted (Ctrl-C).`;

/** Exit status after Ctrl-C, as shells report a process ended by SIGINT. */
const INTERRUPTED_EXIT = 130;

/**
 * Ctrl-C fires the signal every command is given: a transcription or download stops at once
 * and its files are left as the library leaves them (a download's part kept to resume). A
 * second Ctrl-C exits without waiting.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(INTERRUPTED_EXIT);
    controller.abort();
  });
  return controller.signal;
}

// A reader that stops early (`whisper-napi transcribe a.wav | head -1`) closes the pipe: that ends
// the command quietly, as it ends any Unix tool, instead of an EPIPE stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') process.stderr.write(errorLine(error, false));
  process.exit(error.code === 'EPIPE' ? (process.exitCode ?? 0) : 1);
});

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
  if (!command) {
    process.stderr.write(`whisper-napi: unknown command "${name}"\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (asksForHelp(rest)) {
    process.stdout.write(`${command.usage}\n`);
    return;
  }
  const signal = interruptSignal();
  try {
    await command.run(rest, { signal });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`whisper-napi ${command.name}: ${error.message}\n\n${command.usage}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(errorLine(error, asksForVerbose(rest)));
    process.exitCode = 1;
  }
  if (signal.aborted) process.exitCode = INTERRUPTED_EXIT;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(errorLine(error, asksForVerbose(process.argv)));
  process.exitCode = 1;
});
