/** The stream's source: an (async) iterable of PCM chunks, decoded to float32 as they come. */
import { assertFinitePcm } from '../audio/pcm';
import { invalidArgument } from '../errors/whisper-error';

/** A chunk of 16 kHz mono PCM: a Float32Array, or bytes in options.format. */
export type PcmChunk = Float32Array | Buffer | Uint8Array;

/** @internal Turns source chunks into float PCM, joining samples split across byte chunks. */
export class ChunkDecoder {
  #rest = new Uint8Array(0);
  #count = 0;
  constructor(private readonly format: 'f32' | 's16') {}

  decode(chunk: unknown): Float32Array {
    const name = `source chunk ${this.#count++}`;
    if (chunk instanceof Float32Array) {
      assertFinitePcm(chunk, name);
      return chunk;
    }
    if (!(chunk instanceof Uint8Array)) {
      throw invalidArgument(name, 'a Float32Array of 16 kHz mono PCM, or a Buffer / Uint8Array of PCM bytes', chunk);
    }
    const width = this.format === 'f32' ? 4 : 2;
    let bytes = chunk;
    if (this.#rest.length > 0) {
      bytes = new Uint8Array(this.#rest.length + chunk.length);
      bytes.set(this.#rest);
      bytes.set(chunk, this.#rest.length);
    }
    const whole = bytes.length - (bytes.length % width);
    this.#rest = bytes.slice(whole);
    const view = new DataView(bytes.buffer, bytes.byteOffset, whole);
    const out = new Float32Array(whole / width);
    if (width === 4) for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    else for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
    assertFinitePcm(out, name);
    return out;
  }
}

/** @internal The source's iterator; INVALID_ARGUMENT naming `source` when it is not iterable. */
export function sourceIterator(source: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  if (source !== null && typeof source === 'object') {
    const asyncIt = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return asyncIt.call(source);
    const it = (source as Iterable<unknown>)[Symbol.iterator];
    // A typed array is iterable too, but it is one chunk passed where the chunks belong.
    if (typeof it === 'function' && !ArrayBuffer.isView(source)) return it.call(source);
  }
  throw invalidArgument('source', 'an AsyncIterable (or Iterable) of Float32Array / Buffer chunks', source);
}
