/**
 * Silence is not text, on the real base q5_0: digital silence, white noise and mains hum give an
 * empty transcript (what the model writes for them comes back with keepNonSpeech), and speech
 * between long silences keeps every word it has alone, whether the audio is given whole or
 * read from a file in windows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio, loadModel, type Segment, type WhisperModel } from '../../lib';
import { normalizeWords } from '../../lib/tools/wer';
import { isNonSpeechSegment } from '../../lib/transcription/silence';
import { buildWav, packFloats } from '../unit/wav-fixtures';
import { mulberry32 } from '../support/prng';
import { JFK_WAV, SHARED } from '../support/paths';
import { realModels } from '../support/real-models';

const THREADS = 2;
const RATE = 16000;
const SILENCE_SECONDS = 20;
const LIBRIVOX_CLIP = path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav');

function whiteNoise(seconds: number, amplitude: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: seconds * RATE }, () => (random() * 2 - 1) * amplitude);
}

/** Mains hum: the fundamental and its next two harmonics, as a transformer or a ground loop gives. */
function hum(seconds: number, hz: number, amplitude: number): Float32Array {
  return Float32Array.from({ length: seconds * RATE }, (_, i) => {
    const phase = (2 * Math.PI * hz * i) / RATE;
    return amplitude * (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.3 * Math.sin(3 * phase));
  });
}

function between(silenceSeconds: number, speech: Float32Array): Float32Array {
  const padded = new Float32Array(2 * silenceSeconds * RATE + speech.length);
  padded.set(speech, silenceSeconds * RATE);
  return padded;
}

// What base q5_0 writes for each without the filter: [BLANK_AUDIO] for silence and the low
// noise, captions such as "(water flowing)" and "(Music)" for the louder noise and the hums.
const NOT_SPEECH: Record<string, () => Float32Array> = {
  'digital silence': () => new Float32Array(SILENCE_SECONDS * RATE),
  'low white noise (about -55 dBFS)': () => whiteNoise(SILENCE_SECONDS, 0.003, 1),
  'white noise (about -45 dBFS)': () => whiteNoise(SILENCE_SECONDS, 0.01, 2),
  'a 50 Hz hum': () => hum(SILENCE_SECONDS, 50, 0.05),
  'a 60 Hz hum': () => hum(SILENCE_SECONDS, 60, 0.1),
};

describe('silence through the real base q5_0', () => {
  let model: WhisperModel;
  let dir: string;
  beforeAll(async () => {
    model = await loadModel(realModels().models.base.files.q5_0.path, { gpu: false, concurrency: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-silence-'));
  });
  afterAll(async () => {
    await model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('whisper.cpp 1.9.1 reports a near-zero no-speech probability for digital silence (its rule cannot drop the window)', async () => {
    // whisper_full reads the no-speech token's probability from the prompt's first row of
    // logits, which its decoder never computes; OpenAI's decoder gives such silence > 0.6.
    // When a bump fixes this, whisper.cpp's own no-speech rule starts dropping windows: revisit
    // lib/transcription/silence.ts.
    const result = await model.transcribe(NOT_SPEECH['digital silence'](), { language: 'en', threads: THREADS, keepNonSpeech: true });
    expect(result.segments.length).toBeGreaterThan(0);
    for (const segment of result.segments) expect(segment.noSpeechProbability).toBeLessThan(0.001);
  });

  for (const [name, make] of Object.entries(NOT_SPEECH)) {
    it(`${name} gives an empty transcript, and its markers with keepNonSpeech`, async () => {
      const pcm = make();
      const streamed: Segment[] = [];
      const result = await model.transcribe(pcm, { language: 'en', threads: THREADS, onSegment: (segment) => streamed.push(segment) });
      expect(result.text).toBe('');
      expect(result.segments).toEqual([]);
      expect(streamed).toEqual([]);

      const kept: Segment[] = [];
      const raw = await model.transcribe(pcm, { language: 'en', threads: THREADS, keepNonSpeech: true, onSegment: (segment) => kept.push(segment) });
      expect(raw.segments.length).toBeGreaterThan(0);
      expect(raw.text).not.toBe('');
      for (const segment of raw.segments) expect(isNonSpeechSegment(segment)).toBe(true);
      expect(kept.map((segment) => segment.text)).toEqual(raw.segments.map((segment) => segment.text));
    });
  }

  const speechCache = new Map<string, { padded: Float32Array; reference: string[] }>();
  async function speechBetweenSilences(clip: string) {
    let entry = speechCache.get(clip);
    if (entry === undefined) {
      const speech = await loadAudio(clip);
      const alone = await model.transcribe(speech, { language: 'en', threads: THREADS });
      entry = { padded: between(SILENCE_SECONDS, speech), reference: normalizeWords(alone.text) };
      expect(entry.reference.length).toBeGreaterThan(10);
      speechCache.set(clip, entry);
    }
    return entry;
  }

  for (const [name, clip] of [
    ['jfk.wav', JFK_WAV],
    ['a LibriVox clip', LIBRIVOX_CLIP],
  ]) {
    it(`${name} between ${SILENCE_SECONDS} s silences, given whole, keeps every word it has alone`, async () => {
      const { padded, reference } = await speechBetweenSilences(clip);
      const whole = await model.transcribe(padded, { language: 'en', threads: THREADS });
      expect(normalizeWords(whole.text)).toEqual(reference);
    });
  }

  /** The padded clip as a WAV file: longer than 30 s, so it is read and transcribed in windows cut in silence. */
  async function windowedFromFile(clip: string) {
    const { padded, reference } = await speechBetweenSilences(clip);
    const file = path.join(dir, `${path.basename(clip, '.wav')}-padded.wav`);
    fs.writeFileSync(file, buildWav({ formatTag: 3, channels: 1, sampleRate: RATE, bitsPerSample: 32, data: packFloats(padded, 32) }));
    return { transcript: await model.transcribe(file, { language: 'en', threads: THREADS }), reference };
  }

  it(`jfk.wav between ${SILENCE_SECONDS} s silences, read from a file in windows, keeps every word it has alone`, async () => {
    const { transcript, reference } = await windowedFromFile(JFK_WAV);
    expect(normalizeWords(transcript.text)).toEqual(reference);
    expect(transcript.segments.every((segment) => !isNonSpeechSegment(segment))).toBe(true);
    expect(transcript.segments.map((segment) => segment.index)).toEqual(transcript.segments.map((_, i) => i));
  });

  // whisper ends the first window's last segment (" power to do for them.") at 26.64 s, before
  // the word has died away; the seam must not carry that tail into the next window, where it
  // was decoded a second time (lib/stream/seams.ts, pauseAfterTail).
  it(`a LibriVox clip between ${SILENCE_SECONDS} s silences, read from a file in windows, keeps every word it has alone`, async () => {
    const { transcript, reference } = await windowedFromFile(LIBRIVOX_CLIP);
    expect(normalizeWords(transcript.text)).toEqual(reference);
  });
});
