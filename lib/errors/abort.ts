import { WhisperError } from './whisper-error';

/**
 * The error for work stopped by an AbortSignal: the signal's reason when it is already a
 * WhisperError (a TIMEOUT, a DISPOSED), otherwise ABORTED naming what was stopped and the
 * reason's message when the caller gave one.
 */
export function abortError(signal: AbortSignal | undefined, what = 'the transcription'): WhisperError {
  const reason: unknown = signal?.reason;
  if (reason instanceof WhisperError) return reason;
  const detail = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new WhisperError('ABORTED', `${what} was aborted${detail}`, { cause: reason });
}

/** Throws abortError(signal, what) when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'the transcription'): void {
  if (signal?.aborted) throw abortError(signal, what);
}
