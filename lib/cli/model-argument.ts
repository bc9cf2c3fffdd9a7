/**
 * A model on the command line: a path, or a catalogue name found in the model cache. The CLI
 * downloads a missing named model only when asked (--download, or `models download`), with a
 * progress bar, and says how otherwise: a typo should never start a 3 GB download.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DETECT_HEAD_BYTES, detectAudio } from '../audio/detect';
import { resolveAudioOptions } from '../audio/audio-options';
import { openAudioSource } from '../audio/open-source';
import { WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { WhisperError } from '../errors/whisper-error';
import { findCatalogueEntry, MODEL_CATALOGUE, unknownModelName, type CatalogueEntry } from '../model-files/catalogue';
import { downloadModel } from '../model-files/download';
import { cachedModelPath } from '../model-files/model-cache';
import { looksLikeModelPath } from '../model-files/resolve-model';
import { DownloadProgressLine, type ProgressMode } from './progress';

/** What a bare `--vad` runs: the newest Silero model in the catalogue. */
export const DEFAULT_VAD_NAME: string = MODEL_CATALOGUE.filter((entry) => entry.kind === 'vad').at(-1)?.name ?? 'silero-v5.1.2';

const KIND_NAMES: Record<CatalogueEntry['kind'], string> = { whisper: 'a Whisper model', vad: 'a Silero VAD model' };

export interface ModelArgumentOptions {
  kind: CatalogueEntry['kind'];
  /** The option that gave it, for messages: '-m', '--vad'. */
  option: string;
  download: boolean;
  modelsDir: string | undefined;
  mode: ProgressMode;
  signal: AbortSignal;
}

/**
 * The file `value` names. A path as loadModel tells one (a separator, a .bin ending, or
 * something that exists) is returned as it is: the loader reports what is wrong with it. Anything else is a catalogue
 * name: its cached file, downloaded first with `download`, else MODEL_NOT_FOUND saying how.
 */
export async function resolveModelArgument(value: string, options: ModelArgumentOptions): Promise<string> {
  if (await looksLikeModelPath(value)) return value;
  const entry = findCatalogueEntry(value);
  if (entry === undefined) throw unknownModelName(value, options.option);
  if (entry.kind !== options.kind) {
    throw new WhisperError('INVALID_ARGUMENT', `${options.option}: '${value}' is ${KIND_NAMES[entry.kind]}; ${options.option} takes ${KIND_NAMES[options.kind]}`);
  }
  const cached = cachedModelPath(value, options.modelsDir);
  if (await isFile(cached)) return cached;
  if (!options.download) {
    throw new WhisperError(
      'MODEL_NOT_FOUND',
      `${options.option}: model '${value}' is not downloaded yet (not in ${path.dirname(cached)}); add --download, or run \`whisper-napi models download ${value}\``,
    );
  }
  return downloadWithProgress(value, { modelsDir: options.modelsDir, mode: options.mode, signal: options.signal });
}

/** downloadModel with its progress on stderr, as a bar on a terminal. */
export async function downloadWithProgress(
  name: string,
  options: { modelsDir: string | undefined; baseUrl?: string; mode: ProgressMode; signal: AbortSignal },
): Promise<string> {
  const line = new DownloadProgressLine(options.mode, name);
  try {
    const file = await downloadModel(name, {
      ...(options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {}),
      ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
      signal: options.signal,
      onProgress: (progress) => line.update(progress),
    });
    line.done();
    return file;
  } catch (error) {
    line.failed();
    throw error;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Detection never needs more than this for the formats whose length we read (an ID3 tag asks for more: then we do without). */
const PROBE_HEAD_LIMIT = 1 << 20;

/**
 * The audio length the file's header states, for an honest progress bar (percent of the whole
 * file, audio done, ETA), or undefined: for what ffmpeg decodes (it would mean starting it), an
 * unknown length, or any failure, which transcribe() itself then reports.
 */
export async function statedDurationMs(file: string): Promise<number | undefined> {
  try {
    let handle;
    let want = DETECT_HEAD_BYTES;
    let detected;
    // Only a regular file: reading the start of a pipe (`transcribe <(curl …)`) would take it from the transcription.
    if (!(await fsp.stat(file)).isFile()) return undefined;
    try {
      handle = await fsp.open(file, 'r');
      for (;;) {
        const buffer = Buffer.alloc(want);
        const { bytesRead } = await handle.read(buffer, 0, want, 0);
        const ended = bytesRead < want;
        const found = detectAudio(buffer.subarray(0, bytesRead), ended);
        if (!('needBytes' in found)) {
          detected = found;
          break;
        }
        if (ended || found.needBytes > PROBE_HEAD_LIMIT) return undefined;
        want = found.needBytes;
      }
    } finally {
      await handle?.close();
    }
    if (detected.kind !== 'wav' && detected.kind !== 'native') return undefined;
    const source = await openAudioSource(file, resolveAudioOptions(undefined));
    try {
      return source.statedSamples === undefined ? undefined : (source.statedSamples * 1000) / WHISPER_SAMPLE_RATE;
    } finally {
      await source.close();
    }
  } catch {
    return undefined;
  }
}
