import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertModel, detectSourceFormat, type ConvertOptions } from '../../lib/tools/convert';
import { WHISPER_ERROR_CODES } from '../../lib/errors/whisper-error';
import { SHARED } from '../support/paths';
import { rejectedWhisperError } from '../support/errors';
import {
  TINY_DIMS,
  fullVocabulary,
  ggmlVocabTokens,
  rawTokensForPublished,
  writeCt2ModelBin,
  writeCt2WhisperFolder,
  type Ct2WhisperFolderOptions,
} from '../support/ct2-writer';
import { writeHfWhisperFolder, type HfWhisperFolderOptions } from '../support/safetensors-writer';

const BASE_HEADER = path.join(SHARED, 'models', 'header-only-ggml-base.bin');

let tmp: string;
let vocabulary: string[];
let rawVocabulary: string[];
let n = 0;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'convert-errors-'));
  const tokens = await ggmlVocabTokens(BASE_HEADER);
  vocabulary = fullVocabulary(tokens, TINY_DIMS.nVocab);
  rawVocabulary = fullVocabulary(rawTokensForPublished(tokens), TINY_DIMS.nVocab);
});

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** A fresh CTranslate2 fixture folder (all-zero weights unless told otherwise). */
async function ct2(opts: Partial<Ct2WhisperFolderOptions> = {}): Promise<string> {
  const dir = path.join(tmp, `ct2-${n++}`);
  await writeCt2WhisperFolder(dir, { dims: TINY_DIMS, vocabulary, zeros: true, ...opts });
  return dir;
}

async function hf(opts: Partial<HfWhisperFolderOptions> = {}): Promise<string> {
  const dir = path.join(tmp, `hf-${n++}`);
  await writeHfWhisperFolder(dir, { dims: TINY_DIMS, vocabulary: rawVocabulary, zeros: true, ...opts });
  return dir;
}

function out(): string {
  return path.join(tmp, `out-${n++}.bin`);
}

/** convertModel's WhisperError; also checks that nothing was left at outPath or beside it. */
async function convertError(options: ConvertOptions) {
  const before = new Set(await fsp.readdir(tmp));
  const err = await rejectedWhisperError(convertModel(options));
  expect(WHISPER_ERROR_CODES).toContain(err.code);
  const after = (await fsp.readdir(tmp)).filter((f) => !before.has(f));
  expect(after).toEqual([]);
  return err;
}

describe('convertModel: options', () => {
  it('rejects a missing or malformed options object', async () => {
    expect((await rejectedWhisperError(convertModel(null as unknown as ConvertOptions))).code).toBe('INVALID_ARGUMENT');
    const e = await rejectedWhisperError(convertModel({ source: '', outPath: out() }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/options\.source: expected a non-empty string/);
    const e2 = await rejectedWhisperError(convertModel({ source: tmp, outPath: 42 as unknown as string }));
    expect(e2.message).toMatch(/options\.outPath: expected a non-empty string.*got 42/);
  });

  it('rejects an unknown weightType, naming the option and the value', async () => {
    const dir = await ct2();
    const e = await convertError({ source: dir, outPath: out(), weightType: 'q5_0' as 'f16' });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe(`options.weightType: expected one of 'f16', 'f32', got "q5_0"`);
  });

  it('rejects an unknown format, a non-function onProgress and a non-boolean replaceInvalidUtf8', async () => {
    const dir = await ct2();
    expect((await convertError({ source: dir, outPath: out(), format: 'onnx' as 'auto' })).message).toMatch(
      /options\.format: expected one of 'auto', 'ctranslate2', 'transformers', got "onnx"/,
    );
    expect((await convertError({ source: dir, outPath: out(), onProgress: 1 as unknown as () => void })).message).toMatch(/options\.onProgress/);
    expect((await convertError({ source: dir, outPath: out(), replaceInvalidUtf8: 'yes' as unknown as boolean })).message).toMatch(/options\.replaceInvalidUtf8/);
  });

  it('MODEL_NOT_FOUND for a missing melFiltersFrom file; INVALID_ARGUMENT for a filter bank of the wrong size', async () => {
    const dir = await ct2();
    const missing = path.join(tmp, 'no-such-header.bin');
    const e = await convertError({ source: dir, outPath: out(), melFiltersFrom: missing });
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('options.melFiltersFrom');
    expect(e.message).toContain(missing);
    const dir128 = await ct2({ shapes: { 'encoder/conv1/weight': [64, 128, 3] } });
    const e2 = await convertError({ source: dir128, outPath: out(), melFiltersFrom: BASE_HEADER });
    expect(e2.code).toBe('INVALID_ARGUMENT');
    expect(e2.message).toMatch(/options\.melFiltersFrom: .* has 80 mel filters, but the model needs 128/);
  });

  it('the output path: a missing directory or a directory is INVALID_ARGUMENT naming options.outPath', async () => {
    const dir = await ct2();
    const bad = path.join(tmp, 'no-such-dir', 'model.bin');
    const e = await convertError({ source: dir, outPath: bad });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('options.outPath: cannot write');
    expect(e.message).toContain(bad);
    const asDir = path.join(tmp, `out-dir-${n++}`);
    await fsp.mkdir(asDir);
    const e2 = await convertError({ source: dir, outPath: asDir });
    expect(e2.code).toBe('INVALID_ARGUMENT');
    expect(e2.message).toContain('is a directory');
  });

  it('an error during the write (here: from onProgress) leaves no file behind, and the target is not touched', async () => {
    const dir = await ct2();
    const target = out();
    await fsp.writeFile(target, 'previous');
    const before = new Set(await fsp.readdir(tmp));
    const err = await convertModel({
      source: dir,
      outPath: target,
      onProgress: (d) => {
        if (d === 10) throw new Error('stop here');
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop here');
    expect(await fsp.readdir(tmp)).toEqual([...before]);
    expect(await fsp.readFile(target, 'utf8')).toBe('previous');
  });
});

describe('convertModel / detectSourceFormat: the source folder', () => {
  it('MODEL_NOT_FOUND for a missing folder', async () => {
    const missing = path.join(tmp, 'no-such-model');
    const e = await convertError({ source: missing, outPath: out() });
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toBe(`options.source: model folder not found: ${JSON.stringify(missing)}`);
    expect((await rejectedWhisperError(detectSourceFormat(missing))).code).toBe('MODEL_NOT_FOUND');
  });

  it('INVALID_ARGUMENT for a file instead of a folder', async () => {
    const e = await convertError({ source: BASE_HEADER, outPath: out() });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/expected a model folder .*got a file/);
  });

  it('INVALID_MODEL for a folder that is neither format: says what was expected and lists what is there', async () => {
    const dir = path.join(tmp, `neither-${n++}`);
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, 'notes.txt'), 'x');
    await fsp.writeFile(path.join(dir, 'config.json'), '{}');
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('neither a CTranslate2 Whisper model (expected model.bin');
    expect(e.message).toContain('model.safetensors or model.safetensors.index.json');
    expect(e.message).toContain('found 2 entries: config.json, notes.txt');
    const empty = path.join(tmp, `empty-${n++}`);
    await fsp.mkdir(empty);
    expect((await rejectedWhisperError(detectSourceFormat(empty))).message).toContain('the folder is empty');
  });

  it('points out PyTorch pickles', async () => {
    const dir = path.join(tmp, `pickle-${n++}`);
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, 'pytorch_model.bin'), 'x');
    const e = await rejectedWhisperError(detectSourceFormat(dir));
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('pytorch_model.bin is a PyTorch pickle');
  });

  it('INVALID_ARGUMENT for a folder with both formats unless options.format picks one', async () => {
    const dir = await ct2();
    await fsp.writeFile(path.join(dir, 'model.safetensors'), 'x');
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain("pass options.format ('ctranslate2' or 'transformers')");
    const info = await convertModel({ source: dir, outPath: out(), format: 'ctranslate2' });
    expect(info.modelType).toBe('unknown');
  });

  it('an explicit format whose files are missing', async () => {
    const dir = await ct2();
    const e = await convertError({ source: dir, outPath: out(), format: 'transformers' });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('no model.safetensors or model.safetensors.index.json in the folder');
    await fsp.rm(path.join(dir, 'config.json'));
    expect((await convertError({ source: dir, outPath: out(), format: 'transformers' })).message).toContain('no config.json');
    const dir2 = await hf();
    const e2 = await convertError({ source: dir2, outPath: out(), format: 'ctranslate2' });
    expect(e2.code).toBe('INVALID_MODEL');
    expect(e2.message).toBe(`CTranslate2 model ${JSON.stringify(dir2)}: no model.bin in the folder`);
  });
});

describe('convertModel: CTranslate2 models it cannot convert', () => {
  it('a truncated model.bin: names the variable whose data is cut and the missing byte count', async () => {
    const dir = await ct2();
    const file = path.join(dir, 'model.bin');
    const size = (await fsp.stat(file)).size;
    await fsp.truncate(file, Math.floor(size / 2));
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(
      /model\.bin": the file is truncated: variable #\d+ "[^"]+" \(float16 \[[\d, ]+\]\) needs \d+ bytes of data at offset \d+, but the file ends at \d+ \(\d+ bytes missing\)/,
    );
    await fsp.truncate(file, 10);
    const e2 = await convertError({ source: dir, outPath: out() });
    expect(e2.code).toBe('INVALID_MODEL');
    expect(e2.message).toContain('the file is truncated: it ends at byte 10, inside the spec name');
  });

  it('a missing variable is named, with the whisper.cpp tensor it feeds', async () => {
    const dir = await ct2({ omit: ['encoder/layer_1/ffn/linear_0/weight'] });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toBe(
      `CTranslate2 model ${JSON.stringify(dir)}: missing variable "encoder/layer_1/ffn/linear_0/weight" (whisper.cpp's "encoder.blocks.1.mlp.0.weight" comes from it)`,
    );
  });

  it('a wrong shape: names the variable, the expected and the actual shape', async () => {
    const dir = await ct2({ shapes: { 'decoder/layer_1/attention/linear_1/weight': [64, 64] } });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('variable "decoder/layer_1/attention/linear_1/weight" has shape [64, 64], expected [128, 64] (2 fused blocks of [64, 64]');
  });

  it('an int8-quantized model is refused with a clear reason', async () => {
    const dtypes: Record<string, 'int8'> = {};
    for (const name of ['encoder/conv1/weight', 'encoder/conv2/weight', 'decoder/embeddings/weight']) dtypes[name] = 'int8';
    const dir = await ct2({ dtypes });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('variable "encoder/conv1/weight" has data type int8');
    expect(e.message).toContain('this is a quantized CTranslate2 model');
    expect(e.message).toContain('--quantization float16');
  });

  it('an unsupported binary version or a model that is not Whisper', async () => {
    const dir = await ct2();
    await writeCt2ModelBin(path.join(dir, 'model.bin'), { variables: [], binaryVersion: 7 });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('binary version 7 (a newer CTranslate2 format); the converter reads versions 4 to 6');
    await writeCt2ModelBin(path.join(dir, 'model.bin'), { variables: [], spec: 'TransformerSpec' });
    const e2 = await convertError({ source: dir, outPath: out() });
    expect(e2.message).toContain('model.bin holds a "TransformerSpec" model, not a Whisper model');
  });

  it('a missing vocabulary, or one whose <|endoftext|> is not where whisper.cpp expects it', async () => {
    const dir = await ct2();
    await fsp.rm(path.join(dir, 'vocabulary.txt'));
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('no vocabulary.txt or vocabulary.json');
    const shifted = ['x', ...vocabulary.slice(0, -1)];
    const dir2 = await ct2({ vocabulary: shifted });
    const e2 = await convertError({ source: dir2, outPath: out() });
    expect(e2.message).toContain('<|endoftext|> has id 50258, but whisper.cpp expects id 50257 for a multilingual model (n_vocab = 51865)');
    const bad = [...vocabulary];
    bad[1234] = 'not a byte-level token ☃';
    const dir3 = await ct2({ vocabulary: bad });
    const e3 = await convertError({ source: dir3, outPath: out() });
    expect(e3.message).toContain('token 1234 ("not a byte-level token ☃") is not a GPT-2 byte-level token string');
  });

  it('an embedding too small for whisper.cpp', async () => {
    const dir = await ct2({ shapes: { 'decoder/embeddings/weight': [1000, 64] } });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('the token embedding has 1000 rows; whisper.cpp needs at least 51864');
  });
});

describe('convertModel: Hugging Face models it cannot convert', () => {
  it('a missing tensor is named', async () => {
    const dir = await hf({ omit: ['model.decoder.layers.1.encoder_attn.k_proj.weight'] });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toBe(
      `Hugging Face model ${JSON.stringify(dir)}: missing tensor "model.decoder.layers.1.encoder_attn.k_proj.weight" (whisper.cpp's "decoder.blocks.1.cross_attn.key.weight" comes from it)`,
    );
  });

  it('a wrong shape', async () => {
    const dir = await hf({ shapes: { 'model.encoder.layers.0.fc2.weight': [64, 128] } });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.message).toContain('tensor "model.encoder.layers.0.fc2.weight" has shape [64, 128], expected [64, 256]');
  });

  it('integer tensors are refused', async () => {
    const dir = await hf({ dtypes: { 'model.encoder.layers.0.fc1.weight': 'int8' } });
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.message).toContain('tensor "model.encoder.layers.0.fc1.weight" has data type I8');
  });

  it('a truncated safetensors file', async () => {
    const dir = await hf();
    const file = path.join(dir, 'model.safetensors');
    await fsp.truncate(file, (await fsp.stat(file)).size - 100);
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(
      /invalid safetensors file ".*model\.safetensors": the file is truncated: tensor "[^"]+" \(F32 \[[\d, ]+\]\) needs bytes \d+\.\.\d+, but the file ends at \d+ \(100 bytes missing\)/,
    );
  });

  it('a missing shard', async () => {
    const dir = await hf({ shards: 2 });
    await fsp.rm(path.join(dir, 'model-00002-of-00002.safetensors'));
    const e = await convertError({ source: dir, outPath: out() });
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('shard "model-00002-of-00002.safetensors", listed in model.safetensors.index.json, is missing');
  });

  it('a config.json for another model type, or an untied output projection', async () => {
    const e = await convertError({ source: await hf({ config: { model_type: 'wav2vec2' } }), outPath: out() });
    expect(e.message).toContain('config.json says model_type "wav2vec2", expected "whisper"');
    const e2 = await convertError({ source: await hf({ config: { tie_word_embeddings: false } }), outPath: out() });
    expect(e2.message).toContain('tie_word_embeddings = false');
  });
});
