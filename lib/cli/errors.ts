/** How the command line reports a failure: one line on stderr with its code, the stack only with --verbose. */
import { WhisperError } from '../errors/whisper-error';

/** The code and message of any failure: a WhisperError's own, a Node error's errno code (EACCES ...), else ERROR. */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof WhisperError) return { code: error.code, message: error.message };
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : 'ERROR';
  return { code, message: error instanceof Error ? error.message : String(error) };
}

/** `whisper-napi: [<subject>: ]<CODE>: <message>` and a newline; with `verbose`, the stack follows. */
export function errorLine(error: unknown, verbose: boolean, subject?: string): string {
  const { code, message } = describeFailure(error);
  const line = `whisper-napi: ${subject === undefined ? '' : `${subject}: `}${code}: ${oneLine(message)}\n`;
  const stack = verbose && error instanceof Error && error.stack !== undefined ? `${error.stack}\n` : '';
  return line + stack;
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}
