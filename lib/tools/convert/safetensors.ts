/**
 * Reads the tensor table of safetensors files (Hugging Face's weight format), without the data:
 *   uint64 LE header_size, then header_size bytes of JSON:
 *     { "<name>": { "dtype": "F16", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": {..} }
 *   then the data; offsets are relative to the first byte after the header.
 * Sharded models list every tensor's file in model.safetensors.index.json ({ "weight_map": { name: file } }).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import { asObject, openSourceFile, parseJson, readExactly, readTextIfExists, shapeText, type SourceTensor } from './source';

/** Bytes per element of the safetensors dtypes; F32/F16/BF16 are the ones the converter reads. */
export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
});

const TO_SOURCE: Record<string, string> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** Largest JSON header accepted (the format's own reference implementation caps it at 100 MB). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsFile {
  path: string;
  fileSize: number;
  /** dtype is 'f32' | 'f16' | 'bf16' for the float types the converter reads, else the safetensors name ('I8', ...). */
  tensors: Map<string, SourceTensor>;
  metadata: Record<string, string>;
}

/** Reads a .safetensors file's header. MODEL_NOT_FOUND for a missing file, INVALID_MODEL for a malformed or truncated one. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  const fail = (msg: string): WhisperError => new WhisperError('INVALID_MODEL', `invalid safetensors file ${JSON.stringify(file)}: ${msg}`);
  const { fh, size } = await openSourceFile(file, 'safetensors');
  try {
    if (size < 8) throw fail(`the file is only ${size} bytes; the header size alone takes 8`);
    const head = Buffer.alloc(8);
    await readExactly(fh, file, head, 0, 8, 0);
    const headerSize = Number(head.readBigUInt64LE(0));
    if (headerSize < 2 || headerSize > MAX_HEADER) throw fail(`impossible header size ${headerSize} (is this a safetensors file?)`);
    if (8 + headerSize > size) throw fail(`the file is truncated: its ${headerSize}-byte header needs ${8 + headerSize} bytes, but the file has ${size}`);
    const headerBytes = Buffer.alloc(headerSize);
    await readExactly(fh, file, headerBytes, 0, headerSize, 8);
    let header: Record<string, unknown> | undefined;
    try {
      header = asObject(JSON.parse(headerBytes.toString('utf8')));
    } catch (err) {
      throw fail(`the header is not valid JSON: ${(err as Error).message}`);
    }
    if (!header) throw fail('the header is not a JSON object');
    const dataStart = 8 + headerSize;
    const tensors = new Map<string, SourceTensor>();
    let metadata: Record<string, string> = {};
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (asObject(entry) as Record<string, string>) ?? {};
        continue;
      }
      const e = asObject(entry);
      const dtype = e?.dtype;
      const shape = e?.shape;
      const offsets = e?.data_offsets;
      if (
        typeof dtype !== 'string' ||
        !Array.isArray(shape) ||
        !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
        offsets[1] < offsets[0]
      ) {
        throw fail(`malformed header entry for tensor ${JSON.stringify(name)}: ${JSON.stringify(entry)}`);
      }
      const [begin, end] = offsets as number[];
      const byteLength = end - begin;
      const itemBytes = SAFETENSORS_DTYPE_BYTES[dtype];
      const elements = (shape as number[]).reduce((a, b) => a * b, 1);
      if (itemBytes !== undefined && elements * itemBytes !== byteLength) {
        throw fail(`tensor ${JSON.stringify(name)} (${dtype} ${shapeText(shape as number[])}) has ${byteLength} bytes of data, expected ${elements * itemBytes}`);
      }
      if (dataStart + end > size) {
        throw fail(
          `the file is truncated: tensor ${JSON.stringify(name)} (${dtype} ${shapeText(shape as number[])}) needs bytes ${dataStart + begin}..${dataStart + end}, but the file ends at ${size} (${dataStart + end - size} bytes missing)`,
        );
      }
      tensors.set(name, { name, file, shape: shape as number[], dtype: TO_SOURCE[dtype] ?? dtype, offset: dataStart + begin, byteLength });
    }
    return { path: file, fileSize: size, tensors, metadata };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * All tensors of a Hugging Face folder: model.safetensors, or the shards model.safetensors.index.json
 * lists. Throws INVALID_MODEL when neither exists or a shard is missing or does not hold what the index says.
 */
export async function readSafetensorsFolder(dir: string): Promise<{ tensors: Map<string, SourceTensor>; files: string[] }> {
  const single = path.join(dir, 'model.safetensors');
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  const indexText = await readTextIfExists(indexFile);
  let singleExists = true;
  try {
    await fsp.access(single);
  } catch {
    singleExists = false;
  }
  if (singleExists) {
    const f = await readSafetensorsFile(single);
    return { tensors: f.tensors, files: [single] };
  }
  if (indexText === undefined) {
    throw new WhisperError('INVALID_MODEL', `Hugging Face model ${JSON.stringify(dir)}: no model.safetensors or model.safetensors.index.json in the folder`);
  }
  const index = asObject(parseJson(indexText, indexFile));
  const weightMap = asObject(index?.weight_map);
  if (!weightMap) throw new WhisperError('INVALID_MODEL', `${JSON.stringify(indexFile)}: expected an object with a "weight_map" object`);
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard.length === 0 || path.basename(shard) !== shard) {
      throw new WhisperError(
        'INVALID_MODEL',
        `${JSON.stringify(indexFile)}: tensor ${JSON.stringify(name)} maps to ${JSON.stringify(shard)}, expected a file name in the same folder`,
      );
    }
    if (!shards.has(shard)) shards.set(shard, []);
    shards.get(shard)!.push(name);
  }
  const tensors = new Map<string, SourceTensor>();
  const files: string[] = [];
  for (const [shard, names] of shards) {
    const file = path.join(dir, shard);
    let f: SafetensorsFile;
    try {
      f = await readSafetensorsFile(file);
    } catch (err) {
      if (err instanceof WhisperError && err.code === 'MODEL_NOT_FOUND') {
        throw new WhisperError(
          'INVALID_MODEL',
          `Hugging Face model ${JSON.stringify(dir)}: shard ${JSON.stringify(shard)}, listed in model.safetensors.index.json, is missing`,
          { cause: err },
        );
      }
      throw err;
    }
    files.push(file);
    for (const name of names) {
      const t = f.tensors.get(name);
      if (!t) {
        throw new WhisperError(
          'INVALID_MODEL',
          `Hugging Face model ${JSON.stringify(dir)}: model.safetensors.index.json puts tensor ${JSON.stringify(name)} in ${JSON.stringify(shard)}, but that file does not hold it`,
        );
      }
      tensors.set(name, t);
    }
  }
  return { tensors, files };
}
