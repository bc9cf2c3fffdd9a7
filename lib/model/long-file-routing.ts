/** How long audio must be before a transcription is windowed (lib/model/job.ts). */
import { WHISPER_SAMPLE_RATE } from '../audio/pcm';
import type { TranscribeOptions } from '../transcription/options';

/** Above this many 16 kHz samples (30 s, whisper's window), audio that is not already in memory is transcribed in windows. */
export const LONG_FILE_SAMPLES = 30 * WHISPER_SAMPLE_RATE;

/**
 * Whether the options let long audio be windowed: offsetMs, durationMs and detectLanguage work
 * on the audio as one piece, so with any of them the audio is decoded whole. Options that are
 * not an object are left for validation to report.
 */
export function mayWindow(options: TranscribeOptions): boolean {
  return options !== null && typeof options === 'object' && options.offsetMs === undefined && options.durationMs === undefined && !options.detectLanguage;
}
