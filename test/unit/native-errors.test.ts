/** fromNativeError: how errors thrown or rejected by the addon become WhisperErrors. */
import { describe, expect, it } from 'vitest';
import { WHISPER_ERROR_CODES, WhisperError } from '../../lib/errors/whisper-error';
import { fromNativeError } from '../../lib/native/addon';

/** An error as binding/errors.h makes one: an Error with a string `code`. */
function nativeError(code: string, message: string, kind: ErrorConstructor | TypeErrorConstructor = Error): Error {
  return Object.assign(new kind(message), { code });
}

describe('fromNativeError', () => {
  it('keeps every code of ours, with the message and the native error as cause', () => {
    for (const code of WHISPER_ERROR_CODES) {
      const original = nativeError(code, `something about ${code}`);
      const mapped = fromNativeError(original);
      expect(mapped).toBeInstanceOf(WhisperError);
      expect(mapped.code).toBe(code);
      expect(mapped.message).toBe(`something about ${code}`);
      expect(mapped.cause).toBe(original);
    }
  });

  it('maps STATE_BUSY from the addon to STATE_BUSY, not NATIVE_ERROR', () => {
    const mapped = fromNativeError(nativeError('STATE_BUSY', 'transcribe: the state is already running a job'));
    expect(mapped.code).toBe('STATE_BUSY');
  });

  it('maps every argument error to INVALID_ARGUMENT: coded, a TypeError without a code, a TypeError with a foreign one', () => {
    expect(fromNativeError(nativeError('INVALID_ARGUMENT', 'quantize: nPerRow must divide the value count')).code).toBe('INVALID_ARGUMENT');
    expect(fromNativeError(nativeError('INVALID_ARGUMENT', 'quantize: src must be a typed array', TypeError)).code).toBe('INVALID_ARGUMENT');
    const codeless = new TypeError('native transcribe params: beamSize must be a number');
    const mapped = fromNativeError(codeless);
    expect(mapped).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'native transcribe params: beamSize must be a number', cause: codeless });
    expect(fromNativeError(nativeError('ERR_INVALID_ARG_TYPE', 'A number was expected', TypeError)).code).toBe('INVALID_ARGUMENT');
  });

  it('maps anything else to NATIVE_ERROR: unknown codes, no code, values that are not errors', () => {
    expect(fromNativeError(nativeError('EWHATEVER', 'whisper_full failed')).code).toBe('NATIVE_ERROR');
    expect(fromNativeError(new Error('std::bad_alloc')).code).toBe('NATIVE_ERROR');
    expect(fromNativeError(new RangeError('Array buffer allocation failed')).code).toBe('NATIVE_ERROR');
    expect(fromNativeError(Object.assign(new Error('x'), { code: 7 })).code).toBe('NATIVE_ERROR');
    expect(fromNativeError('a string')).toMatchObject({ code: 'NATIVE_ERROR', message: 'a string' });
    expect(fromNativeError(null)).toMatchObject({ code: 'NATIVE_ERROR', message: 'null' });
  });

  it('returns a WhisperError unchanged', () => {
    const error = new WhisperError('DISPOSED', 'model: disposed');
    expect(fromNativeError(error)).toBe(error);
  });
});
