/** Reading a decoder or an AudioSource to its end in tests, and the Ogg page checksum for crafting Ogg files. */
import { expect } from 'vitest';

/** Anything that hands out PCM a piece at a time, an empty piece meaning the end (NativeAudioDecoder, AudioSource). */
export interface PieceReader {
  read(maxSamples: number): Promise<Float32Array>;
}

/** Reads `reader` to the end in pieces of at most `maxSamples`, checking each piece's size on the way, and joins them. */
export async function readAllPieces(reader: PieceReader, maxSamples: number): Promise<Float32Array> {
  const pieces: Float32Array[] = [];
  for (;;) {
    const piece = await reader.read(maxSamples);
    expect(piece).toBeInstanceOf(Float32Array);
    expect(piece.length).toBeLessThanOrEqual(maxSamples);
    if (piece.length === 0) break;
    pieces.push(piece);
  }
  const out = new Float32Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** The Ogg page checksum: CRC-32, polynomial 0x04c11db7, not reflected, over the page with its CRC field zeroed. */
export function oggCrc(page: Uint8Array): number {
  let crc = 0;
  for (const byte of page) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}
