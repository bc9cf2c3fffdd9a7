/**
 * Whisper's tokenizer is GPT-2's byte-level BPE: every token is a byte string, and tokenizer files
 * (CTranslate2's vocabulary.txt/json, Hugging Face's vocab.json) spell each byte as one printable
 * Unicode character (GPT-2's `bytes_to_unicode` table). whisper.cpp's ggml file stores the raw bytes,
 * so the converter maps the characters back.
 *
 * Which tokens the ggml file holds: the ids below <|endoftext|> (the byte-level vocabulary), plus
 * <|endoftext|> itself for English-only models: 50257 entries either way, as in the published ggml
 * models (their headers in shared/models: base ends with the empty token 50256, tiny.en with
 * "<|endoftext|>" at 50256). whisper.cpp names every id beyond the stored ones itself.
 *
 * How the bytes are stored: raw, as whisper.cpp's converters write them (the published ggml-base.bin,
 * 147,951,465 bytes, has exactly the size of this converter's raw-bytes output). Some ggml files hold
 * instead each token decoded as UTF-8 with invalid sequences replaced by U+FFFD and re-encoded (the
 * header-only files in the team's shared/models: 1476 of base's 50257 tokens, those holding part of a
 * multi-byte character, read EF BF BD there); `replaceInvalidUtf8` reproduces that form. It is lossy:
 * characters split across tokens (common in CJK text) can no longer be put back together.
 */
import { WhisperError } from '../../errors/whisper-error';

/** GPT-2's bytes_to_unicode: byte -> the character that spells it in tokenizer files, and the inverse by UTF-16 code unit (-1: not a byte). */
function buildByteTable(): { byteToChar: string[]; charToByte: Int16Array } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b); // '!' .. '~'
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b); // '¡' .. '¬'
  for (let b = 0xae; b <= 0xff; b++) printable.push(b); // '®' .. 'ÿ'
  const isPrintable = new Set(printable);
  const byteToChar = new Array<string>(256);
  const charToByte = new Int16Array(512).fill(-1);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    // printable bytes spell themselves; the others take the code points 256, 257, ... in byte order
    const cp = isPrintable.has(b) ? b : 256 + next++;
    byteToChar[b] = String.fromCodePoint(cp);
    charToByte[cp] = b;
  }
  return { byteToChar, charToByte };
}

const { byteToChar: BYTE_TO_CHAR, charToByte: CHAR_TO_BYTE } = buildByteTable();

/**
 * The first 256 ids of GPT-2's (and Whisper's) vocabulary: one token per byte value, in the order of
 * their byte-level characters ('!'..'~', '¡'..'¬', '®'..'ÿ', then the other bytes in byte order).
 */
export function byteTokensInVocabularyOrder(): Uint8Array[] {
  const bytes = Array.from({ length: 256 }, (_, b) => b);
  bytes.sort((a, b) => BYTE_TO_CHAR[a].codePointAt(0)! - BYTE_TO_CHAR[b].codePointAt(0)!);
  return bytes.map((b) => Uint8Array.of(b));
}

/** The byte-level spelling of raw token bytes (the form tokenizer files use). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/** The raw bytes of a byte-level token string, or undefined if a character is not in GPT-2's byte table. */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length); // every table character is a single UTF-16 unit below 512
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < 512 ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

const UTF8_LENIENT = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

/** Whether bytes are well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0)
        lo = 0xa0; // no overlongs
      else if (b === 0xed) hi = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f; // <= U+10FFFF
    } else return false;
    if (i + len > n) return false;
    const b1 = bytes[i + 1];
    if (b1 < lo || b1 > hi) return false;
    for (let k = 2; k < len; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return false;
    }
    i += len;
  }
  return true;
}

/**
 * Token bytes decoded as UTF-8 with every invalid sequence replaced by U+FFFD (the WHATWG / "maximal
 * subpart" rule of the WHATWG Encoding standard), re-encoded. Tokens
 * that are valid UTF-8 (most) are unchanged; a token holding part of a multi-byte character (e.g. 0xA1)
 * becomes EF BF BD.
 */
export function utf8ReplacedTokenBytes(bytes: Uint8Array): Uint8Array {
  return isWellFormedUtf8(bytes) ? bytes : UTF8_ENCODER.encode(UTF8_LENIENT.decode(bytes));
}

export const EOT_TOKEN = '<|endoftext|>';
/** whisper.cpp's smallest n_vocab for a multilingual model (its `is_multilingual`). */
export const MULTILINGUAL_N_VOCAB = 51865;

/**
 * The token bytes to store in the ggml file, by id: ids below <|endoftext|>, plus <|endoftext|> for an
 * English-only model. `tokenAt(id)` gives the byte-level string of an id (undefined if the files do not
 * define it); `where` names the vocabulary file(s) for messages. Throws INVALID_MODEL when <|endoftext|>
 * is not where whisper.cpp expects it (whisper.cpp hard-codes the special token ids), or a token is
 * missing or not a byte-level string.
 */
export function whisperBaseVocab(
  tokenAt: (id: number) => string | undefined,
  eotId: number | undefined,
  nVocab: number,
  where: string,
  replaceInvalidUtf8 = false,
): Uint8Array[] {
  const multilingual = nVocab >= MULTILINGUAL_N_VOCAB;
  const expectedEot = multilingual ? 50257 : 50256;
  if (eotId === undefined) {
    throw new WhisperError('INVALID_MODEL', `${where}: the vocabulary has no ${EOT_TOKEN} token`);
  }
  if (eotId !== expectedEot) {
    throw new WhisperError(
      'INVALID_MODEL',
      `${where}: ${EOT_TOKEN} has id ${eotId}, but whisper.cpp expects id ${expectedEot} for ${multilingual ? 'a multilingual' : 'an English-only'} model (n_vocab = ${nVocab}); this vocabulary does not fit whisper.cpp's fixed special-token layout`,
    );
  }
  const count = multilingual ? eotId : eotId + 1;
  const out = new Array<Uint8Array>(count);
  for (let id = 0; id < count; id++) {
    const token = tokenAt(id);
    if (token === undefined) throw new WhisperError('INVALID_MODEL', `${where}: the vocabulary has no token with id ${id} (expected ids 0..${count - 1})`);
    const bytes = byteLevelToBytes(token);
    if (!bytes) {
      throw new WhisperError(
        'INVALID_MODEL',
        `${where}: token ${id} (${JSON.stringify(token)}) is not a GPT-2 byte-level token string (it has a character outside the byte table)`,
      );
    }
    out[id] = replaceInvalidUtf8 ? utf8ReplacedTokenBytes(bytes) : bytes;
  }
  return out;
}
