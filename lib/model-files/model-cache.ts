/**
 * The model cache: one folder holding catalogue models under their file names. A file is only
 * ever there under its final name once it was downloaded whole and its SHA-256 matched
 * (download.ts); `<file>.part`, `<file>.part.json` and `<file>.lock` are a download's own.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WhisperError } from '../errors/whisper-error';
import { catalogueEntries, findCatalogueEntry, unknownModelName, type CatalogueEntry } from './catalogue';

/** WHISPER_NAPI_MODELS, else ~/.cache/whisper-napi/models. */
export function defaultModelsDir(): string {
  const fromEnvironment = process.env.WHISPER_NAPI_MODELS;
  if (fromEnvironment !== undefined && fromEnvironment.trim() !== '') return path.resolve(fromEnvironment);
  return path.join(os.homedir(), '.cache', 'whisper-napi', 'models');
}

/** The folder asked for, or the default one when none (or '') is given. */
export function modelsDirOrDefault(modelsDir: string | undefined): string {
  return modelsDir === undefined || modelsDir === '' ? defaultModelsDir() : path.resolve(modelsDir);
}

/** The catalogue entry of `name`, or MODEL_NOT_FOUND naming the close ones. */
export function catalogueEntryOrThrow(name: string, parameter = 'model'): CatalogueEntry {
  if (typeof name !== 'string' || name.length === 0) {
    throw new WhisperError('INVALID_ARGUMENT', `${parameter}: expected a model name, got ${typeof name === 'string' ? 'an empty string' : typeof name}`);
  }
  const entry = findCatalogueEntry(name);
  if (entry === undefined) throw unknownModelName(name, parameter);
  return entry;
}

/** Where the cache keeps (or would keep) the model `name`; MODEL_NOT_FOUND for a name not in the catalogue. */
export function cachedModelPath(name: string, modelsDir?: string): string {
  return path.join(modelsDirOrDefault(modelsDir), catalogueEntryOrThrow(name).file);
}

/** The paths a download of `finalPath` works with beside it. */
export function downloadPaths(finalPath: string): { part: string; partInfo: string; lock: string } {
  return { part: `${finalPath}.part`, partInfo: `${finalPath}.part.json`, lock: `${finalPath}.lock` };
}

export interface ModelListing {
  entry: CatalogueEntry;
  path: string;
  cached: boolean;
  /** The cached file's size; undefined when it is not cached. */
  cachedBytes: number | undefined;
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const stats = await fsp.stat(file);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

/** Every catalogue entry with where it is cached and whether it is. */
export async function listModels(options?: { modelsDir?: string }): Promise<ModelListing[]> {
  const dir = modelsDirOrDefault(options?.modelsDir);
  return Promise.all(
    catalogueEntries().map(async (entry) => {
      const file = path.join(dir, entry.file);
      const cachedBytes = await fileSize(file);
      return { entry, path: file, cached: cachedBytes !== undefined, cachedBytes };
    }),
  );
}

/** True while a live process holds the download lock of `finalPath`. */
export async function lockIsHeld(lockPath: string): Promise<boolean> {
  let owner: string;
  try {
    owner = await fsp.readFile(lockPath, 'utf8');
  } catch {
    return false;
  }
  const pid = Number.parseInt(owner, 10);
  return Number.isSafeInteger(pid) && pid > 0 && processIsAlive(pid);
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeIfThere(file: string): Promise<boolean> {
  try {
    await fsp.unlink(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new WhisperError('FILE_UNREADABLE', `models: cannot remove ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Removes the cached model `name` and any partial download of it (unless a download is running
 * now). True when there was something to remove.
 */
export async function removeModel(name: string, options?: { modelsDir?: string }): Promise<boolean> {
  const finalPath = cachedModelPath(name, options?.modelsDir);
  const { part, partInfo, lock } = downloadPaths(finalPath);
  const removedModel = await removeIfThere(finalPath);
  if (await lockIsHeld(lock)) return removedModel;
  const removedPart = await removeIfThere(part);
  await removeIfThere(partInfo);
  return removedModel || removedPart;
}
