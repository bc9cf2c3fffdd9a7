/**
 * Reads a WAV file from disk in bounded windows of 16 kHz mono float32 PCM, so a long file
 * (an hour is 230 MB of PCM at 16 kHz) never has to be in memory at once. Decoding and
 * resampling are those of lib/audio/wav.ts and lib/audio/resample.ts, and the windows joined
 * are the same samples, bit for bit, as loadAudio(path) returns: the resampler computes each
 * output range from exactly the input samples a whole-file resample() would read.
 */
import type { promises as fsp } from 'node:fs';
import { fileError } from '../errors/file-errors';
import { invalidArgument } from '../errors/whisper-error';
import { AUDIO_FILE, openAudioFile, withFileName } from './audio-file';
import { WHISPER_SAMPLE_RATE, assertFinitePcm, invalidAudio, resolveChannel, type AudioOptions } from './pcm';
import { planResample, type ResamplePlan } from './resample';
import { resampledToNothing } from './wav';
import { BIT_DEPTH_CODE, BYTES_PER_SAMPLE, noDataChunkError, noSamplesError, riffChunkBytes, walkRiff, wavFormat, type SampleKind } from './wav-header';
import { checkChannel, decodeFrames } from './wav-samples';

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

/** Up to `length` bytes from `position`: fewer only at the end of the file. */
async function readAt(handle: fsp.FileHandle, path: string, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw fileError(error, path, AUDIO_FILE);
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

/** The header chunks found on disk: fmt and ds64 bodies (bounded), and where the data starts. */
interface ChunksOnDisk {
  fmt?: { body: Buffer; declared: number };
  ds64?: Buffer;
  data?: { start: number; declared: number };
}

/** Walks the chunks after the 12-byte RIFF header with small reads, until fmt and data are found. */
async function findChunks(handle: fsp.FileHandle, path: string, fileSize: number, container: string): Promise<ChunksOnDisk> {
  const le = container !== 'RIFX';
  const found: ChunksOnDisk = {};
  let at = 12;
  while (at + 8 <= fileSize && !(found.fmt && found.data)) {
    const header = await readAt(handle, path, at, 8);
    if (header.length < 8) break;
    const id = header.toString('latin1', 0, 4);
    const declared = le ? header.readUInt32LE(4) : header.readUInt32BE(4);
    const start = at + 8;
    const readBody = () => readAt(handle, path, start, Math.min(declared, MAX_HEADER_CHUNK, Math.max(0, fileSize - start)));
    if (id === 'fmt ' && !found.fmt) {
      found.fmt = { body: await readBody(), declared };
      if (declared > MAX_HEADER_CHUNK) throw invalidAudio(`WAV "fmt " chunk is implausibly large (${declared} bytes)`);
    } else if (id === 'ds64' && !found.ds64) {
      found.ds64 = await readBody();
    } else if (id === 'data' && !found.data) {
      const ds64 = found.ds64;
      const size = container === 'RF64' && ds64 && ds64.length >= 16 ? ds64.readUInt32LE(8) + ds64.readUInt32LE(12) * 2 ** 32 : declared;
      found.data = { start, declared: size };
    }
    at = start + declared + (declared % 2);
  }
  return found;
}

/**
 * Walks the chunks with small reads, then lets lib/audio/wav-header.ts judge a header-only copy
 * of the file (RIFF header, ds64, fmt), so both paths accept and reject the same headers with
 * the same messages.
 */
async function readLayout(handle: fsp.FileHandle, path: string, fileSize: number): Promise<FileLayout> {
  // Read whatever the size says: a file that fails its reads fails here as it does in loadAudio.
  const head = await readAt(handle, path, 0, 12);
  // Too short, or not RIFF/WAVE: walkRiff throws the same error loadAudio gives (it sniffs
  // other formats from the first bytes).
  if (head.length < 12) walkRiff(head);
  const container = head.toString('latin1', 0, 4);
  if ((container !== 'RIFF' && container !== 'RIFX' && container !== 'RF64') || head.toString('latin1', 8, 12) !== 'WAVE') {
    walkRiff(await readAt(handle, path, 0, 64));
  }
  const { fmt, ds64, data } = await findChunks(handle, path, fileSize, container);
  const le = container !== 'RIFX';
  const header = Buffer.concat([
    head,
    ...(ds64 ? riffChunkBytes('ds64', ds64, le) : []),
    // A truncated fmt keeps its declared size, so wavFormat reports the truncation.
    ...(fmt ? riffChunkBytes('fmt ', fmt.body, le, fmt.declared) : []),
  ]);
  const format = wavFormat(header, walkRiff(header));
  if (!data) throw noDataChunkError();
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

/** The header read and checked against the options; the resample plan when the rate is not 16 kHz. */
async function readHeader(handle: fsp.FileHandle, path: string, channelOption: 'mix' | number): Promise<{ layout: FileLayout; plan: ResamplePlan | undefined }> {
  const stat = await handle.stat();
  const layout = await readLayout(handle, path, stat.size);
  checkChannel(channelOption, layout.channels);
  if (layout.sampleRate === WHISPER_SAMPLE_RATE) return { layout, plan: undefined };
  const plan = planResample(layout.frames, layout.sampleRate, WHISPER_SAMPLE_RATE);
  if (plan.outputLength === 0) throw resampledToNothing(layout.frames, layout.sampleRate);
  return { layout, plan };
}

/**
 * Opens a WAV file and reads its header (errors as loadAudio's: AUDIO_NOT_FOUND, FILE_UNREADABLE,
 * INVALID_ARGUMENT for a directory, INVALID_AUDIO); the samples are read window by window as
 * `windows` is iterated. At most one window of output plus the input it needs (windowSamples x
 * the rate ratio, plus the resampler's kernel) is held.
 */
export async function openWavWindows(path: string, options: WavWindowOptions = {}): Promise<WavWindows> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('audio', 'a non-empty WAV file path', path);
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const windowSamples = checkWindowSamples(options.windowSamples);
  const channelOption = resolveChannel(options);
  const handle = await openAudioFile(path);
  let layout: FileLayout;
  let plan: ResamplePlan | undefined;
  try {
    ({ layout, plan } = await readHeader(handle, path, channelOption));
  } catch (error) {
    await handle.close();
    throw withFileName(error, path);
  }
  const outputSamples = plan ? plan.outputLength : layout.frames;
  const info: WavFileInfo = {
    path,
    sampleRate: layout.sampleRate,
    channels: layout.channels,
    frames: layout.frames,
    bitDepth: BIT_DEPTH_CODE[layout.kind],
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
    const bytes = await readAt(handle, path, layout.dataStart + from * frameBytes, (to - from) * frameBytes);
    const frames = Math.floor(bytes.length / frameBytes);
    if (frames < to - from) throw invalidAudio(`${path} got shorter while it was read`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, frames * frameBytes);
    const samples = decodeFrames(layout.kind, view, layout.littleEndian, layout.channels, channelOption, frames);
    // Named by its place in the whole file, as loadAudio names it.
    assertFinitePcm(samples, 'audio', from);
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
      throw withFileName(error, path);
    } finally {
      await close();
    }
  }

  return { info, windows: windows(), close };
}
