// The real-speech clips in ../shared/audio with their reference transcripts, for WER checks and
// benchmarks: JFK's inaugural sentence, five LibriVox sentences and five spoken playing-card names.
// Uses the built library (dist/).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSphinxTranscription } from '../dist/tools/wer.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DIR = process.env.WHISPER_NAPI_SHARED || path.resolve(root, '..', 'shared');

/** The sentence spoken in jfk.wav (whisper.cpp's sample). */
export const JFK_REFERENCE = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

function parseTranscription(file) {
  return [...parseSphinxTranscription(fs.readFileSync(file, 'utf8'))].map(([id, reference]) => ({ id, reference }));
}

/** @returns {import('./corpus.d.mts').CorpusClip[]} */
export function sharedCorpus(sharedDir = SHARED_DIR) {
  const audio = path.join(sharedDir, 'audio');
  const clips = [{ set: 'jfk', id: 'jfk', wav: path.join(audio, 'jfk.wav'), reference: JFK_REFERENCE }];
  for (const { id, reference } of parseTranscription(path.join(audio, 'librivox', 'transcription'))) {
    clips.push({ set: 'librivox', id, wav: path.join(audio, 'librivox', `${id}.wav`), reference });
  }
  for (const { id, reference } of parseTranscription(path.join(audio, 'cards', 'cards.transcription'))) {
    clips.push({ set: 'cards', id, wav: path.join(audio, 'cards', `${id}.wav`), reference });
  }
  for (const c of clips) if (!fs.existsSync(c.wav)) throw new Error(`missing clip ${c.wav}`);
  return clips;
}
