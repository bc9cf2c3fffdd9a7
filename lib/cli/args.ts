/** One strict command-line parser for every command: node:util parseArgs, its mistakes made usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './command';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What every command accepts besides its own options (cli.ts acts on both before the command runs). */
const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
} as const satisfies OptionsConfig;

interface CommandConfig<T extends OptionsConfig> {
  args: string[];
  options: typeof COMMON_OPTIONS & T;
  strict: true;
  /** Typed as true so positionals is always string[] (empty when a command takes none). */
  allowPositionals: true;
}

/** What parseCommandArgs gives: parseArgs' typed values (the common options' included) and positionals. */
export type ParsedCommandArgs<T extends OptionsConfig> = ReturnType<typeof parseArgs<CommandConfig<T>>>;

/**
 * The command's arguments, parsed strictly: an unknown option, a missing value or a positional
 * argument the command does not take is a UsageError (exit 2) in our own words, not parseArgs'
 * TypeError with its advice about `--`.
 */
export function parseCommandArgs<const T extends OptionsConfig>(args: string[], options: T, allowPositionals = true): ParsedCommandArgs<T> {
  try {
    return parseArgs<CommandConfig<T>>({ args, options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals: allowPositionals as true });
  } catch (error) {
    return usageError(parseArgsMistake(error));
  }
}

/** True when the arguments ask for help (before a `--`, after which everything is a positional). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '-h' || arg === '--help');
}

/** True when the arguments include --verbose (before a `--`). */
export function asksForVerbose(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--verbose');
}

function parseArgsMistake(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted ?? message}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // parseArgs names the option as "-m, --model <value>"; we name it by its long form.
      const option = quoted?.replace(' <value>', '').split(', ').pop();
      if (option !== undefined && message.includes('argument missing')) return `${option} needs a value`;
      if (option !== undefined && message.includes('ambiguous')) return `${option} needs a value (one that starts with - is written ${option}=<value>)`;
      if (option !== undefined && message.includes('does not take an argument')) return `${option} takes no value`;
      return message.split('\n')[0];
    }
    default:
      throw error;
  }
}
