/** Bad model files never reach whisper.cpp's loader: each is a typed error, and the process lives. */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel, type WhisperError } from '../../lib';
import { writeSyntheticModel } from '../../lib/tools';
import { rejectedWhisperError } from '../support/errors';
import { SHARED } from '../support/paths';

function loadError(file: string): Promise<WhisperError> {
  return rejectedWhisperError(loadModel(file));
}

describe('loadModel rejects bad model files with typed errors', () => {
  const model = inject('syntheticTinyEn');
  const dir = path.join(inject('workDir'), 'bad-models');

  beforeAll(() => {
    fs.mkdirSync(dir, { recursive: true });
    const bytes = fs.readFileSync(model);
    fs.writeFileSync(path.join(dir, 'empty.bin'), Buffer.alloc(0));
    fs.writeFileSync(path.join(dir, 'text.bin'), 'this is not a model\n');
    fs.writeFileSync(path.join(dir, 'half.bin'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    fs.writeFileSync(path.join(dir, 'last-byte-missing.bin'), bytes.subarray(0, bytes.length - 1));
    fs.writeFileSync(path.join(dir, 'in-vocab.bin'), bytes.subarray(0, 200_000));
    fs.mkdirSync(path.join(dir, 'a-directory.bin'), { recursive: true });
  });

  it('a missing file is MODEL_NOT_FOUND and names the path', async () => {
    const missing = path.join(dir, 'nope.bin');
    const error = await loadError(missing);
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain(missing);
  });

  it.each([
    ['empty.bin', /empty/i],
    ['text.bin', /not a (ggml|whisper)|magic/i],
    ['half.bin', /truncat|end of the file|past the end/i],
    ['last-byte-missing.bin', /truncat|end of the file|past the end/i],
    ['in-vocab.bin', /vocab/i],
  ])('%s is INVALID_MODEL', async (name, message) => {
    const error = await loadError(path.join(dir, name));
    expect(error.code).toBe('INVALID_MODEL');
    expect(error.message).toMatch(message);
  });

  it('a directory is INVALID_ARGUMENT naming the path, like every other non-file the library is given', async () => {
    const directory = path.join(dir, 'a-directory.bin');
    const error = await loadError(directory);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/directory/i);
    expect(error.message).toBe(`path: expected a file (model file), got a directory: ${directory}`);
  });

  it('header-only files (no tensors), which whisper.cpp itself would load as an empty model, are INVALID_MODEL', async () => {
    for (const name of ['header-only-ggml-tiny.en.bin', 'header-only-ggml-base.bin']) {
      const error = await loadError(path.join(SHARED, 'models', name));
      expect(error.code).toBe('INVALID_MODEL');
      expect(error.message).toMatch(/no tensor/i);
    }
  });

  it('a VAD model passed as the whisper model is INVALID_MODEL', async () => {
    const error = await loadError(path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin'));
    expect(error.code).toBe('INVALID_MODEL');
    expect(error.message).toMatch(/VAD|voice/i);
  });

  it('an all-f32 model, which whisper.cpp would abort on when run on the CPU, is INVALID_MODEL', async () => {
    const f32 = path.join(dir, 'synthetic-f32.bin');
    await writeSyntheticModel({ headerFrom: path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin'), outPath: f32, weightType: 'f32' });
    const error = await loadError(f32);
    expect(error.code).toBe('INVALID_MODEL');
    expect(error.message).toMatch(/f32.*f16/);
  });

  it('bad load options are INVALID_ARGUMENT naming the option', async () => {
    await expect(loadModel(model, { concurrency: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('options.concurrency'),
    });
    await expect(loadModel(model, { gpu: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('options.gpu'),
    });
    await expect(loadModel('' as string)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('the model still loads and works after all of the above', async () => {
    const loaded = await loadModel(model);
    const result = await loaded.transcribe(new Float32Array(16000), { language: 'en', temperatureIncrement: 0 });
    expect(result.language).toBe('en');
    await loaded.dispose();
  });
});
