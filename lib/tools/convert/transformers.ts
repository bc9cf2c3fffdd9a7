/**
 * Reads Hugging Face transformers Whisper models: a folder with config.json, model.safetensors (or
 * shards listed in model.safetensors.index.json) and vocab.json (or tokenizer.json), optionally
 * added_tokens.json.
 *
 * Tensor names are WhisperForConditionalGeneration's ("model.encoder.layers.0.self_attn.q_proj.weight")
 * or WhisperModel's (the same without "model."). q/k/v are separate; k_proj has no bias. proj_out.weight
 * is tied to the token embedding and not needed: whisper.cpp projects with the token embedding.
 */
import * as path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import {
  asObject,
  checkSourceDims,
  missingTensorError,
  parseJson,
  readTextIfExists,
  shapeText,
  wrongShapeError,
  type SourceDims,
  type SourceModel,
  type SourceRef,
  type SourceTensor,
} from './source';
import { readSafetensorsFolder } from './safetensors';
import { EOT_TOKEN, whisperBaseVocab } from './vocab';

/** Hugging Face tensor for a whisper.cpp tensor name, with the model's prefix ('model.' or ''). */
function hfSourceOf(prefix: string, name: string): SourceRef {
  const fixed: Record<string, string> = {
    'encoder.positional_embedding': 'encoder.embed_positions.weight',
    'encoder.conv1.weight': 'encoder.conv1.weight',
    'encoder.conv1.bias': 'encoder.conv1.bias',
    'encoder.conv2.weight': 'encoder.conv2.weight',
    'encoder.conv2.bias': 'encoder.conv2.bias',
    'encoder.ln_post.weight': 'encoder.layer_norm.weight',
    'encoder.ln_post.bias': 'encoder.layer_norm.bias',
    'decoder.positional_embedding': 'decoder.embed_positions.weight',
    'decoder.token_embedding.weight': 'decoder.embed_tokens.weight',
    'decoder.ln.weight': 'decoder.layer_norm.weight',
    'decoder.ln.bias': 'decoder.layer_norm.bias',
  };
  if (fixed[name]) return { name: prefix + fixed[name] };
  const m = /^(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const modules: Record<string, string> = {
    'attn.query': 'self_attn.q_proj',
    'attn.key': 'self_attn.k_proj',
    'attn.value': 'self_attn.v_proj',
    'attn.out': 'self_attn.out_proj',
    attn_ln: 'self_attn_layer_norm',
    'cross_attn.query': 'encoder_attn.q_proj',
    'cross_attn.key': 'encoder_attn.k_proj',
    'cross_attn.value': 'encoder_attn.v_proj',
    'cross_attn.out': 'encoder_attn.out_proj',
    cross_attn_ln: 'encoder_attn_layer_norm',
    'mlp.0': 'fc1',
    'mlp.2': 'fc2',
    mlp_ln: 'final_layer_norm',
  };
  if (!m || !modules[m[3]]) throw new Error(`internal error: no Hugging Face mapping for ${name}`);
  const [, side, layer, mod, leaf] = m;
  return { name: `${prefix}${side}.layers.${layer}.${modules[mod]}.${leaf}` };
}

function countLayers(names: Iterable<string>, prefix: string, side: string): number {
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}${side}\\.layers\\.(\\d+)\\.`);
  let max = -1;
  for (const n of names) {
    const m = re.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

async function readJsonFile(file: string): Promise<unknown> {
  const text = await readTextIfExists(file);
  return text === undefined ? undefined : parseJson(text, file);
}

/** Token strings by id and the <|endoftext|> id, from vocab.json (+ added_tokens.json) or tokenizer.json. */
async function readHfVocabulary(dir: string, label: string): Promise<{ tokenAt: (id: number) => string | undefined; eot?: number; where: string }> {
  const vocabFile = path.join(dir, 'vocab.json');
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const addedFile = path.join(dir, 'added_tokens.json');
  let vocab = asObject(await readJsonFile(vocabFile));
  let where = JSON.stringify(vocabFile);
  const tokenizer = asObject(await readJsonFile(tokenizerFile));
  if (!vocab) {
    vocab = asObject(asObject(tokenizer?.model)?.vocab);
    where = JSON.stringify(tokenizerFile);
    if (!vocab) {
      throw new WhisperError('INVALID_MODEL', `${label}: no vocabulary: expected vocab.json (a {token: id} object) or tokenizer.json with model.vocab in the folder`);
    }
  }
  const byId: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) < 10_000_000) byId[id as number] = token;
  }
  let eot: number | undefined = Number.isSafeInteger(vocab[EOT_TOKEN]) ? (vocab[EOT_TOKEN] as number) : undefined;
  if (eot === undefined) {
    const added = asObject(await readJsonFile(addedFile));
    if (added && Number.isSafeInteger(added[EOT_TOKEN])) eot = added[EOT_TOKEN] as number;
  }
  if (eot === undefined && Array.isArray(tokenizer?.added_tokens)) {
    for (const t of tokenizer.added_tokens as unknown[]) {
      const o = asObject(t);
      if (o?.content === EOT_TOKEN && Number.isSafeInteger(o.id)) eot = o.id as number;
    }
  }
  if (eot !== undefined && byId[eot] === undefined) byId[eot] = EOT_TOKEN;
  return { tokenAt: (id) => byId[id], eot, where };
}

/** Loads a Hugging Face transformers Whisper folder for conversion (tensor tables, config, vocabulary). */
export async function loadTransformersSource(dir: string, replaceInvalidUtf8 = false): Promise<SourceModel> {
  const label = `Hugging Face model ${JSON.stringify(dir)}`;
  const configFile = path.join(dir, 'config.json');
  const configJson = await readJsonFile(configFile);
  if (configJson === undefined) throw new WhisperError('INVALID_MODEL', `${label}: no config.json in the folder`);
  const config = asObject(configJson);
  if (!config) throw new WhisperError('INVALID_MODEL', `${JSON.stringify(configFile)}: expected a JSON object`);
  if (config.model_type !== undefined && config.model_type !== 'whisper') {
    throw new WhisperError('INVALID_MODEL', `${label}: config.json says model_type ${JSON.stringify(config.model_type)}, expected "whisper"`);
  }
  if (config.tie_word_embeddings === false) {
    throw new WhisperError(
      'INVALID_MODEL',
      `${label}: config.json sets tie_word_embeddings = false; whisper.cpp always uses the token embedding as the output projection, so a separate proj_out.weight cannot be converted`,
    );
  }

  const { tensors } = await readSafetensorsFolder(dir);
  const prefix = tensors.has('model.encoder.conv1.weight') ? 'model.' : tensors.has('encoder.conv1.weight') ? '' : 'model.';
  const tensor = (name: string): SourceTensor | undefined => tensors.get(name);
  const partial: Omit<SourceModel, 'dims' | 'vocab'> = {
    format: 'transformers',
    dir,
    label,
    tensor,
    sourceOf: (name) => hfSourceOf(prefix, name),
    tensorWord: 'tensor',
    dtypeAdvice: () => '; save the model in float32, float16 or bfloat16 (e.g. model.save_pretrained with torch_dtype=torch.float16)',
  };
  const stub = partial as SourceModel;
  const need = (name: string, rank: number, whisperName: string): SourceTensor => {
    const t = tensor(prefix + name);
    if (!t) throw missingTensorError(stub, prefix + name, whisperName);
    if (t.shape.length !== rank) {
      throw new WhisperError('INVALID_MODEL', `${label}: tensor ${JSON.stringify(t.name)} has shape ${shapeText(t.shape)}, expected ${rank} dimensions`);
    }
    return t;
  };
  const emb = need('decoder.embed_tokens.weight', 2, 'decoder.token_embedding.weight');
  const encPos = need('encoder.embed_positions.weight', 2, 'encoder.positional_embedding');
  const decPos = need('decoder.embed_positions.weight', 2, 'decoder.positional_embedding');
  const conv1 = need('encoder.conv1.weight', 3, 'encoder.conv1.weight');
  const nState = encPos.shape[1];
  if (emb.shape[1] !== nState) throw wrongShapeError(stub, emb, [emb.shape[0], nState], `n_state = ${nState} from ${encPos.name}`);
  if (decPos.shape[1] !== nState) throw wrongShapeError(stub, decPos, [decPos.shape[0], nState], `n_state = ${nState} from ${encPos.name}`);

  const names = [...tensors.keys()];
  const nAudioLayer = positiveInt(config.encoder_layers) ?? countLayers(names, prefix, 'encoder');
  const nTextLayer = positiveInt(config.decoder_layers) ?? countLayers(names, prefix, 'decoder');
  if (nAudioLayer === 0) throw missingTensorError(stub, `${prefix}encoder.layers.0.self_attn.q_proj.weight`, 'encoder.blocks.0.attn.query.weight');
  if (nTextLayer === 0) throw missingTensorError(stub, `${prefix}decoder.layers.0.self_attn.q_proj.weight`, 'decoder.blocks.0.attn.query.weight');
  const heads = (field: string): number => {
    const h = positiveInt(config[field]) ?? Math.max(1, Math.round(nState / 64));
    if (nState % h !== 0) throw new WhisperError('INVALID_MODEL', `${label}: config.json ${field} = ${h} does not divide n_state = ${nState}`);
    return h;
  };
  const dims: SourceDims = {
    nVocab: emb.shape[0],
    nAudioCtx: encPos.shape[0],
    nAudioState: nState,
    nAudioHead: heads('encoder_attention_heads'),
    nAudioLayer,
    nTextCtx: decPos.shape[0],
    nTextState: nState,
    nTextHead: heads('decoder_attention_heads'),
    nTextLayer,
    nMels: conv1.shape[1],
  };
  checkSourceDims(label, dims);
  const voc = await readHfVocabulary(dir, label);
  const vocab = whisperBaseVocab(voc.tokenAt, voc.eot, dims.nVocab, voc.where, replaceInvalidUtf8);
  return { ...partial, dims, vocab };
}
