import { inspectModelFileFor, type ModelFileInfo } from './inspect';
import { openForReading } from '../errors/file-errors';
import { modelFileRole, readModelBytes } from './open-file';

/**
 * The raw bytes of every vocabulary token stored in a ggml model (or header-only) file, by id. Pass
 * the file's `inspectModelFile` result when you already have it; `parameter` names the file in messages.
 */
export async function readVocabTokens(file: string, info?: ModelFileInfo, parameter = 'file'): Promise<Buffer[]> {
  info ??= await inspectModelFileFor(parameter, file, false);
  const role = modelFileRole(parameter);
  const { fh } = await openForReading(file, role);
  let section: Buffer;
  try {
    section = await readModelBytes(fh, file, role, info.vocab.byteLength, info.vocab.offset, 'its vocabulary');
  } finally {
    await fh.close().catch(() => undefined);
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
