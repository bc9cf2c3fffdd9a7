/**
 * quantizeModel against whisper.cpp's own quantize tool (examples/quantize, built from deps/ by
 * scripts/build-whisper-cli.mjs): byte-identical files for every type; the result loads and runs;
 * every bad input is a typed error and leaves no file behind.
 */
import { execFile } from 'node:child_process';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel } from '../../lib';
import { inspectModelFile, type ModelFileInfo } from '../../lib/model-files/inspect';
import { native } from '../../lib/native/addon';
import { QUANTIZATION_TYPE_IDS } from '../../lib/model-files/ggml-format';
import { QUANTIZATION_TYPES, isQuantizedTensor, quantizeModel, quantizeRows, type QuantizeProgress } from '../../lib/tools/quantize';
import { encodePreamble } from '../../lib/model-files/writer';
import { whisperMelFilters } from '../../lib/model-files/mel-filters';
import { byteLevelVocab, writeSyntheticModel } from '../../lib/tools/synthetic-model';
import { float32ToFloat16Bits } from '../../lib/tools/convert/float';
import { rejectedWhisperError } from '../support/errors';
import { SHARED } from '../support/paths';
import { f16BitsToNumber } from '../support/f16';
import { sha256File as sha256, readRange } from '../support/files';

const execFileAsync = promisify(execFile);
const CARDS_WAV = path.join(SHARED, 'audio', 'cards', '001.wav');

async function runTool(tool: string, input: string, output: string, type: string): Promise<number> {
  const t0 = performance.now();
  await execFileAsync(tool, [input, output, type], { maxBuffer: 64 * 1024 * 1024 });
  return performance.now() - t0;
}

describe('quantizeModel', () => {
  const tool = inject('whisperQuantize');
  const source = inject('syntheticTinyEn');
  let dir: string;
  let sourceInfo: ModelFileInfo;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(inject('workDir'), 'quantize-'));
    sourceInfo = await inspectModelFile(source);
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  for (const type of QUANTIZATION_TYPES) {
    it(`${type}: byte-identical to whisper.cpp's quantize tool`, async () => {
      const ours = path.join(dir, `ours-${type}.bin`);
      const theirs = path.join(dir, `tool-${type}.bin`);
      const t0 = performance.now();
      const info = await quantizeModel({ inPath: source, outPath: ours, type });
      const oursMs = performance.now() - t0;
      const toolMs = await runTool(tool, source, theirs, type);
      console.log(`quantize tiny.en f16 -> ${type}: quantizeModel ${oursMs.toFixed(0)} ms, whisper.cpp tool ${toolMs.toFixed(0)} ms`);

      expect(fs.statSync(ours).size).toBe(fs.statSync(theirs).size);
      expect(await sha256(ours)).toBe(await sha256(theirs));

      expect(info.weightType).toBe(type);
      expect(info.architecture).toBe('tiny.en');
      expect(info.hparams.ftype).toBe(QUANTIZATION_TYPE_IDS[type].ftype);
      expect(info.hparams.quantizationVersion).toBe(2);
      expect((await readRange(ours, 44, 4)).readInt32LE(0)).toBe(2000 + QUANTIZATION_TYPE_IDS[type].ftype);
      // the tool's rules: 2-D tensors except the positional embeddings and conv biases
      for (const t of info.tensors) {
        const src = sourceInfo.tensors.find((s) => s.name === t.name)!;
        expect(t.shape).toEqual(src.shape);
        expect(t.type).toBe(isQuantizedTensor(t.name, t.shape.length) ? QUANTIZATION_TYPE_IDS[type].type : src.type);
      }
      expect(info.tensors.filter((t) => t.typeName === type)).toHaveLength(4 * 6 + 1 + 4 * 10);
      // the preamble is the source's, but for the ftype field
      const preamble = sourceInfo.vocab.offset + sourceInfo.vocab.byteLength;
      const a = await readRange(source, 0, preamble);
      const b = await readRange(ours, 0, preamble);
      a.writeInt32LE(b.readInt32LE(44), 44);
      expect(b.equals(a)).toBe(true);
      await fsp.rm(theirs);
      if (type !== 'q5_0') await fsp.rm(ours);
    });
  }

  it('reports progress up to the total, in order', async () => {
    const events: QuantizeProgress[] = [];
    const out = path.join(dir, 'progress.bin');
    await quantizeModel({ inPath: source, outPath: out, type: 'q8_0', onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(sourceInfo.tensors.length - 1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i].bytesDone).toBeGreaterThan(events[i - 1].bytesDone);
      expect(events[i].tensorIndex).toBeGreaterThanOrEqual(events[i - 1].tensorIndex);
    }
    const last = events[events.length - 1];
    expect(last).toEqual({
      tensor: sourceInfo.tensors[sourceInfo.tensors.length - 1].name,
      tensorIndex: sourceInfo.tensors.length - 1,
      tensorCount: sourceInfo.tensors.length,
      bytesDone: sourceInfo.tensorBytes,
      bytesTotal: sourceInfo.tensorBytes,
    });
    await fsp.rm(out);
  });

  it('the quantized model loads and transcribes with the addon', async () => {
    await using model = await loadModel(path.join(dir, 'ours-q5_0.bin'));
    expect(model.info.weightType).toBe('q5_0');
    expect(model.info.modelType).toBe('tiny');
    const transcript = await model.transcribe(CARDS_WAV, { language: 'en', threads: 2, temperatureIncrement: 0, noTimestamps: true });
    expect(transcript.segments.length).toBeGreaterThan(0);
    expect(transcript.segments.flatMap((s) => s.tokens).length).toBeGreaterThan(0);
  });

  it('an f32 source: same bytes as the tool except the conv kernels, which become f16 so that whisper.cpp can load the result', async () => {
    const f32 = path.join(dir, 'tiny.en-f32.bin');
    await writeSyntheticModel({ headerFrom: source, outPath: f32, seed: 1, weightType: 'f32' });
    const ours = path.join(dir, 'from-f32-q8_0.bin');
    const theirs = path.join(dir, 'from-f32-tool-q8_0.bin');
    const info = await quantizeModel({ inPath: f32, outPath: ours, type: 'q8_0' });
    await runTool(tool, f32, theirs, 'q8_0');

    // the tool keeps f32 conv kernels under a q8_0 header: whisper.cpp expects f16 there
    const toolError = await rejectedWhisperError(inspectModelFile(theirs));
    expect(toolError.code).toBe('INVALID_MODEL');
    expect(toolError.message).toMatch(/encoder\.conv1\.weight.*f32.*f16/);
    const theirsInfo = await inspectModelFile(theirs, { checkTensors: false });

    expect(info.tensors.find((t) => t.name === 'encoder.conv1.weight')!.typeName).toBe('f16');
    expect(info.tensors.find((t) => t.name === 'encoder.conv2.weight')!.typeName).toBe('f16');
    // every other tensor's data is the tool's, byte for byte: walk the tool's file alongside
    const theirsBytes = await fsp.readFile(theirs);
    let pos = theirsInfo.vocab.offset + theirsInfo.vocab.byteLength;
    expect(theirsBytes.subarray(0, pos).equals(await readRange(ours, 0, pos))).toBe(true);
    for (const t of info.tensors) {
      const nDims = theirsBytes.readInt32LE(pos);
      const nameLength = theirsBytes.readInt32LE(pos + 4);
      const type = theirsBytes.readInt32LE(pos + 8);
      const dataAt = pos + 12 + 4 * nDims + nameLength;
      expect(theirsBytes.toString('utf8', dataAt - nameLength, dataAt)).toBe(t.name);
      const bytes = (t.shape.reduce((a, b) => a * b, 1) / (type === 0 ? 1 : 32)) * (type === 0 ? 4 : 34);
      if (!t.name.startsWith('encoder.conv') || !t.name.endsWith('.weight')) {
        expect(type).toBe(t.type);
        expect(bytes).toBe(t.byteLength);
        expect(theirsBytes.subarray(dataAt, dataAt + bytes).equals(await readRange(ours, t.offset, t.byteLength))).toBe(true);
      } else {
        expect(type).toBe(0);
      }
      pos = dataAt + bytes;
    }
    expect(pos).toBe(theirsBytes.length);

    await using model = await loadModel(ours);
    expect(model.info.weightType).toBe('q8_0');
    await Promise.all([f32, ours, theirs].map((f) => fsp.rm(f)));
  });

  describe('bad input: a typed error, no file left behind', () => {
    const attempt = async (options: Parameters<typeof quantizeModel>[0]) => {
      const before = fs.readdirSync(dir).sort();
      const error = await rejectedWhisperError(quantizeModel(options));
      expect(fs.readdirSync(dir).sort()).toEqual(before);
      return error;
    };

    it('an unknown type names the parameter, the allowed values and what was given', async () => {
      const error = await attempt({ inPath: source, outPath: path.join(dir, 'x.bin'), type: 'q4_k' as 'q4_0' });
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(`options.type: expected one of 'q8_0', 'q5_0', 'q5_1', 'q4_0', 'q4_1', got "q4_k"`);
      expect((await attempt({ inPath: source, outPath: path.join(dir, 'x.bin'), type: undefined as unknown as 'q4_0' })).message).toMatch(
        /^options\.type: .* got undefined$/,
      );
    });

    it('a source that is already quantized', async () => {
      const error = await attempt({ inPath: path.join(dir, 'ours-q5_0.bin'), outPath: path.join(dir, 'x.bin'), type: 'q8_0' });
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/already quantized \(weights q5_0/);
    });

    it('a truncated source', async () => {
      const truncated = path.join(dir, 'truncated.bin');
      await fsp.writeFile(truncated, await readRange(source, 0, 30_000_000));
      const error = await attempt({ inPath: truncated, outPath: path.join(dir, 'x.bin'), type: 'q5_0' });
      expect(error.code).toBe('INVALID_MODEL');
      expect(error.message).toMatch(/truncated/);
      await fsp.rm(truncated);
    });

    it('a header-only source', async () => {
      const error = await attempt({
        inPath: path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin'),
        outPath: path.join(dir, 'x.bin'),
        type: 'q5_0',
      });
      expect(error.code).toBe('INVALID_MODEL');
      expect(error.message).toMatch(/header-only/);
    });

    it('a model whose rows are not whole quantization blocks (the tool would abort on a GGML_ASSERT)', async () => {
      // a custom (non-standard) shape: 48-wide layers, so no 2-D weight row is a multiple of 32 values
      const header = path.join(dir, 'odd-header.bin');
      const odd = path.join(dir, 'odd.bin');
      const hparams = { ...sourceInfo.hparams, nAudioState: 48, nAudioHead: 3, nTextState: 48, nTextHead: 3, nAudioLayer: 1, nTextLayer: 1 };
      const mel = whisperMelFilters(80);
      await fsp.writeFile(header, encodePreamble({ hparams, melFilters: { nMel: 80, nFft: 201, data: mel }, vocab: byteLevelVocab() }));
      await writeSyntheticModel({ headerFrom: header, outPath: odd });
      const error = await attempt({ inPath: odd, outPath: path.join(dir, 'x.bin'), type: 'q8_0' });
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(
        /cannot be quantized to q8_0: tensor "encoder.blocks.0.mlp.0.weight" has rows of 48 values, not a multiple of the q8_0 block size 32/,
      );
      await fsp.rm(header);
      await fsp.rm(odd);
    });

    it('a missing source', async () => {
      const error = await attempt({ inPath: path.join(dir, 'missing.bin'), outPath: path.join(dir, 'x.bin'), type: 'q5_0' });
      expect(error.code).toBe('MODEL_NOT_FOUND');
    });

    it('an output path that cannot be written', async () => {
      const noDir = path.join(dir, 'no', 'such', 'dir', 'x.bin');
      const error = await attempt({ inPath: source, outPath: noDir, type: 'q5_0' });
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('options.outPath');
      expect(error.message).toContain(noDir);
      const isDir = await attempt({ inPath: source, outPath: dir, type: 'q5_0' });
      expect(isDir.code).toBe('INVALID_ARGUMENT');
      expect(isDir.message).toContain('not a directory');
      const same = await attempt({ inPath: source, outPath: source, type: 'q5_0' });
      expect(same.code).toBe('INVALID_ARGUMENT');
      expect(same.message).toContain('options.outPath');
    });

    it('aborting, before or during the job', async () => {
      const out = path.join(dir, 'x.bin');
      const aborted = await attempt({ inPath: source, outPath: out, type: 'q5_0', signal: AbortSignal.abort() });
      expect(aborted.code).toBe('ABORTED');
      const controller = new AbortController();
      const midway = await attempt({
        inPath: source,
        outPath: out,
        type: 'q5_0',
        signal: controller.signal,
        onProgress: (p) => {
          if (p.tensorIndex > 20) controller.abort();
        },
      });
      expect(midway.code).toBe('ABORTED');
    });

    it('a progress listener that throws ends the job with its error', async () => {
      const out = path.join(dir, 'x.bin');
      const before = fs.readdirSync(dir).sort();
      const boom = new Error('listener failed');
      await expect(
        quantizeModel({
          inPath: source,
          outPath: out,
          type: 'q8_0',
          onProgress: (p) => {
            if (p.tensorIndex > 10) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(fs.readdirSync(dir).sort()).toEqual(before);
    });
  });
});

describe('native quantize', () => {
  it('quantizes rows with ggml: q8_0 blocks hold an f16 scale and 32 int8 values', async () => {
    const row = new Float32Array(64);
    for (let i = 0; i < 64; i++) row[i] = (i - 20) / 10;
    const q = await quantizeRows(row, 'f32', 'q8_0', 64);
    expect(q.length).toBe(2 * 34);
    // ggml's quantize_row_q8_0_ref in f32 arithmetic: d = amax / 127, q = roundf(x * (1 / d))
    const f = Math.fround;
    for (let block = 0; block < 2; block++) {
      const xs = Array.from(row.subarray(32 * block, 32 * block + 32));
      const d = f(Math.max(...xs.map(Math.abs)) / 127);
      const id = f(1 / d);
      expect(f16(q.readUInt16LE(34 * block))).toBe(f16(float32ToFloat16Bits(d)));
      for (let j = 0; j < 32; j++) {
        const v = f(xs[j] * id);
        expect(q.readInt8(34 * block + 2 + j)).toBe(Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
      }
    }
    // f16 input, as Uint16Array bits or raw bytes, gives the same blocks as the same values in f32
    const bits = new Uint16Array(64);
    for (let i = 0; i < 64; i++) bits[i] = float32ToFloat16Bits(row[i]);
    const asF32 = Float32Array.from(bits, f16);
    const fromBits = await quantizeRows(bits, 'f16', 'q5_0', 32);
    expect(fromBits.equals(await quantizeRows(asF32, 'f32', 'q5_0', 32))).toBe(true);
    expect(fromBits.equals(await quantizeRows(new Uint8Array(bits.buffer), 'f16', 'q5_0', 32))).toBe(true);
    // to f16: ggml's rounding
    expect(Buffer.from(bits.buffer).equals(await quantizeRows(asF32, 'f32', 'f16', 1))).toBe(true);
    expect((await quantizeRows(new Float32Array(0), 'f32', 'q4_0', 32)).length).toBe(0);
  });

  it('validates in TypeScript: INVALID_ARGUMENT naming the parameter', async () => {
    const row = new Float32Array(64);
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [quantizeRows(row, 'f32', 'q3_k' as 'q4_0', 32), /^dstType: /],
      [quantizeRows(row, 'bf16' as 'f32', 'q4_0', 32), /^srcType: /],
      [quantizeRows(row, 'f16', 'q4_0', 32), /^data: expected values matching srcType 'f16'/],
      [quantizeRows(row, 'f32', 'q4_0', 48), /^nPerRow: expected a positive integer multiple of 32/],
      [quantizeRows(row, 'f32', 'q4_0', 0), /^nPerRow: /],
      [quantizeRows(row.subarray(0, 48), 'f32', 'q4_0', 32), /^data: expected a whole number of rows of 32 values, got "48 values"/],
      [quantizeRows(new Uint8Array(6), 'f32', 'q4_0', 32), /^data: expected a whole number of f32 values/],
      [quantizeRows([1, 2] as unknown as Float32Array, 'f32', 'q4_0', 32), /^data: /],
    ];
    for (const [promise, message] of cases) {
      const error = await rejectedWhisperError(promise);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(message);
    }
  });

  it('the addon itself refuses bad arguments with a JS error instead of aborting the process', async () => {
    const addon = native();
    const row = new Float32Array(64);
    const bad: unknown[][] = [
      [],
      [row],
      [{}, 0, 8, 32],
      [row, 2, 8, 32],
      [row, 0, 14, 256], // q6_K: not offered
      [row, 0, 16, 256], // iq2_xxs: needs an importance matrix
      [row, 0, 99, 32],
      [row, 0, -1, 32],
      [row, 0, 8, 33],
      [row, 0, 8, 0],
      [row, 0, 8, 2 ** 40],
      [row, 0, 8, Number.NaN],
      [row, 0, 8, 1.5],
      [row.subarray(0, 40), 0, 8, 32],
      [new Uint8Array(7), 1, 8, 32],
      [row, '0', 8, 32],
    ];
    for (const args of bad) {
      let error: unknown;
      try {
        await (addon.quantize as (...a: unknown[]) => Promise<Buffer>)(...args);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(args.slice(1))).toBeInstanceOf(Error);
      expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT');
    }
    // still alive and working, also on shared memory
    expect((await addon.quantize(row, 0, 8, 32)).length).toBe(68);
    const shared = new Float32Array(new SharedArrayBuffer(4 * 64));
    shared.forEach((_, i) => (shared[i] = Math.sin(i)));
    const copy = Float32Array.from(shared);
    expect((await addon.quantize(shared.subarray(32), 0, 8, 32)).equals(await addon.quantize(copy.subarray(32), 0, 8, 32))).toBe(true);
    // the input is copied: changing it after the call does not change the result
    const input = new Float32Array(32).fill(1);
    const pending = addon.quantize(input, 0, 8, 32);
    input.fill(-5);
    const out = await pending;
    expect(out.readInt8(2)).toBe(127);
  });
});

const f16 = f16BitsToNumber;
