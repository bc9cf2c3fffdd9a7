/**
 * A light check of a Silero VAD model file before whisper.cpp opens it: whisper.cpp reads
 * a length from the header and allocates that much, so a wrong file must not get there.
 */
import { promises as fsp } from 'node:fs';
import { WhisperError } from '../errors/whisper-error';

const GGML_MAGIC = 0x67676d6c;
const MAX_TYPE_NAME = 64;

/** `parameter` names the option that carried `path`, for the error messages. */
export async function checkVadModelFile(path: string, parameter: string): Promise<void> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WhisperError('MODEL_NOT_FOUND', `${parameter}: VAD model not found: ${path}`, { cause: error });
    throw new WhisperError('INVALID_MODEL', `${parameter}: cannot open ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new WhisperError('INVALID_MODEL', `${parameter}: ${path} is not a file`);
    const header = Buffer.alloc(8 + MAX_TYPE_NAME);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    const typeLength = bytesRead >= 8 ? header.readInt32LE(4) : -1;
    const typeName = typeLength > 0 && typeLength <= MAX_TYPE_NAME && 8 + typeLength <= bytesRead
      ? header.toString('latin1', 8, 8 + typeLength)
      : '';
    if (bytesRead < 8 || header.readUInt32LE(0) !== GGML_MAGIC || !typeName.startsWith('silero')) {
      throw new WhisperError(
        'INVALID_MODEL',
        `${parameter}: ${path} is not a Silero VAD model in whisper.cpp's ggml format (such as ggml-silero-v6.2.0.bin)`,
      );
    }
  } finally {
    await handle.close();
  }
}
