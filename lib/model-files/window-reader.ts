import type { FileHandle } from 'node:fs/promises';

/** Positioned reads through a small read-ahead window, so sequential small reads cost few syscalls. */
export class WindowReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** The bytes [pos, pos+len) if they are already in the window. */
  cached(pos: number, len: number): Buffer | undefined {
    const rel = pos - this.windowStart;
    if (rel >= 0 && rel + len <= this.window.length) return this.window.subarray(rel, rel + len);
    return undefined;
  }

  /** The bytes [pos, pos+len), or null when the file ends before pos+len. Reads ahead `prefetch` bytes. */
  async bytes(pos: number, len: number, prefetch: number): Promise<Buffer | null> {
    if (pos < 0 || len < 0 || pos + len > this.size) return null;
    const hit = this.cached(pos, len);
    if (hit) return hit;
    const want = Math.min(Math.max(len, prefetch), this.size - pos);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break; // the file shrank under us
      got += bytesRead;
    }
    this.window = buf.subarray(0, got);
    this.windowStart = pos;
    return got >= len ? this.window.subarray(0, len) : null;
  }
}
