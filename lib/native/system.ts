/** Devices, build information and logging: process-level queries that need no model. */
import { native } from './addon';
import type { NativeDevice, NativeLogLevel } from './native-api';
import { invalidArgument } from '../errors/whisper-error';

/** A ggml device; the public name of the addon's own shape, so the two can't drift apart. */
export type { NativeDevice as Device } from './native-api';

/** ggml backend devices (CPU, CUDA GPUs, ...) with their free and total memory in bytes. */
export function getDevices(): NativeDevice[] {
  return native().getDevices();
}

export interface SystemInfo {
  whisperVersion: string;
  /** Whether this binary was built with the CUDA backend. */
  cuda: boolean;
  /** whisper.cpp's feature line, e.g. "CPU : SSE3 = 1 | AVX2 = 1 | ...". */
  features: string;
}

export function getSystemInfo(): SystemInfo {
  const info = native().getSystemInfo();
  return { whisperVersion: info.whisperVersion, cuda: info.cuda, features: info.systemInfo.trim() };
}

/** Languages whisper knows, as { code, name }. */
export function getLanguages(): Array<{ code: string; name: string }> {
  return native()
    .getLanguages()
    .map(({ code, name }) => ({ code, name }));
}

export type { NativeLogLevel as LogLevel } from './native-api';
export type Logger = (level: NativeLogLevel, message: string) => void;

const LEVELS: Record<NativeLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Receives whisper.cpp and ggml log lines at `minLevel` and above. Silent by default;
 * pass null to silence again. Lines arrive asynchronously on the JS thread.
 */
export function setLogger(logger: Logger | null, options: { minLevel?: NativeLogLevel } = {}): void {
  if (logger !== null && typeof logger !== 'function') throw invalidArgument('logger', 'a function or null', logger);
  const minLevel = options.minLevel ?? 'info';
  if (!(minLevel in LEVELS)) throw invalidArgument('options.minLevel', `one of ${Object.keys(LEVELS).join(', ')}`, minLevel);
  native().setLogger(logger, LEVELS[minLevel]);
}
