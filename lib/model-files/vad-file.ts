/**
 * A check of a Silero VAD model file before whisper.cpp opens it. whisper.cpp's loader
 * (whisper_vad_init_with_params, src/whisper.cpp) trusts the file: it allocates what a header length
 * says, indexes four encoder layers whatever the header's layer count, and reads each tensor's data
 * without checking that it was all there, so a truncated download loads with uninitialised weights.
 *
 * File layout (little-endian int32 unless noted, no padding):
 *   uint32 magic = 0x67676d6c, int32 type_length + type bytes ("silero-16k"),
 *   major, minor, patch, n_window, n_context,
 *   n_encoder_layers, then per layer: in_channels, out_channels, kernel_size,
 *   lstm_input_size, lstm_hidden_size, final_conv_in, final_conv_out,
 *   tensors until end of file, each: n_dims, name_length, ggml_type, n_dims * ne, name, then its data.
 */
import { fileError, type FileRole } from '../errors/file-errors';
import { WhisperError } from '../errors/whisper-error';
import { GGML_FILE_MAGIC, ggmlTensorBytes, ggmlTypeTraits } from './ggml-format';
import { openForReading } from '../errors/file-errors';
import { isPrintableAscii, quote } from './text';
import { WindowReader } from './window-reader';

const MAX_TYPE_NAME = 64;
const MAX_TENSOR_NAME = 512;
/** whisper.cpp builds four encoder layers and reads their sizes from the first four header entries. */
const ENCODER_LAYERS_USED = 4;
const MAX_ENCODER_LAYERS = 64;

/** The tensors whisper.cpp's Silero loader creates (VAD_TENSOR_NAMES in src/whisper-arch.h); it needs every one. */
const SILERO_TENSORS: readonly string[] = [
  '_model.stft.forward_basis_buffer',
  ...[0, 1, 2, 3].flatMap((i) => [`_model.encoder.${i}.reparam_conv.weight`, `_model.encoder.${i}.reparam_conv.bias`]),
  '_model.decoder.rnn.weight_ih',
  '_model.decoder.rnn.weight_hh',
  '_model.decoder.rnn.bias_ih',
  '_model.decoder.rnn.bias_hh',
  '_model.decoder.decoder.2.weight',
  '_model.decoder.decoder.2.bias',
];

/** Reads a Silero file front to back; every failure is INVALID_MODEL naming the parameter and the file. */
class VadFileReader {
  pos = 0;

  constructor(
    private readonly reader: WindowReader,
    private readonly path: string,
    private readonly role: FileRole,
    readonly size: number,
  ) {}

  fail(message: string): WhisperError {
    return new WhisperError('INVALID_MODEL', `${this.role.parameter}: invalid VAD model ${JSON.stringify(this.path)}: ${message}`);
  }

  /** `length` bytes at the cursor, or null when the file ends first. */
  async bytes(length: number): Promise<Buffer | null> {
    try {
      const got = await this.reader.bytes(this.pos, length, 4096);
      if (got) this.pos += length;
      return got;
    } catch (error) {
      throw fileError(error, this.path, this.role);
    }
  }

  /** The next int32; `what` names it when the file ends before it. */
  async int32(what: string): Promise<number> {
    const at = this.pos;
    const got = await this.bytes(4);
    if (!got) throw this.fail(`the file is truncated: it ends at byte ${this.size}, inside the header (${what} at offset ${at})`);
    return got.readInt32LE(0);
  }
}

function notSilero(file: VadFileReader): WhisperError {
  return file.fail("it is not a Silero VAD model in whisper.cpp's ggml format (such as ggml-silero-v6.2.0.bin)");
}

/** Magic, model type and version, window sizes and layer sizes, leaving the cursor at the tensor table. */
async function readVadHeader(file: VadFileReader): Promise<void> {
  const start = await file.bytes(8);
  if (!start || start.readUInt32LE(0) !== GGML_FILE_MAGIC) throw notSilero(file);
  const typeLength = start.readInt32LE(4);
  if (typeLength < 1 || typeLength > MAX_TYPE_NAME) throw notSilero(file);
  const typeName = await file.bytes(typeLength);
  if (!typeName) {
    throw file.fail(`the file is truncated: it ends at byte ${file.size}, inside the model type name`);
  }
  if (!isPrintableAscii(typeName) || !typeName.toString('latin1').startsWith('silero')) throw notSilero(file);
  for (const field of ['the major version', 'the minor version', 'the patch version', 'n_window', 'n_context']) await file.int32(field);
  const layers = await file.int32('n_encoder_layers');
  if (layers < ENCODER_LAYERS_USED || layers > MAX_ENCODER_LAYERS) {
    throw file.fail(`impossible n_encoder_layers ${layers} (whisper.cpp's Silero model has ${ENCODER_LAYERS_USED})`);
  }
  for (let i = 0; i < layers; i++) {
    for (const field of ['in_channels', 'out_channels', 'kernel_size']) await file.int32(`encoder layer ${i} ${field}`);
  }
  for (const field of ['lstm_input_size', 'lstm_hidden_size', 'final_conv_in', 'final_conv_out']) await file.int32(field);
}

/** One tensor's header at the cursor; returns its name and leaves the cursor after its data. */
async function skipVadTensor(file: VadFileReader, index: number): Promise<string> {
  const headerAt = file.pos;
  const where = `tensor #${index} (header at offset ${headerAt})`;
  const fixed = (await file.bytes(12))!;
  const nDims = fixed.readInt32LE(0);
  const nameLength = fixed.readInt32LE(4);
  const type = fixed.readInt32LE(8);
  if (nDims < 0 || nDims > 4) throw file.fail(`${where}: impossible n_dims ${nDims} (expected 0..4)`);
  if (nameLength < 1 || nameLength > MAX_TENSOR_NAME) throw file.fail(`${where}: impossible name length ${nameLength}`);
  const rest = await file.bytes(4 * nDims + nameLength);
  if (!rest) throw file.fail(`the file is truncated: it ends at byte ${file.size}, inside the header of ${where}`);
  const shape: number[] = [];
  for (let d = 0; d < nDims; d++) shape.push(rest.readInt32LE(4 * d));
  const nameBytes = rest.subarray(4 * nDims);
  const name = nameBytes.toString('latin1');
  if (!isPrintableAscii(nameBytes)) throw file.fail(`${where}: the tensor name is not printable text: ${quote(name)}`);
  if (!SILERO_TENSORS.includes(name)) throw file.fail(`${where}: unknown tensor ${quote(name)}: whisper.cpp rejects it`);
  const traits = ggmlTypeTraits(type);
  if (!traits) throw file.fail(`tensor ${quote(name)} has an unknown ggml type id ${type}`);
  if (shape.some((d) => d < 1)) throw file.fail(`tensor ${quote(name)} has an impossible shape [${shape.join(', ')}]`);
  let byteLength: number;
  try {
    // a scalar (n_dims 0) is one element, as ggml reads it
    byteLength = ggmlTensorBytes(type, nDims === 0 ? [1] : shape);
  } catch (error) {
    throw file.fail(`tensor ${quote(name)}: ${(error as Error).message.replace(/^ggmlTensorBytes: /, '')}`);
  }
  const dataAt = file.pos;
  if (dataAt + byteLength > file.size) {
    throw file.fail(
      `the file is truncated: tensor ${quote(name)} (${traits.name} [${shape.join(', ')}]) needs ${byteLength} bytes of data at offset ${dataAt}, but the file ends at ${file.size} (${dataAt + byteLength - file.size} bytes missing). Download the model again`,
    );
  }
  file.pos = dataAt + byteLength;
  return name;
}

/**
 * Checks that `path` is a complete Silero VAD model whisper.cpp can load: the header, then every
 * tensor of the table, each whole inside the file, and every tensor the loader needs present once.
 * `parameter` names the option that carried the path, for the messages.
 *
 * Throws WhisperError: MODEL_NOT_FOUND for a missing path, INVALID_ARGUMENT for a directory or other
 * non-file, FILE_UNREADABLE for a file that cannot be read, INVALID_MODEL for anything else wrong.
 */
export async function checkVadModelFile(path: string, parameter: string): Promise<void> {
  const role: FileRole = { parameter, what: 'VAD model', notFound: 'MODEL_NOT_FOUND' };
  const { fh, size } = await openForReading(path, role);
  try {
    const file = new VadFileReader(new WindowReader(fh, size), path, role, size);
    await readVadHeader(file);
    const seen = new Set<string>();
    // fewer than 12 stray bytes at the end: the loader's next header read hits EOF and stops
    while (size - file.pos >= 12) {
      const name = await skipVadTensor(file, seen.size);
      if (seen.has(name)) throw file.fail(`tensor ${quote(name)} appears twice`);
      seen.add(name);
    }
    const missing = SILERO_TENSORS.filter((name) => !seen.has(name));
    if (missing.length > 0) {
      const shown = missing
        .slice(0, 3)
        .map((n) => quote(n))
        .join(', ');
      const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
      throw file.fail(`the file is truncated or incomplete: it ends at byte ${size} after ${seen.size} of the ${SILERO_TENSORS.length} tensors; missing ${shown}${more}`);
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}
