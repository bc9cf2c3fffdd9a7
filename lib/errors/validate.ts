/**
 * The one set of option validators. Each check takes the parameter's full name (for example
 * 'options.beamSize') and the value given, and returns the value typed or throws
 * INVALID_ARGUMENT naming the parameter, what was expected and what was given.
 */
import { invalidArgument } from './whisper-error';

export type Check<T> = (name: string, value: unknown) => T;

/** The largest value of a C int, which bounds every integer handed to whisper.cpp. */
export const INT32_MAX = 2 ** 31 - 1;

export const isBoolean: Check<boolean> = (name, value) => {
  if (typeof value !== 'boolean') throw invalidArgument(name, 'a boolean', value);
  return value;
};

export const isString: Check<string> = (name, value) => {
  if (typeof value !== 'string') throw invalidArgument(name, 'a string', value);
  return value;
};

export const isNonEmptyString: Check<string> = (name, value) => {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(name, 'a non-empty string', value);
  return value;
};

export function integerIn(min: number, max: number): Check<number> {
  const upper = max === Number.MAX_SAFE_INTEGER ? 'infinity' : String(max);
  return (name, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalidArgument(name, `an integer from ${min} to ${upper}`, value);
    }
    return value;
  };
}

export function numberIn(min: number, max: number): Check<number> {
  return (name, value) => {
    if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
      throw invalidArgument(name, `a number from ${min} to ${max}`, value);
    }
    return value;
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return (name, value) => {
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      throw invalidArgument(name, `one of ${values.map((v) => `'${v}'`).join(', ')}`, value);
    }
    return value as T;
  };
}

/** An options object: undefined reads as {}; anything else that is not a plain object throws. */
export function optionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** options[key] checked, or the fallback when it is undefined. The name is `${prefix}${key}`. */
export function pick<T>(options: Record<string, unknown>, key: string, check: Check<T>, fallback: T, prefix = 'options.'): T {
  const value = options[key];
  return value === undefined ? fallback : check(prefix + key, value);
}

/** Rejects a misspelt option instead of ignoring it. */
export function rejectUnknownKeys(name: string, options: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key) && options[key] !== undefined) {
      throw invalidArgument(`${name}.${key}`, `one of the known options (${[...known].join(', ')})`, key);
    }
  }
}
