/**
 * Explanations for files that are not whisper.cpp ggml Whisper models: what a file that does not start
 * with the ggml magic probably is (GGUF, a PyTorch checkpoint, safetensors, a Git LFS pointer, an HTML
 * error page, audio...), and what other ggml model (a Silero VAD model) a ggml file is.
 */
import { GGML_FILE_MAGIC } from './ggml-format';
import { isPrintableAscii, quote } from './text';

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** Whether a file's first bytes read as text (no NULs or control characters, valid UTF-8). */
function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let bad = 0;
  for (const c of b) {
    if (c === 0) return false;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) bad++;
  }
  if (bad > 0) return false;
  // valid UTF-8 (allowing a sequence cut at the end of the sample)
  const s = b.toString('utf8');
  const replacements = (s.match(/\uFFFD/g) ?? []).length;
  return replacements <= 1;
}

/** Explains a file whose first bytes are not the ggml magic. */
export function describeForeignFile(head: Buffer, fileSize: number): string {
  const magicHex = head.length >= 4 ? hex32(head.readUInt32LE(0)) : '(too short)';
  const base = `bad magic ${magicHex}, expected ${hex32(GGML_FILE_MAGIC)}, the bytes "lmgg" a whisper.cpp ggml model starts with`;
  const note = `[${base}]`;
  const ascii4 = head.subarray(0, 4).toString('latin1');

  if (ascii4 === 'GGUF') {
    return `it is a GGUF file (the container llama.cpp and newer ggml projects use), not a whisper.cpp ggml model ${note}. whisper.cpp loads only the legacy ggml-*.bin Whisper format; get a ggml Whisper model, e.g. from https://huggingface.co/ggerganov/whisper.cpp`;
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return `it is a ZIP archive, probably a PyTorch checkpoint (.pt) ${note}. Convert it with whisper.cpp's models/convert-pt-to-ggml.py first`;
  }
  if (head.length >= 10) {
    const hdrLen = head.readBigUInt64LE(0);
    if (hdrLen > 1n && hdrLen < BigInt(fileSize) && head[8] === 0x7b /* { */) {
      return `it is a safetensors file (Hugging Face format) ${note}. Convert the Hugging Face model with whisper.cpp's models/convert-h5-to-ggml.py first`;
    }
  }
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return `it looks like a Python pickle (an old-style PyTorch checkpoint) ${note}. Convert it with whisper.cpp's models/convert-pt-to-ggml.py first`;
  }
  if (head.length >= 4 && head.readUInt32BE(0) === GGML_FILE_MAGIC) {
    return `the magic is byte-swapped ${note}; this looks like a big-endian ggml file, which this build cannot read`;
  }
  if (ascii4 === 'tjgg' || ascii4 === 'fmgg' || ascii4 === 'algg') {
    return `it is an old llama.cpp-style ggml file (magic "${ascii4.split('').reverse().join('')}"), not a Whisper model ${note}`;
  }
  if (ascii4 === 'RIFF' || ascii4 === 'fLaC' || ascii4 === 'OggS' || ascii4.startsWith('ID3')) {
    return `it looks like an audio file, not a model ${note}. Did you swap the model and audio arguments?`;
  }
  if (looksLikeText(head)) {
    const text = head.toString('utf8');
    if (text.startsWith('version https://git-lfs')) {
      return `it is a Git LFS pointer file, not the model itself ${note}. Fetch the real file (git lfs pull) or download the model again`;
    }
    if (/^\s*<(!doctype html|html|\?xml)/i.test(text)) {
      return `it is an HTML/XML page, not a model; a download probably saved an error page ${note}`;
    }
    const firstLine = text.split(/\r?\n/, 1)[0];
    return `it is a text file, not a model (it begins with ${quote(firstLine, 40)}) ${note}`;
  }
  return base;
}

/**
 * For a ggml file whose hparams make no sense: is it another ggml model kind? whisper.cpp's VAD models
 * (Silero) start with int32 length + model-type string + int32 major, minor, patch.
 */
export function describeOtherGgmlModel(head: Buffer): string | undefined {
  if (head.length < 12) return undefined;
  const len = head.readInt32LE(4);
  if (len < 1 || len > 64 || head.length < 8 + len) return undefined;
  const nameBytes = head.subarray(8, 8 + len);
  if (!isPrintableAscii(nameBytes)) return undefined;
  const name = nameBytes.toString('latin1');
  let version = '';
  if (head.length >= 8 + len + 12) {
    const [maj, min, pat] = [0, 1, 2].map((i) => head.readInt32LE(8 + len + 4 * i));
    if ([maj, min, pat].every((v) => v >= 0 && v < 1000)) version = ` version ${maj}.${min}.${pat}`;
  }
  if (/silero|vad/i.test(name)) {
    return `it is a voice-activity-detection (VAD) model ("${name}"${version}), not a Whisper speech-to-text model. Pass it as the VAD model, and a ggml Whisper model (ggml-*.bin) as the model`;
  }
  return `it is a ggml file for a "${name}"${version} model, not a Whisper model`;
}
