/**
 * The tensors whisper.cpp's Whisper loader (whisper_model_load) defines for a header's hyperparameters,
 * and what follows from them: the parameter count and the model size class.
 */
import { WhisperError } from '../errors/whisper-error';
import { GGML_TYPE_F16, GGML_TYPE_F32, weightTypeForFtype } from './ggml-format';
import type { WhisperHparams } from './hparams';

export type ModelType = 'tiny' | 'base' | 'small' | 'medium' | 'large' | 'unknown';

/** A tensor the loader defines: its name, shape in ggml ne order, and the ggml type it expects. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  type: number;
}

/**
 * The tensors whisper.cpp's loader defines for these hyperparameters, in the order it creates them,
 * with their shapes in ggml ne order (as stored in the file) and the ggml type the loader expects for
 * each given `hparams.ftype`: the big matrices (linear layers and the token embedding) use the ftype's
 * weight type; the conv kernels use f16 (f32 in an all-f32 model); positional embeddings, conv biases,
 * layer norms and all biases are always f32. Throws INVALID_MODEL for an ftype whisper.cpp cannot load.
 */
export function expectedTensors(hparams: WhisperHparams): ExpectedTensor[] {
  const wtype = weightTypeForFtype(hparams.ftype);
  if (wtype === undefined) {
    throw new WhisperError('INVALID_MODEL', `unsupported ftype ${hparams.ftype}: ggml does not map it to a tensor type`);
  }
  const vtype = wtype === GGML_TYPE_F32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], type: number): void => {
    out.push({ name, shape, type });
  };

  const { nAudioState: as, nAudioCtx, nAudioLayer, nTextState: ts, nTextCtx, nTextLayer, nVocab, nMels } = hparams;

  // encoder
  add('encoder.positional_embedding', [as, nAudioCtx], GGML_TYPE_F32);
  add('encoder.conv1.weight', [3, nMels, as], vtype);
  add('encoder.conv1.bias', [1, as], GGML_TYPE_F32);
  add('encoder.conv2.weight', [3, as, as], vtype);
  add('encoder.conv2.bias', [1, as], GGML_TYPE_F32);
  add('encoder.ln_post.weight', [as], GGML_TYPE_F32);
  add('encoder.ln_post.bias', [as], GGML_TYPE_F32);
  for (let i = 0; i < nAudioLayer; i++) {
    const p = `encoder.blocks.${i}.`;
    add(`${p}mlp_ln.weight`, [as], GGML_TYPE_F32);
    add(`${p}mlp_ln.bias`, [as], GGML_TYPE_F32);
    add(`${p}mlp.0.weight`, [as, 4 * as], wtype);
    add(`${p}mlp.0.bias`, [4 * as], GGML_TYPE_F32);
    add(`${p}mlp.2.weight`, [4 * as, as], wtype);
    add(`${p}mlp.2.bias`, [as], GGML_TYPE_F32);
    add(`${p}attn_ln.weight`, [as], GGML_TYPE_F32);
    add(`${p}attn_ln.bias`, [as], GGML_TYPE_F32);
    add(`${p}attn.query.weight`, [as, as], wtype);
    add(`${p}attn.query.bias`, [as], GGML_TYPE_F32);
    add(`${p}attn.key.weight`, [as, as], wtype);
    add(`${p}attn.value.weight`, [as, as], wtype);
    add(`${p}attn.value.bias`, [as], GGML_TYPE_F32);
    add(`${p}attn.out.weight`, [as, as], wtype);
    add(`${p}attn.out.bias`, [as], GGML_TYPE_F32);
  }

  // decoder
  add('decoder.positional_embedding', [ts, nTextCtx], GGML_TYPE_F32);
  add('decoder.token_embedding.weight', [ts, nVocab], wtype);
  add('decoder.ln.weight', [ts], GGML_TYPE_F32);
  add('decoder.ln.bias', [ts], GGML_TYPE_F32);
  for (let i = 0; i < nTextLayer; i++) {
    const p = `decoder.blocks.${i}.`;
    add(`${p}mlp_ln.weight`, [ts], GGML_TYPE_F32);
    add(`${p}mlp_ln.bias`, [ts], GGML_TYPE_F32);
    add(`${p}mlp.0.weight`, [ts, 4 * ts], wtype);
    add(`${p}mlp.0.bias`, [4 * ts], GGML_TYPE_F32);
    add(`${p}mlp.2.weight`, [4 * ts, ts], wtype);
    add(`${p}mlp.2.bias`, [ts], GGML_TYPE_F32);
    add(`${p}attn_ln.weight`, [ts], GGML_TYPE_F32);
    add(`${p}attn_ln.bias`, [ts], GGML_TYPE_F32);
    add(`${p}attn.query.weight`, [ts, ts], wtype);
    add(`${p}attn.query.bias`, [ts], GGML_TYPE_F32);
    add(`${p}attn.key.weight`, [ts, ts], wtype);
    add(`${p}attn.value.weight`, [ts, ts], wtype);
    add(`${p}attn.value.bias`, [ts], GGML_TYPE_F32);
    add(`${p}attn.out.weight`, [ts, ts], wtype);
    add(`${p}attn.out.bias`, [ts], GGML_TYPE_F32);
    add(`${p}cross_attn_ln.weight`, [ts], GGML_TYPE_F32);
    add(`${p}cross_attn_ln.bias`, [ts], GGML_TYPE_F32);
    add(`${p}cross_attn.query.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.query.bias`, [ts], GGML_TYPE_F32);
    add(`${p}cross_attn.key.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.value.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.value.bias`, [ts], GGML_TYPE_F32);
    add(`${p}cross_attn.out.weight`, [ts, ts], wtype);
    add(`${p}cross_attn.out.bias`, [ts], GGML_TYPE_F32);
  }
  return out;
}

/**
 * Number of weights (tensor elements) of a Whisper model with these hyperparameters: every tensor
 * whisper.cpp loads, positional embeddings and norms included. The weight type does not matter.
 */
export function parameterCount(hparams: Omit<WhisperHparams, 'ftype' | 'quantizationVersion'>): number {
  let total = 0;
  for (const t of expectedTensors({ ...hparams, ftype: 1, quantizationVersion: 0 })) {
    total += t.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** tiny/base/small/medium/large from n_audio_layer, as whisper_model_load decides. */
export function modelTypeFromHparams(hparams: Pick<WhisperHparams, 'nAudioLayer'>): ModelType {
  switch (hparams.nAudioLayer) {
    case 4:
      return 'tiny';
    case 6:
      return 'base';
    case 12:
      return 'small';
    case 24:
      return 'medium';
    case 32:
      return 'large';
    default:
      return 'unknown';
  }
}
