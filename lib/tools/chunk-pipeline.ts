import type { GgmlFileWriter } from '../model-files/writer';

/**
 * Writes chunks to a GgmlFileWriter in the order they are pushed while their bytes may still be
 * computed (native quantization runs on the libuv pool): producing chunk k+1 overlaps quantizing
 * chunk k and writing chunk k-1. `push` waits while `depth` chunks are outstanding, so memory stays
 * bounded. After a failure every later chunk fails too; call `settle()` before discarding the file.
 */
export class ChunkPipeline {
  private tail: Promise<void> = Promise.resolve();
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(
    private readonly writer: GgmlFileWriter,
    private readonly depth = 2,
  ) {}

  async push(bytes: Uint8Array | Promise<Uint8Array>, afterWrite?: () => void): Promise<void> {
    const previous = this.tail;
    const job = (async () => {
      const ready = await bytes;
      await previous;
      await this.writer.write(ready);
      afterWrite?.();
    })();
    job.catch(() => undefined); // observed through `tail` / `inFlight`
    this.tail = job;
    this.inFlight.push(job);
    while (this.inFlight.length >= this.depth) await this.inFlight.shift();
  }

  /** Waits for every pushed chunk to be written; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    this.inFlight.length = 0;
  }

  /** Waits for every pushed chunk to finish, ignoring failures (before aborting the writer). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight, this.tail]);
    this.inFlight.length = 0;
  }
}
