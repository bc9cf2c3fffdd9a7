/**
 * The converter's output up to the first tensor (hparams, mel filters, vocabulary) is byte-identical
 * to the real ggml headers in shared/models for the same model size and tokens. The fixtures have the
 * real base / tiny.en dimensions with all-zero weights (sparse files: no disk for the source; the
 * outputs, ~148 MB and ~75 MB, are deleted after each test).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertModel } from '../../lib/tools/convert';
import { SHARED } from '../support/paths';
import { BASE_DIMS, TINY_EN_DIMS, fullVocabulary, ggmlPreamble, ggmlVocabTokens, rawTokensForPublished, writeCt2WhisperFolder } from '../support/ct2-writer';
import { writeHfWhisperFolder } from '../support/safetensors-writer';

const BASE_HEADER = path.join(SHARED, 'models', 'header-only-ggml-base.bin');
const TINY_EN_HEADER = path.join(SHARED, 'models', 'header-only-ggml-tiny.en.bin');

let tmp: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'convert-identity-'));
});

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function head(file: string, n: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('converted preamble vs the published ggml headers', () => {
  it('a base-sized CTranslate2 model: identical to header-only-ggml-base.bin (hparams, mel filters, vocabulary)', async () => {
    const dir = path.join(tmp, 'ct2-base');
    const vocabulary = fullVocabulary(await ggmlVocabTokens(BASE_HEADER), BASE_DIMS.nVocab);
    await writeCt2WhisperFolder(dir, { dims: BASE_DIMS, vocabulary, dtype: 'f16', zeros: true });
    const out = path.join(tmp, 'ggml-base.bin');
    try {
      const info = await convertModel({ source: dir, outPath: out });
      const want = await ggmlPreamble(BASE_HEADER);
      const got = await head(out, want.length);
      expect(firstDifference(got, want)).toBe(-1);
      expect(info.modelType).toBe('base');
      expect(info.tensors.length).toBe(245);
      expect(info.vocab.offset + info.vocab.byteLength).toBe(want.length);
    } finally {
      await fsp.rm(out, { force: true });
    }
  });

  it('a tiny.en-sized Hugging Face model: identical to header-only-ggml-tiny.en.bin', async () => {
    const dir = path.join(tmp, 'hf-tiny-en');
    const vocabulary = fullVocabulary(rawTokensForPublished(await ggmlVocabTokens(TINY_EN_HEADER)), TINY_EN_DIMS.nVocab);
    await writeHfWhisperFolder(dir, { dims: TINY_EN_DIMS, vocabulary, dtype: 'f16', zeros: true });
    const out = path.join(tmp, 'ggml-tiny.en.bin');
    try {
      // the header-only files store tokens with invalid UTF-8 replaced by U+FFFD; the fixture's raw
      // tokens differ there, so ask for that form
      const info = await convertModel({ source: dir, outPath: out, replaceInvalidUtf8: true });
      const want = await ggmlPreamble(TINY_EN_HEADER);
      const got = await head(out, want.length);
      expect(firstDifference(got, want)).toBe(-1);
      expect(info.modelType).toBe('tiny');
      expect(info.multilingual).toBe(false);
      expect(info.vocab.offset + info.vocab.byteLength).toBe(want.length);
    } finally {
      await fsp.rm(out, { force: true });
    }
  });
});
