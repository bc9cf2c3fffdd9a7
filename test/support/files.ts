/** Small file helpers for tests that compare model files. */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Exactly `length` bytes at `offset`; throws if the file ends first. */
export async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${file}: read ${bytesRead} of ${length} bytes at ${offset}`);
    return buf;
  } finally {
    await fh.close();
  }
}
