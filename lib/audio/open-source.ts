/**
 * openAudioSource: every AudioInput made into one AudioSource. The format is found from the
 * first bytes (detect.ts), then the input goes to the decoder for it: the addon's miniaudio
 * decoders (WAV, FLAC, MP3, Ogg Vorbis: decoded and resampled on libuv's threads, a piece per
 * read, as whisper-cli decodes them), or ffmpeg for everything else.
 */
import type { FileHandle } from 'node:fs/promises';
import { abortError } from '../errors/abort';
import { fileError } from '../errors/file-errors';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import { AUDIO_FILE, openAudioFile, withFileName } from './audio-file';
import type { ResolvedAudioOptions } from './audio-options';
import { byteChunks, isByteStream, PeekableBytes } from './byte-input';
import { DETECT_HEAD_BYTES, detectAudio, type DetectedAudio } from './detect';
import { ffmpegMissing, findFfmpeg, openFfmpegSource } from './ffmpeg';
import type { NativeAudioFormat } from '../native/native-api';
import { openNativeSource } from './native-source';
import { assertFinitePcm, invalidAudio, SAMPLES_PER_MS, type AudioInput } from './pcm';
import { pcmSource } from './pcm-source';
import type { AudioSource } from './source';

export const AUDIO_INPUT_EXPECTED =
  'a Float32Array of 16 kHz mono PCM, an audio file path (string), audio file bytes (Buffer or Uint8Array), or a stream of them (Readable, ReadableStream or AsyncIterable of Uint8Array)';

/** @internal */
export async function openAudioSource(input: AudioInput, options: ResolvedAudioOptions, signal?: AbortSignal): Promise<AudioSource> {
  const source = await openAnySource(input, options, signal);
  return options.maxSamples === undefined ? source : withDurationLimit(source, options.maxSamples);
}

async function openAnySource(input: AudioInput, options: ResolvedAudioOptions, signal: AbortSignal | undefined): Promise<AudioSource> {
  if (input instanceof Float32Array) return openPcm(input, options);
  if (typeof input === 'string') return openPath(input, options, signal);
  if (input instanceof Uint8Array) return openBytes(input, options, signal);
  if (isByteStream(input)) return openStream(input, options, signal);
  throw invalidArgument('audio', AUDIO_INPUT_EXPECTED, input);
}

/**
 * `source`, refusing audio longer than `maxSamples` (options.audio.maxDurationMs): at once
 * when the container states a longer length, else at the read that passes the limit.
 */
async function withDurationLimit(source: AudioSource, maxSamples: number): Promise<AudioSource> {
  const tooLong = () => new WhisperError('AUDIO_TOO_LONG', `audio: longer than options.audio.maxDurationMs (${Math.round(maxSamples / SAMPLES_PER_MS)} ms)`);
  if (source.statedSamples !== undefined && source.statedSamples > maxSamples) {
    await source.close();
    throw tooLong();
  }
  let read = 0;
  return {
    format: source.format,
    statedSamples: source.statedSamples,
    read: async (maxPiece) => {
      const piece = await source.read(maxPiece);
      read += piece.length;
      if (read > maxSamples) throw tooLong();
      return piece;
    },
    close: () => source.close(),
  };
}

function openPcm(samples: Float32Array, options: ResolvedAudioOptions): AudioSource {
  if (samples.length === 0) throw invalidArgument('audio', 'a non-empty Float32Array of 16 kHz mono PCM', samples);
  if (options.channel !== 'mix' && options.channel !== 0) {
    throw invalidArgument('channel', "'mix' or 0 (a Float32Array is mono)", options.channel);
  }
  assertFinitePcm(samples);
  return pcmSource(samples, 'pcm');
}

async function openPath(path: string, options: ResolvedAudioOptions, signal: AbortSignal | undefined): Promise<AudioSource> {
  if (path.length === 0) throw invalidArgument('audio', 'a non-empty audio file path', path);
  try {
    const { detected, head } = await detectFile(path);
    switch (detected.kind) {
      case 'wav':
      case 'native':
        return namingFile(await openNativeSource(path, nativeFormat(detected), options.channel), path);
      default:
        return namingFile(openFfmpegSource({ path }, ffmpegOptions(detected, head, options, signal)), path);
    }
  } catch (error) {
    throw withFileName(error, path);
  }
}

/** The source, with the file's path in the errors of its reads too. */
function namingFile(source: AudioSource, path: string): AudioSource {
  return {
    format: source.format,
    statedSamples: source.statedSamples,
    read: (maxSamples) => source.read(maxSamples).catch((error: unknown) => Promise.reject(withFileName(error, path))),
    close: () => source.close(),
  };
}

async function openBytes(bytes: Uint8Array, options: ResolvedAudioOptions, signal: AbortSignal | undefined): Promise<AudioSource> {
  const detected = await detectBytes(bytes);
  switch (detected.kind) {
    case 'wav':
    case 'native':
      return openNativeSource(bytes, nativeFormat(detected), options.channel);
    default:
      return openFfmpegSource({ chunks: oneChunk(bytes) }, ffmpegOptions(detected, bytes, options, signal));
  }
}

/**
 * A stream goes straight into ffmpeg as it arrives. The formats decoded here need the whole
 * input in memory (miniaudio decodes from memory or from a file), so their bytes are held,
 * compressed, up to options.audio.maxInputBytes.
 */
async function openStream(stream: unknown, options: ResolvedAudioOptions, signal: AbortSignal | undefined): Promise<AudioSource> {
  const bytes = new PeekableBytes(byteChunks(stream));
  try {
    let want = DETECT_HEAD_BYTES;
    for (;;) {
      const { head, ended } = await untilAborted(bytes.peek(want), signal);
      const detected = detectAudio(head, ended);
      if ('needBytes' in detected) {
        want = detected.needBytes;
        continue;
      }
      if (ended && head.length === 0) throw invalidAudio('the stream ended before any audio');
      if (detected.kind === 'wav' || detected.kind === 'native') {
        const whole = await untilAborted(bytes.readAll(options.maxInputBytes), signal);
        return await openBytes(whole, options, signal);
      }
      return openFfmpegSource({ chunks: bytes.rest() }, ffmpegOptions(detected, head, options, signal));
    }
  } catch (error) {
    // Not awaited: a source stuck in next() (the reason an abort came) settles its return() only
    // when that next() does, which may be never.
    void bytes.close();
    throw error;
  }
}

function ffmpegOptions(detected: Exclude<DetectedAudio, { kind: 'wav' | 'native' }>, head: Uint8Array, options: ResolvedAudioOptions, signal: AbortSignal | undefined) {
  // Nothing to decode, whoever decodes it: said at once, ffmpeg or not.
  if (detected.kind === 'ffmpeg' && detected.what.endsWith('with no audio stream')) throw invalidAudio(`${detected.what} (nothing to transcribe)`);
  // ffmpeg would open the files a playlist names, wherever they are: the caller chose this input, not those.
  if (isPlaylist(head)) throw new WhisperError('UNSUPPORTED_AUDIO', 'audio: a playlist (HLS, ffconcat or DASH), which names other files; give the audio itself');
  // The input's own bytes are never quoted: the message may reach whoever sent them, and the bytes may be anyone's file.
  const what = detected.kind === 'ffmpeg' ? detected.what : `audio that is not WAV, FLAC, MP3 or Ogg Vorbis (${head.length} bytes, no known signature)`;
  const ffmpegPath = findFfmpeg(options.ffmpegPath);
  if (ffmpegPath === undefined) throw ffmpegMissing(what);
  return { ffmpegPath, channel: options.channel, idleTimeoutMs: options.ffmpegTimeoutMs, what, ...(signal ? { signal } : {}) };
}

/** Text that ffmpeg's hls, concat or dash demuxers would read as a list of other inputs. */
function isPlaylist(head: Uint8Array): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 4096))
    .toString('latin1')
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart();
  return text.startsWith('#EXTM3U') || text.startsWith('ffconcat') || /<MPD[\s>]/.test(text);
}

/** The addon's decoder for audio detected as one it decodes. */
function nativeFormat(detected: Extract<DetectedAudio, { kind: 'wav' | 'native' }>): NativeAudioFormat {
  return detected.kind === 'wav' ? 'wav' : detected.format;
}

async function detectBytes(bytes: Uint8Array): Promise<DetectedAudio> {
  if (bytes.length === 0) throw invalidAudio('empty input (0 bytes)');
  const detected = detectAudio(bytes, true);
  // With the whole input at hand detection always decides; needBytes would mean a cut tag.
  return 'needBytes' in detected ? { kind: 'unknown' } : detected;
}

/** The format of the file at `path`, from its first bytes (more when a leading tag says so). */
async function detectFile(path: string): Promise<{ detected: DetectedAudio; head: Uint8Array }> {
  const handle = await openAudioFile(path);
  try {
    let want = DETECT_HEAD_BYTES;
    for (;;) {
      const head = await readStart(handle, path, want);
      const ended = head.length < want;
      if (ended && head.length === 0) throw invalidAudio('the file is empty');
      const detected = detectAudio(head, ended);
      if (!('needBytes' in detected)) return { detected, head };
      if (ended || detected.needBytes <= want) return { detected: { kind: 'unknown' }, head };
      want = detected.needBytes;
    }
  } finally {
    await handle.close();
  }
}

async function readStart(handle: FileHandle, path: string, length: number): Promise<Uint8Array> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw fileError(error, path, AUDIO_FILE);
  }
  return buffer.subarray(0, done);
}

async function* oneChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** `promise`, or the abort's error as soon as `signal` fires: a stream that never answers must not hold an aborted job. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) throw abortError(signal, 'the audio');
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal, 'the audio'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
