/** The model catalogue: the names the issue promises, well-formed entries, the known hashes, added entries, close names. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MODEL_CATALOGUE,
  addCatalogueEntry,
  catalogueEntries,
  clearAddedCatalogueEntries,
  closeCatalogueNames,
  findCatalogueEntry,
} from '../../lib/model-files/catalogue';
import { SHARED } from '../support/paths';

afterEach(() => clearAddedCatalogueEntries());

describe('MODEL_CATALOGUE', () => {
  it('has the models the issue names, tiny to large-v3-turbo, with their quantized variants and Silero VAD', () => {
    const names = MODEL_CATALOGUE.map((e) => e.name);
    for (const name of ['tiny', 'tiny.en', 'base', 'base.en', 'small', 'small.en', 'medium', 'medium.en', 'large-v1', 'large-v2', 'large-v3', 'large-v3-turbo']) {
      expect(names).toContain(name);
    }
    for (const name of ['large-v3-q5_0', 'large-v3-turbo-q8_0', 'large-v3-turbo-q5_0', 'base.en-q5_1', 'tiny.en-q8_0', 'medium-q5_0', 'small-q8_0'])
      expect(names).toContain(name);
    expect(MODEL_CATALOGUE.filter((e) => e.kind === 'vad').map((e) => e.name)).toEqual(['silero-v5.1.2', 'silero-v6.2.0']);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every entry: ggml-<name>.bin under its repository path, a size and a lowercase SHA-256', () => {
    for (const entry of MODEL_CATALOGUE) {
      expect(entry.file).toBe(`ggml-${entry.name}.bin`);
      const repository = entry.kind === 'vad' ? 'ggml-org/whisper-vad' : 'ggerganov/whisper.cpp';
      expect(entry.url).toBe(`${repository}/resolve/main/${entry.file}`);
      expect(Number.isSafeInteger(entry.sizeBytes) && entry.sizeBytes! > 0).toBe(true);
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.isFrozen(entry)).toBe(true);
    }
    // quantized files are smaller than their f16 model
    for (const entry of MODEL_CATALOGUE.filter((e) => /-q\d_\d$/.test(e.name))) {
      expect(entry.sizeBytes!).toBeLessThan(findCatalogueEntry(entry.name.replace(/-q\d_\d$/, ''))!.sizeBytes!);
    }
  });

  it("has the five sizes and SHA-256s of shared/README.md, and the shared Silero file's own", () => {
    const known: [string, number, string][] = [
      ['tiny.en', 77_704_715, '921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f'],
      ['tiny', 77_691_713, 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21'],
      ['base.en', 147_964_211, 'a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002'],
      ['base', 147_951_465, '60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe'],
      ['tiny.en-q8_0', 43_550_795, '5bc2b3860aa151a4c6e7bb095e1fcce7cf12c7b020ca08dcec0c6d018bb7dd94'],
    ];
    for (const [name, sizeBytes, sha256] of known) expect(findCatalogueEntry(name)).toMatchObject({ sizeBytes, sha256 });
    const silero = readFileSync(path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin'));
    expect(findCatalogueEntry('silero-v6.2.0')).toMatchObject({ sizeBytes: silero.length, sha256: createHash('sha256').update(silero).digest('hex') });
  });
});

describe('closeCatalogueNames', () => {
  it('finds what a typo or a partial name meant', () => {
    expect(closeCatalogueNames('bse.en')[0]).toBe('base.en');
    expect(closeCatalogueNames('large-v3-turbo-q8')[0]).toBe('large-v3-turbo-q8_0');
    expect(closeCatalogueNames('turbo')[0]).toBe('large-v3-turbo');
    expect(closeCatalogueNames('silero')).toEqual(['silero-v5.1.2', 'silero-v6.2.0']);
    expect(closeCatalogueNames('wav2vec2-large-960h-lv60-self')).toEqual([]);
  });
});

describe('addCatalogueEntry', () => {
  const entry = { name: 'ours', kind: 'whisper', file: 'ggml-ours.bin', url: 'team/models/resolve/main/ggml-ours.bin' } as const;

  it('adds a model by name to this process, after the built-in ones, and replaces an added one', () => {
    addCatalogueEntry(entry);
    expect(findCatalogueEntry('ours')).toEqual(entry);
    expect(catalogueEntries().at(-1)).toEqual(entry);
    addCatalogueEntry({ ...entry, sizeBytes: 10 });
    expect(findCatalogueEntry('ours')?.sizeBytes).toBe(10);
    expect(catalogueEntries().filter((e) => e.name === 'ours')).toHaveLength(1);
    expect(closeCatalogueNames('our')).toContain('ours');
    clearAddedCatalogueEntries();
    expect(findCatalogueEntry('ours')).toBeUndefined();
  });

  it('refuses entries that would escape the cache, reach another host or replace a built-in model', () => {
    const refused: [object, string][] = [
      [{ ...entry, name: 'base.en' }, "entry.name: 'base.en' is a built-in model name; choose another name for your model"],
      [{ ...entry, name: '../x' }, 'entry.name: expected a name of letters, digits, dots, dashes and underscores, not ending in .bin, got "../x"'],
      [{ ...entry, name: 'x.bin' }, 'entry.name: expected a name of letters, digits, dots, dashes and underscores, not ending in .bin, got "x.bin"'],
      [
        { ...entry, file: '../../etc/passwd' },
        'entry.file: expected a file name without a directory (letters, digits, dots, dashes, underscores), got "../../etc/passwd"',
      ],
      [{ ...entry, file: 'x.bin.part' }, 'entry.file: expected a file name without a directory (letters, digits, dots, dashes, underscores), got "x.bin.part"'],
      [
        { ...entry, url: 'https://elsewhere.example/x.bin' },
        'entry.url: expected a path under the base URL, e.g. "owner/repo/resolve/main/ggml-x.bin", got "https://elsewhere.example/x.bin"',
      ],
      [{ ...entry, url: '/abs' }, 'entry.url: expected a path under the base URL, e.g. "owner/repo/resolve/main/ggml-x.bin", got "/abs"'],
      [{ ...entry, kind: 'llm' }, `entry.kind: expected 'whisper' or 'vad', got "llm"`],
      [{ ...entry, sha256: 'ABC' }, 'entry.sha256: expected 64 lowercase hex digits, got "ABC"'],
      [{ ...entry, sizeBytes: -1 }, 'entry.sizeBytes: expected a positive integer, got -1'],
    ];
    for (const [bad, message] of refused) {
      expect(() => addCatalogueEntry(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message }) as Error);
    }
    expect(findCatalogueEntry('ours')).toBeUndefined();
  });
});
