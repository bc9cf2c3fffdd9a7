/**
 * What `loadModel(nameOrPath)` loads: a path as given, or a catalogue name resolved to its file
 * in the model cache, downloaded first when asked.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors/whisper-error';
import { findCatalogueEntry, unknownModelName } from './catalogue';
import { downloadModel, type DownloadProgress } from './download';
import { defaultModelsDir, modelsDirOrDefault } from './model-cache';

export interface ResolveModelOptions {
  /** false: a name must already be cached; 'auto': download it when it is not; true: also check a cached file's SHA-256. */
  download: boolean | 'auto';
  /** '' for the default cache. */
  modelsDir: string;
  signal?: AbortSignal;
  onDownloadProgress?: (progress: DownloadProgress) => void;
}

async function isExistingPath(candidate: string): Promise<boolean> {
  try {
    await fsp.stat(candidate);
    return true;
  } catch {
    return false;
  }
}

/**
 * A path is anything with a path separator, anything ending in `.bin`, or anything that exists
 * on disk (so a file named like a model in the working directory still loads as that file);
 * everything else is a catalogue name.
 */
export async function looksLikeModelPath(nameOrPath: string): Promise<boolean> {
  if (nameOrPath.includes('/') || nameOrPath.includes(path.sep) || /\.bin$/i.test(nameOrPath)) return true;
  return isExistingPath(nameOrPath);
}

export async function resolveModelPath(nameOrPath: string, options: ResolveModelOptions): Promise<string> {
  if (await looksLikeModelPath(nameOrPath)) return nameOrPath;
  const entry = findCatalogueEntry(nameOrPath);
  if (entry === undefined) throw unknownModelName(nameOrPath);
  const dir = modelsDirOrDefault(options.modelsDir);
  const cachedPath = path.join(dir, entry.file);
  if (options.download === false) {
    if (await isExistingPath(cachedPath)) return cachedPath;
    throw new WhisperError(
      'MODEL_NOT_FOUND',
      `model: '${entry.name}' is not in the model cache (${dir}): pass download: 'auto' to loadModel, or run \`whisper-napi models download ${entry.name}\``,
    );
  }
  return downloadModel(entry.name, {
    modelsDir: dir,
    verify: options.download === true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onDownloadProgress === undefined ? {} : { onProgress: options.onDownloadProgress }),
  });
}

/**
 * A Silero VAD model for `options.vad.modelPath`: a path as given, or a catalogue VAD name
 * (e.g. 'silero-v6.2.0') in the default model cache. A transcription never downloads: a name not
 * cached yet says how to get it.
 */
export async function resolveVadModelPath(nameOrPath: string, parameter: string): Promise<string> {
  if (await looksLikeModelPath(nameOrPath)) return nameOrPath;
  const entry = findCatalogueEntry(nameOrPath);
  if (entry === undefined) throw unknownModelName(nameOrPath, parameter);
  if (entry.kind !== 'vad') {
    throw new WhisperError('INVALID_ARGUMENT', `${parameter}: '${entry.name}' is a Whisper model, not a Silero VAD model (e.g. 'silero-v6.2.0')`);
  }
  const dir = defaultModelsDir();
  const cachedPath = path.join(dir, entry.file);
  if (await isExistingPath(cachedPath)) return cachedPath;
  throw new WhisperError(
    'MODEL_NOT_FOUND',
    `${parameter}: '${entry.name}' is not in the model cache (${dir}): run \`whisper-napi models download ${entry.name}\` or downloadModel('${entry.name}') first`,
  );
}
