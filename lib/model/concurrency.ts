/**
 * concurrency: 'auto' — how many states a model can afford, from the memory of the device
 * it runs on and the planner's estimate of one state.
 */
import os from 'node:os';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { alignmentHeadsFor, type AlignmentHeads } from '../model-files/architectures';
import type { ModelFileInfo } from '../model-files/inspect';
import type { NativeLoadOptions } from '../native/native-api';
import { MAX_CONCURRENCY, type ResolvedLoadOptions } from '../transcription/options';
import type { ModelDevice } from './devices';
import { dtwMemoryBytes, estimateMemory, maxConcurrencyForBudget, type MemoryEstimate } from './planner';

/** The alignment heads a model file is loaded with for `wordTimestamps`; undefined when it is off. */
export function resolveAlignmentHeads(requested: ResolvedLoadOptions['alignmentHeads'], file: Pick<ModelFileInfo, 'hparams'>): AlignmentHeads | undefined {
  if (requested === '') return undefined;
  const heads = alignmentHeadsFor(requested, file.hparams);
  if (heads === undefined) {
    const { nTextLayer, nTextHead } = file.hparams;
    throw invalidArgument('options.wordTimestamps', `true or a preset whose heads this model has (${nTextLayer} text layers of ${nTextHead} heads)`, requested);
  }
  return heads;
}

/** The addon's load options for word timestamps (none when they are off). */
export function alignmentLoadOptions(
  requested: ResolvedLoadOptions['alignmentHeads'],
  file: Pick<ModelFileInfo, 'hparams'>,
): Pick<NativeLoadOptions, 'alignmentHeads' | 'alignmentTopLayers' | 'dtwMemoryBytes'> {
  const heads = resolveAlignmentHeads(requested, file);
  if (heads === undefined) return {};
  return { alignmentHeads: heads.heads, alignmentTopLayers: heads.topLayers, dtwMemoryBytes: dtwMemoryBytes(file.hparams, heads.count) };
}

/**
 * Memory left alone for everything else: the larger of 512 MiB and 10 % of the device.
 * ggml allocates a little beyond its buffers (graph metadata, CUDA's context and cuBLAS
 * workspace, host-side copies), and on the CPU the application itself needs room.
 */
export const AUTO_SAFETY_MARGIN = { minBytes: 512 * 1024 * 1024, fraction: 0.1 };

export interface AutoConcurrencyInput {
  /** Memory the model may use: the device's free memory, or the caller's budget. */
  freeBytes: number;
  /** The device's total memory (sets the safety margin); 0 if unknown. */
  totalBytes: number;
  estimate: Pick<MemoryEstimate, 'weightsBytes'> & { perState: Pick<MemoryEstimate['perState'], 'total'> };
  device: 'cpu' | 'gpu';
  /** CPU cores; caps the CPU's concurrency. */
  cores: number;
  /** true when freeBytes is the caller's own budget: no margin is taken off it. */
  explicitBudget: boolean;
}

export interface AutoConcurrency {
  concurrency: number;
  /** Bytes planned for: free memory less the margin. */
  budgetBytes: number;
  marginBytes: number;
  /** Why the result is what it is, for logs and errors. */
  limitedBy: 'memory' | 'cores' | 'max' | 'minimum';
}

/**
 * Pure arithmetic, so it can be tested without a device. At least 1 (a model with no state
 * could not transcribe at all; if one does not fit, whisper's own allocation reports it).
 * On the CPU at most one job per core: jobs beyond that share cores, and ggml's spinning
 * threads make that far slower than queueing. On a GPU at most MAX_CONCURRENCY.
 */
export function autoConcurrency(input: AutoConcurrencyInput): AutoConcurrency {
  const marginBytes = input.explicitBudget ? 0 : Math.max(AUTO_SAFETY_MARGIN.minBytes, Math.round(input.totalBytes * AUTO_SAFETY_MARGIN.fraction));
  const budgetBytes = Math.max(0, input.freeBytes - marginBytes);
  // Planned before the weights load, so they are charged against the budget.
  const byMemory = maxConcurrencyForBudget(input.estimate, budgetBytes);
  const cap = input.device === 'cpu' ? Math.min(MAX_CONCURRENCY, Math.max(1, input.cores)) : MAX_CONCURRENCY;
  if (byMemory < 1) return { concurrency: 1, budgetBytes, marginBytes, limitedBy: 'minimum' };
  if (byMemory > cap) return { concurrency: cap, budgetBytes, marginBytes, limitedBy: input.device === 'cpu' ? 'cores' : 'max' };
  return { concurrency: byMemory, budgetBytes, marginBytes, limitedBy: 'memory' };
}

/** Plans concurrency 'auto' for a model file on the device selectDevice chose for it. */
export async function planConcurrency(
  file: ModelFileInfo,
  options: Pick<ResolvedLoadOptions, 'flashAttention' | 'memoryBudget'> & Partial<Pick<ResolvedLoadOptions, 'alignmentHeads'>>,
  device: ModelDevice,
): Promise<AutoConcurrency> {
  let estimate: MemoryEstimate;
  const alignmentHeads = options.alignmentHeads ?? '';
  try {
    // Planned for transcribe's defaults (greedy, bestOf 5 with temperature fallback).
    estimate = await estimateMemory({
      model: file.path,
      gpu: device.kind === 'gpu',
      ...(alignmentHeads === '' ? { flashAttention: options.flashAttention } : { wordTimestamps: alignmentHeads === 'auto' ? true : alignmentHeads }),
    });
  } catch (error) {
    throw new WhisperError('INVALID_MODEL', `concurrency 'auto' could not estimate the memory of ${file.path}: ${(error as Error).message}`, { cause: error });
  }
  const explicitBudget = options.memoryBudget > 0;
  return autoConcurrency({
    freeBytes: explicitBudget ? options.memoryBudget : device.freeBytes,
    totalBytes: device.totalBytes,
    estimate,
    device: device.kind,
    cores: os.availableParallelism(),
    explicitBudget,
  });
}
