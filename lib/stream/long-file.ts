import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { openWavWindows } from '../audio/wav-windows';
import { invalidArgument } from '../errors/whisper-error';
import type { TranscribeOptions } from '../transcription/options';
import { transcriptText, type Segment, type Transcript } from '../transcription/transcript';
import type { StreamOptions } from './options';
import { streamWindows, type StreamTranscriber } from './windows';

/** The file is read in 5 s pieces: small next to a window, so about one window of PCM is held. */
const READ_SAMPLES = 5 * WHISPER_SAMPLE_RATE;

export interface LongFileOptions
  extends
    Omit<TranscribeOptions, 'offsetMs' | 'durationMs' | 'detectLanguage'>,
    Pick<StreamOptions, 'windowMs' | 'cutSearchMs' | 'cutVad' | 'promptWithPrevious' | 'silenceRms' | 'onBuffer'> {}

/**
 * transcribe() of a WAV path without holding the whole file: it is read from disk in windows
 * (lib/audio/wav-windows.ts) and fed through the streaming transcriber. A file no longer than one
 * window (30 s by default) gives the same transcript as a one-shot transcribe(). onSegment is
 * called for each segment as it becomes stable; onProgress with the share of the file done.
 * offsetMs, durationMs and detectLanguage are not supported here (INVALID_ARGUMENT).
 */
export async function transcribeLongFile(model: StreamTranscriber, path: string, options: LongFileOptions = {}): Promise<Transcript> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object of transcribe options', options);
  const { audio, onSegment, onProgress, ...streamOptions } = options;
  for (const key of ['onSegment', 'onProgress'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'function') throw invalidArgument(`options.${key}`, 'a function', value);
  }
  const started = performance.now();
  const file = await openWavWindows(path, { ...(audio ?? {}), windowSamples: READ_SAMPLES });
  const segments: Segment[] = [];
  let language = options.language ?? 'auto';
  let languageProbability: number | undefined;
  const timings = { audioMs: 0, queueMs: 0, inferenceMs: 0, languageDetectionMs: 0, encoderRuns: 0 };
  let first = true;
  try {
    for await (const window of streamWindows(model, file.windows, streamOptions)) {
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
      onProgress?.(window.final ? 100 : Math.min(99, Math.round((window.stableEndMs * SAMPLES_PER_MS * 100) / file.info.outputSamples)));
    }
  } finally {
    await file.close();
  }
  const whisperMs = timings.queueMs + timings.inferenceMs;
  timings.audioMs = Math.max(0, performance.now() - started - whisperMs);
  return {
    text: transcriptText(segments),
    segments,
    language,
    ...(languageProbability !== undefined ? { languageProbability } : {}),
    audioDurationMs: Math.round(file.info.outputSamples / SAMPLES_PER_MS),
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
