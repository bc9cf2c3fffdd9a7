import { describe, expect, it } from 'vitest';
import { dropNonSpeech, isNonSpeechSegment, isNonSpeechText } from '../../lib/transcription/silence';
import type { Segment } from '../../lib/transcription/transcript';

// Texts as whisper writes them for audio without speech: whisper.cpp's own marker, and the
// captions of its subtitle training data. The first six are what the real base q5_0 wrote for
// silence, low white noise, louder white noise and 50/60 Hz hums (test/native/silence.test.ts).
const NON_SPEECH = [
  ' [BLANK_AUDIO]',
  '[BLANK_AUDIO]',
  ' (water flowing)',
  ' (Music)',
  ' (dramatic music)',
  ' [BLANK_AUDIO] [BLANK_AUDIO]',
  ' [ Silence ]',
  ' [MUSIC]',
  ' [Music]',
  ' (upbeat music)',
  ' (upbeat electronic music playing)',
  ' ♪',
  ' ♪ ♪',
  ' ♪♪♪',
  ' 🎵',
  ' *sigh*',
  ' *coughs*',
  ' [ Inaudible ]',
  ' [inaudible]',
  ' [Applause]',
  ' (applause)',
  ' [laughter] (applause)',
  ' (Music) (Music) (Music)',
  ' [MUSIC PLAYING]',
  ' (speaking in foreign language)',
  ' [SOUND]',
  ' [ Music ].',
  ' (music) ...',
  ' - [Music]',
  ' ♪ (music) ♪',
  '\t[BLANK_AUDIO]\n',
  ' []',
  ' ()',
  // punctuation alone: what base writes for low white noise
  ' ,',
  ' ...',
  ' -',
  ' ¿?',
];

// Speech, with and without markers in it, and words that only look like markers.
const SPEECH = [
  ' And so my fellow Americans, ask not what your country can do for you.',
  ' [laughs] Hello there.',
  ' Hello there. [laughs]',
  ' (Sigh) Okay.',
  ' I said (quietly) no.',
  ' Hello (world)',
  ' (1) The first point.',
  ' [inaudible] we must go.',
  ' ♪ Oh, oh, oh ♪',
  ' ♪ Happy birthday to you ♪',
  ' Music',
  ' Silence!',
  ' BLANK_AUDIO',
  ' Music.',
  ' 3.14',
  ' 42',
  ' 日本語',
  ' Ça va.',
  // no marker and not punctuation alone: kept, as whisper-cli keeps it
  ' >.',
  ' ',
  '',
  // an unbalanced bracket is not a marker
  ' [BLANK_AUDIO',
  ' (music',
  ' music)',
  // a bracketed run longer than a caption is speech written in brackets
  ' (and then, after a long while, she finally turned to him and said nothing at all)',
  ' [BLANK_AUDIO] Thank you.',
];

function segment(index: number, text: string): Segment {
  return { index, startMs: index * 1000, endMs: index * 1000 + 900, text, noSpeechProbability: 0, speakerTurnNext: false, temperature: 0, windowStartMs: 0, tokens: [] };
}

describe('isNonSpeechText', () => {
  for (const text of NON_SPEECH) {
    it(`is not speech: ${JSON.stringify(text)}`, () => {
      expect(isNonSpeechText(text)).toBe(true);
      expect(isNonSpeechSegment(segment(0, text))).toBe(true);
    });
  }
  for (const text of SPEECH) {
    it(`is speech: ${JSON.stringify(text)}`, () => {
      expect(isNonSpeechText(text)).toBe(false);
      expect(isNonSpeechSegment(segment(0, text))).toBe(false);
    });
  }

  it('reads a caption of up to eight words as a marker, and nine as speech', () => {
    expect(isNonSpeechText(' (one two three four five six seven eight)')).toBe(true);
    expect(isNonSpeechText(' (one two three four five six seven eight nine)')).toBe(false);
    // each marker is counted on its own
    expect(isNonSpeechText(' (one two three four five six seven eight) (one two three four five six seven eight)')).toBe(true);
  });
});

describe('dropNonSpeech', () => {
  it('drops only the non-speech segments, keeps the rest in order and as they were, renumbered', () => {
    const segments = [segment(0, ' [BLANK_AUDIO]'), segment(1, ' Hello there.'), segment(2, ' (Music)'), segment(3, ' [laughs] Goodbye.'), segment(4, ' ♪')];
    const kept = dropNonSpeech(segments);
    expect(kept.map((s) => s.text)).toEqual([' Hello there.', ' [laughs] Goodbye.']);
    expect(kept.map((s) => s.index)).toEqual([0, 1]);
    expect(kept.map((s) => s.startMs)).toEqual([1000, 3000]);
    // the input is left alone
    expect(segments.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
  });

  it('gives nothing for silence, and everything for speech', () => {
    expect(dropNonSpeech([segment(0, ' [BLANK_AUDIO]'), segment(1, ' [BLANK_AUDIO]')])).toEqual([]);
    const speech = [segment(0, ' One.'), segment(1, ' Two.')];
    expect(dropNonSpeech(speech)).toEqual(speech);
    expect(dropNonSpeech([])).toEqual([]);
  });
});
