/**
 * Every stream of bytes a caller may hand us (a Node Readable, a web ReadableStream, any async
 * iterable of chunks) as one async iterator of Uint8Array, and PeekableBytes, which buffers the
 * first bytes for format detection and then gives them back in front of the rest.
 */
import { WhisperError, invalidArgument } from '../errors/whisper-error';
import { invalidAudio } from './pcm';

/** @internal Whether `input` is a byte stream: a Node Readable, a web ReadableStream or any AsyncIterable. Never a Buffer, typed array or string. */
export function isByteStream(input: unknown): boolean {
  if (input === null || typeof input !== 'object' || ArrayBuffer.isView(input)) return false;
  return isWebReadableStream(input) || typeof (input as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function isWebReadableStream(input: object): input is ReadableStream<unknown> {
  return typeof (input as { getReader?: unknown }).getReader === 'function';
}

/** The one error a failing source becomes; a WhisperError (one of ours, or a stream fed by our code) passes through. */
function streamFailed(error: unknown): WhisperError {
  if (error instanceof WhisperError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return invalidAudio(`the input stream failed: ${message}`, error);
}

/**
 * @internal The chunks of a byte stream as Uint8Array (a Buffer is one), empty chunks skipped.
 * A chunk of any other type (a string from a stream with setEncoding, an object-mode value) is
 * INVALID_ARGUMENT naming the chunk, counting from 0, and ends the source. A web ReadableStream
 * is read through getReader(); return() cancels it and releases the lock. A Node Readable's
 * iterator destroys the stream on return().
 */
export function byteChunks(input: unknown): AsyncIterableIterator<Uint8Array> {
  if (!isByteStream(input)) throw invalidArgument('audio', 'a byte stream (a Node Readable, a web ReadableStream or an async iterable of Buffers)', input);
  const source = isWebReadableStream(input as object) ? webStreamIterator(input as ReadableStream<unknown>) : (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let index = 0;
  let finished = false;

  const release = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    try {
      await source.return?.();
    } catch {
      // The source is being abandoned; a failure to clean up says nothing about the audio.
    }
  };

  const iterator: AsyncIterableIterator<Uint8Array> = {
    async next(): Promise<IteratorResult<Uint8Array>> {
      for (;;) {
        if (finished) return { done: true, value: undefined };
        let result: IteratorResult<unknown>;
        try {
          result = await source.next();
        } catch (error) {
          await release();
          throw streamFailed(error);
        }
        if (result.done) {
          finished = true;
          return { done: true, value: undefined };
        }
        const chunk = result.value;
        const at = index++;
        if (!(chunk instanceof Uint8Array)) {
          await release();
          throw invalidArgument(`audio: stream chunk ${at}`, 'a Buffer or Uint8Array', chunk);
        }
        if (chunk.length > 0) return { done: false, value: chunk };
      }
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      await release();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** A web ReadableStream read through its reader, so that return() cancels the stream and releases the lock. */
function webStreamIterator(stream: ReadableStream<unknown>): AsyncIterator<unknown> {
  const reader = stream.getReader();
  return {
    async next() {
      const result = await reader.read();
      if (result.done) reader.releaseLock();
      return result.done ? { done: true, value: undefined } : { done: false, value: result.value };
    },
    async return() {
      try {
        await reader.cancel();
      } catch {
        // An errored stream refuses to be cancelled; there is nothing left to stop.
      }
      try {
        reader.releaseLock();
      } catch {
        // Already released at the end.
      }
      return { done: true, value: undefined };
    },
  };
}

/**
 * @internal A byte source with a head: peek() buffers the first bytes for detection, then
 * rest() or readAll() hands them back in front of everything after. One consumer at a time.
 */
export class PeekableBytes {
  readonly #chunks: AsyncIterator<Uint8Array>;
  /** Bytes pulled but not yet handed out by rest() or readAll(). */
  #buffered: Uint8Array[] = [];
  #bufferedBytes = 0;
  #ended = false;
  #closed = false;
  #consumed = false;

  constructor(chunks: AsyncIterator<Uint8Array>) {
    this.#chunks = chunks;
  }

  /**
   * The first bytes: at least `n` unless the input ends first (then `ended` is true and `head`
   * is the whole input); may be more, as chunks come whole. Calling it again with a larger `n`
   * reads on.
   */
  async peek(n: number): Promise<{ head: Uint8Array; ended: boolean }> {
    if (this.#consumed) throw new Error('PeekableBytes.peek: the bytes were already handed out by rest() or readAll()');
    while (this.#bufferedBytes < n && (await this.#pull())) {
      // #pull appended a chunk.
    }
    if (this.#buffered.length > 1) this.#buffered = [concat(this.#buffered, this.#bufferedBytes)];
    return { head: this.#buffered[0] ?? new Uint8Array(0), ended: this.#ended };
  }

  /** The buffered head, then the remaining chunks. Breaking out of the loop early closes the source. */
  async *rest(): AsyncIterableIterator<Uint8Array> {
    const buffered = this.#takeBuffered();
    let completed = false;
    try {
      for (const chunk of buffered) yield chunk;
      while (await this.#pull()) yield this.#takeBuffered()[0]!;
      completed = true;
    } finally {
      if (!completed) await this.close();
    }
  }

  /**
   * Everything, as one Buffer. Above `maxBytes` in all it stops reading, closes the source and
   * throws INVALID_AUDIO, counting chunks as they arrive so the excess is never concatenated.
   */
  async readAll(maxBytes: number): Promise<Buffer> {
    const chunks = this.#takeBuffered();
    let total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    for (;;) {
      if (total > maxBytes) {
        await this.close();
        throw invalidAudio(`the stream is larger than ${maxBytes} bytes`);
      }
      if (!(await this.#pull())) break;
      const chunk = this.#takeBuffered()[0]!;
      chunks.push(chunk);
      total += chunk.length;
    }
    if (chunks.length === 1) {
      const only = chunks[0]!;
      return Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.byteLength);
    }
    return Buffer.concat(chunks, total);
  }

  /** Stops the source (destroys a Node stream, cancels a web stream). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const wasEnded = this.#ended;
    this.#ended = true;
    if (wasEnded) return;
    try {
      await this.#chunks.return?.();
    } catch {
      // Closing is abandoning the source; its clean-up failing changes nothing for the caller.
    }
  }

  /** Appends the next chunk to the buffer; false at the end (or once closed). */
  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.#chunks.next();
    } catch (error) {
      this.#ended = true;
      throw streamFailed(error);
    }
    if (result.done) {
      this.#ended = true;
      return false;
    }
    this.#buffered.push(result.value);
    this.#bufferedBytes += result.value.length;
    return true;
  }

  #takeBuffered(): Uint8Array[] {
    this.#consumed = true;
    const taken = this.#buffered;
    this.#buffered = [];
    this.#bufferedBytes = 0;
    return taken;
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
