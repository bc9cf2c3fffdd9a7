import fs from 'node:fs';
import { inspectModelFile } from '../../lib/model-file';

/** The raw bytes of every vocabulary token stored in a ggml model file, by id. */
export async function readVocabBytes(modelPath: string): Promise<Buffer[]> {
  const info = await inspectModelFile(modelPath, { checkTensors: false });
  const section = Buffer.alloc(info.vocab.byteLength);
  const fd = fs.openSync(modelPath, 'r');
  try {
    fs.readSync(fd, section, 0, section.length, info.vocab.offset);
  } finally {
    fs.closeSync(fd);
  }
  const tokens: Buffer[] = [];
  let pos = 4;
  for (let i = 0; i < info.vocab.count; i++) {
    const length = section.readUInt32LE(pos);
    tokens.push(section.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return tokens;
}
