/**
 * Turns the native layer's memory figures into one report per model. The figures are whisper.cpp's own:
 * the sizes it logs while loading the weights and creating each state (10 kB resolution), plus the
 * self-attention KV cache growth whisper_full does not log, computed from the decoders a job may have run.
 */
import { WhisperError } from '../errors/whisper-error';
import { fromNativeError } from '../native/addon';
import type { NativeModel, NativeState, NativeStateMemory } from '../native/native-api';

export interface StateMemory {
  /** Self-attention KV cache; after a job that may run n > 1 decoders, the (n + 2)x cache whisper_full re-creates. */
  kvSelf: number;
  kvCross: number;
  kvPad: number;
  compute: { conv: number; encode: number; cross: number; decode: number };
  /**
   * Word timestamps (a model loaded with `wordTimestamps`), beyond the compute buffers, 0 without:
   * the alignment heads' masks, the copy of their attention whisper keeps, and the DTW work context
   * each window allocates while it is aligned.
   */
  dtw: number;
  total: number;
  /** The most decoders a job on this state may have run (1 for a fresh state). */
  decoders: number;
}

export interface ModelMemory {
  weights: { total: number; buffers: Array<{ buffer: string; bytes: number }> };
  states: StateMemory[];
  /** Weights plus every state. */
  total: number;
}

function missing(what: string): WhisperError {
  return new WhisperError('NATIVE_ERROR', `whisper.cpp did not report the size of ${what}; the log format may have changed`);
}

/** One state's figures from NativeState.memory(). Throws DISPOSED for a disposed state. */
export function stateMemory(state: NativeState): StateMemory {
  let raw: NativeStateMemory;
  try {
    raw = state.memory();
  } catch (error) {
    throw fromNativeError(error);
  }
  const figures = { kvSelf: raw.kvSelf, kvCross: raw.kvCross, kvPad: raw.kvPad, conv: raw.conv, encode: raw.encode, cross: raw.cross, decode: raw.decode };
  for (const [name, bytes] of Object.entries(figures)) {
    if (!(bytes >= 0)) throw missing(`the state's ${name} buffer`);
  }
  // whisper_full re-creates the self cache for n > 1 decoders with (n + 2) x its first size, to absorb fragmentation.
  const decoders = Math.max(1, raw.maxDecoders);
  const kvSelf = raw.kvSelf * (decoders > 1 ? decoders + 2 : 1);
  const compute = { conv: raw.conv, encode: raw.encode, cross: raw.cross, decode: raw.decode };
  const dtw = Math.max(0, raw.dtw ?? 0);
  const total = kvSelf + raw.kvCross + raw.kvPad + compute.conv + compute.encode + compute.cross + compute.decode + dtw;
  return { kvSelf, kvCross: raw.kvCross, kvPad: raw.kvPad, compute, dtw, total, decoders };
}

/** The weights of `nativeModel` and each of `states` (the model's live states), in bytes. */
export function modelMemory(nativeModel: NativeModel, states: readonly NativeState[]): ModelMemory {
  let raw;
  try {
    raw = nativeModel.memory();
  } catch (error) {
    throw fromNativeError(error);
  }
  if (raw.buffers.length === 0) throw missing("the model's weight buffers");
  const buffers = raw.buffers.map(({ buffer, bytes }) => ({ buffer, bytes }));
  const weightsTotal = buffers.reduce((sum, b) => sum + b.bytes, 0);
  const perState = states.map(stateMemory);
  return {
    weights: { total: weightsTotal, buffers },
    states: perState,
    total: weightsTotal + perState.reduce((sum, s) => sum + s.total, 0),
  };
}
