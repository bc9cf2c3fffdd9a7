import { expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';

/** The WhisperError `fn` throws; fails the test if it throws nothing or something else. */
export function thrownWhisperError(fn: () => unknown): WhisperError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WhisperError);
    return error as WhisperError;
  }
  throw new Error('expected a WhisperError, but nothing was thrown');
}

/** The WhisperError `promise` rejects with; fails the test if it resolves or rejects with something else. */
export async function rejectedWhisperError(promise: Promise<unknown>): Promise<WhisperError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WhisperError);
    return error as WhisperError;
  }
  throw new Error('expected a WhisperError, but the promise resolved');
}

/** One test per case: `call` throws INVALID_ARGUMENT with exactly `message`. */
export function itRefusesEach(cases: readonly (readonly [name: string, call: () => unknown, message: string])[]): void {
  for (const [name, call, message] of cases) {
    it(name, () => {
      const error = thrownWhisperError(call);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(message);
    });
  }
}
