/** Float PCM written as a 16 kHz mono 16-bit WAV file, for tests that build long audio from the shared clips. */
import fs from 'node:fs';
import { WaveFile } from 'wavefile';

export const WAV_RATE = 16000;

export function writeWav16k(file: string, pcm: Float32Array): void {
  const wav = new WaveFile();
  wav.fromScratch(
    1,
    WAV_RATE,
    '16',
    Int16Array.from(pcm, (s) => Math.max(-32768, Math.min(32767, Math.round(s * 32767)))),
  );
  fs.writeFileSync(file, wav.toBuffer());
}
