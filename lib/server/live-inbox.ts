/**
 * The audio a live connection has received and the transcriber has not taken yet: a queue of
 * binary messages with a byte bound. Above the bound the socket is paused (so TCP slows the
 * client down), and it is resumed once the transcriber has taken it down to half, so a client
 * that sends faster than we transcribe is held back instead of buffered without limit.
 */

/** What the inbox needs of the socket. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class AudioInbox implements AsyncIterableIterator<Uint8Array> {
  readonly #chunks: Uint8Array[] = [];
  readonly #limitBytes: number;
  readonly #flow: FlowControl;
  readonly #onChange: ((queuedBytes: number) => void) | undefined;
  #bytes = 0;
  #ended = false;
  #paused = false;
  #waiting: ((result: IteratorResult<Uint8Array>) => void) | undefined;

  constructor(limitBytes: number, flow: FlowControl, onChange?: (queuedBytes: number) => void) {
    this.#limitBytes = limitBytes;
    this.#flow = flow;
    this.#onChange = onChange;
  }

  /** Bytes received and not yet taken. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** A message of audio. Ignored once ended (the transcriber stopped early, or the client said stop). */
  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ done: false, value: chunk });
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    this.#onChange?.(this.#bytes);
    if (this.#bytes > this.#limitBytes && !this.#paused) {
      this.#paused = true;
      this.#flow.pause();
    }
  }

  /** No more audio: what is queued is still delivered, then the end. */
  end(): void {
    this.#ended = true;
    this.#resume();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#bytes -= chunk.length;
      this.#onChange?.(this.#bytes);
      if (this.#bytes <= this.#limitBytes / 2) this.#resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Drops what is queued and takes no more (the connection is over). */
  discard(): void {
    this.#chunks.length = 0;
    this.#bytes = 0;
    this.#onChange?.(0);
    this.end();
  }

  /** The transcriber stopped early. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.discard();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#flow.resume();
  }
}
