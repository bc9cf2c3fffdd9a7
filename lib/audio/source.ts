/**
 * AudioSource: the one shape every audio input takes on its way to whisper. Whatever the
 * input (PCM, a WAV or compressed file, bytes, a stream of bytes) and whoever decodes it (our
 * WAV decoder, the addon's miniaudio decoders, ffmpeg), the rest of the library pulls finite
 * 16 kHz mono float32 PCM from it, a piece at a time, so a long file is never held whole.
 */

/** @internal Finite 16 kHz mono PCM, pulled a piece at a time. */
export interface AudioSource {
  /** What the input was found to be: 'pcm', 'wav', 'flac', 'mp3', 'vorbis', or the name of what ffmpeg decodes. */
  readonly format: string;
  /**
   * The length in 16 kHz samples as the container states it, or undefined where it does not
   * (ffmpeg, most streams). A hint for progress and routing, never trusted for allocation.
   */
  readonly statedSamples: number | undefined;
  /**
   * Up to `maxSamples` (at least 1) samples of finite 16 kHz mono PCM. Fewer may come back;
   * an empty array means the end, and only the end.
   */
  read(maxSamples: number): Promise<Float32Array>;
  /** Releases the file, the decoder or the ffmpeg process. Safe to call twice, and while a read is pending. */
  close(): Promise<void>;
}
