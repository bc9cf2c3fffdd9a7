/**
 * The standard Whisper architectures, with OpenAI's hyperparameters (the `dims` of the released
 * checkpoints, as whisper.cpp stores them in a ggml header), and identification of a model file's
 * architecture from its header.
 *
 * Every released model has a 1500-frame audio context (30 s after the stride-2 convolution) and a
 * 448-token text context. English-only models have 51864 vocabulary entries, multilingual ones
 * 51865, large-v3 and large-v3-turbo 51866 (one more language token, Cantonese) and 128 mel bins
 * instead of 80. large-v3-turbo is large-v3's encoder with a 4-layer decoder. large-v1 and large-v2
 * differ only in their weights, so a header cannot tell them apart.
 */
import type { WhisperHparams } from './hparams';

export const ARCHITECTURE_NAMES = [
  'tiny',
  'tiny.en',
  'base',
  'base.en',
  'small',
  'small.en',
  'medium',
  'medium.en',
  'large-v1',
  'large-v2',
  'large-v3',
  'large-v3-turbo',
] as const;

export type ArchitectureName = (typeof ARCHITECTURE_NAMES)[number];

/** What a header says about a model: a name from the table, 'large-v1/v2' (they share hparams), or 'unknown'. */
export type IdentifiedArchitecture = Exclude<ArchitectureName, 'large-v1' | 'large-v2'> | 'large-v1/v2' | 'unknown';

/** The hyperparameters that define an architecture (everything in the header except the weight type). */
export type ArchitectureHparams = Omit<WhisperHparams, 'ftype' | 'quantizationVersion'>;

export interface Architecture {
  name: ArchitectureName;
  /** n_vocab >= 51865, as whisper.cpp decides. */
  multilingual: boolean;
  hparams: Readonly<ArchitectureHparams>;
}

const N_AUDIO_CTX = 1500;
const N_TEXT_CTX = 448;
const N_VOCAB_EN = 51864;
const N_VOCAB_MULTI = 51865;
const N_VOCAB_V3 = 51866;

function arch(name: ArchitectureName, nVocab: number, nMels: number, state: number, heads: number, audioLayers: number, textLayers: number): Architecture {
  return Object.freeze({
    name,
    multilingual: nVocab >= N_VOCAB_MULTI,
    hparams: Object.freeze({
      nVocab,
      nAudioCtx: N_AUDIO_CTX,
      nAudioState: state,
      nAudioHead: heads,
      nAudioLayer: audioLayers,
      nTextCtx: N_TEXT_CTX,
      nTextState: state,
      nTextHead: heads,
      nTextLayer: textLayers,
      nMels,
    }),
  });
}

/** The architecture table, keyed by name. */
export const ARCHITECTURES: Readonly<Record<ArchitectureName, Architecture>> = Object.freeze({
  tiny: arch('tiny', N_VOCAB_MULTI, 80, 384, 6, 4, 4),
  'tiny.en': arch('tiny.en', N_VOCAB_EN, 80, 384, 6, 4, 4),
  base: arch('base', N_VOCAB_MULTI, 80, 512, 8, 6, 6),
  'base.en': arch('base.en', N_VOCAB_EN, 80, 512, 8, 6, 6),
  small: arch('small', N_VOCAB_MULTI, 80, 768, 12, 12, 12),
  'small.en': arch('small.en', N_VOCAB_EN, 80, 768, 12, 12, 12),
  medium: arch('medium', N_VOCAB_MULTI, 80, 1024, 16, 24, 24),
  'medium.en': arch('medium.en', N_VOCAB_EN, 80, 1024, 16, 24, 24),
  'large-v1': arch('large-v1', N_VOCAB_MULTI, 80, 1280, 20, 32, 32),
  'large-v2': arch('large-v2', N_VOCAB_MULTI, 80, 1280, 20, 32, 32),
  'large-v3': arch('large-v3', N_VOCAB_V3, 128, 1280, 20, 32, 32),
  'large-v3-turbo': arch('large-v3-turbo', N_VOCAB_V3, 128, 1280, 20, 32, 4),
});

export function isArchitectureName(value: unknown): value is ArchitectureName {
  return typeof value === 'string' && (ARCHITECTURE_NAMES as readonly string[]).includes(value);
}

const HPARAM_KEYS: ReadonlyArray<keyof ArchitectureHparams> = [
  'nVocab',
  'nAudioCtx',
  'nAudioState',
  'nAudioHead',
  'nAudioLayer',
  'nTextCtx',
  'nTextState',
  'nTextHead',
  'nTextLayer',
  'nMels',
];

/** Every table entry whose hyperparameters equal these (the weight type is ignored). */
export function matchingArchitectures(hparams: ArchitectureHparams): ArchitectureName[] {
  return ARCHITECTURE_NAMES.filter((name) => HPARAM_KEYS.every((k) => ARCHITECTURES[name].hparams[k] === hparams[k]));
}

/**
 * The standard architecture a header describes: all ten architecture hparams must match exactly
 * (fine-tunes of a standard model match; distilled or otherwise custom shapes are 'unknown').
 */
export function identifyArchitecture(hparams: ArchitectureHparams): IdentifiedArchitecture {
  const matches = matchingArchitectures(hparams);
  if (matches.length === 0) return 'unknown';
  if (matches.includes('large-v1') || matches.includes('large-v2')) return 'large-v1/v2';
  return matches[0] as IdentifiedArchitecture;
}

/** whisper.cpp's alignment-head presets for DTW, by the model they were found for. */
export const ALIGNMENT_HEADS_PRESETS = [
  'tiny.en',
  'tiny',
  'base.en',
  'base',
  'small.en',
  'small',
  'medium.en',
  'medium',
  'large.v1',
  'large.v2',
  'large.v3',
  'large.v3.turbo',
] as const;
export type AlignmentHeadsPreset = (typeof ALIGNMENT_HEADS_PRESETS)[number];

/**
 * What each of whisper.cpp 1.9.1's preset tables (g_aheads_*) holds: how many heads, and the highest
 * text layer and head index it names (whisper_init_state fails when the model has fewer).
 */
const PRESET_HEADS: Readonly<Record<AlignmentHeadsPreset, { count: number; maxLayer: number; maxHead: number; lastLayerHeads: number }>> = Object.freeze({
  'tiny.en': { count: 8, maxLayer: 3, maxHead: 5, lastLayerHeads: 5 },
  tiny: { count: 6, maxLayer: 3, maxHead: 5, lastLayerHeads: 5 },
  'base.en': { count: 5, maxLayer: 5, maxHead: 7, lastLayerHeads: 3 },
  base: { count: 8, maxLayer: 5, maxHead: 7, lastLayerHeads: 4 },
  'small.en': { count: 19, maxLayer: 11, maxHead: 11, lastLayerHeads: 2 },
  small: { count: 10, maxLayer: 10, maxHead: 9, lastLayerHeads: 1 },
  'medium.en': { count: 18, maxLayer: 21, maxHead: 15, lastLayerHeads: 1 },
  medium: { count: 6, maxLayer: 23, maxHead: 15, lastLayerHeads: 1 },
  'large.v1': { count: 9, maxLayer: 23, maxHead: 19, lastLayerHeads: 2 },
  'large.v2': { count: 23, maxLayer: 27, maxHead: 19, lastLayerHeads: 1 },
  'large.v3': { count: 10, maxLayer: 25, maxHead: 18, lastLayerHeads: 1 },
  'large.v3.turbo': { count: 6, maxLayer: 3, maxHead: 14, lastLayerHeads: 4 },
});

/** The alignment heads a model is loaded with for DTW token timestamps. */
export interface AlignmentHeads {
  /** A preset, or 'top-most': every head of the last `topLayers` text layers. */
  heads: AlignmentHeadsPreset | 'top-most';
  /** With 'top-most' (0 otherwise). */
  topLayers: number;
  /** Heads in all: the size of DTW's attention tensors. */
  count: number;
  /** Heads in the last text layer that has any (the decoder graph keeps that layer's attention longest). */
  lastLayerHeads: number;
}

type DecoderShape = Pick<ArchitectureHparams, 'nVocab' | 'nMels' | 'nTextState' | 'nTextHead' | 'nTextLayer'>;

/** Whether a preset's heads all exist in a model of this shape. */
export function presetFits(preset: AlignmentHeadsPreset, hparams: DecoderShape): boolean {
  const table = PRESET_HEADS[preset];
  return table.maxLayer < hparams.nTextLayer && table.maxHead < hparams.nTextHead;
}

/**
 * The preset for a model's architecture, judged by its decoder and mel bins (not its weights):
 * tiny … medium (English-only or not), large with 80 mels as large-v2 (large-v1 shares its shape
 * and has its own preset), 128 mels with 32 text layers as large-v3, with 4 as large-v3-turbo.
 * Undefined for any other shape.
 */
export function presetForArchitecture(hparams: DecoderShape): AlignmentHeadsPreset | undefined {
  const english = hparams.nVocab < N_VOCAB_MULTI;
  const decoder = (name: ArchitectureName) => {
    const h = ARCHITECTURES[name].hparams;
    return h.nTextState === hparams.nTextState && h.nTextHead === hparams.nTextHead && h.nTextLayer === hparams.nTextLayer && h.nMels === hparams.nMels;
  };
  for (const size of ['tiny', 'base', 'small', 'medium'] as const) {
    if (decoder(size)) return english ? `${size}.en` : size;
  }
  if (decoder('large-v2')) return 'large.v2';
  if (decoder('large-v3')) return 'large.v3';
  if (decoder('large-v3-turbo')) return 'large.v3.turbo';
  return undefined;
}

/**
 * The alignment heads for `requested` ('auto' or a preset) on a model of this shape. 'auto' on a
 * shape no preset was found for (a distilled or synthetic model) takes every head of the last half
 * of the text layers, as OpenAI's reference decoder does for a model without alignment heads. A
 * named preset must fit the model; undefined when it does not.
 */
export function alignmentHeadsFor(requested: AlignmentHeadsPreset | 'auto', hparams: DecoderShape): AlignmentHeads | undefined {
  const preset = requested === 'auto' ? presetForArchitecture(hparams) : requested;
  if (preset !== undefined) {
    const { count, lastLayerHeads } = PRESET_HEADS[preset];
    return presetFits(preset, hparams) ? { heads: preset, topLayers: 0, count, lastLayerHeads } : undefined;
  }
  const topLayers = hparams.nTextLayer - Math.floor(hparams.nTextLayer / 2);
  return { heads: 'top-most', topLayers, count: topLayers * hparams.nTextHead, lastLayerHeads: hparams.nTextHead };
}
