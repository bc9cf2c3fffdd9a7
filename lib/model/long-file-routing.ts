/**
 * Which transcribe() calls go through the streaming transcriber instead of one whisper job: a
 * WAV path longer than one window is read from disk window by window, so its PCM is never
 * held whole, unless the options ask for something only the one-shot path does.
 */
import { WHISPER_SAMPLE_RATE, type AudioInput } from '../audio/pcm';
import { openWavWindows } from '../audio/wav-windows';
import type { TranscribeOptions } from '../transcription/options';

/** Above this many 16 kHz samples (30 s, whisper's window), a WAV path is read in windows. */
export const LONG_FILE_SAMPLES = 30 * WHISPER_SAMPLE_RATE;

/**
 * Whether a transcribe() call could take the long-file path at all: a path, and none of
 * offsetMs, durationMs and detectLanguage (which work on the audio as one piece). Options
 * that are not an object are left for validation to report.
 */
export function mayRouteAsLongFile(audio: AudioInput, options: TranscribeOptions): audio is string {
  return (
    typeof audio === 'string' &&
    options !== null &&
    typeof options === 'object' &&
    options.offsetMs === undefined &&
    options.durationMs === undefined &&
    !options.detectLanguage
  );
}

/** Whether a WAV path holds more than one window of audio; false for anything unreadable, which the one-shot path then reports. */
export async function isLongWavFile(path: string, audioOptions: TranscribeOptions['audio']): Promise<boolean> {
  let file: Awaited<ReturnType<typeof openWavWindows>> | undefined;
  try {
    file = await openWavWindows(path, audioOptions ?? {});
    return file.info.outputSamples > LONG_FILE_SAMPLES;
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => undefined);
  }
}
