/** What every command of the whisper-napi command line is, and how one reports a usage mistake. */

export interface Command {
  name: string;
  /** The command's lines of the usage text, each indented two spaces. */
  usage: string;
  run(args: string[]): Promise<void>;
}

/** A mistake in the command line: cli.ts prints it with the usage text and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function usageError(message: string): never {
  throw new UsageError(message);
}

/** The integer value of --<name>, or undefined when it was not given. */
export function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) usageError(`--${name} expects an integer, got "${value}"`);
  return parsed;
}
