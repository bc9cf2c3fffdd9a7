import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCt2ModelFile, readCt2Scalar } from '../../lib/tools/convert/ctranslate2';
import { readSafetensorsFile } from '../../lib/tools/convert/safetensors';
import { whisperTensorOrder } from '../../lib/tools/convert';
import { ARCHITECTURES } from '../../lib/model-files/architectures';
import { expectedTensors } from '../../lib/model-files/tensors';
import { rejectedWhisperError } from '../support/errors';
import { writeCt2ModelBin } from '../support/ct2-writer';
import { writeSafetensors } from '../support/safetensors-writer';
import { readRange as bytesAt } from '../support/files';

let tmp: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'convert-readers-'));
});

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('readCt2ModelFile', () => {
  it('reads the header, every variable (name, shape, dtype, data offset) and the aliases', async () => {
    const file = path.join(tmp, 'model.bin');
    const w = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const f32 = Buffer.alloc(8);
    f32.writeFloatLE(1.5, 0);
    f32.writeFloatLE(-2, 4);
    const size = await writeCt2ModelBin(file, {
      revision: 3,
      variables: [
        { name: 'a/weight', shape: [2, 3], dtypeId: 4, itemBytes: 2, data: w },
        { name: 'a/bias', shape: [2], dtypeId: 0, itemBytes: 4, data: f32 },
        { name: 'b/flag', shape: [], dtypeId: 1, itemBytes: 1, data: Buffer.from([0xfd]) },
        { name: 'b/heads', shape: [], dtypeId: 2, itemBytes: 2, data: Buffer.from([8, 0]) },
        { name: 'c/bf', shape: [1, 1, 2], dtypeId: 5, itemBytes: 2, data: Buffer.from([0, 0x3f, 0x80, 0x3f]) },
        { name: 'c/q', shape: [4], dtypeId: 1, itemBytes: 1, data: Buffer.from([1, 2, 3, 4]) },
      ],
      aliases: [['d/weight', 'a/weight']],
    });
    const m = await readCt2ModelFile(file);
    expect(m.fileSize).toBe(size);
    expect([m.binaryVersion, m.spec, m.revision]).toEqual([6, 'WhisperSpec', 3]);
    expect([...m.variables.keys()]).toEqual(['a/weight', 'a/bias', 'b/flag', 'b/heads', 'c/bf', 'c/q']);
    expect([...m.variables.values()].map((v) => v.dtype)).toEqual(['f16', 'f32', 'int8', 'int16', 'bf16', 'int8']);
    const a = m.variables.get('a/weight')!;
    expect(a.shape).toEqual([2, 3]);
    expect(a.byteLength).toBe(12);
    expect((await bytesAt(file, a.offset, 12)).equals(w)).toBe(true);
    expect((await bytesAt(file, m.variables.get('a/bias')!.offset, 8)).equals(f32)).toBe(true);
    expect(m.aliases.get('d/weight')).toBe('a/weight');
    expect(await readCt2Scalar(m, 'b/flag')).toBe(-3);
    expect(await readCt2Scalar(m, 'b/heads')).toBe(8);
    expect(await readCt2Scalar(m, 'a/bias')).toBeUndefined();
    expect(await readCt2Scalar(m, 'nope')).toBeUndefined();
  });

  it('MODEL_NOT_FOUND for a missing file; INVALID_MODEL for a byte count that does not match the shape, a truncated alias table, a wrong version', async () => {
    expect((await rejectedWhisperError(readCt2ModelFile(path.join(tmp, 'none.bin')))).code).toBe('MODEL_NOT_FOUND');
    const file = path.join(tmp, 'bad.bin');
    await writeCt2ModelBin(file, { variables: [{ name: 'x', shape: [3], dtypeId: 4, itemBytes: 4, data: Buffer.alloc(12) }] });
    const e = await rejectedWhisperError(readCt2ModelFile(file));
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toContain('variable "x" (float16 [3]) declares 12 bytes of data, expected 6');

    await writeCt2ModelBin(file, { variables: [], aliases: [['x', 'y']] });
    await fsp.truncate(file, (await fsp.stat(file)).size - 2);
    expect((await rejectedWhisperError(readCt2ModelFile(file))).message).toContain('the file is truncated: it ends at byte');

    await writeCt2ModelBin(file, { variables: [], binaryVersion: 3 });
    expect((await rejectedWhisperError(readCt2ModelFile(file))).message).toContain('binary version 3 (an old CTranslate2 format without data types)');
    await fsp.writeFile(file, 'PK\x03\x04 not a model');
    expect((await rejectedWhisperError(readCt2ModelFile(file))).message).toContain('is this a CTranslate2 model.bin at all?');
  });
});

describe('readSafetensorsFile', () => {
  it('reads dtypes, shapes, absolute data offsets and metadata', async () => {
    const file = path.join(tmp, 'm.safetensors');
    const a = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const b = Buffer.from([9, 10, 11, 12]);
    await writeSafetensors(
      file,
      [
        { name: 'a', dtype: 'F32', shape: [2], itemBytes: 4, data: a },
        { name: 'b', dtype: 'BF16', shape: [1, 2], itemBytes: 2, data: b },
        { name: 'c', dtype: 'I8', shape: [0], itemBytes: 1, data: Buffer.alloc(0) },
      ],
      { format: 'pt' },
    );
    const f = await readSafetensorsFile(file);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect([...f.tensors.values()].map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['a', 'f32', [2]],
      ['b', 'bf16', [1, 2]],
      ['c', 'I8', [0]],
    ]);
    const ta = f.tensors.get('a')!;
    expect((await bytesAt(file, ta.offset, ta.byteLength)).equals(a)).toBe(true);
    const tb = f.tensors.get('b')!;
    expect((await bytesAt(file, tb.offset, tb.byteLength)).equals(b)).toBe(true);
  });

  it('INVALID_MODEL for a file that is not safetensors or whose entries do not add up', async () => {
    const file = path.join(tmp, 'bad.safetensors');
    await fsp.writeFile(file, Buffer.from('not a safetensors file at all'));
    expect((await rejectedWhisperError(readSafetensorsFile(file))).message).toMatch(/impossible header size \d+ \(is this a safetensors file\?\)/);
    const json = Buffer.from('{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}');
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    await fsp.writeFile(file, Buffer.concat([head, json, Buffer.alloc(4)]));
    expect((await rejectedWhisperError(readSafetensorsFile(file))).message).toContain('tensor "a" (F16 [3]) has 4 bytes of data, expected 6');
    const json2 = Buffer.from('{"a":{"dtype":"F16","shape":"x"}}');
    head.writeBigUInt64LE(BigInt(json2.length));
    await fsp.writeFile(file, Buffer.concat([head, json2]));
    expect((await rejectedWhisperError(readSafetensorsFile(file))).message).toContain('malformed header entry for tensor "a"');
  });
});

describe('whisperTensorOrder', () => {
  it('names exactly the tensors whisper.cpp expects, in PyTorch state-dict order', () => {
    const hp = { ...ARCHITECTURES.base.hparams, ftype: 1, quantizationVersion: 0 };
    const order = whisperTensorOrder(6, 6);
    expect(order.length).toBe(245);
    expect([...order].sort()).toEqual(
      expectedTensors(hp)
        .map((t) => t.name)
        .sort(),
    );
    expect(order.slice(0, 8)).toEqual([
      'encoder.positional_embedding',
      'encoder.conv1.weight',
      'encoder.conv1.bias',
      'encoder.conv2.weight',
      'encoder.conv2.bias',
      'encoder.blocks.0.attn.query.weight',
      'encoder.blocks.0.attn.query.bias',
      'encoder.blocks.0.attn.key.weight',
    ]);
    expect(order.slice(-3)).toEqual(['decoder.blocks.5.mlp_ln.bias', 'decoder.ln.weight', 'decoder.ln.bias']);
  });
});
