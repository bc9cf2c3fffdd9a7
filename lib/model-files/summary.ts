import { WhisperError } from '../errors/whisper-error';
import type { IdentifiedArchitecture } from './architectures';
import type { WhisperHparams } from './hparams';
import { inspectModelFile, type ModelFileInfo } from './inspect';
import type { ModelType } from './tensors';

/** A model file's description from its headers alone (see `readModelInfo`). */
export interface ModelSummary {
  path: string;
  fileSize: number;
  architecture: IdentifiedArchitecture;
  modelType: ModelType;
  multilingual: boolean;
  nMels: number;
  /**
   * Type of the weight matrices ('f16', 'q5_0', ...): as stored when the tensor table is complete,
   * otherwise the type the header's ftype implies.
   */
  weightType: string;
  /** The header's ggml ftype (0 f32, 1 f16, 7 q8_0, 8 q5_0, ...) and quantization format version. */
  ftype: number;
  quantizationVersion: number;
  parameterCount: number;
  hparams: WhisperHparams;
  /** Tensors found and their data bytes; 0 when the tensor table could not be read (see `problem`). */
  tensorCount: number;
  tensorBytes: number;
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
  return {
    path: info.path,
    fileSize: info.fileSize,
    architecture: info.architecture,
    modelType: info.modelType,
    multilingual: info.multilingual,
    nMels: info.nMels,
    weightType: info.weightType,
    ftype: info.hparams.ftype,
    quantizationVersion: info.hparams.quantizationVersion,
    parameterCount: info.parameterCount,
    hparams: info.hparams,
    tensorCount: info.tensors.length,
    tensorBytes: info.tensorBytes,
    ...(problem === undefined ? {} : { problem }),
  };
}
