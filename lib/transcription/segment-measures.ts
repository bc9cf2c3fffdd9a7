/**
 * The decoding measures OpenAI's whisper reports for each segment (verbose_json's `avg_logprob`
 * and `compression_ratio`) and uses for its temperature fallback.
 */
import { deflateSync } from 'node:zlib';
import type { Token } from './transcript';

/**
 * The mean log-probability of a segment's tokens, all of which the decoder sampled: text tokens and timestamp tokens
 * alike, as both references count them (whisper.cpp's `avg_logprobs` averages a window's
 * sequence through its last timestamp token; OpenAI's `avg_logprob` sums every sampled token,
 * timestamps and the end-of-text included, and divides by their count). whisper.cpp leaves the
 * end-of-text token out of a segment's tokens, so it does not count here. `-Infinity` when
 * there are no tokens, as whisper.cpp's value for an empty sequence.
 */
export function averageLogProbability(segment: { tokens: readonly Pick<Token, 'logProbability'>[] }): number {
  const { tokens } = segment;
  if (tokens.length === 0) return -Infinity;
  let sum = 0;
  for (const token of tokens) sum += token.logProbability;
  return sum / tokens.length;
}

/**
 * OpenAI's `compression_ratio`: the text's UTF-8 bytes over their zlib-compressed bytes at the
 * default level (Python's `zlib.compress`). High values (above 2.4 by default) mean repetitive
 * text, the sign of a decoding loop. Node's bundled zlib (Chromium's) uses the same format and
 * level but finds slightly different matches than the system zlib CPython links, so the
 * compressed length can differ by a few bytes (within about 1 % on real text); CPython's own
 * value varies in the same way between zlib builds. The empty text compresses to 8 bytes,
 * giving 0.
 */
export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length / deflateSync(bytes).length;
}
