/**
 * DTW token times against whisper.cpp's own whisper-cli (`-dtw <preset> -nfa -ojf`, built from the
 * same deps/ source): on the same model and audio, every token's "t_dtw" equals our dtwMs, along with
 * the tokens, probabilities and token timestamps the plain parity test checks. Flash attention is off
 * on both sides (whisper.cpp silently drops DTW with it).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel, type WhisperModel } from '../../lib';
import type { AlignmentHeadsPreset } from '../../lib/transcription/options';
import { JFK_WAV } from '../support/paths';
import { realModels } from '../support/real-models';
import { readVocabBytes } from '../support/vocab';
import { cliParityOptions, runWhisperCli, toOracleShape } from '../support/whisper-cli';

const THREADS = 2;

const CASES: Array<{ name: string; model: () => string; preset: AlignmentHeadsPreset; noTimestamps: boolean }> = [
  // With timestamps the random weights write few text tokens; without, a long run of them to align.
  { name: 'a synthetic tiny.en model', model: () => inject('syntheticTinyEn'), preset: 'tiny.en', noTimestamps: true },
  { name: 'a synthetic tiny.en model', model: () => inject('syntheticTinyEn'), preset: 'tiny.en', noTimestamps: false },
  { name: 'the real base model', model: () => realModels().models.base.files.f16.path, preset: 'base', noTimestamps: false },
];

describe.each(CASES)('DTW parity with whisper-cli on $name (noTimestamps $noTimestamps)', ({ model: modelPath, preset, noTimestamps }) => {
  let model: WhisperModel;
  let vocab: Buffer[];

  beforeAll(async () => {
    // true picks the same preset from the architecture; the parity holds for the preset named here.
    model = await loadModel(modelPath(), { gpu: false, wordTimestamps: preset });
    vocab = await readVocabBytes(modelPath());
  });
  afterAll(() => model?.dispose());

  it(`jfk.wav: every token's DTW time equals whisper-cli -dtw ${preset}`, async () => {
    const ours = await model.transcribe(JFK_WAV, { ...cliParityOptions(THREADS), noTimestamps, wordTimestamps: true });
    const oracle = await runWhisperCli(inject('whisperCli'), {
      model: modelPath(),
      audio: JFK_WAV,
      threads: THREADS,
      language: 'en',
      flashAttention: false,
      extraArgs: ['-dtw', preset, ...(noTimestamps ? ['-nt'] : [])],
    });
    const specialText = new Map(ours.segments.flatMap((s) => s.tokens).map((t) => [t.id, t.text]));
    const tokenBytes = (id: number) => vocab[id] ?? Buffer.from(specialText.get(id) ?? '', 'utf8');
    const oracleTokens = oracle.segments.flatMap((s) => s.tokens);
    // The oracle really aligned: its text tokens carry DTW times.
    expect(oracleTokens.filter((t) => t.dtwMs !== undefined).length).toBeGreaterThan(noTimestamps ? 50 : 0);
    expect(toOracleShape(ours, tokenBytes)).toEqual(oracle.segments);
  });
});
