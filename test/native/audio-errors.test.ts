/** Bad audio is a typed error before any native work, and the model keeps working. */
import fs from 'node:fs';
import path from 'node:path';
import { WaveFile } from 'wavefile';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAudio, loadModel, type WhisperModel } from '../../lib';
import { JFK_WAV } from '../support/paths';

describe('transcribe rejects bad audio with typed errors', () => {
  let model: WhisperModel;
  const dir = path.join(inject('workDir'), 'bad-audio');

  beforeAll(async () => {
    model = await loadModel(inject('syntheticTinyEn'));
    fs.mkdirSync(dir, { recursive: true });
  });
  afterAll(() => model?.dispose());

  const options = { language: 'en', temperatureIncrement: 0 };

  it('a WAV with a broken header', async () => {
    const bytes = Buffer.from(fs.readFileSync(JFK_WAV));
    bytes.write('XXXX', 8, 'latin1'); // WAVE -> XXXX
    await expect(model.transcribe(bytes, options)).rejects.toMatchObject({ code: 'INVALID_AUDIO' });
  });

  it('a WAV with zero samples', async () => {
    const wav = new WaveFile();
    wav.fromScratch(1, 16000, '16', []);
    await expect(model.transcribe(Buffer.from(wav.toBuffer()), options)).rejects.toMatchObject({
      code: 'INVALID_AUDIO',
      message: expect.stringMatching(/0 samples|no samples|empty/i),
    });
  });

  it('IMA ADPCM decodes (dr_wav); an encoding dr_wav lacks is UNSUPPORTED_AUDIO naming its tag', async () => {
    const adpcm = new WaveFile();
    adpcm.fromScratch(1, 8000, '16', new Int16Array(4096));
    adpcm.toIMAADPCM(); // wavefile only encodes ADPCM at 8 kHz
    expect((await loadAudio(Buffer.from(adpcm.toBuffer()))).length).toBeGreaterThan(8000);
    const pcm = new WaveFile();
    pcm.fromScratch(1, 16000, '16', new Int16Array(4096));
    const unknown = Buffer.from(pcm.toBuffer());
    unknown.writeUInt16LE(0x0055, 20); // MPEG layer 3 inside WAV
    await expect(model.transcribe(unknown, options)).rejects.toMatchObject({
      code: 'UNSUPPORTED_AUDIO',
      message: expect.stringMatching(/format tag 0x0055/),
    });
  });

  it('random bytes and a missing file', async () => {
    await expect(model.transcribe(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), options)).rejects.toMatchObject({ code: 'INVALID_AUDIO' });
    await expect(model.transcribe(path.join(dir, 'missing.wav'), options)).rejects.toMatchObject({ code: 'AUDIO_NOT_FOUND' });
  });

  it('a directory is INVALID_ARGUMENT, not a missing file', async () => {
    await expect(model.transcribe(dir, options)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `audio: expected a file (audio file), got a directory: ${dir}`,
    });
  });

  it('NaN and Infinity samples name the first bad sample', async () => {
    const nan = new Float32Array(16000);
    nan[1234] = Number.NaN;
    await expect(model.transcribe(nan, options)).rejects.toMatchObject({
      code: 'INVALID_AUDIO',
      message: expect.stringContaining('1234'),
    });
    const inf = new Float32Array(16000);
    inf[7] = Number.POSITIVE_INFINITY;
    await expect(model.transcribe(inf, options)).rejects.toMatchObject({ code: 'INVALID_AUDIO', message: expect.stringContaining('7') });
  });

  it('an empty Float32Array and a number are INVALID_ARGUMENT', async () => {
    await expect(model.transcribe(new Float32Array(0), options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(model.transcribe(42 as unknown as Float32Array, options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('bad options name the parameter, the expectation and the value', async () => {
    const pcm = new Float32Array(16000);
    await expect(model.transcribe(pcm, { language: 'xx' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/options\.language.*"xx"/),
    });
    await expect(model.transcribe(pcm, { language: 'de' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('English-only'),
    });
    await expect(model.transcribe(pcm, { beamSize: 9, strategy: 'beam' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/options\.beamSize: expected an integer from 1 to 8, got 9/),
    });
    await expect(model.transcribe(pcm, { audioContext: 100_000 })).rejects.toMatchObject({
      message: expect.stringContaining('options.audioContext'),
    });
    await expect(model.transcribe(pcm, { temprature: 0 } as never)).rejects.toMatchObject({
      message: expect.stringContaining('options.temprature'),
    });
  });

  it('a suppressRegex that JS accepts but std::regex does not is INVALID_ARGUMENT, not a crash', async () => {
    await expect(model.transcribe(new Float32Array(16000), { ...options, suppressRegex: '(?<=a)b' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('options.suppressRegex'),
    });
  });

  it('a duration past the end of the audio transcribes to the end, not into padding', async () => {
    const pcm = await loadAudio(JFK_WAV);
    const toEnd = await model.transcribe(pcm, options);
    const pastEnd = await model.transcribe(pcm, { ...options, durationMs: 600_000 });
    expect(pastEnd.segments).toEqual(toEnd.segments);
  });

  it('a missing or wrong VAD model is a typed error naming options.vad.modelPath', async () => {
    const pcm = new Float32Array(16000);
    await expect(model.transcribe(pcm, { ...options, vad: { modelPath: path.join(dir, 'missing-vad.bin') } })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining('options.vad.modelPath'),
    });
    // A whisper model is a ggml file too, but not a VAD model.
    await expect(model.transcribe(pcm, { ...options, vad: { modelPath: inject('syntheticTinyEn') } })).rejects.toMatchObject({
      code: 'INVALID_MODEL',
      message: expect.stringContaining('Silero'),
    });
  });

  it('very short audio (under 100 ms) gives an empty transcript, not an error', async () => {
    const result = await model.transcribe(new Float32Array(800), options);
    expect(result.segments).toEqual([]);
    expect(result.text).toBe('');
  });

  it('an offset past the end of the audio gives an empty transcript', async () => {
    const result = await model.transcribe(new Float32Array(16000), { ...options, offsetMs: 60_000 });
    expect(result.segments).toEqual([]);
  });
});
