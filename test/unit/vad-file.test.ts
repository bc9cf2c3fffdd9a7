import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkVadModelFile } from '../../lib/model-files/vad-file';
import { rejectedWhisperError } from '../support/errors';
import { SHARED } from '../support/paths';

const SILERO = path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin');
const TINY_EN_HEADER = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');
const PARAMETER = 'options.vad.modelPath';

// Offsets in ggml-silero-v6.2.0.bin (885,098 bytes): the header ends at 106; the first tensor's header
// (encoder.0 weight, f16 [3, 129, 128]) runs to 166, its data to 99,238; the LSTM's weight_ih data
// runs from 224,082 to 486,226; the last tensor (the STFT basis, f16 [256, 1, 258]) ends the file.
const HEADER_END = 106;

let dir: string;
let bytes: Buffer;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'vad-file-'));
  bytes = await fsp.readFile(SILERO);
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function cutAt(length: number): Promise<string> {
  const file = path.join(dir, `silero-cut-${length}.bin`);
  await fsp.writeFile(file, bytes.subarray(0, length));
  return file;
}

async function invalid(file: string): Promise<string> {
  const error = await rejectedWhisperError(checkVadModelFile(file, PARAMETER));
  expect(error.code).toBe('INVALID_MODEL');
  expect(error.message.startsWith(`${PARAMETER}: invalid VAD model ${JSON.stringify(file)}: `)).toBe(true);
  return error.message;
}

describe('checkVadModelFile', () => {
  it('accepts the intact Silero model', async () => {
    expect(bytes.length).toBe(885_098);
    await expect(checkVadModelFile(SILERO, PARAMETER)).resolves.toBeUndefined();
  });

  it('accepts fewer than 12 stray bytes after the last tensor, as the loader does', async () => {
    const file = path.join(dir, 'silero-stray.bin');
    await fsp.writeFile(file, Buffer.concat([bytes, Buffer.alloc(11)]));
    await expect(checkVadModelFile(file, PARAMETER)).resolves.toBeUndefined();
  });

  it('rejects a file cut inside a tensor, naming the tensor and the missing bytes', async () => {
    expect(await invalid(await cutAt(bytes.length - 1))).toMatch(
      /the file is truncated: tensor "_model\.stft\.forward_basis_buffer" \(f16 \[256, 1, 258\]\) needs 132096 bytes of data at offset 753002, but the file ends at 885097 \(1 bytes missing\)/,
    );
    expect(await invalid(await cutAt(50_000))).toMatch(
      /tensor "_model\.encoder\.0\.reparam_conv\.weight" \(f16 \[3, 129, 128\]\) needs 99072 bytes of data at offset 166, but the file ends at 50000 \(49238 bytes missing\)/,
    );
    expect(await invalid(await cutAt(300_000))).toMatch(/tensor "_model\.decoder\.rnn\.weight_ih" \(f32 \[128, 512\]\) .* \(186226 bytes missing\)/);
  });

  it('rejects a file cut inside a tensor header or the model header', async () => {
    expect(await invalid(await cutAt(HEADER_END + 20))).toMatch(/the file is truncated: it ends at byte 126, inside the header of tensor #0 \(header at offset 106\)/);
    expect(await invalid(await cutAt(60))).toMatch(/the file is truncated: it ends at byte 60, inside the header \(encoder layer 1 out_channels at offset 58\)/);
    expect(await invalid(await cutAt(12))).toMatch(/the file is truncated: it ends at byte 12, inside the model type name/);
  });

  it('rejects a file cut between tensors or right after the header, naming what is missing', async () => {
    // 752,946: the end of the second-to-last tensor's data (the final conv bias, a 4-byte scalar)
    expect(await invalid(await cutAt(752_946))).toMatch(
      /the file is truncated or incomplete: it ends at byte 752946 after 14 of the 15 tensors; missing "_model\.stft\.forward_basis_buffer"$/,
    );
    expect(await invalid(await cutAt(HEADER_END))).toMatch(/after 0 of the 15 tensors; missing "_model\.stft\.forward_basis_buffer", .* and 12 more$/);
  });

  it('rejects files that are not Silero models', async () => {
    expect(await invalid(await cutAt(3))).toMatch(/not a Silero VAD model/);
    expect(await invalid(TINY_EN_HEADER)).toMatch(/not a Silero VAD model/);
    const garbage = path.join(dir, 'garbage.bin');
    await fsp.writeFile(garbage, Buffer.concat([bytes.subarray(0, HEADER_END), Buffer.from([9, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0])]));
    expect(await invalid(garbage)).toMatch(/tensor #0 \(header at offset 106\): impossible n_dims 9/);
  });

  it('a missing path is MODEL_NOT_FOUND and a directory INVALID_ARGUMENT, both naming the parameter', async () => {
    const missing = path.join(dir, 'missing.bin');
    const notFound = await rejectedWhisperError(checkVadModelFile(missing, PARAMETER));
    expect(notFound.code).toBe('MODEL_NOT_FOUND');
    expect(notFound.message).toBe(`${PARAMETER}: VAD model not found: ${missing}`);
    const directory = await rejectedWhisperError(checkVadModelFile(dir, 'options.cutVad.modelPath'));
    expect(directory.code).toBe('INVALID_ARGUMENT');
    expect(directory.message).toBe(`options.cutVad.modelPath: expected a file (VAD model), got a directory: ${dir}`);
  });
});
