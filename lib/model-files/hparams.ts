/**
 * The hyperparameters in a whisper.cpp ggml model's header, and their plausibility checks: a header
 * outside these bounds is not a Whisper model whisper.cpp can load (or would make it misbehave).
 */
import { GGML_QNT_VERSION, GGML_QNT_VERSION_FACTOR, weightTypeForFtype } from './ggml-format';

export interface WhisperHparams {
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
  /** The ggml ftype (the header field modulo GGML_QNT_VERSION_FACTOR), e.g. 0 = f32, 1 = f16, 8 = q5_0. */
  ftype: number;
  /** The quantization format version (the header field divided by GGML_QNT_VERSION_FACTOR). */
  quantizationVersion: number;
}

/** Byte size of the fixed header: magic + 11 int32 hparams. */
export const HEADER_BYTES = 48;
/** The smallest n_vocab whose token layout whisper.cpp supports (English-only models; timestamps end at 51863). */
const MIN_N_VOCAB = 51864;

/** The 11 int32 fields after the magic, as stored. */
export function readRawHparams(head: Buffer): number[] {
  const raw: number[] = [];
  for (let i = 0; i < 11; i++) raw.push(head.readInt32LE(4 + 4 * i));
  return raw;
}

/** The stored fields as hparams, the ftype field split as whisper.cpp splits it. */
export function decodeHparams(raw: number[]): WhisperHparams {
  const ftypeRaw = raw[10];
  return {
    nVocab: raw[0],
    nAudioCtx: raw[1],
    nAudioState: raw[2],
    nAudioHead: raw[3],
    nAudioLayer: raw[4],
    nTextCtx: raw[5],
    nTextState: raw[6],
    nTextHead: raw[7],
    nTextLayer: raw[8],
    nMels: raw[9],
    // C integer division/remainder, as whisper.cpp does it (a negative field is rejected by checkHparams)
    ftype: ftypeRaw % GGML_QNT_VERSION_FACTOR,
    quantizationVersion: Math.trunc(ftypeRaw / GGML_QNT_VERSION_FACTOR),
  };
}

interface HparamCheck {
  field: string;
  value: number;
  ok: boolean;
  expected: string;
}

/** What is implausible about a header's fields (empty when nothing is). */
export function checkHparams(raw: number[], hp: WhisperHparams): string[] {
  const [nVocab, nAudioCtx, nAudioState, nAudioHead, nAudioLayer, nTextCtx, nTextState, nTextHead, nTextLayer, nMels, ftypeRaw] = raw;
  const inRange = (v: number, lo: number, hi: number): boolean => v >= lo && v <= hi;
  const checks: HparamCheck[] = [
    {
      field: 'n_vocab',
      value: nVocab,
      ok: inRange(nVocab, MIN_N_VOCAB, 1_000_000),
      expected: `${MIN_N_VOCAB}..1000000: whisper.cpp's token layout needs at least ${MIN_N_VOCAB}`,
    },
    { field: 'n_audio_ctx', value: nAudioCtx, ok: inRange(nAudioCtx, 1, 65536), expected: '1..65536' },
    { field: 'n_audio_state', value: nAudioState, ok: inRange(nAudioState, 1, 65536), expected: '1..65536' },
    { field: 'n_audio_head', value: nAudioHead, ok: inRange(nAudioHead, 1, 1024), expected: '1..1024' },
    { field: 'n_audio_layer', value: nAudioLayer, ok: inRange(nAudioLayer, 1, 256), expected: '1..256' },
    { field: 'n_text_ctx', value: nTextCtx, ok: inRange(nTextCtx, 1, 65536), expected: '1..65536' },
    { field: 'n_text_state', value: nTextState, ok: inRange(nTextState, 1, 65536), expected: '1..65536' },
    { field: 'n_text_head', value: nTextHead, ok: inRange(nTextHead, 1, 1024), expected: '1..1024' },
    { field: 'n_text_layer', value: nTextLayer, ok: inRange(nTextLayer, 1, 256), expected: '1..256' },
    { field: 'n_mels', value: nMels, ok: inRange(nMels, 1, 512), expected: '1..512' },
  ];
  const problems = checks.filter((c) => !c.ok).map((c) => `${c.field} = ${c.value} (expected ${c.expected})`);
  const bad = new Set(checks.filter((c) => !c.ok).map((c) => c.field));

  if (!bad.has('n_audio_state') && !bad.has('n_audio_head') && nAudioState % nAudioHead !== 0) {
    problems.push(`n_audio_head = ${nAudioHead} does not divide n_audio_state = ${nAudioState}`);
  }
  if (!bad.has('n_text_state') && !bad.has('n_text_head') && nTextState % nTextHead !== 0) {
    problems.push(`n_text_head = ${nTextHead} does not divide n_text_state = ${nTextState}`);
  }
  if (!bad.has('n_text_state') && !bad.has('n_audio_state') && nTextState !== nAudioState) {
    problems.push(`n_text_state = ${nTextState} differs from n_audio_state = ${nAudioState} (whisper.cpp requires them equal)`);
  }
  if (ftypeRaw < 0) {
    problems.push(`ftype = ${ftypeRaw} is negative`);
  } else {
    if (weightTypeForFtype(hp.ftype) === undefined) {
      problems.push(`ftype = ${ftypeRaw} encodes ggml ftype ${hp.ftype}, which ggml cannot map to a tensor type (whisper.cpp would abort)`);
    }
    if (hp.quantizationVersion > GGML_QNT_VERSION) {
      problems.push(`ftype = ${ftypeRaw} encodes quantization version ${hp.quantizationVersion}, newer than the version ${GGML_QNT_VERSION} this whisper.cpp reads`);
    }
  }
  return problems;
}
