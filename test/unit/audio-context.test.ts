/** audioContext 'auto': the fitted context, when its result is refused, and the call made again with the model's. */
import { describe, expect, it } from 'vitest';
import { callWithFittedContext, type NativeEvent } from '../../lib/model/fitted-context';
import type { NativeSegment, NativeTranscribeParams, NativeTranscript } from '../../lib/native/native-api';
import { fittedAudioContext, fittedContextFailed } from '../../lib/transcription/audio-context';
import { fitsAudioContext, resolveTranscribeOptions, type ModelLimits } from '../../lib/transcription/options';

const SECOND = 16_000;

function segment(text: string, startMs: number, endMs: number): NativeSegment {
  return { index: 0, startMs, endMs, text, noSpeechProbability: 0, speakerTurnNext: false, temperature: 0, windowStartMs: 0, tokens: [] };
}

function transcript(...segments: NativeSegment[]): NativeTranscript {
  return { segments, language: 'en', languageProbability: -1, timings: { totalMs: 1, languageDetectionMs: 0, encoderRuns: 1 } };
}

const limits = (wordTimestamps: boolean): ModelLimits => ({ multilingual: true, nAudioCtx: 1500, languages: new Set(['en']), defaultThreads: 1, wordTimestamps });

describe('fittedAudioContext', () => {
  it('is the audio and 2 s more in 20 ms frames, rounded up to 256', () => {
    expect(fittedAudioContext(1 * SECOND, 1500)).toBe(256);
    // 3.12 s: 156 + 100 frames.
    expect(fittedAudioContext(3.12 * SECOND, 1500)).toBe(256);
    expect(fittedAudioContext(3.12 * SECOND + 320, 1500)).toBe(512);
    // 11 s: 550 + 100 frames.
    expect(fittedAudioContext(11 * SECOND, 1500)).toBe(768);
    expect(fittedAudioContext(20 * SECOND, 1500)).toBe(1280);
  });

  it("is 0 (the model's) when fitting would not make the context a tenth smaller", () => {
    // 24 s: 1200 + 100 frames, rounded up to 1536, over 90 % of 1500.
    expect(fittedAudioContext(24 * SECOND, 1500)).toBe(0);
    expect(fittedAudioContext(30 * SECOND, 1500)).toBe(0);
    expect(fittedAudioContext(3 * SECOND, 256)).toBe(0);
  });
});

describe('fittedContextFailed', () => {
  it('accepts text within the audio', () => {
    expect(fittedContextFailed(transcript(segment(' Ten of clubs.', 0, 1100)), 1.1 * SECOND)).toBe(false);
    expect(fittedContextFailed(transcript(segment(' [BLANK_AUDIO]', 0, 2000)), 2 * SECOND)).toBe(false);
  });

  it('refuses no text, text past the end of the audio, and text that repeats itself', () => {
    expect(fittedContextFailed(transcript(), 2 * SECOND)).toBe(true);
    expect(fittedContextFailed(transcript(segment(' ', 0, 500)), 2 * SECOND)).toBe(true);
    expect(fittedContextFailed(transcript(segment(' He was not.', 0, 2900), segment(' He was not.', 2900, 4500)), 3 * SECOND)).toBe(true);
    expect(fittedContextFailed(transcript(segment(' five'.repeat(12), 0, 3000)), 3.5 * SECOND)).toBe(true);
    // Ten words in 1.55 s, which no zlib ratio catches in so short a text.
    expect(fittedContextFailed(transcript(segment(' 5, 5 5 5 5 5 5 5 5 5', 0, 1500)), 1.55 * SECOND)).toBe(true);
    expect(fittedContextFailed(transcript(segment(' 5, 5', 0, 1500)), 1.55 * SECOND)).toBe(false);
  });
});

describe('callWithFittedContext', () => {
  const params = { audioContext: 0, threads: 1 } as NativeTranscribeParams;

  function recorder() {
    const events: Array<[string, unknown]> = [];
    const onEvent: NativeEvent = (kind, payload) => events.push([kind, kind === 'segment' ? (payload as NativeSegment).text : payload]);
    return { events, onEvent };
  }

  it('keeps the fitted result when it is sound, and gives its segments after it', async () => {
    const contexts: number[] = [];
    const { events, onEvent } = recorder();
    const good = transcript(segment(' Ten of clubs.', 0, 1000));
    const { result, attempts } = await callWithFittedContext(
      async (p, emit) => {
        contexts.push(p.audioContext);
        emit?.('progress', 50);
        emit?.('segment', good.segments[0]!);
        emit?.('progress', 100);
        return good;
      },
      params,
      1 * SECOND,
      1500,
      onEvent,
    );
    expect({ contexts, attempts, result }).toEqual({ contexts: [256], attempts: 1, result: good });
    expect(events).toEqual([
      ['progress', 50],
      ['progress', 100],
      ['segment', ' Ten of clubs.'],
    ]);
  });

  it("decodes again with the model's context when the fitted result fails, and no segment of the first attempt is seen", async () => {
    const contexts: number[] = [];
    const { events, onEvent } = recorder();
    const looped = transcript(segment(' five five five', 0, 3000), segment(' five five five', 3000, 6000));
    const good = transcript(segment(' 5.', 0, 3000));
    const { result, attempts } = await callWithFittedContext(
      async (p, emit) => {
        contexts.push(p.audioContext);
        const out = p.audioContext === 0 ? good : looped;
        emit?.('progress', p.audioContext === 0 ? 40 : 60);
        for (const s of out.segments) emit?.('segment', s);
        emit?.('progress', 100);
        return out;
      },
      params,
      3.5 * SECOND,
      1500,
      onEvent,
    );
    expect({ contexts, attempts, result }).toEqual({ contexts: [512, 0], attempts: 2, result: good });
    // Progress only moves forward across the two attempts.
    expect(events).toEqual([
      ['progress', 60],
      ['progress', 100],
      ['segment', ' 5.'],
    ]);
  });

  it("makes one call with the model's context when fitting saves nothing", async () => {
    const contexts: number[] = [];
    await callWithFittedContext(
      async (p) => {
        contexts.push(p.audioContext);
        return transcript();
      },
      params,
      30 * SECOND,
      1500,
      undefined,
    );
    expect(contexts).toEqual([0]);
  });
});

describe("audioContext: 'auto' in the options", () => {
  it("resolves to the model's context for the native call, and fits only without word timestamps", () => {
    expect(resolveTranscribeOptions({ audioContext: 'auto' }, limits(false)).audioContext).toBe(0);
    expect(fitsAudioContext({ audioContext: 'auto' }, limits(false))).toBe(true);
    expect(fitsAudioContext({ audioContext: 'auto' }, limits(true))).toBe(false);
    expect(resolveTranscribeOptions({ audioContext: 'auto' }, limits(true)).audioContext).toBe(0);
    expect(fitsAudioContext({ audioContext: 768 }, limits(false))).toBe(false);
    expect(fitsAudioContext({}, limits(false))).toBe(false);
  });

  it('still refuses other strings', () => {
    expect(() => resolveTranscribeOptions({ audioContext: 'fit' }, limits(false))).toThrow(/^options\.audioContext: expected an integer from 0 to 1500/);
  });
});
