import { WhisperError } from '../errors/whisper-error';
import { describeModel, inspectModelFile, type ModelDescription, type ModelFileInfo } from './inspect';

/** readModelInfo's answer: the model's description, and what is wrong with the file if anything. */
export interface ModelSummary extends ModelDescription {
  /**
   * Undefined for a complete file that `inspectModelFile` accepts. Otherwise why whisper.cpp could not
   * use it (a truncated download, a header-only file, a tensor of the wrong shape...), while the
   * header itself is readable.
   */
  problem?: string;
}

/**
 * A fast summary of a whisper.cpp ggml model file: reads the header, the mel filter and vocabulary
 * sections and the tensor headers (hopping over the tensor data, which is never read). A file whose
 * header is fine but whose tensor table is not (truncated, header-only, ...) still gets a summary,
 * with `problem` saying what is wrong. Throws like `inspectModelFile` when even the header is bad.
 */
export async function readModelInfo(path: string): Promise<ModelSummary> {
  let info: ModelFileInfo;
  let problem: string | undefined;
  try {
    info = await inspectModelFile(path, { checkTensors: true });
  } catch (err) {
    if (!(err instanceof WhisperError) || err.code !== 'INVALID_MODEL') throw err;
    try {
      info = await inspectModelFile(path, { checkTensors: false });
    } catch {
      throw err;
    }
    problem = err.message;
  }
  return { ...describeModel(info), ...(problem === undefined ? {} : { problem }) };
}
