/**
 * What whisper writes for audio without speech, told apart from speech.
 *
 * Whisper was trained on subtitles, so for silence, noise, music or a hum it writes what a
 * subtitle would: whisper.cpp's own `[BLANK_AUDIO]`, or a caption such as `[ Silence ]`,
 * `(Music)`, `(water flowing)`, `*sigh*` or `♪ ♪`. A segment whose whole text is such markers
 * (one or more, with spaces and punctuation between them) is not speech and is dropped by
 * default (`keepNonSpeech: true` keeps it). Text without a marker is kept even when it has no
 * word (" ...", or the ">." of a random-weight test model): nothing marks it as non-speech, and
 * whisper-cli keeps it too.
 *
 * A marker inside speech stays: `[laughs] Hello there` is kept as whisper wrote it, so a
 * segment's text is always the concatenation of its tokens (which word timestamps and subtitle
 * timing rely on) and the writers match whisper-cli's.
 *
 * OpenAI's decoder also drops a window whose no-speech probability is above `noSpeechThreshold`
 * while its average log-probability is below `logprobThreshold`. whisper.cpp 1.9.1 applies
 * that same rule inside whisper_full (`is_no_speech`), so nothing is left to repeat here. It
 * rarely fires, though: whisper.cpp reads the no-speech probability from the logits of the
 * prompt's first position, which its decoder never computes (only the last position's are),
 * so the value is 1/n_vocab on a fresh state or whatever an earlier run left there. The marker
 * rule is what makes silence come out empty.
 */
import type { Segment } from './transcript';

/** Longest caption read as a marker; a longer bracketed run reads as speech written in brackets. */
const MAX_MARKER_WORDS = 8;

/**
 * One marker: text in square brackets, parentheses or asterisks (no line breaks or nested
 * brackets inside), or a run of music notes.
 */
const MARKER = /\[[^[\]()\n]*\]|\([^[\]()\n]*\)|\*[^*[\]()\n]+\*|[♩♪♫♬🎵🎶🎼]+/gu;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** Punctuation alone, as base writes for low noise (" ,", " ..."): no word of any script, no number, no symbol. */
const PUNCTUATION_ONLY = /^[\p{P}\s]*\p{P}[\p{P}\s]*$/u;

/**
 * Whether `text` holds no speech: one or more non-speech markers, with only spaces and
 * punctuation besides, or punctuation alone.
 */
export function isNonSpeechText(text: string): boolean {
  if (PUNCTUATION_ONLY.test(text)) return true;
  let markers = 0;
  let tooLong = false;
  const rest = text.replace(MARKER, (marker) => {
    markers++;
    if (marker.split(/\s+/).filter((word) => LETTER_OR_DIGIT.test(word)).length > MAX_MARKER_WORDS) tooLong = true;
    return ' ';
  });
  return markers > 0 && !tooLong && !LETTER_OR_DIGIT.test(rest);
}

/** A segment that is only non-speech markers (see isNonSpeechText). */
export function isNonSpeechSegment(segment: Pick<Segment, 'text'>): boolean {
  return isNonSpeechText(segment.text);
}

/** The segments without the non-speech ones, renumbered in order. */
export function dropNonSpeech(segments: Segment[]): Segment[] {
  return segments.filter((segment) => !isNonSpeechSegment(segment)).map((segment, index) => ({ ...segment, index }));
}
