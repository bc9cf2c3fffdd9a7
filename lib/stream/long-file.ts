/**
 * Long audio in windows: transcribeWindowed runs the streaming transcriber over decoded PCM of
 * any length and gathers one Transcript. WhisperModel.transcribe() uses it under the pool (one
 * job, one state, all windows); transcribeLongFile() over any StreamTranscriber (one
 * transcribe() per window).
 */
import { resolveAudioOptions } from '../audio/audio-options';
import { openAudioSource } from '../audio/open-source';
import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE, invalidAudio, type AudioInput } from '../audio/pcm';
import type { AudioSource } from '../audio/source';
import { invalidArgument } from '../errors/whisper-error';
import type { TranscribeOptions } from '../transcription/options';
import { transcriptText, type Segment, type Transcript } from '../transcription/transcript';
import type { StreamOptions } from './options';
import { streamWindows, type StreamTranscriber } from './windows';

/** The source is read in 5 s pieces: small next to a window, so about one window of PCM is held. */
const READ_SAMPLES = 5 * WHISPER_SAMPLE_RATE;

export interface LongFileOptions
  extends
    Omit<TranscribeOptions, 'offsetMs' | 'durationMs' | 'detectLanguage'>,
    Pick<StreamOptions, 'windowMs' | 'cutSearchMs' | 'cutVad' | 'promptWithPrevious' | 'silenceRms' | 'onBuffer'> {}

/** @internal What transcribeWindowed needs besides the windowing options. */
export interface WindowedAudio {
  /** Decoded PCM pieces in order. */
  pieces: AsyncIterable<Float32Array>;
  /** The length the container states, for onProgress; undefined when unknown. */
  statedSamples: number | undefined;
  /** What the audio was found to be, for the error when it holds no samples. */
  format: string;
}

/**
 * transcribe() of audio of any length without holding it whole: any AudioInput is decoded a
 * piece at a time (WAV, FLAC, MP3 and Ogg Vorbis here, anything else by ffmpeg) and fed through
 * the streaming transcriber, one `model.transcribe()` per window. Audio no longer than one
 * window (30 s by default) gives the same transcript as a one-shot transcribe(). onSegment is
 * called for each segment as it becomes stable; onProgress with the share of the audio done
 * when its length is known. offsetMs, durationMs and detectLanguage are not supported here
 * (INVALID_ARGUMENT).
 */
export async function transcribeLongFile(model: StreamTranscriber, audio: AudioInput, options: LongFileOptions = {}): Promise<Transcript> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object of transcribe options', options);
  const { audio: audioOptions, ...rest } = options;
  const started = performance.now();
  const source = await openAudioSource(audio, resolveAudioOptions(audioOptions), options.signal);
  try {
    const transcript = await transcribeWindowed(model, { pieces: sourcePieces(source), statedSamples: source.statedSamples, format: source.format }, rest);
    const whisperMs = transcript.timings.queueMs + transcript.timings.inferenceMs;
    transcript.timings.audioMs = Math.max(0, performance.now() - started - whisperMs);
    return transcript;
  } finally {
    await source.close();
  }
}

/** @internal The source's PCM in READ_SAMPLES pieces, after `head` (what was read of it already). */
export async function* sourcePieces(source: AudioSource, head?: Float32Array): AsyncGenerator<Float32Array, void, undefined> {
  if (head !== undefined && head.length > 0) yield head;
  for (;;) {
    const piece = await source.read(READ_SAMPLES);
    if (piece.length === 0) return;
    yield piece;
  }
}

/**
 * @internal Windows of `audio` through `model`, gathered into one Transcript: segments numbered
 * and timed from the start, the first window's language, the timings summed (audioMs is left
 * for the caller, who knows what decoding cost).
 */
export async function transcribeWindowed(model: StreamTranscriber, audio: WindowedAudio, options: Omit<LongFileOptions, 'audio'> = {}): Promise<Transcript> {
  const { onSegment, onProgress, ...streamOptions } = options;
  for (const key of ['onSegment', 'onProgress'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'function') throw invalidArgument(`options.${key}`, 'a function', value);
  }
  const segments: Segment[] = [];
  let language = options.language ?? 'auto';
  let languageProbability: number | undefined;
  const timings = { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 0 };
  let first = true;
  let receivedMs = 0;
  let windows = 0;
  const stated = audio.statedSamples;
  for await (const window of streamWindows(model, audio.pieces, streamOptions)) {
    windows++;
    const t = window.transcript;
    if (t) {
      if (first) {
        language = t.language;
        languageProbability = t.languageProbability;
        first = false;
      }
      addTimings(timings, t.timings);
    }
    for (const s of window.segments) {
      segments.push(s);
      onSegment?.(s);
    }
    receivedMs = window.receivedMs;
    if (window.final) onProgress?.(100);
    else if (stated !== undefined && stated > 0) onProgress?.(Math.min(99, Math.round((window.stableEndMs * SAMPLES_PER_MS * 100) / stated)));
  }
  if (windows === 0) throw invalidAudio(`the ${audio.format} input holds no audio samples`);
  return {
    text: transcriptText(segments),
    segments,
    language,
    ...(languageProbability !== undefined ? { languageProbability } : {}),
    audioDurationMs: Math.round(receivedMs),
    timings,
  };
}

function addTimings(sum: Transcript['timings'], add: Transcript['timings']): void {
  sum.audioMs += add.audioMs;
  sum.queueMs += add.queueMs;
  sum.inferenceMs += add.inferenceMs;
  sum.languageDetectionMs += add.languageDetectionMs;
  sum.encoderRuns += add.encoderRuns;
}
