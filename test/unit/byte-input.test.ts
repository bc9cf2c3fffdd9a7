import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PeekableBytes, byteChunks, isByteStream } from '../../lib/audio/byte-input';
import { WhisperError } from '../../lib/errors/whisper-error';
import { rejectedWhisperError } from '../support/errors';
import { prng } from './wav-fixtures';

function randomBytes(n: number, seed: number): Buffer {
  const rnd = prng(seed);
  return Buffer.from(Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) {
    expect(chunk).toBeInstanceOf(Uint8Array);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** `data` cut into chunks of `size` bytes. */
function pieces(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.slice(at, at + size));
  return out;
}

/** A web ReadableStream of the chunks that records whether it was cancelled. */
function webStream(chunks: unknown[]): { stream: ReadableStream<unknown>; cancelled: () => boolean; pulled: () => number } {
  let cancelled = false;
  let pulled = 0;
  const queue = [...chunks];
  const stream = new ReadableStream<unknown>({
    pull(controller) {
      pulled++;
      if (queue.length === 0) controller.close();
      else controller.enqueue(queue.shift());
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled, pulled: () => pulled };
}

/** A Node Readable that never ends: 1 KiB chunks for as long as someone reads. */
function endlessReadable(): Readable & { chunksRead: number } {
  const stream = new Readable({
    read() {
      stream.chunksRead++;
      this.push(Buffer.alloc(1024, 7));
    },
  }) as Readable & { chunksRead: number };
  stream.chunksRead = 0;
  return stream;
}

/** A Node Readable that gives `good` chunks, then fails with `error`. */
function failingReadable(good: Buffer[], error: Error): Readable {
  const queue = [...good];
  return new Readable({
    read() {
      const next = queue.shift();
      if (next) this.push(next);
      else this.destroy(error);
    },
  });
}

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-bytes-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('isByteStream', () => {
  it('is true for a Node Readable, a file stream, a web ReadableStream, an async generator and any async iterable', () => {
    const file = path.join(dir, 'is-stream.bin');
    fs.writeFileSync(file, 'x');
    const fileStream = fs.createReadStream(file);
    async function* generator() {
      yield Buffer.from('a');
    }
    expect(isByteStream(Readable.from([Buffer.from('a')]))).toBe(true);
    expect(isByteStream(fileStream)).toBe(true);
    expect(isByteStream(new ReadableStream())).toBe(true);
    expect(isByteStream(generator())).toBe(true);
    expect(isByteStream({ [Symbol.asyncIterator]: () => generator() })).toBe(true);
    fileStream.destroy();
  });

  it('is false for bytes, PCM, strings, arrays, sync iterables and plain objects', () => {
    function* syncGenerator() {
      yield Buffer.from('a');
    }
    for (const value of [Buffer.from('a'), new Uint8Array(4), new Float32Array(4), 'audio.wav', [Buffer.from('a')], syncGenerator(), {}, null, undefined, 42]) {
      expect(isByteStream(value)).toBe(false);
    }
  });
});

describe('byteChunks', () => {
  it('reads a file stream (many chunks) to exactly the file’s bytes', async () => {
    const data = randomBytes(100_000, 1);
    const file = path.join(dir, 'read.bin');
    fs.writeFileSync(file, data);
    const stream = fs.createReadStream(file, { highWaterMark: 4096 });
    expect((await collect(byteChunks(stream))).equals(data)).toBe(true);
  });

  it('reads Readable.from, a web ReadableStream and an async generator, skipping empty chunks', async () => {
    const data = randomBytes(5000, 2);
    const chunks = [...pieces(data, 700), new Uint8Array(0)];
    expect((await collect(byteChunks(Readable.from(chunks)))).equals(data)).toBe(true);
    expect((await collect(byteChunks(webStream(chunks).stream))).equals(data)).toBe(true);
    async function* generator() {
      yield new Uint8Array(0);
      yield* chunks;
    }
    const seen: number[] = [];
    for await (const chunk of byteChunks(generator())) seen.push(chunk.length);
    expect(seen).toEqual(pieces(data, 700).map((chunk) => chunk.length));
  });

  it('a stream that ends empty gives no chunks', async () => {
    expect((await collect(byteChunks(Readable.from([])))).length).toBe(0);
    expect((await collect(byteChunks(webStream([]).stream))).length).toBe(0);
  });

  it('string chunks (setEncoding) are INVALID_ARGUMENT naming the chunk, and the stream is destroyed', async () => {
    const file = path.join(dir, 'text.bin');
    fs.writeFileSync(file, 'not bytes any more');
    const stream = fs.createReadStream(file);
    stream.setEncoding('utf8');
    const error = await rejectedWhisperError(collect(byteChunks(stream)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('audio: stream chunk 0: expected a Buffer or Uint8Array, got "not bytes any more"');
    expect(stream.destroyed).toBe(true);
  });

  it('a wrong chunk later on is named by its place, counting from 0; a web stream is cancelled for it', async () => {
    const { stream, cancelled } = webStream([new Uint8Array(3), new Uint8Array(2), { not: 'bytes' }, new Uint8Array(1)]);
    const error = await rejectedWhisperError(collect(byteChunks(stream)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('audio: stream chunk 2: expected a Buffer or Uint8Array, got an object (Object)');
    expect(cancelled()).toBe(true);
    expect(stream.locked).toBe(false);
    const arrayBuffer = await rejectedWhisperError(collect(byteChunks(Readable.from([new ArrayBuffer(8)]))));
    expect(arrayBuffer.message).toBe('audio: stream chunk 0: expected a Buffer or Uint8Array, got an object (ArrayBuffer)');
  });

  it('a Node stream failing midway: the chunks before it, then INVALID_AUDIO with the error as cause', async () => {
    const cause = new Error('disk on fire');
    const seen: number[] = [];
    const failing = (async () => {
      for await (const chunk of byteChunks(failingReadable([Buffer.alloc(10), Buffer.alloc(20)], cause))) seen.push(chunk.length);
    })();
    const error = await rejectedWhisperError(failing);
    expect(seen).toEqual([10, 20]);
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toBe('audio: the input stream failed: disk on fire');
    expect(error.cause).toBe(cause);
  });

  it('a web stream and an async generator failing midway give the same INVALID_AUDIO', async () => {
    const cause = new Error('network reset');
    let sent = false;
    const web = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(cause);
        else controller.enqueue(new Uint8Array(5));
        sent = true;
      },
    });
    const fromWeb = await rejectedWhisperError(collect(byteChunks(web)));
    expect([fromWeb.code, fromWeb.message, fromWeb.cause]).toEqual(['INVALID_AUDIO', 'audio: the input stream failed: network reset', cause]);
    async function* generator() {
      yield new Uint8Array(5);
      throw cause;
    }
    const fromGenerator = await rejectedWhisperError(collect(byteChunks(generator())));
    expect([fromGenerator.code, fromGenerator.message, fromGenerator.cause]).toEqual(['INVALID_AUDIO', 'audio: the input stream failed: network reset', cause]);
  });

  it('a WhisperError from the source passes through as it is', async () => {
    const ours = new WhisperError('ABORTED', 'the transcription was aborted');
    async function* generator() {
      yield new Uint8Array(1);
      throw ours;
    }
    expect(await rejectedWhisperError(collect(byteChunks(generator())))).toBe(ours);
  });

  it('return() destroys a Node stream, cancels a web stream and ends a generator', async () => {
    const node = endlessReadable();
    const fromNode = byteChunks(node);
    await fromNode.next();
    await fromNode.return!();
    expect(node.destroyed).toBe(true);
    expect(await fromNode.next()).toEqual({ done: true, value: undefined });

    const { stream, cancelled } = webStream([new Uint8Array(1), new Uint8Array(1)]);
    const fromWeb = byteChunks(stream);
    await fromWeb.next();
    await fromWeb.return!();
    expect(cancelled()).toBe(true);
    expect(stream.locked).toBe(false);

    let cleanedUp = false;
    async function* generator() {
      try {
        for (;;) yield new Uint8Array(1);
      } finally {
        cleanedUp = true;
      }
    }
    const fromGenerator = byteChunks(generator());
    await fromGenerator.next();
    await fromGenerator.return!();
    expect(cleanedUp).toBe(true);
  });

  it('anything that is not a byte stream is INVALID_ARGUMENT at once', () => {
    expect(() => byteChunks(Buffer.from('a'))).toThrow(/^audio: expected a byte stream/);
  });
});

describe('PeekableBytes', () => {
  it('peek across many 1-byte chunks buffers exactly up to n, and rest() gives everything back in order', async () => {
    const data = randomBytes(5000, 3);
    const source = new PeekableBytes(byteChunks(Readable.from(pieces(data, 1))));
    const first = await source.peek(4096);
    expect(first.ended).toBe(false);
    expect(first.head.length).toBe(4096);
    expect(Buffer.from(first.head).equals(data.subarray(0, 4096))).toBe(true);
    // A smaller peek reads nothing more; a larger one reads on to the end.
    expect((await source.peek(10)).head.length).toBe(4096);
    const all = await source.peek(10_000);
    expect(all.ended).toBe(true);
    expect(Buffer.from(all.head).equals(data)).toBe(true);
    expect((await collect(source.rest())).equals(data)).toBe(true);
  });

  it('peek of a file stream, then rest() of the remainder', async () => {
    const data = randomBytes(200_000, 4);
    const file = path.join(dir, 'peek.bin');
    fs.writeFileSync(file, data);
    const source = new PeekableBytes(byteChunks(fs.createReadStream(file, { highWaterMark: 16_384 })));
    const { head, ended } = await source.peek(4096);
    expect(ended).toBe(false);
    expect(head.length).toBeGreaterThanOrEqual(4096);
    expect(Buffer.from(head).equals(data.subarray(0, head.length))).toBe(true);
    expect((await collect(source.rest())).equals(data)).toBe(true);
    await expect(source.peek(1)).rejects.toThrow(/already handed out/);
  });

  it('a stream that ends empty peeks as an empty, ended head', async () => {
    const source = new PeekableBytes(byteChunks(Readable.from([])));
    const { head, ended } = await source.peek(4096);
    expect([head.length, ended]).toEqual([0, true]);
    expect((await source.readAll(10)).length).toBe(0);
  });

  it('readAll returns everything, the peeked head included, up to and at the limit', async () => {
    const data = randomBytes(10_000, 5);
    const source = new PeekableBytes(byteChunks(webStream(pieces(data, 999)).stream));
    await source.peek(100);
    const all = await source.readAll(10_000);
    expect(Buffer.isBuffer(all)).toBe(true);
    expect(all.equals(data)).toBe(true);
  });

  it('readAll over the limit is INVALID_AUDIO and destroys an endless Node stream without reading on', async () => {
    const stream = endlessReadable();
    const source = new PeekableBytes(byteChunks(stream));
    const error = await rejectedWhisperError(source.readAll(100_000));
    expect(error.code).toBe('INVALID_AUDIO');
    expect(error.message).toBe('audio: the stream is larger than 100000 bytes');
    expect(stream.destroyed).toBe(true);
    // 98 chunks fit, the 99th crosses the limit; a few more sit in the stream's own buffer at most.
    expect(stream.chunksRead).toBeLessThan(98 + 20);
  });

  it('readAll over the limit cancels a web stream; a head already over the limit fails before reading on', async () => {
    const { stream, cancelled, pulled } = webStream(pieces(randomBytes(50_000, 6), 1000));
    const source = new PeekableBytes(byteChunks(stream));
    await source.peek(5000);
    const pulledAfterPeek = pulled();
    const error = await rejectedWhisperError(source.readAll(4000));
    expect(error.message).toBe('audio: the stream is larger than 4000 bytes');
    expect(cancelled()).toBe(true);
    expect(pulled()).toBe(pulledAfterPeek);
  });

  it('an error while peeking is INVALID_AUDIO with the cause', async () => {
    const cause = new Error('pipe broke');
    const source = new PeekableBytes(byteChunks(failingReadable([Buffer.alloc(100)], cause)));
    const error = await rejectedWhisperError(source.peek(4096));
    expect([error.code, error.message, error.cause]).toEqual(['INVALID_AUDIO', 'audio: the input stream failed: pipe broke', cause]);
  });

  it('close() destroys the Node stream and is safe twice; breaking out of rest() closes it too', async () => {
    const stream = endlessReadable();
    const source = new PeekableBytes(byteChunks(stream));
    await source.peek(10);
    await source.close();
    await source.close();
    expect(stream.destroyed).toBe(true);

    const second = endlessReadable();
    const rest = new PeekableBytes(byteChunks(second)).rest();
    let seen = 0;
    for await (const chunk of rest) {
      seen += chunk.length;
      if (seen > 10_000) break;
    }
    expect(second.destroyed).toBe(true);
  });
});
