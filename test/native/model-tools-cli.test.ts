/** The model tools through the CLI, on the real base weights and on synthetic architectures. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../support/paths';
import { realModels } from '../support/real-models';
import { sha256File } from '../support/files';

const execFileAsync = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');
const base = realModels().models.base;

describe('model tools CLI', () => {
  const dir = fs.mkdtempSync(path.join(inject('workDir'), 'cli-tools-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('convert + quantize reproduce the cached real models byte for byte (deterministic tools)', async () => {
    const f16 = path.join(dir, 'base-f16.bin');
    const q5 = path.join(dir, 'base-q5_0.bin');
    const converted = await execFileAsync(process.execPath, [CLI, 'convert', base.ct2, '--out', f16]);
    expect(converted.stdout).toMatch(/base-f16\.bin: base, f16, 147951465 bytes/);
    expect(await sha256File(f16)).toBe(base.files.f16.sha256);
    const quantized = await execFileAsync(process.execPath, [CLI, 'quantize', f16, q5, '--type', 'q5_0']);
    expect(quantized.stdout).toMatch(/base-q5_0\.bin: base, q5_0, \d+ bytes/);
    expect(await sha256File(q5)).toBe(base.files.q5_0.sha256);
  });

  it('info describes the converted model from its headers', async () => {
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'info', base.files.q8_0.path]);
    expect(JSON.parse(stdout)).toMatchObject({
      architecture: 'base',
      multilingual: true,
      nMels: 80,
      weightType: 'q8_0',
      hparams: { ftype: 7, quantizationVersion: 2 },
      fileSize: base.files.q8_0.bytes,
      tensorCount: 245,
    });
  });

  it('info names the problem of a truncated file instead of failing', async () => {
    const truncated = path.join(dir, 'truncated.bin');
    fs.writeFileSync(truncated, fs.readFileSync(base.files.q5_0.path).subarray(0, 5_000_000));
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'info', truncated]);
    const info = JSON.parse(stdout) as { architecture: string; problem?: string };
    expect(info.architecture).toBe('base');
    expect(info.problem).toMatch(/truncated|ends|beyond|past the end/i);
  });

  it('synthesize --arch writes a quantized model of that architecture', async () => {
    const out = path.join(dir, 'tiny-q8.bin');
    await execFileAsync(process.execPath, [CLI, 'synthesize', '--arch', 'tiny', '--type', 'q8_0', '--seed', '3', '--out', out]);
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'info', out]);
    expect(JSON.parse(stdout)).toMatchObject({ architecture: 'tiny', weightType: 'q8_0' });
  });

  it.each([
    [['quantize', 'a.bin', 'b.bin', '--type', 'q9'], /--type must be one of q8_0, q5_0, q5_1, q4_0, q4_1, got "q9"/],
    [['convert', 'folder'], /convert needs --out/],
    [['synthesize', '--arch', 'huge', '--out', 'x.bin'], /--arch must be one of tiny, .*large-v3-turbo, got "huge"/],
    [['synthesize', '--arch', 'tiny', '--from', 'h.bin', '--out', 'x.bin'], /exactly one of --arch and --from/],
  ])('usage errors exit with 2: %j', async (args, message) => {
    const failure = await execFileAsync(process.execPath, [CLI, ...args]).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringMatching(message) });
  });

  it('a conversion failure exits with 1 and the error code', async () => {
    const failure = await execFileAsync(process.execPath, [CLI, 'convert', path.join(dir, 'missing-folder'), '--out', path.join(dir, 'x.bin')]).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('MODEL_NOT_FOUND') });
  });
});
