/**
 * One native call with `audioContext: 'auto'`: first with the encoder context fitted to the
 * audio, and again with the model's own when the result shows the trimmed context failed
 * (lib/transcription/audio-context.ts). Segments of the first attempt are held back until it
 * is accepted, so a listener never sees a segment that is then taken back.
 */
import type { NativeSegment, NativeTranscribeParams, NativeTranscript } from '../native/native-api';
import { fittedAudioContext, fittedContextFailed } from '../transcription/audio-context';

export type NativeEvent = (kind: 'progress' | 'segment', payload: number | NativeSegment) => void;

/** Runs the call with these params, its events going to `onEvent`. */
export type NativeCall = (params: NativeTranscribeParams, onEvent: NativeEvent | undefined) => Promise<NativeTranscript>;

export interface FittedCallResult {
  result: NativeTranscript;
  /** Native calls made: 2 when the fitted attempt was decoded again. */
  attempts: number;
}

export async function callWithFittedContext(
  call: NativeCall,
  params: NativeTranscribeParams,
  samples: number,
  modelContext: number,
  onEvent: NativeEvent | undefined,
): Promise<FittedCallResult> {
  const audioContext = fittedAudioContext(samples, modelContext);
  if (audioContext === 0) return { result: await call(params, onEvent), attempts: 1 };

  let progress = 0;
  const held: NativeSegment[] = [];
  // The second attempt restarts whisper's progress; listeners see it only move forward.
  const forwardProgress = (percent: number) => {
    if (percent <= progress) return;
    progress = percent;
    onEvent?.('progress', percent);
  };
  const fitted = await call({ ...params, audioContext }, (kind, payload) => {
    if (kind === 'segment') held.push(payload as NativeSegment);
    else forwardProgress(payload as number);
  });
  if (!fittedContextFailed(fitted, samples)) {
    for (const segment of held) onEvent?.('segment', segment);
    return { result: fitted, attempts: 1 };
  }
  const full = await call(params, (kind, payload) => {
    if (kind === 'segment') onEvent?.('segment', payload);
    else forwardProgress(payload as number);
  });
  return { result: full, attempts: 2 };
}
