import { describe, it, expect } from 'vitest';
import { byteLevelToBytes, bytesToByteLevel, isWellFormedUtf8, utf8ReplacedTokenBytes, whisperBaseVocab } from '../../lib/tools/convert/vocab';
import { bf16ToF32Bits, f16ToF32Bits, f32ToF16Bits, float16BitsToFloat32Bits, float32ToFloat16Bits } from '../../lib/tools/convert/float';
import { WhisperError } from '../../lib/errors/whisper-error';
import { byteLevelSpelling, prng } from '../support/ct2-writer';
import { f16BitsToNumber } from '../support/f16';

describe('GPT-2 byte-level token spelling', () => {
  it('spells bytes as GPT-2 does (known characters)', () => {
    const spell = (b: number): string => bytesToByteLevel(Uint8Array.of(b));
    expect(spell(0x41)).toBe('A');
    expect(spell(0x21)).toBe('!');
    expect(spell(0xa1)).toBe('¡');
    expect(spell(0xff)).toBe('ÿ');
    expect(spell(0x20)).toBe('\u0120'); // 'Ġ', the space in " the"
    expect(spell(0x0a)).toBe('\u010a'); // 'Ċ', newline
    expect(spell(0x00)).toBe('\u0100');
    expect(spell(0x7f)).toBe('\u0121');
    expect(spell(0x80)).toBe('\u0122');
    expect(spell(0xa0)).toBe('\u0142');
    expect(spell(0xad)).toBe('\u0143'); // 'Ń', the soft hyphen
  });

  it('all 256 bytes round-trip, with 256 distinct characters, as the fixtures spell them', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = bytesToByteLevel(all);
    expect(new Set(s).size).toBe(256);
    expect(s).toBe(byteLevelSpelling(all));
    expect(Buffer.from(byteLevelToBytes(s)!).equals(Buffer.from(all))).toBe(true);
    expect(Buffer.from(byteLevelToBytes('\u0120the')!).toString('latin1')).toBe(' the');
    expect(byteLevelToBytes('')!.length).toBe(0);
  });

  it('rejects characters outside the table', () => {
    expect(byteLevelToBytes(' the')).toBeUndefined(); // a real space is not a byte-level character
    expect(byteLevelToBytes('snow\u2603')).toBeUndefined();
    expect(byteLevelToBytes('\u0144')).toBeUndefined(); // one past the last mapped code point (U+0143)
    expect(byteLevelToBytes('\u{1F600}')).toBeUndefined();
  });
});

describe("token bytes with invalid UTF-8 replaced (the header-only files' form)", () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

  it('leaves valid UTF-8 alone and replaces each maximal invalid subpart with U+FFFD', () => {
    expect(hex(utf8ReplacedTokenBytes(Buffer.from(' caf\u00e9', 'utf8')))).toBe(Buffer.from(' caf\u00e9', 'utf8').toString('hex'));
    expect(hex(utf8ReplacedTokenBytes(Uint8Array.of(0xa1)))).toBe('efbfbd');
    expect(hex(utf8ReplacedTokenBytes(Uint8Array.of(0xe4, 0xbd)))).toBe('efbfbd'); // a cut 3-byte character: one U+FFFD
    expect(hex(utf8ReplacedTokenBytes(Uint8Array.of(0x80, 0x80)))).toBe('efbfbdefbfbd');
    expect(hex(utf8ReplacedTokenBytes(Uint8Array.of(0x20, 0xe4, 0xbd, 0xa0, 0xe5)))).toBe('20e4bda0efbfbd');
  });

  it('isWellFormedUtf8 agrees with a fatal TextDecoder', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array): boolean => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    const cases = [
      [0xc0, 0x80], // overlong NUL
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf0, 0x9f, 0x98, 0x80], // U+1F600
      [0xef, 0xbb, 0xbf], // BOM
      [0xc2],
      [],
    ];
    for (const c of cases) expect(isWellFormedUtf8(Uint8Array.from(c)), c.join(',')).toBe(valid(Uint8Array.from(c)));
    const rnd = prng(42);
    for (let i = 0; i < 20000; i++) {
      const len = 1 + (rnd() % 6);
      // bias towards the interesting bytes
      const b = Uint8Array.from({ length: len }, () => {
        const r = rnd();
        return r % 3 === 0 ? 0x80 + ((r >>> 8) % 0x40) : r % 3 === 1 ? 0xc0 + ((r >>> 8) % 0x40) : (r >>> 8) & 0xff;
      });
      if (isWellFormedUtf8(b) !== valid(b)) throw new Error(`disagree on ${Buffer.from(b).toString('hex')}`);
    }
  });
});

describe('whisperBaseVocab', () => {
  const ml = (id: number): string | undefined => (id === 50256 ? '' : id === 50257 ? '<|endoftext|>' : id < 50256 ? `t${id}` : `<|s${id}|>`);
  const en = (id: number): string | undefined => (id === 50256 ? '<|endoftext|>' : id < 50256 ? `t${id}` : `<|s${id}|>`);

  it('multilingual: the ids below <|endoftext|> (50257 tokens, the last one empty)', () => {
    const v = whisperBaseVocab(ml, 50257, 51865, 'v');
    expect(v.length).toBe(50257);
    expect(Buffer.from(v[7]).toString()).toBe('t7');
    expect(v[50256].length).toBe(0);
  });

  it('English-only: also <|endoftext|> itself (50257 tokens)', () => {
    const v = whisperBaseVocab(en, 50256, 51864, 'v');
    expect(v.length).toBe(50257);
    expect(Buffer.from(v[50256]).toString()).toBe('<|endoftext|>');
  });

  it('raw bytes by default, U+FFFD for invalid UTF-8 with replaceInvalidUtf8', () => {
    const tok = (id: number): string | undefined => (id === 5 ? bytesToByteLevel(Uint8Array.of(0xe4, 0xbd)) : ml(id));
    expect(Buffer.from(whisperBaseVocab(tok, 50257, 51865, 'v')[5]).toString('hex')).toBe('e4bd');
    expect(Buffer.from(whisperBaseVocab(tok, 50257, 51865, 'v', true)[5]).toString('hex')).toBe('efbfbd');
  });

  it('errors name the file, the token and what whisper.cpp expects', () => {
    const err = (f: () => unknown): WhisperError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(WhisperError);
        expect((e as WhisperError).code).toBe('INVALID_MODEL');
        return e as WhisperError;
      }
      throw new Error('no error');
    };
    expect(err(() => whisperBaseVocab(ml, undefined, 51865, '"vocab.json"')).message).toBe('"vocab.json": the vocabulary has no <|endoftext|> token');
    expect(err(() => whisperBaseVocab(en, 50256, 51865, 'v')).message).toContain(
      '<|endoftext|> has id 50256, but whisper.cpp expects id 50257 for a multilingual model (n_vocab = 51865)',
    );
    expect(err(() => whisperBaseVocab((id) => (id === 99 ? undefined : ml(id)), 50257, 51865, 'v')).message).toBe(
      'v: the vocabulary has no token with id 99 (expected ids 0..50256)',
    );
  });
});

describe('float conversions', () => {
  const f16Value = f16BitsToNumber;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);

  it('binary16 -> float32 is exact for all 65536 patterns (NaN payloads kept)', () => {
    const src = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) src[h] = h;
    const dst = new Uint32Array(65536);
    f16ToF32Bits(src, dst, 65536);
    for (let h = 0; h < 65536; h++) {
      expect(dst[h]).toBe(float16BitsToFloat32Bits(h));
      u32[0] = dst[h];
      const want = f16Value(h);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(f32[0])).toBe(true);
        expect((dst[h] >>> 13) & 0x3ff).toBe(h & 0x3ff);
      } else if (!Object.is(f32[0], want)) {
        throw new Error(`f16 ${h.toString(16)}: got ${f32[0]}, want ${want}`);
      }
      // and back: float32ToFloat16Bits is its exact inverse on binary16 values
      if (!Number.isNaN(want)) expect(float32ToFloat16Bits(f32[0])).toBe(h);
    }
  });

  it('bfloat16 -> float32 is the top half', () => {
    const src = Uint16Array.of(0x3f80, 0xbf80, 0x0001, 0x7f80, 0x4049);
    const dst = new Uint32Array(5);
    bf16ToF32Bits(src, dst, 5);
    const vals = Array.from(dst, (b) => {
      u32[0] = b;
      return f32[0];
    });
    expect(vals.slice(0, 2)).toEqual([1, -1]);
    expect(vals[2]).toBe(2 ** -133);
    expect(vals[3]).toBe(Infinity);
    expect(vals[4]).toBeCloseTo(3.140625, 6);
  });

  it('float32 -> binary16 rounds to nearest even, overflows to infinity, underflows through subnormals', () => {
    const src = Float32Array.of(1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 2 ** -25, 1.5 * 2 ** -25, -0, -2.5);
    const dst = new Uint16Array(src.length);
    f32ToF16Bits(src, dst, src.length);
    expect(Array.from(dst, (h) => h.toString(16))).toEqual(['3c00', '3c00', '3c02', '7bff', '7c00', '0', '1', '8000', 'c100']);
  });
});
