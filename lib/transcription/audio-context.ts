/**
 * `audioContext: 'auto'`: the encoder context fitted to a call's audio. Whisper always encodes
 * 30 s (1500 frames), padding short audio with silence; encoding only the audio and a little
 * silence after it makes short clips several times cheaper, but whisper was trained on the
 * whole context, and a trimmed one sometimes makes it repeat a phrase past the end of the
 * audio or write nothing. Such a result is recognised and decoded again with the full context.
 */
import { WHISPER_SAMPLE_RATE } from '../audio/pcm';
import type { NativeTranscript } from '../native/native-api';
import { compressionRatio } from './segment-measures';

/** Encoder frames per second of audio: 10 ms mel frames, halved by the encoder's strided convolution. */
const FRAMES_PER_SECOND = 50;
/** Silence encoded after the audio, so the decoder sees where speech ends. */
const MARGIN_FRAMES = 2 * FRAMES_PER_SECOND;
/**
 * Contexts are whole multiples of this. With flash attention whisper.cpp's cross-attention
 * reads the cross KV cache padded to 256 positions, unmasked, so any other context attends to
 * whatever the state's previous job left there (ARCHITECTURE.md, whisper.cpp quirks). It is
 * also about the least context with which whisper still writes a short clip's text.
 */
const FRAME_STEP = 256;
/** Text ending this much after the audio was written over padding: the trimmed decoding went wrong. */
const PAST_END_MS = 1000;
/** OpenAI's threshold for text too repetitive to be speech (gzip ratio; zlib's here). */
const REPETITIVE_RATIO = 2.4;
/** More words than this per second of audio is no one's speech: whisper repeated a word (e.g. "5, 5 5 5 ..." for 1.5 s). */
const MAX_WORDS_PER_SECOND = 6;
/** The word-rate check needs this many words to mean anything. */
const MIN_WORDS_FOR_RATE = 6;

/** A fitted context saving less than this share of the encoder is not worth the risk of decoding twice. */
const MIN_SAVING = 0.1;

/**
 * The context for `samples` of audio: 0 (the model's own) when fitting would not make it
 * a tenth smaller, e.g. for a full 30 s window.
 */
export function fittedAudioContext(samples: number, modelContext: number): number {
  const audioFrames = Math.ceil((samples / WHISPER_SAMPLE_RATE) * FRAMES_PER_SECOND);
  const frames = Math.ceil((audioFrames + MARGIN_FRAMES) / FRAME_STEP) * FRAME_STEP;
  return frames <= modelContext * (1 - MIN_SAVING) ? frames : 0;
}

/**
 * True when a result decoded with a fitted context must be decoded again with the model's:
 * no text at all (whisper marks real silence as [BLANK_AUDIO], which is text), a segment
 * running past the end of the audio, text that repeats itself, or more words than the audio
 * could hold.
 */
export function fittedContextFailed(result: NativeTranscript, samples: number): boolean {
  const audioMs = (samples / WHISPER_SAMPLE_RATE) * 1000;
  const text = result.segments.map((segment) => segment.text).join('');
  if (text.trim() === '') return true;
  if (result.segments.some((segment) => segment.endMs > audioMs + PAST_END_MS)) return true;
  if (compressionRatio(text) > REPETITIVE_RATIO) return true;
  const words = text.split(/\s+/).filter(Boolean).length;
  return words >= MIN_WORDS_FOR_RATE && words > (audioMs / 1000) * MAX_WORDS_PER_SECOND;
}
