/** What every command of the whisper-napi command line is, and how one reports a usage mistake. */

export interface Command {
  name: string;
  /** Its line in `whisper-napi --help`: the name with its main arguments ... */
  synopsis: string;
  /** ... and what it does, in a few words. */
  summary: string;
  /** The whole help text, printed by `whisper-napi <name> --help` and after a usage mistake. */
  usage: string;
  run(args: string[], context: CommandContext): Promise<void>;
}

export interface CommandContext {
  /** Fired by Ctrl-C (SIGINT): a command stops what it is doing and returns; cli.ts exits with 130. */
  signal: AbortSignal;
}

/** A mistake in the command line: cli.ts prints it with the command's usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function usageError(message: string): never {
  throw new UsageError(message);
}

/** The integer value of --<name>, at least `min`, or undefined when it was not given. */
export function intOption(name: string, value: string | undefined, min = Number.MIN_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(parsed)) usageError(`--${name} expects an integer, got "${value}"`);
  if (parsed < min) usageError(`--${name} expects an integer of at least ${min}, got "${value}"`);
  return parsed;
}
