/**
 * audioContext 'auto' on real base weights: a sound fitted result is token for token what
 * whisper-cli decodes with the same `-ac`, and a fitted decoding that goes wrong is replaced by
 * the model's full-context result.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel, type Transcript, type WhisperModel } from '../../lib';
import type { NativeTranscript } from '../../lib/native/native-api';
import { fittedAudioContext, fittedContextFailed } from '../../lib/transcription/audio-context';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';
import { readVocabBytes } from '../support/vocab';
import { cliParityOptions, runWhisperCli, toOracleShape } from '../support/whisper-cli';

const THREADS = 2;
const base = realModels().models.base.files;
const OPTIONS = cliParityOptions(THREADS);
const LIBRIVOX = path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav');
const CARD = path.join(SHARED, 'audio', 'cards', '005.wav');

/** 16-bit mono WAV files with a 44-byte header, as the shared clips are. */
const wavSamples = (file: string) => (fs.statSync(file).size - 44) / 2;

const segmentsOnly = (t: Transcript) => t.segments.map(({ startMs, endMs, text }) => ({ startMs, endMs, text }));

describe("audioContext 'auto' on converted base q8_0", () => {
  let model: WhisperModel;
  let vocab: Buffer[];
  beforeAll(async () => {
    model = await loadModel(base.q8_0.path, { gpu: false, flashAttention: true });
    vocab = await readVocabBytes(base.q8_0.path);
  });
  afterAll(async () => model?.dispose());

  for (const clip of [JFK_WAV, LIBRIVOX]) {
    it(`${path.basename(clip)}: the fitted result equals whisper-cli with the same -ac`, async () => {
      const audioContext = fittedAudioContext(wavSamples(clip), 1500);
      expect(audioContext).toBeGreaterThan(0);
      expect(audioContext).toBeLessThan(1500);
      const ours = await model.transcribe(clip, { ...OPTIONS, audioContext: 'auto' });
      const oracle = await runWhisperCli(inject('whisperCli'), {
        model: base.q8_0.path,
        audio: clip,
        threads: THREADS,
        language: 'en',
        flashAttention: true,
        extraArgs: ['-ac', String(audioContext)],
      });
      const specialText = new Map(ours.segments.flatMap((s) => s.tokens).map((t) => [t.id, t.text]));
      const tokenBytes = (id: number) => vocab[id] ?? Buffer.from(specialText.get(id) ?? '', 'utf8');
      expect(oracle.segments.length).toBeGreaterThan(0);
      expect(toOracleShape(ours, tokenBytes)).toEqual(oracle.segments);
    });
  }

  it('a fitted decoding that fails is decoded again with the full context', async () => {
    const samples = wavSamples(CARD);
    const audioContext = fittedAudioContext(samples, 1500);
    const options = { ...OPTIONS, keepNonSpeech: true };
    const fitted = await model.transcribe(CARD, { ...options, audioContext });
    const full = await model.transcribe(CARD, options);
    const auto = await model.transcribe(CARD, { ...options, audioContext: 'auto' });
    const asNative = { segments: fitted.segments.map((s) => ({ ...s, tokens: [] })) } as unknown as NativeTranscript;
    // Whichever way this clip goes on this CPU, 'auto' keeps the sound result.
    if (fittedContextFailed(asNative, samples)) expect(segmentsOnly(auto)).toEqual(segmentsOnly(full));
    else expect(segmentsOnly(auto)).toEqual(segmentsOnly(fitted));
  });

  it("keeps the model's context on a model loaded with word timestamps", async () => {
    const aligned = await loadModel(base.q8_0.path, { gpu: false, wordTimestamps: true });
    try {
      const auto = await aligned.transcribe(JFK_WAV, { ...OPTIONS, audioContext: 'auto', wordTimestamps: true });
      const full = await aligned.transcribe(JFK_WAV, { ...OPTIONS, wordTimestamps: true });
      // noSpeechProbability is left out: whisper.cpp's differs between a state's first job and later ones, whatever the context.
      const comparable = (t: Transcript) => t.segments.map(({ noSpeechProbability: _, ...rest }) => rest);
      expect(comparable(auto)).toEqual(comparable(full));
    } finally {
      await aligned.dispose();
    }
  });
});
