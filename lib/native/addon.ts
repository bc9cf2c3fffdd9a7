/**
 * The addon of this JS environment, and the mapping of its errors onto WhisperError.
 * Nothing outside lib/ touches the addon directly.
 */
import { WHISPER_ERROR_CODES, WhisperError, type WhisperErrorCode } from '../errors/whisper-error';
import { loadedAddon } from './loader';
import type { NativeAddon } from './native-api';

/** The addon of this JS environment (main thread or worker), chosen and loaded by lib/native/loader.ts. */
export function native(): NativeAddon {
  return loadedAddon();
}

const knownCodes: ReadonlySet<string> = new Set(WHISPER_ERROR_CODES);

/**
 * The code an addon error stands for: its own `code` when that is one of ours (binding/ sets
 * them, STATE_BUSY and INVALID_ARGUMENT included); INVALID_ARGUMENT for any other TypeError,
 * which is how node-addon-api and binding/params.cpp reject a badly typed argument, with no
 * code; NATIVE_ERROR for anything else.
 */
function codeOf(error: unknown): WhisperErrorCode {
  const nativeCode = (error as { code?: unknown } | null)?.code;
  if (typeof nativeCode === 'string' && knownCodes.has(nativeCode)) return nativeCode as WhisperErrorCode;
  if (error instanceof TypeError) return 'INVALID_ARGUMENT';
  return 'NATIVE_ERROR';
}

/**
 * Turns an error from the addon into a WhisperError. Native rejections have no useful JS
 * stack, so the error is created here, in the caller's async context, with the native one
 * as `cause`.
 */
export function fromNativeError(error: unknown): WhisperError {
  if (error instanceof WhisperError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WhisperError(codeOf(error), message, { cause: error });
}
