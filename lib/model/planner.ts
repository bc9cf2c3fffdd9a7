/**
 * Memory planning without loading anything: how many bytes whisper.cpp 1.9.1 allocates for a model's
 * weights and for each whisper_state, from the model's hyperparameters alone.
 *
 * - Weights: the loader's tensor table (expectedTensors, or the file's own tensor table), each tensor
 *   padded to the backend buffer's alignment, as ggml_backend_alloc_ctx_tensors_from_buft lays them out.
 * - KV caches: exact. whisper_kv_cache_init allocates a K and a V tensor of n_state x n_layer x n_ctx
 *   elements of the context's itype, which is always f16 in 1.9.1; n_ctx is padded to 256. Self
 *   attention: text state/layers, n_text_ctx. Cross: text state/layers, n_audio_ctx. Pad: audio state,
 *   one layer, n_audio_ctx. whisper_full re-creates the self cache with n_ctx x (n + 2) when it first
 *   needs n > 1 decoders, and keeps it for the state's lifetime.
 * - Compute buffers: whisper_init_state reserves each graph (conv, encode, cross, decode) at its worst
 *   case, and reports the scheduler's buffers plus the graph metadata (host memory for
 *   WHISPER_MAX_NODES tensor headers and a graph). The peak of ggml's allocator is a sum of the
 *   tensors live at one point of the graph; the terms below name those tensors and were confirmed,
 *   to whisper.cpp's 10 kB log resolution, on the CPU backend for tiny, base, small, medium, large-v3
 *   and large-v3-turbo, f16 and q5_0 (the weight type does not change them), flash attention on and
 *   off. CUDA lays graphs out differently; `gpu: true` moves the weights' alignment to CUDA's, but the
 *   compute figures stay the CPU-derived ones (not measured on a GPU here).
 */
import {
  ALIGNMENT_HEADS_PRESETS,
  ARCHITECTURE_NAMES,
  ARCHITECTURES,
  alignmentHeadsFor,
  type AlignmentHeads,
  type AlignmentHeadsPreset,
  type ArchitectureHparams,
  type ArchitectureName,
} from '../model-files/architectures';
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { integerIn, isBoolean, isNonEmptyString, oneOf, optionsObject, pick, rejectUnknownKeys, type Check } from '../errors/validate';
import { QUANTIZATION_TYPE_IDS, ggmlTensorBytes } from '../model-files/ggml-format';
import { expectedTensors } from '../model-files/tensors';
import { inspectModelFileFor } from '../model-files/inspect';
import type { StateMemory } from './memory';
import { MAX_DECODERS } from '../transcription/options';

export interface EstimateMemoryInput {
  /** Path of a whisper.cpp ggml model file: hparams and the tensor table are read from it (no tensor data). */
  model?: string;
  /** A standard architecture, when there is no file (exactly one of `model` and `architecture`). */
  architecture?: ArchitectureName;
  /** With `architecture`: 'f32', 'f16' (default), 'q4_0', 'q4_1', 'q5_0', 'q5_1' or 'q8_0'. */
  weightType?: string;
  /** Default true, as in loadModel. Changes the encoder's compute buffer. */
  flashAttention?: boolean;
  /** Default 'greedy'. */
  strategy?: 'greedy' | 'beam';
  /** Default 5, as in transcribe. Decoders whisper_full runs at temperatures above zero. */
  bestOf?: number;
  /** Default 5, as in transcribe. Decoders of a beam search at temperature zero. */
  beamSize?: number;
  /**
   * Default true: jobs may fall back to higher temperatures (temperatureIncrement > 0, the default),
   * where whisper_full runs `bestOf` decoders. False plans for temperature-zero decoding only.
   */
  temperatureFallback?: boolean;
  /** States (concurrent jobs). Default 1. */
  concurrency?: number;
  /**
   * The audio context the states are built for; default, and at most, the model's n_audio_ctx.
   * whisper_init_state always builds for the header's n_audio_ctx: the transcribe option `audioContext`
   * only shrinks the graphs run inside that reservation, so a smaller value here describes a model whose
   * header has the smaller context, not a saving from that option.
   */
  audioCtx?: number;
  /** Default false: weights on a CUDA device (128-byte alignment) rather than the CPU (32). */
  gpu?: boolean;
  /**
   * As loadModel's option: true or a preset plans for DTW word timestamps (larger decode buffer,
   * the `dtw` figure). Default false. Flash attention is then off, as loadModel turns it off.
   */
  wordTimestamps?: boolean | AlignmentHeadsPreset;
}

/** One state's bytes, in the same shape `model.memory()` reports them. */
export type StateEstimate = StateMemory;

export interface MemoryEstimate {
  weightsBytes: number;
  perState: StateEstimate;
  concurrency: number;
  /** weightsBytes + concurrency x perState.total. */
  totalBytes: number;
}

/** whisper_sched_graph_init's meta buffer (ggml_tensor_overhead() x 4096 + ggml_graph_overhead()) and the graphs' small tensors. */
export const GRAPH_OVERHEAD_BYTES = 1_590_000;
const KV_ELEMENT_BYTES = 2; // GGML_TYPE_F16, whisper.cpp's itype
const F32 = 4;
const N_TEXT_TOKENS_WORST = 448; // the decode graph is reserved for n_text_ctx tokens

const WEIGHT_TYPE_FTYPES: Readonly<Record<string, number>> = Object.freeze({
  f32: 0,
  f16: 1,
  ...Object.fromEntries(Object.entries(QUANTIZATION_TYPE_IDS).map(([name, ids]) => [name, ids.ftype])),
});

const pad = (value: number, to: number): number => Math.ceil(value / to) * to;

/** Bytes of the three KV caches of one state, exactly as whisper_kv_cache_init sizes them. */
export function kvCacheBytes(
  hparams: Pick<ArchitectureHparams, 'nTextState' | 'nTextLayer' | 'nTextCtx' | 'nAudioState' | 'nAudioCtx'>,
  decoders = 1,
): { kvSelf: number; kvCross: number; kvPad: number } {
  const factor = decoders > 1 ? decoders + 2 : 1;
  const kv = (state: number, layers: number, ctx: number): number => 2 * state * layers * ctx * KV_ELEMENT_BYTES;
  return {
    kvSelf: kv(hparams.nTextState, hparams.nTextLayer, pad(hparams.nTextCtx, 256) * factor),
    kvCross: kv(hparams.nTextState, hparams.nTextLayer, pad(hparams.nAudioCtx, 256)),
    kvPad: kv(hparams.nAudioState, 1, pad(hparams.nAudioCtx, 256)),
  };
}

/** The four compute buffers whisper_init_state reserves, as whisper.cpp reports them (see the file comment). */
export function computeBufferBytes(
  hparams: Pick<ArchitectureHparams, 'nAudioCtx' | 'nAudioState' | 'nAudioHead' | 'nTextState' | 'nTextHead' | 'nMels' | 'nVocab'>,
  flashAttention: boolean,
  alignment?: Pick<AlignmentHeads, 'heads' | 'count'>,
): { conv: number; encode: number; cross: number; decode: number } {
  const { nAudioCtx: ctx, nAudioState: state, nAudioHead: heads, nTextState: textState, nMels, nVocab } = hparams;
  // conv: the mel input (f32) and conv1's im2col (f16) over 2 x n_ctx frames, then four f32
  // [n_ctx, n_state] equivalents live around conv2 (conv1's output at 2 x n_ctx, conv2's im2col and result).
  const conv = nMels * 2 * ctx * (F32 + 3 * 2) + 4 * F32 * ctx * state;
  // encode: with flash attention seven f32 [n_ctx, n_state] equivalents at the peak of a layer; without,
  // the f32 attention matrix [n_ctx, n_ctx, n_head] plus four of them.
  const encode = flashAttention ? 7 * F32 * ctx * state : F32 * ctx * ctx * heads + 4 * F32 * ctx * state;
  // cross: the encoder output, one f32 [n_ctx, n_state].
  const cross = F32 * ctx * textState;
  // decode: the f32 logits of n_text_ctx tokens, with two f32 [tokens, n_state] activations.
  let decode = F32 * N_TEXT_TOKENS_WORST * nVocab + 2 * F32 * N_TEXT_TOKENS_WORST * textState;
  if (alignment) decode += alignmentDecodeBytes({ nAudioCtx: ctx, nTextHead: hparams.nTextHead }, alignment);
  return {
    conv: conv + GRAPH_OVERHEAD_BYTES,
    encode: encode + GRAPH_OVERHEAD_BYTES,
    cross: cross + GRAPH_OVERHEAD_BYTES,
    decode: decode + GRAPH_OVERHEAD_BYTES,
  };
}

/**
 * whisper.cpp's dtw_mem_size for a model: the work context whisper_exp_compute_token_level_timestamps_dtw
 * allocates in full for every window that produced text, sized for its worst case so ggml's pool
 * can never overflow (an overflow aborts the process). A window's DTW runs over T = n_text_ctx / 2
 * tokens at most (sot, language, no-timestamps, at most n_text_ctx / 2 - 4 decoded tokens, eot), A =
 * n_audio_ctx audio positions (whisper asserts n_frames <= 2 n_audio_ctx) and H alignment heads. Its
 * tensors: three f32 [T, A, H] (the copied attention, its norm, its median filter), two f32 [T, A]
 * (the mean and its scale), the DTW cost and trace matrices ((T + 1) x (A + 1), f32 and i32), the
 * backtrace and its copy (2 x (T + A) i32 each), ggml's default graph, and a tensor header and
 * alignment for each; plus 1 MiB of slack.
 */
/**
 * How much larger whisper_init_state reserves the decode graph with alignment heads, measured per
 * preset on its own architecture (CPU backend, n_text_ctx 448, n_audio_ctx 1500): the graph keeps
 * f32 [n_audio_ctx, n_text_ctx] cross-attention maps of the heads alive next to the logits, and
 * ggml's allocator packs them differently for each set of layers, so no one formula holds.
 */
const ALIGNMENT_DECODE_BYTES: Readonly<Record<AlignmentHeadsPreset, number>> = Object.freeze({
  'tiny.en': 38_320_000,
  tiny: 68_120_000,
  'base.en': 13_440_000,
  base: 43_920_000,
  'small.en': 102_900_000,
  small: 70_640_000,
  'medium.en': 296_890_000,
  medium: 124_860_000,
  'large.v1': 179_070_000,
  'large.v2': 609_150_000,
  'large.v3': 501_630_000,
  'large.v3.turbo': 37_000_000,
});

/**
 * The decode graph's growth with alignment heads: the measured figure for a preset (scaled to the
 * audio context), and for 'top-most' heads an upper bound, the heads' own maps plus four layers' worth
 * (it over-plans the shapes measured by up to 70 %; no preset covers them).
 */
export function alignmentDecodeBytes(hparams: Pick<ArchitectureHparams, 'nAudioCtx' | 'nTextHead'>, alignment: Pick<AlignmentHeads, 'heads' | 'count'>): number {
  const perHead = F32 * hparams.nAudioCtx * N_TEXT_TOKENS_WORST;
  if (alignment.heads === 'top-most') return perHead * (alignment.count + 4 * hparams.nTextHead);
  return Math.round((ALIGNMENT_DECODE_BYTES[alignment.heads] * hparams.nAudioCtx) / 1500);
}

/**
 * What DTW uses per state beyond the compute buffers: the heads' masks (n_text_head floats a head),
 * the copy of their attention whisper_state keeps after a window (n_text_ctx / 2 x n_audio_ctx floats a
 * head) and the work context each window's alignment allocates (dtwMemoryBytes).
 */
export function dtwStateBytes(hparams: Pick<ArchitectureHparams, 'nTextCtx' | 'nAudioCtx' | 'nTextHead'>, heads: number): number {
  const masks = F32 * hparams.nTextHead * heads;
  const attentionCopy = F32 * Math.floor(hparams.nTextCtx / 2) * hparams.nAudioCtx * heads;
  return masks + attentionCopy + dtwMemoryBytes(hparams, heads);
}

export function dtwMemoryBytes(hparams: Pick<ArchitectureHparams, 'nTextCtx' | 'nAudioCtx'>, heads: number): number {
  const tokens = Math.floor(hparams.nTextCtx / 2);
  const audio = hparams.nAudioCtx;
  const tensors = 3 * F32 * tokens * audio * heads + 2 * F32 * tokens * audio + 2 * 4 * (tokens + 1) * (audio + 1) + 2 * 2 * 4 * (tokens + audio);
  const headers = 24 * DTW_TENSOR_OVERHEAD_BYTES;
  return tensors + headers + DTW_GRAPH_BYTES + DTW_SLACK_BYTES;
}
/** ggml_tensor_overhead() plus GGML_MEM_ALIGN padding, rounded up. */
const DTW_TENSOR_OVERHEAD_BYTES = 512;
/** ggml_graph_nbytes(GGML_DEFAULT_GRAPH_SIZE = 2048) is about 70 kB. */
const DTW_GRAPH_BYTES = 128 * 1024;
const DTW_SLACK_BYTES = 1024 * 1024;

/** The most decoders whisper_full runs at once for these options (it mirrors whisper_full's temperature ladder). */
export function decodersFor(options: { strategy: 'greedy' | 'beam'; bestOf: number; beamSize: number; temperatureFallback: boolean }): number {
  const cold = options.strategy === 'beam' ? options.beamSize : 1;
  return Math.max(1, cold, options.temperatureFallback ? options.bestOf : 1);
}

/** The parameter name estimateMemory's messages start with. */
const INPUT = 'estimateMemory: input';

const KNOWN_KEYS = new Set([
  'model',
  'architecture',
  'weightType',
  'flashAttention',
  'strategy',
  'bestOf',
  'beamSize',
  'temperatureFallback',
  'concurrency',
  'audioCtx',
  'gpu',
  'wordTimestamps',
]);

/**
 * Bytes whisper.cpp will allocate for the weights, for each state and in total, for `concurrency`
 * states. Reads only a model file's header and tensor table. Throws WhisperError: INVALID_ARGUMENT
 * for bad input (naming the field), MODEL_NOT_FOUND / INVALID_MODEL for a bad `model` file.
 */
export async function estimateMemory(input: EstimateMemoryInput): Promise<MemoryEstimate> {
  const o = optionsObject(INPUT, input);
  rejectUnknownKeys(INPUT, o, KNOWN_KEYS);
  const hasModel = o.model !== undefined;
  const hasArchitecture = o.architecture !== undefined;
  if (hasModel === hasArchitecture) {
    throw new WhisperError('INVALID_ARGUMENT', `${INPUT}: expected exactly one of model (a file path) and architecture; got ${hasModel ? 'both' : 'neither'}`);
  }
  const field = <T>(key: string, check: Check<T>, fallback: T): T => pick(o, key, check, fallback, `${INPUT}.`);
  const gpu = field('gpu', isBoolean, false);
  const alignment = gpu ? 128 : 32;
  let hparams: ArchitectureHparams;
  let weightsBytes: number;
  if (hasModel) {
    const model = isNonEmptyString(`${INPUT}.model`, o.model);
    if (o.weightType !== undefined) {
      throw invalidArgument(`${INPUT}.weightType`, 'nothing with `model` (the file has its own)', o.weightType);
    }
    const info = await inspectModelFileFor(`${INPUT}.model`, model);
    hparams = info.hparams;
    weightsBytes = info.tensors.reduce((sum, t) => sum + pad(t.byteLength, alignment), 0);
  } else {
    const architecture = oneOf(ARCHITECTURE_NAMES)(`${INPUT}.architecture`, o.architecture);
    const weightType = field('weightType', oneOf(Object.keys(WEIGHT_TYPE_FTYPES)), 'f16');
    hparams = ARCHITECTURES[architecture].hparams;
    const tensors = expectedTensors({ ...hparams, ftype: WEIGHT_TYPE_FTYPES[weightType], quantizationVersion: 2 });
    weightsBytes = tensors.reduce((sum, t) => sum + pad(ggmlTensorBytes(t.type, t.shape), alignment), 0);
  }

  const wordTimestamps = field<AlignmentHeadsPreset | 'auto' | ''>(
    'wordTimestamps',
    (name, v) => {
      if (v === true) return 'auto';
      if (v === false) return '';
      return oneOf(ALIGNMENT_HEADS_PRESETS)(name, v);
    },
    '',
  );
  const alignmentHeads = wordTimestamps === '' ? undefined : alignmentHeadsFor(wordTimestamps, hparams);
  if (wordTimestamps !== '' && alignmentHeads === undefined) {
    throw invalidArgument(
      `${INPUT}.wordTimestamps`,
      `true or a preset whose heads this model has (${hparams.nTextLayer} text layers of ${hparams.nTextHead} heads)`,
      wordTimestamps,
    );
  }
  if (alignmentHeads && o.flashAttention === true) {
    throw invalidArgument(`${INPUT}.flashAttention`, 'false or unset with wordTimestamps (loadModel turns it off)', o.flashAttention);
  }
  const flashAttention = alignmentHeads === undefined && field('flashAttention', isBoolean, true);
  const strategy = field('strategy', oneOf(['greedy', 'beam']), 'greedy');
  const bestOf = field('bestOf', integerIn(1, MAX_DECODERS), 5);
  const beamSize = field('beamSize', integerIn(1, MAX_DECODERS), 5);
  const temperatureFallback = field('temperatureFallback', isBoolean, true);
  const concurrency = field('concurrency', integerIn(1, Number.MAX_SAFE_INTEGER), 1);
  const audioCtx = field('audioCtx', integerIn(1, hparams.nAudioCtx), hparams.nAudioCtx);

  const decoders = decodersFor({ strategy, bestOf, beamSize, temperatureFallback });
  const sized = { ...hparams, nAudioCtx: audioCtx };
  const kv = kvCacheBytes(sized, decoders);
  const compute = computeBufferBytes(sized, flashAttention, alignmentHeads);
  const dtw = alignmentHeads ? dtwStateBytes(sized, alignmentHeads.count) : 0;
  const total = kv.kvSelf + kv.kvCross + kv.kvPad + compute.conv + compute.encode + compute.cross + compute.decode + dtw;
  const perState: StateEstimate = { ...kv, compute, dtw, total, decoders };
  return { weightsBytes, perState, concurrency, totalBytes: weightsBytes + concurrency * total };
}

/**
 * How many states fit in `budgetBytes` next to the weights (0 when not even one does). With
 * `weightsLoaded: true` the weights are already resident and not charged against the budget.
 */
export function maxConcurrencyForBudget(
  estimate: { weightsBytes: number; perState: { total: number } },
  budgetBytes: number,
  options: { weightsLoaded?: boolean } = {},
): number {
  if (estimate === null || typeof estimate !== 'object' || !estimate.perState || !(estimate.perState.total > 0)) {
    throw invalidArgument('maxConcurrencyForBudget: estimate', 'a result of estimateMemory', estimate);
  }
  if (typeof budgetBytes !== 'number' || !Number.isFinite(budgetBytes) || budgetBytes < 0) {
    throw invalidArgument('maxConcurrencyForBudget: budgetBytes', 'a finite number of bytes >= 0', budgetBytes);
  }
  const budgetOptions = optionsObject('maxConcurrencyForBudget: options', options);
  const weightsLoaded = pick(budgetOptions, 'weightsLoaded', isBoolean, false, 'maxConcurrencyForBudget: options.');
  const left = budgetBytes - (weightsLoaded ? 0 : estimate.weightsBytes);
  return left <= 0 ? 0 : Math.floor(left / estimate.perState.total);
}
