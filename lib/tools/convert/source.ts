/**
 * What the CTranslate2 and Hugging Face readers hand to the converter: a `SourceModel` (dimensions,
 * vocabulary, and for every whisper.cpp tensor the source tensor, or the part of a fused source tensor,
 * that holds it), and the plan that turns it into the ggml tensor list, checked before anything is written.
 *
 * No tensor needs a transpose: CTranslate2 and Hugging Face store linear weights as [out, in], conv
 * kernels as [out, in, kernel] and embeddings as [rows, n_state], exactly as PyTorch does, and ggml's
 * ne order is the reversed numpy shape over the same row-major data. A fused tensor's parts are row
 * ranges (q, k, v one after the other along the first axis), so every ggml tensor is one contiguous
 * byte range of one source tensor, converted element by element.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { fileError, type FileRole } from '../../errors/file-errors';
import { WhisperError } from '../../errors/whisper-error';
import { openForReading, readFully } from '../../errors/file-errors';
import { type WhisperHparams } from '../../model-files/hparams';
import { expectedTensors } from '../../model-files/tensors';

/** Element types the converter can read. Other dtypes are listed by name and rejected when needed. */
export type SourceDtype = 'f32' | 'f16' | 'bf16';

export const DTYPE_BYTES: Record<SourceDtype, number> = { f32: 4, f16: 2, bf16: 2 };

export interface SourceTensor {
  /** The name in the source file. */
  name: string;
  /** The file that holds the data. */
  file: string;
  /** numpy order (first axis slowest). */
  shape: number[];
  /** 'f32' | 'f16' | 'bf16', or the source format's own name of an unsupported type (e.g. 'int8', 'I8'). */
  dtype: string;
  /** Absolute file offset of the data. */
  offset: number;
  byteLength: number;
}

/** Where a whisper.cpp tensor comes from: a source tensor, or part `index` of `of` equal row blocks of one. */
export interface SourceRef {
  name: string;
  part?: { index: number; of: number };
}

/** The dimensions a source defines; the ggml ftype is added by the converter. */
export type SourceDims = Omit<WhisperHparams, 'ftype' | 'quantizationVersion'>;

export interface SourceModel {
  format: 'ctranslate2' | 'transformers';
  /** The source folder. */
  dir: string;
  /** Prefix for messages, e.g. `CTranslate2 model "dir"`. */
  label: string;
  dims: SourceDims;
  /** Token bytes to store, by id (see vocab.ts). */
  vocab: Uint8Array[];
  /** Looks up a source tensor by its source name (aliases resolved). */
  tensor(name: string): SourceTensor | undefined;
  /** The source of a whisper.cpp tensor. */
  sourceOf(whisperName: string): SourceRef;
  /** What the source calls its tensors in messages: 'variable' (CTranslate2) or 'tensor'. */
  tensorWord: string;
  /** Extra advice for an unsupported dtype (e.g. a quantized CTranslate2 model). */
  dtypeAdvice(dtype: string): string;
}

/** One ggml tensor to write. */
export interface PlannedTensor {
  name: string;
  /** ggml ne order. */
  shape: number[];
  /** ggml type: 0 (f32) or 1 (f16). */
  type: number;
  elements: number;
  source: SourceTensor & { dtype: SourceDtype };
  /** File offset of this tensor's first element. */
  offset: number;
}

/**
 * The tensor names in the order of OpenAI's PyTorch state dict (the order whisper.cpp's
 * convert-pt-to-ggml.py writes): each module's own parameters and buffers before its children's, so the
 * positional embeddings come first; blocks as attn, attn_ln, cross_attn, cross_attn_ln, mlp, mlp_ln.
 */
export function whisperTensorOrder(nAudioLayer: number, nTextLayer: number): string[] {
  const names: string[] = [];
  const attn = (p: string): void => {
    names.push(`${p}.query.weight`, `${p}.query.bias`, `${p}.key.weight`, `${p}.value.weight`, `${p}.value.bias`, `${p}.out.weight`, `${p}.out.bias`);
  };
  const block = (p: string, cross: boolean): void => {
    attn(`${p}.attn`);
    names.push(`${p}.attn_ln.weight`, `${p}.attn_ln.bias`);
    if (cross) {
      attn(`${p}.cross_attn`);
      names.push(`${p}.cross_attn_ln.weight`, `${p}.cross_attn_ln.bias`);
    }
    names.push(`${p}.mlp.0.weight`, `${p}.mlp.0.bias`, `${p}.mlp.2.weight`, `${p}.mlp.2.bias`, `${p}.mlp_ln.weight`, `${p}.mlp_ln.bias`);
  };
  names.push('encoder.positional_embedding', 'encoder.conv1.weight', 'encoder.conv1.bias', 'encoder.conv2.weight', 'encoder.conv2.bias');
  for (let i = 0; i < nAudioLayer; i++) block(`encoder.blocks.${i}`, false);
  names.push('encoder.ln_post.weight', 'encoder.ln_post.bias');
  names.push('decoder.positional_embedding', 'decoder.token_embedding.weight');
  for (let i = 0; i < nTextLayer; i++) block(`decoder.blocks.${i}`, true);
  names.push('decoder.ln.weight', 'decoder.ln.bias');
  return names;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function missingTensorError(src: SourceModel, sourceName: string, whisperName?: string): WhisperError {
  const what = whisperName ? ` (whisper.cpp's ${JSON.stringify(whisperName)} comes from it)` : '';
  return new WhisperError('INVALID_MODEL', `${src.label}: missing ${src.tensorWord} ${JSON.stringify(sourceName)}${what}`);
}

export function wrongShapeError(src: SourceModel, t: SourceTensor, expected: readonly number[], why?: string): WhisperError {
  return new WhisperError(
    'INVALID_MODEL',
    `${src.label}: ${src.tensorWord} ${JSON.stringify(t.name)} has shape ${shapeText(t.shape)}, expected ${shapeText(expected)}${why ? ` (${why})` : ''}`,
  );
}

export function isSupportedDtype(dtype: string): dtype is SourceDtype {
  return dtype === 'f32' || dtype === 'f16' || dtype === 'bf16';
}

/** Dimension checks before the vocabulary is read (its layout depends on n_vocab). */
export function checkSourceDims(label: string, d: SourceDims): void {
  if (d.nVocab < 51864) {
    throw new WhisperError(
      'INVALID_MODEL',
      `${label}: the token embedding has ${d.nVocab} rows; whisper.cpp needs at least 51864 (its special tokens follow the 50256/50257 text tokens)`,
    );
  }
  if (d.nMels < 1 || d.nMels > 512) throw new WhisperError('INVALID_MODEL', `${label}: impossible n_mels ${d.nMels} (from the conv1 weight)`);
}

function dimsText(d: SourceDims): string {
  return `n_state = ${d.nAudioState}, n_mels = ${d.nMels}, n_audio_ctx = ${d.nAudioCtx}, n_text_ctx = ${d.nTextCtx}, n_vocab = ${d.nVocab}`;
}

/**
 * Checks the source against what whisper.cpp needs for its dimensions and returns the ggml tensors in
 * write order. Every error names the source tensor, what was expected and what was found.
 */
export function planTensors(src: SourceModel, hparams: WhisperHparams): PlannedTensor[] {
  const expected = new Map(expectedTensors(hparams).map((e) => [e.name, e]));
  const order = whisperTensorOrder(hparams.nAudioLayer, hparams.nTextLayer);
  if (order.length !== expected.size || order.some((n) => !expected.has(n))) {
    throw new Error('internal error: the converter tensor order does not match expectedTensors');
  }
  const plan: PlannedTensor[] = [];
  for (const name of order) {
    const exp = expected.get(name)!;
    const ref = src.sourceOf(name);
    const t = src.tensor(ref.name);
    if (!t) throw missingTensorError(src, ref.name, name);
    if (!isSupportedDtype(t.dtype)) {
      throw new WhisperError(
        'INVALID_MODEL',
        `${src.label}: ${src.tensorWord} ${JSON.stringify(t.name)} has data type ${t.dtype}; the converter reads only float32, float16 and bfloat16 weights${src.dtypeAdvice(t.dtype)}`,
      );
    }
    // numpy shape of the ggml tensor: reversed ne; conv biases are stored as [n] and written as ne [1, n]
    let want = [...exp.shape].reverse();
    if (name === 'encoder.conv1.bias' || name === 'encoder.conv2.bias') want = [exp.shape[1]];
    const parts = ref.part?.of ?? 1;
    const wantSource = [want[0] * parts, ...want.slice(1)];
    if (t.shape.length !== wantSource.length || t.shape.some((d, i) => d !== wantSource[i])) {
      const why = parts > 1 ? `${parts} fused blocks of ${shapeText(want)}; ${dimsText(src.dims)}` : dimsText(src.dims);
      throw wrongShapeError(src, t, wantSource, why);
    }
    const elements = exp.shape.reduce((a, b) => a * b, 1);
    const itemBytes = DTYPE_BYTES[t.dtype];
    if (t.byteLength !== elements * parts * itemBytes) {
      throw new WhisperError(
        'INVALID_MODEL',
        `${src.label}: ${src.tensorWord} ${JSON.stringify(t.name)} (${t.dtype} ${shapeText(t.shape)}) has ${t.byteLength} bytes of data, expected ${elements * parts * itemBytes}`,
      );
    }
    const partIndex = ref.part?.index ?? 0;
    plan.push({
      name,
      shape: exp.shape,
      type: exp.type,
      elements,
      source: t as SourceTensor & { dtype: SourceDtype },
      offset: t.offset + partIndex * elements * itemBytes,
    });
  }
  return plan;
}

/** A file of the source model folder, for file errors: `what` is e.g. 'safetensors file'. */
export function sourceFileRole(what: string): FileRole {
  return { parameter: 'options.source', what, notFound: 'MODEL_NOT_FOUND' };
}

/** Reads a small file as UTF-8 text; a missing file is undefined. Other failures are fileError's. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw fileError(err, file, sourceFileRole('model file'));
  }
}

/** JSON.parse with an INVALID_MODEL error naming the file. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WhisperError('INVALID_MODEL', `${JSON.stringify(file)} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads exactly `length` bytes at `position` into `buf` (from `bufOffset`). Throws INVALID_MODEL naming
 * the file if it ends first (e.g. it shrank after its header was read), FILE_UNREADABLE if a read fails.
 */
export async function readExactly(fh: FileHandle, file: string, buf: Uint8Array, bufOffset: number, length: number, position: number): Promise<void> {
  const done = await readFully(fh, file, sourceFileRole('model file'), buf, bufOffset, length, position);
  if (done < length) {
    throw new WhisperError(
      'INVALID_MODEL',
      `${JSON.stringify(file)} ends at byte ${position + done}, but ${length - done} more bytes were expected there (truncated file?)`,
    );
  }
}

/** A plain JSON object, or undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Opens a source model file for positioned reads, with the library's file errors (MODEL_NOT_FOUND
 * when it is missing, INVALID_ARGUMENT when it is not a regular file, FILE_UNREADABLE when it cannot
 * be read). `kind` names the format in messages.
 */
export async function openSourceFile(file: string, kind: string): Promise<{ fh: FileHandle; size: number }> {
  return openForReading(file, sourceFileRole(`${kind} file`));
}
