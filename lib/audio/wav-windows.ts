/**
 * Reads a WAV file from disk in bounded windows of 16 kHz mono float32 PCM, so a long file
 * (an hour is 230 MB of PCM at 16 kHz) never has to be in memory at once. Decoding and
 * resampling are lib/audio/audio.ts's own, and the windows joined are the same samples, bit for bit,
 * as loadAudio(path) returns: the resampler computes each output range from exactly the input
 * samples a whole-file resample() would read.
 */
import { promises as fsp } from 'node:fs';
import {
  BYTES_PER_SAMPLE,
  WHISPER_SAMPLE_RATE,
  decodeFrames,
  invalidAudio,
  noSamplesError,
  planResample,
  resolveChannel,
  walkRiff,
  wavFormat,
  type AudioOptions,
  type ResamplePlan,
  type SampleKind,
} from './audio';
import { WhisperError, invalidArgument } from '../errors/whisper-error';

export interface WavWindowOptions extends AudioOptions {
  /** Samples (at 16 kHz) per window. Default 160000 (10 s). */
  windowSamples?: number;
}

export interface WavFileInfo {
  path: string;
  /** The file's own rate, channel count and sample frames. */
  sampleRate: number;
  channels: number;
  frames: number;
  /** wavefile-style code of the stored format, as DecodedWav.bitDepth. */
  bitDepth: string;
  /** Samples the whole file makes at 16 kHz: the sum of all window lengths. */
  outputSamples: number;
}

export interface WavWindows {
  info: WavFileInfo;
  /** Windows of 16 kHz mono PCM in order; every one but the last has windowSamples samples. Closes the file when done. */
  windows: AsyncGenerator<Float32Array, void, undefined>;
  /** Closes the file without reading on (also fine after the windows ran out). */
  close(): Promise<void>;
}

const DEFAULT_WINDOW_SAMPLES = 10 * WHISPER_SAMPLE_RATE;
/** Header chunks (fmt, ds64) longer than this are not real WAV headers. */
const MAX_HEADER_CHUNK = 1 << 16;
const BIT_DEPTH: Record<SampleKind, string> = { u8: '8', s16: '16', s24: '24', s32: '32', f32: '32f', f64: '64', alaw: '8a', mulaw: '8m' };

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EACCES', 'EPERM']);

function fsError(path: string, error: unknown): WhisperError {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new WhisperError('AUDIO_NOT_FOUND', `audio: file not found: ${path}`, { cause: error });
  if (NOT_FOUND_CODES.has(code)) return new WhisperError('AUDIO_NOT_FOUND', `audio: cannot access ${path}: ${message}`, { cause: error });
  return invalidAudio(`cannot read ${path}: ${message}`, error);
}

/** Adds the file name to INVALID_AUDIO messages, as loadAudio does. */
function withFile(error: unknown, path: string): unknown {
  if (error instanceof WhisperError && error.code === 'INVALID_AUDIO' && !error.message.includes(`(file: ${path})`)) {
    return new WhisperError('INVALID_AUDIO', `${error.message} (file: ${path})`, { cause: error.cause });
  }
  return error;
}

async function readAt(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

interface FileLayout {
  kind: SampleKind;
  channels: number;
  sampleRate: number;
  littleEndian: boolean;
  dataStart: number;
  frames: number;
}

/**
 * Walks the chunks with small reads, then lets lib/audio/audio.ts judge a header-only copy of the
 * file (RIFF header, ds64, fmt, an empty data chunk), so both paths accept and reject the same
 * headers with the same messages.
 */
async function readLayout(handle: fsp.FileHandle, fileSize: number): Promise<FileLayout> {
  const head = await readAt(handle, 0, Math.min(fileSize, 12));
  // Too short, or not RIFF/WAVE: walkRiff throws the same error loadAudio gives (it sniffs
  // other formats from the first bytes).
  if (head.length < 12) walkRiff(head);
  const magic = head.toString('latin1', 0, 4);
  if ((magic !== 'RIFF' && magic !== 'RIFX' && magic !== 'RF64') || head.toString('latin1', 8, 12) !== 'WAVE') {
    walkRiff(await readAt(handle, 0, Math.min(fileSize, 64)));
  }
  const le = magic !== 'RIFX';
  let fmt: Buffer | undefined;
  let fmtDeclared = 0;
  let ds64: Buffer | undefined;
  let data: { start: number; declared: number } | undefined;
  let at = 12;
  while (at + 8 <= fileSize && !(fmt && data)) {
    const header = await readAt(handle, at, 8);
    if (header.length < 8) break;
    const id = header.toString('latin1', 0, 4);
    const declared = le ? header.readUInt32LE(4) : header.readUInt32BE(4);
    const start = at + 8;
    if ((id === 'fmt ' && !fmt) || (id === 'ds64' && !ds64)) {
      const body = await readAt(handle, start, Math.min(declared, MAX_HEADER_CHUNK, Math.max(0, fileSize - start)));
      if (id === 'fmt ') {
        fmt = body;
        fmtDeclared = declared;
      }
      else ds64 = body;
      if (id === 'fmt ' && declared > MAX_HEADER_CHUNK) throw invalidAudio(`WAV "fmt " chunk is implausibly large (${declared} bytes)`);
    } else if (id === 'data' && !data) {
      let size = declared;
      if (magic === 'RF64' && ds64 && ds64.length >= 16) size = ds64.readUInt32LE(8) + ds64.readUInt32LE(12) * 2 ** 32;
      data = { start, declared: size };
    }
    at = start + declared + (declared % 2);
  }

  const parts: Buffer[] = [head];
  const chunk = (id: string, body: Buffer, declared = body.length) => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'latin1');
    if (le) h.writeUInt32LE(declared, 4);
    else h.writeUInt32BE(declared, 4);
    parts.push(h, body, Buffer.alloc(body.length % 2));
  };
  if (ds64) chunk('ds64', ds64);
  // A truncated fmt keeps its declared size, so wavFormat reports the truncation.
  if (fmt) chunk('fmt ', fmt, fmtDeclared);
  const synthetic = Buffer.concat(parts);
  const layout = walkRiff(synthetic);
  const format = wavFormat(synthetic, layout);
  if (!data) throw invalidAudio('WAV has no data chunk (0 samples)');
  const frameBytes = BYTES_PER_SAMPLE[format.kind] * format.channels;
  const available = Math.max(0, Math.min(data.declared, fileSize - data.start));
  const frames = Math.floor(available / frameBytes);
  if (frames === 0) throw noSamplesError(available, frameBytes);
  return { ...format, dataStart: data.start, frames };
}

function checkWindowSamples(value: unknown): number {
  if (value === undefined) return DEFAULT_WINDOW_SAMPLES;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1024 || value > 64 * WHISPER_SAMPLE_RATE * 60) {
    throw invalidArgument('options.windowSamples', 'an integer from 1024 to 61440000 (16 kHz samples per window)', value);
  }
  return value;
}

/** Throws INVALID_AUDIO naming the first non-finite sample by its place in the whole file. */
function assertFiniteAt(samples: Float32Array, firstFrame: number): void {
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (v - v !== 0) {
      const what = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
      throw new WhisperError('INVALID_AUDIO', `audio: sample ${firstFrame + i} is ${what} (PCM samples must be finite numbers)`);
    }
  }
}

/**
 * Opens a WAV file and reads its header (errors: AUDIO_NOT_FOUND, INVALID_AUDIO, as loadAudio);
 * the samples are read window by window as `windows` is iterated. At most one window of output
 * plus the input it needs (windowSamples x the rate ratio, plus the resampler's kernel) is held.
 */
export async function openWavWindows(path: string, options: WavWindowOptions = {}): Promise<WavWindows> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('audio', 'a non-empty WAV file path', path);
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const windowSamples = checkWindowSamples(options.windowSamples);
  const channelOption = resolveChannel(options);
  let handle: fsp.FileHandle;
  try {
    const stat = await fsp.stat(path);
    if (stat.isDirectory()) throw new WhisperError('AUDIO_NOT_FOUND', `audio: expected a WAV file, but ${path} is a directory`);
    handle = await fsp.open(path, 'r');
  } catch (error) {
    throw error instanceof WhisperError ? error : fsError(path, error);
  }
  let layout: FileLayout;
  let plan: ResamplePlan | undefined;
  try {
    const stat = await handle.stat();
    layout = await readLayout(handle, stat.size);
    if (channelOption !== 'mix' && channelOption >= layout.channels) {
      throw invalidArgument(
        'channel',
        `'mix' or a channel index from 0 to ${layout.channels - 1} (the WAV has ${layout.channels} channel${layout.channels === 1 ? '' : 's'})`,
        channelOption,
      );
    }
    if (layout.sampleRate !== WHISPER_SAMPLE_RATE) {
      plan = planResample(layout.frames, layout.sampleRate, WHISPER_SAMPLE_RATE);
      if (plan.outputLength === 0) {
        throw invalidAudio(`WAV is too short: ${layout.frames} samples at ${layout.sampleRate} Hz make 0 samples at 16 kHz`);
      }
    }
  } catch (error) {
    await handle.close();
    throw withFile(error, path);
  }
  const outputSamples = plan ? plan.outputLength : layout.frames;
  const info: WavFileInfo = {
    path,
    sampleRate: layout.sampleRate,
    channels: layout.channels,
    frames: layout.frames,
    bitDepth: BIT_DEPTH[layout.kind],
    outputSamples,
  };
  const frameBytes = BYTES_PER_SAMPLE[layout.kind] * layout.channels;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };

  // Input frames [from, to) as mono float32 at the file's rate.
  const readFrames = async (from: number, to: number): Promise<Float32Array> => {
    let bytes: Buffer;
    try {
      bytes = await readAt(handle, layout.dataStart + from * frameBytes, (to - from) * frameBytes);
    } catch (error) {
      throw fsError(path, error);
    }
    const frames = Math.floor(bytes.length / frameBytes);
    if (frames < to - from) throw invalidAudio(`${path} got shorter while it was read`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, frames * frameBytes);
    const samples = decodeFrames(layout.kind, view, layout.littleEndian, layout.channels, channelOption, frames);
    assertFiniteAt(samples, from);
    return samples;
  };

  async function* windows(): AsyncGenerator<Float32Array, void, undefined> {
    try {
      for (let o = 0; o < outputSamples; o += windowSamples) {
        const end = Math.min(outputSamples, o + windowSamples);
        if (!plan) {
          yield await readFrames(o, end);
          continue;
        }
        const [from, to] = plan.inputRange(o, end);
        const input = await readFrames(from, to);
        const out = new Float32Array(end - o);
        plan.run(input, from, out, o);
        yield out;
      }
    } catch (error) {
      throw withFile(error, path);
    } finally {
      await close();
    }
  }

  return { info, windows: windows(), close };
}
