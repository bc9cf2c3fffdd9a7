/**
 * Reads CTranslate2 Whisper models (faster-whisper's format): a folder with model.bin, config.json and
 * vocabulary.txt (one token per line) or vocabulary.json (an array of tokens).
 *
 * model.bin (binary versions 4 to 6; little-endian, no padding), as CTranslate2's model_spec.py writes
 * and models/model.cc reads it:
 *   uint32 binary_version
 *   string spec name (e.g. "WhisperSpec"), uint32 spec revision
 *   uint32 num_variables, then per variable:
 *     string name, uint8 rank, uint32 dims[rank], uint8 dtype, uint32 num_bytes, data[num_bytes]
 *   uint32 num_aliases, then per alias: string alias, string target name
 * where a string is a uint16 length (including a terminating NUL) and the bytes, and dtype is
 * CTranslate2's DataType: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16.
 *
 * Only the variable table is read here (one small read per variable); the data stays on disk.
 *
 * WhisperSpec layout (CTranslate2's Whisper converter): the self-attention's q, k and v projections
 * are fused into `self_attention/linear_0` ([3n, n], key bias stored as zeros), the output projection is
 * `linear_1`; the decoder's cross-attention has the query in `attention/linear_0`, k and v fused in
 * `attention/linear_1` ([2n, n]) and the output in `linear_2`; layer norms are gamma/beta; the output
 * projection is an alias of the token embedding; `encoder|decoder/num_heads` are int16 scalars.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import {
  checkSourceDims,
  missingTensorError,
  parseJson,
  readExactly,
  readTextIfExists,
  shapeText,
  wrongShapeError,
  type SourceDims,
  type SourceModel,
  type SourceRef,
  type SourceTensor,
  openSourceFile,
} from './source';
import { EOT_TOKEN, whisperBaseVocab } from './vocab';

export const CT2_DTYPES: Record<number, { name: string; bytes: number; source?: 'f32' | 'f16' | 'bf16' }> = Object.freeze({
  0: { name: 'float32', bytes: 4, source: 'f32' as const },
  1: { name: 'int8', bytes: 1 },
  2: { name: 'int16', bytes: 2 },
  3: { name: 'int32', bytes: 4 },
  4: { name: 'float16', bytes: 2, source: 'f16' as const },
  5: { name: 'bfloat16', bytes: 2, source: 'bf16' as const },
});

export const CT2_MIN_BINARY_VERSION = 4;
export const CT2_MAX_BINARY_VERSION = 6;
const MAX_STRING = 65535;
const MAX_RANK = 8;
const MAX_VARIABLES = 1_000_000;

export interface Ct2Variable extends SourceTensor {
  dtypeId: number;
}

export interface Ct2ModelFile {
  path: string;
  fileSize: number;
  binaryVersion: number;
  spec: string;
  revision: number;
  /** In file order. `dtype` is 'f32' | 'f16' | 'bf16' for float variables, else CTranslate2's name ('int8', ...). */
  variables: Map<string, Ct2Variable>;
  /** alias -> target variable name. */
  aliases: Map<string, string>;
}

/** Sequential reads through a window, so walking the variable table costs one read per variable. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
    readonly size: number,
    private readonly fail: (msg: string) => WhisperError,
  ) {}

  /** The next `n` bytes (consumed). `what` names the field for the truncation message. */
  async take(n: number, what: string): Promise<Buffer> {
    if (this.pos + n > this.size) {
      throw this.fail(`the file is truncated: it ends at byte ${this.size}, inside ${what} at offset ${this.pos}`);
    }
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, 65536), this.size - this.pos);
      const buf = Buffer.allocUnsafe(len);
      await readExactly(this.fh, this.file, buf, 0, len, this.pos);
      this.buf = buf;
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  async u8(what: string): Promise<number> {
    return (await this.take(1, what))[0];
  }

  async u16(what: string): Promise<number> {
    return (await this.take(2, what)).readUInt16LE(0);
  }

  async u32(what: string): Promise<number> {
    return (await this.take(4, what)).readUInt32LE(0);
  }

  async str(what: string): Promise<string> {
    const len = await this.u16(`the length of ${what}`);
    if (len < 1 || len > MAX_STRING) throw this.fail(`impossible string length ${len} for ${what} at offset ${this.pos - 2}`);
    const bytes = await this.take(len, what);
    const nul = bytes.indexOf(0);
    return bytes.subarray(0, nul === -1 ? len : nul).toString('utf8');
  }
}

/**
 * Reads a CTranslate2 model.bin's header and variable table (not the data). Throws MODEL_NOT_FOUND for a
 * missing file and INVALID_MODEL for anything that is not a complete model.bin this reader understands
 * (a truncated file names the variable whose data is cut).
 */
export async function readCt2ModelFile(file: string): Promise<Ct2ModelFile> {
  const fail = (msg: string): WhisperError => new WhisperError('INVALID_MODEL', `invalid CTranslate2 model file ${JSON.stringify(file)}: ${msg}`);
  const { fh, size } = await openSourceFile(file, 'CTranslate2 model');
  try {
    const c = new Cursor(fh, file, size, fail);
    if (size < 4) throw fail(`the file is only ${size} bytes`);

    const binaryVersion = await c.u32('the binary version');
    if (binaryVersion < CT2_MIN_BINARY_VERSION || binaryVersion > CT2_MAX_BINARY_VERSION) {
      const hint =
        binaryVersion > CT2_MAX_BINARY_VERSION && binaryVersion < 1000
          ? ' (a newer CTranslate2 format)'
          : binaryVersion < CT2_MIN_BINARY_VERSION
            ? ' (an old CTranslate2 format without data types)'
            : ' (is this a CTranslate2 model.bin at all?)';
      throw fail(`binary version ${binaryVersion}${hint}; the converter reads versions ${CT2_MIN_BINARY_VERSION} to ${CT2_MAX_BINARY_VERSION}`);
    }
    const spec = await c.str('the spec name');
    const revision = await c.u32('the spec revision');
    const count = await c.u32('the variable count');
    if (count > MAX_VARIABLES) throw fail(`impossible variable count ${count}`);

    const variables = new Map<string, Ct2Variable>();
    for (let i = 0; i < count; i++) {
      const where = `variable #${i}`;
      const name = await c.str(`the name of ${where}`);
      const rank = await c.u8(`the rank of ${where} (${JSON.stringify(name)})`);
      if (rank > MAX_RANK) throw fail(`variable ${JSON.stringify(name)} has an impossible rank ${rank}`);
      const shape: number[] = [];
      for (let d = 0; d < rank; d++) shape.push(await c.u32(`the shape of variable ${JSON.stringify(name)}`));
      const dtypeId = await c.u8(`the data type of variable ${JSON.stringify(name)}`);
      const byteLength = await c.u32(`the byte count of variable ${JSON.stringify(name)}`);
      const dt = CT2_DTYPES[dtypeId];
      const elements = shape.reduce((a, b) => a * b, 1);
      if (dt && elements * dt.bytes !== byteLength) {
        throw fail(`variable ${JSON.stringify(name)} (${dt.name} ${shapeText(shape)}) declares ${byteLength} bytes of data, expected ${elements * dt.bytes}`);
      }
      const offset = c.pos;
      if (offset + byteLength > size) {
        throw fail(
          `the file is truncated: variable #${i} ${JSON.stringify(name)} (${dt?.name ?? `dtype ${dtypeId}`} ${shapeText(shape)}) needs ${byteLength} bytes of data at offset ${offset}, but the file ends at ${size} (${offset + byteLength - size} bytes missing)`,
        );
      }
      if (variables.has(name)) throw fail(`variable ${JSON.stringify(name)} appears twice`);
      variables.set(name, {
        name,
        file,
        shape,
        dtype: dt ? (dt.source ?? dt.name) : `unknown data type ${dtypeId}`,
        dtypeId,
        offset,
        byteLength,
      });
      c.pos = offset + byteLength;
    }
    const aliases = new Map<string, string>();
    const nAliases = await c.u32('the alias count');
    if (nAliases > MAX_VARIABLES) throw fail(`impossible alias count ${nAliases}`);
    for (let i = 0; i < nAliases; i++) {
      const alias = await c.str(`alias #${i}`);
      const target = await c.str(`the target of alias #${i}`);
      aliases.set(alias, target);
    }
    return { path: file, fileSize: size, binaryVersion, spec, revision, variables, aliases };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The value of an integer scalar variable (int8/int16/int32), or undefined if it is absent or not a scalar. */
export async function readCt2Scalar(model: Ct2ModelFile, name: string): Promise<number | undefined> {
  const v = model.variables.get(name);
  if (!v || v.shape.length !== 0) return undefined;
  const size = ({ int8: 1, int16: 2, int32: 4 } as Record<string, number>)[v.dtype];
  if (size === undefined || v.byteLength !== size) return undefined;
  const buf = Buffer.alloc(size);
  const fh = await fsp.open(model.path, 'r');
  try {
    await readExactly(fh, model.path, buf, 0, size, v.offset);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return size === 1 ? buf.readInt8(0) : size === 2 ? buf.readInt16LE(0) : buf.readInt32LE(0);
}

/** CTranslate2 variable for a whisper.cpp tensor name. */
function ct2SourceOf(name: string): SourceRef {
  const ln = (p: string, leaf: string): string => `${p}/layer_norm/${leaf === 'weight' ? 'gamma' : 'beta'}`;
  const fixed: Record<string, string> = {
    'encoder.positional_embedding': 'encoder/position_encodings/encodings',
    'encoder.conv1.weight': 'encoder/conv1/weight',
    'encoder.conv1.bias': 'encoder/conv1/bias',
    'encoder.conv2.weight': 'encoder/conv2/weight',
    'encoder.conv2.bias': 'encoder/conv2/bias',
    'encoder.ln_post.weight': 'encoder/layer_norm/gamma',
    'encoder.ln_post.bias': 'encoder/layer_norm/beta',
    'decoder.positional_embedding': 'decoder/position_encodings/encodings',
    'decoder.token_embedding.weight': 'decoder/embeddings/weight',
    'decoder.ln.weight': 'decoder/layer_norm/gamma',
    'decoder.ln.bias': 'decoder/layer_norm/beta',
  };
  if (fixed[name]) return { name: fixed[name] };
  const m = /^(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) throw new Error(`internal error: no CTranslate2 mapping for ${name}`);
  const [, side, layer, mod, leaf] = m;
  const p = `${side}/layer_${layer}`;
  switch (mod) {
    case 'attn.query':
      return { name: `${p}/self_attention/linear_0/${leaf}`, part: { index: 0, of: 3 } };
    case 'attn.key':
      return { name: `${p}/self_attention/linear_0/${leaf}`, part: { index: 1, of: 3 } };
    case 'attn.value':
      return { name: `${p}/self_attention/linear_0/${leaf}`, part: { index: 2, of: 3 } };
    case 'attn.out':
      return { name: `${p}/self_attention/linear_1/${leaf}` };
    case 'attn_ln':
      return { name: ln(`${p}/self_attention`, leaf) };
    case 'cross_attn.query':
      return { name: `${p}/attention/linear_0/${leaf}` };
    case 'cross_attn.key':
      return { name: `${p}/attention/linear_1/${leaf}`, part: { index: 0, of: 2 } };
    case 'cross_attn.value':
      return { name: `${p}/attention/linear_1/${leaf}`, part: { index: 1, of: 2 } };
    case 'cross_attn.out':
      return { name: `${p}/attention/linear_2/${leaf}` };
    case 'cross_attn_ln':
      return { name: ln(`${p}/attention`, leaf) };
    case 'mlp.0':
      return { name: `${p}/ffn/linear_0/${leaf}` };
    case 'mlp.2':
      return { name: `${p}/ffn/linear_1/${leaf}` };
    case 'mlp_ln':
      return { name: ln(`${p}/ffn`, leaf) };
    default:
      throw new Error(`internal error: no CTranslate2 mapping for ${name}`);
  }
}

function countLayers(names: Iterable<string>, side: string): number {
  const re = new RegExp(`^${side}/layer_(\\d+)/`);
  let max = -1;
  for (const n of names) {
    const m = re.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** Reads vocabulary.txt or vocabulary.json: token strings by id. */
async function readCt2Vocabulary(dir: string): Promise<{ tokens: string[]; file: string }> {
  const txt = path.join(dir, 'vocabulary.txt');
  const text = await readTextIfExists(txt);
  if (text !== undefined) {
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline
    // byte-level tokens never contain \r (it is spelled 'č'), so a \r here comes from CRLF line ends
    return { tokens: lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), file: txt };
  }
  const json = path.join(dir, 'vocabulary.json');
  const jtext = await readTextIfExists(json);
  if (jtext !== undefined) {
    const v = parseJson(jtext, json);
    if (!Array.isArray(v) || v.some((t) => typeof t !== 'string')) {
      throw new WhisperError('INVALID_MODEL', `${JSON.stringify(json)}: expected a JSON array of token strings`);
    }
    return { tokens: v as string[], file: json };
  }
  throw new WhisperError(
    'INVALID_MODEL',
    `CTranslate2 model ${JSON.stringify(dir)}: no vocabulary.txt or vocabulary.json in the folder (the converter takes the tokens from it)`,
  );
}

/** Loads a CTranslate2 Whisper model folder for conversion (reads the variable table and vocabulary). */
export async function loadCt2Source(dir: string, replaceInvalidUtf8 = false): Promise<SourceModel> {
  const file = path.join(dir, 'model.bin');
  const label = `CTranslate2 model ${JSON.stringify(dir)}`;
  let model: Ct2ModelFile;
  try {
    model = await readCt2ModelFile(file);
  } catch (err) {
    if (err instanceof WhisperError && err.code === 'MODEL_NOT_FOUND') {
      throw new WhisperError('INVALID_MODEL', `${label}: no model.bin in the folder`, { cause: err });
    }
    throw err;
  }
  if (model.spec !== 'WhisperSpec') {
    throw new WhisperError('INVALID_MODEL', `${label}: model.bin holds a ${JSON.stringify(model.spec)} model, not a Whisper model (spec "WhisperSpec")`);
  }
  const tensor = (name: string): SourceTensor | undefined => model.variables.get(model.aliases.get(name) ?? name) ?? model.variables.get(name);
  const advice = (dtype: string): string =>
    dtype === 'int8' || dtype === 'int16'
      ? `: this is a quantized CTranslate2 model (${dtype} weights, e.g. compute type int8 / int8_float16), which cannot be converted without losing accuracy twice; convert from a float16 or float32 CTranslate2 model (ct2-transformers-converter --quantization float16) or from the Hugging Face model`
      : '';

  const partial: Omit<SourceModel, 'dims' | 'vocab'> = {
    format: 'ctranslate2',
    dir,
    label,
    tensor,
    sourceOf: ct2SourceOf,
    tensorWord: 'variable',
    dtypeAdvice: advice,
  };
  const stub = partial as SourceModel;
  const need = (name: string, rank: number, whisperName: string): SourceTensor => {
    const t = tensor(name);
    if (!t) throw missingTensorError(stub, name, whisperName);
    if (t.shape.length !== rank) {
      throw new WhisperError('INVALID_MODEL', `${label}: variable ${JSON.stringify(name)} has shape ${shapeText(t.shape)}, expected ${rank} dimensions`);
    }
    return t;
  };
  const emb = need('decoder/embeddings/weight', 2, 'decoder.token_embedding.weight');
  const encPos = need('encoder/position_encodings/encodings', 2, 'encoder.positional_embedding');
  const decPos = need('decoder/position_encodings/encodings', 2, 'decoder.positional_embedding');
  const conv1 = need('encoder/conv1/weight', 3, 'encoder.conv1.weight');
  const nState = encPos.shape[1];
  const names = [...model.variables.keys()];
  const nAudioLayer = countLayers(names, 'encoder');
  const nTextLayer = countLayers(names, 'decoder');
  if (nAudioLayer === 0) throw missingTensorError(stub, 'encoder/layer_0/self_attention/linear_0/weight', 'encoder.blocks.0.attn.query.weight');
  if (nTextLayer === 0) throw missingTensorError(stub, 'decoder/layer_0/self_attention/linear_0/weight', 'decoder.blocks.0.attn.query.weight');
  const heads = async (side: string, n: number): Promise<number> => {
    const v = await readCt2Scalar(model, `${side}/num_heads`);
    const h = v ?? Math.max(1, Math.round(n / 64));
    if (!(h > 0) || n % h !== 0) {
      throw new WhisperError('INVALID_MODEL', `${label}: ${side}/num_heads = ${h} does not divide n_state = ${n}`);
    }
    return h;
  };
  if (emb.shape[1] !== nState) throw wrongShapeError(stub, emb, [emb.shape[0], nState], `n_state = ${nState} from encoder/position_encodings/encodings`);
  if (decPos.shape[1] !== nState) throw wrongShapeError(stub, decPos, [decPos.shape[0], nState], `n_state = ${nState} from encoder/position_encodings/encodings`);
  const dims: SourceDims = {
    nVocab: emb.shape[0],
    nAudioCtx: encPos.shape[0],
    nAudioState: nState,
    nAudioHead: await heads('encoder', nState),
    nAudioLayer,
    nTextCtx: decPos.shape[0],
    nTextState: nState,
    nTextHead: await heads('decoder', nState),
    nTextLayer,
    nMels: conv1.shape[1],
  };

  checkSourceDims(label, dims);
  const voc = await readCt2Vocabulary(dir);
  const eot = voc.tokens.indexOf(EOT_TOKEN);
  const vocab = whisperBaseVocab((id) => voc.tokens[id], eot === -1 ? undefined : eot, dims.nVocab, JSON.stringify(voc.file), replaceInvalidUtf8);
  return { ...partial, dims, vocab };
}
