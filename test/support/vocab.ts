import { readVocabTokens } from '../../lib/model-files/vocabulary';

/** The raw bytes of every vocabulary token stored in a ggml model file, by id. */
export async function readVocabBytes(modelPath: string): Promise<Buffer[]> {
  return readVocabTokens(modelPath);
}
