/**
 * `vad: { modelPath }` takes a catalogue name of a Silero VAD model cached in the model cache,
 * as well as a path: the same transcript either way, and clear errors for a name that is not
 * cached, unknown, or a Whisper model's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio, loadModel, type WhisperModel } from '../../lib';
import { rejectedWhisperError } from '../support/errors';
import { JFK_WAV, SHARED } from '../support/paths';

const VAD_FILE = path.join(SHARED, 'models', 'ggml-silero-v6.2.0.bin');

describe('a Silero VAD model by name', () => {
  const modelsDir = path.join(inject('workDir'), 'vad-by-name-models');
  const savedModelsDir = process.env.WHISPER_NAPI_MODELS;
  let model: WhisperModel;
  let pcm: Float32Array;

  beforeAll(async () => {
    fs.mkdirSync(modelsDir, { recursive: true });
    process.env.WHISPER_NAPI_MODELS = modelsDir;
    model = await loadModel(inject('syntheticTinyEn'), { gpu: false });
    // Speech after 3 s of silence, so VAD has something to cut.
    const jfk = await loadAudio(JFK_WAV);
    pcm = new Float32Array(3 * 16000 + jfk.length);
    pcm.set(jfk, 3 * 16000);
  });
  afterAll(async () => {
    await model?.dispose();
    if (savedModelsDir === undefined) delete process.env.WHISPER_NAPI_MODELS;
    else process.env.WHISPER_NAPI_MODELS = savedModelsDir;
  });

  it('a name not in the cache yet is MODEL_NOT_FOUND, saying how to download it', async () => {
    const error = await rejectedWhisperError(model.transcribe(pcm, { threads: 2, vad: { modelPath: 'silero-v6.2.0' } }));
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain(`options.vad.modelPath: 'silero-v6.2.0' is not in the model cache (${modelsDir})`);
    expect(error.message).toContain('whisper-napi models download silero-v6.2.0');
  });

  it('a cached name gives the same transcript as the file path', async () => {
    fs.copyFileSync(VAD_FILE, path.join(modelsDir, 'ggml-silero-v6.2.0.bin'));
    // No temperature fallback: the synthetic model's random weights would sample different text.
    const options = { threads: 2, temperatureIncrement: 0 };
    const byName = await model.transcribe(pcm, { ...options, vad: { modelPath: 'silero-v6.2.0' } });
    const byPath = await model.transcribe(pcm, { ...options, vad: { modelPath: VAD_FILE } });
    expect(byName.segments.length).toBeGreaterThan(0);
    expect(byName.segments.map((s) => [s.startMs, s.endMs, s.text])).toEqual(byPath.segments.map((s) => [s.startMs, s.endMs, s.text]));
    // VAD really ran: the first segment starts after the leading silence.
    expect(byName.segments[0].startMs).toBeGreaterThanOrEqual(2500);
  });

  it('an unknown name and a Whisper model name are refused, naming options.vad.modelPath', async () => {
    const unknown = await rejectedWhisperError(model.transcribe(pcm, { vad: { modelPath: 'silero-v9' } }));
    expect(unknown.code).toBe('MODEL_NOT_FOUND');
    expect(unknown.message).toMatch(/^options\.vad\.modelPath: no model named 'silero-v9' in the catalogue/);
    const whisper = await rejectedWhisperError(model.transcribe(pcm, { vad: { modelPath: 'base.en' } }));
    expect(whisper.code).toBe('INVALID_ARGUMENT');
    expect(whisper.message).toBe("options.vad.modelPath: 'base.en' is a Whisper model, not a Silero VAD model (e.g. 'silero-v6.2.0')");
  });
});
