/**
 * Writing whisper.cpp's ggml model format (the layout `inspectModelFile` reads): a fixed header of the
 * magic and 11 int32 hparams, the mel filter bank, the vocabulary, then tensors, each a small header
 * followed by its data. Shared by the converter, the quantizer and the synthetic-model generator, so
 * the three cannot disagree on the format.
 *
 * Output goes to a temporary file next to the target and is renamed into place on `commit()`, so a
 * failed or interrupted write never leaves a half-written model under the requested name.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import { WhisperError } from '../errors/whisper-error';
import { GGML_FILE_MAGIC, GGML_QNT_VERSION_FACTOR } from './ggml-format';
import type { WhisperHparams } from './hparams';

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** The header through the vocabulary: everything before the first tensor. */
export interface WhisperFilePreamble {
  hparams: WhisperHparams;
  /** `nMel` rows of `nFft` float32 weights, row-major. */
  melFilters: { nMel: number; nFft: number; data: Float32Array };
  /** Token bytes in id order (the file stores the base vocabulary; whisper.cpp derives the special tokens). */
  vocab: Uint8Array[];
}

/** The 48-byte header: magic + n_vocab ... n_mels + ftype (with the quantization version folded in). */
export function encodeHeader(hparams: WhisperHparams): Buffer {
  const buf = Buffer.alloc(48);
  const fields = [
    GGML_FILE_MAGIC,
    hparams.nVocab,
    hparams.nAudioCtx,
    hparams.nAudioState,
    hparams.nAudioHead,
    hparams.nAudioLayer,
    hparams.nTextCtx,
    hparams.nTextState,
    hparams.nTextHead,
    hparams.nTextLayer,
    hparams.nMels,
    hparams.quantizationVersion * GGML_QNT_VERSION_FACTOR + hparams.ftype,
  ];
  buf.writeUInt32LE(fields[0], 0);
  for (let i = 1; i < fields.length; i++) buf.writeInt32LE(fields[i], 4 * i);
  return buf;
}

export function encodeMelFilters(mel: WhisperFilePreamble['melFilters']): Buffer {
  if (mel.data.length !== mel.nMel * mel.nFft) {
    throw new Error(`internal error: mel filter data has ${mel.data.length} values, expected ${mel.nMel} x ${mel.nFft}`);
  }
  const buf = Buffer.alloc(8 + 4 * mel.data.length);
  buf.writeInt32LE(mel.nMel, 0);
  buf.writeInt32LE(mel.nFft, 4);
  for (let i = 0; i < mel.data.length; i++) buf.writeFloatLE(mel.data[i], 8 + 4 * i);
  return buf;
}

export function encodeVocab(tokens: Uint8Array[]): Buffer {
  let size = 4;
  for (const t of tokens) size += 4 + t.length;
  const buf = Buffer.alloc(size);
  buf.writeInt32LE(tokens.length, 0);
  let pos = 4;
  for (const t of tokens) {
    buf.writeInt32LE(t.length, pos);
    buf.set(t, pos + 4);
    pos += 4 + t.length;
  }
  return buf;
}

export function encodePreamble(preamble: WhisperFilePreamble): Buffer {
  return Buffer.concat([encodeHeader(preamble.hparams), encodeMelFilters(preamble.melFilters), encodeVocab(preamble.vocab)]);
}

/** A tensor's header: n_dims, name length, ggml type, the dims (ne order), the name. Its data follows. */
export function encodeTensorHeader(name: string, shape: number[], type: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const buf = Buffer.alloc(12 + 4 * shape.length + nameBytes.length);
  buf.writeInt32LE(shape.length, 0);
  buf.writeInt32LE(nameBytes.length, 4);
  buf.writeInt32LE(type, 8);
  shape.forEach((d, i) => buf.writeInt32LE(d, 12 + 4 * i));
  nameBytes.copy(buf, 12 + 4 * shape.length);
  return buf;
}

/** Little-endian bytes of float32 values (a view when the platform is little-endian). */
export function float32Bytes(values: Float32Array): Buffer {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return LITTLE_ENDIAN ? bytes : Buffer.from(bytes).swap32();
}

/** Little-endian bytes of float16 bit patterns (a view when the platform is little-endian). */
export function float16Bytes(bits: Uint16Array): Buffer {
  const bytes = Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength);
  return LITTLE_ENDIAN ? bytes : Buffer.from(bytes).swap16();
}

/** Sequential writer into `<outPath>.tmp-*`, renamed to `outPath` by `commit()`. */
export class GgmlFileWriter {
  private constructor(
    private fh: FileHandle | undefined,
    private readonly tmpPath: string,
    readonly outPath: string,
    private offset = 0,
  ) {}

  /** Opens the temporary file. A path that cannot be written is an INVALID_ARGUMENT naming `paramName`. */
  static async open(outPath: string, paramName = 'outPath'): Promise<GgmlFileWriter> {
    const tmpPath = `${outPath}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      return new GgmlFileWriter(await fsp.open(tmpPath, 'w'), tmpPath, outPath);
    } catch (err) {
      throw new WhisperError('INVALID_ARGUMENT', `${paramName}: cannot write ${JSON.stringify(outPath)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Bytes written so far. */
  get position(): number {
    return this.offset;
  }

  async write(bytes: Uint8Array): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error('internal error: write after commit/abort');
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.offset += bytes.length;
  }

  /** Closes the file and renames it into place. */
  async commit(): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error('internal error: commit after commit/abort');
    this.fh = undefined;
    try {
      await fh.close();
      await fsp.rename(this.tmpPath, this.outPath);
    } catch (err) {
      await fsp.rm(this.tmpPath, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Closes and deletes the temporary file; safe to call after a failed commit or twice. */
  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
    await fsp.rm(this.tmpPath, { force: true }).catch(() => undefined);
  }
}
