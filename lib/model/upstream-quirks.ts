/**
 * Guards against whisper.cpp behaviour that would hang, crash or mislead a caller, applied
 * where a model loads or a job starts. Each names the upstream behaviour it works around, so
 * it can be dropped once the pinned whisper.cpp no longer does that.
 */
import { WhisperError } from '../errors/whisper-error';
import { WHISPER_SAMPLE_RATE } from '../audio/pcm';
import type { ModelFileInfo } from '../model-files/inspect';
import type { ModelDevice } from './devices';

/**
 * whisper.cpp decodes up to offset + duration even past the end of the audio, window after
 * window of padding (a 10-minute duration on 3 s of audio took minutes here). A duration
 * that reaches past the end means "to the end" (0).
 */
export function clampDuration(offsetMs: number, durationMs: number, samples: number): number {
  const audioMs = (samples / WHISPER_SAMPLE_RATE) * 1000;
  return durationMs > 0 && offsetMs + durationMs >= audioMs ? 0 : durationMs;
}

/**
 * whisper.cpp 1.9.1's CPU convolution asserts (and so aborts the process) on f32 conv
 * kernels, which all-f32 model files have (upstream issue #2557). Refuse them up front
 * unless a GPU backend (CUDA, Metal, ...) will run the encoder.
 */
export function assertRunnable(file: Pick<ModelFileInfo, 'path' | 'tensors'>, device: Pick<ModelDevice, 'kind'>, whisperVersion: string): void {
  const conv = file.tensors.find((t) => t.name === 'encoder.conv1.weight');
  if (conv?.typeName !== 'f32' || device.kind === 'gpu') return;
  throw new WhisperError(
    'INVALID_MODEL',
    `${file.path} stores its convolution weights as f32, which whisper.cpp ${whisperVersion} ` +
      'cannot run on the CPU (it would abort the process). Convert or quantize the model to f16 (or q8_0/q5_0) first.',
  );
}
