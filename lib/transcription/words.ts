/** Words from a segment's tokens, timed by DTW. */

export interface Word {
  /** The word as whisper wrote it, with its leading space and punctuation. */
  text: string;
  startMs: number;
  endMs: number;
  /** The mean probability of the word's tokens. */
  probability: number;
}
