/**
 * English sentences with known timings, made by scripts/make-timed-speech.mjs (espeak-ng and sox) and
 * cached on disk under a hash of the recipe and the tool versions. The first call in a test process
 * runs the script (about a second on a fresh machine, milliseconds once cached).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export const TIMED_SPEECH_SCRIPT = path.join(REPO_ROOT, 'scripts', 'make-timed-speech.mjs');

export interface TimedSentence {
  text: string;
  /** The sentence's first word as written, without punctuation. */
  firstWord: string;
  /** Where the sentence's first and one past its last audible sample lie in the file. */
  startSample: number;
  endSample: number;
  startMs: number;
  endMs: number;
  /** The silence joined in before it. */
  silenceBeforeMs: number;
  /** What espeak-ng wrote before the speech, trimmed off. */
  espeakLeadingSilenceMs: number;
}

export interface TimedSpeech {
  /** The 16 kHz mono 16-bit WAV. */
  wav: string;
  dir: string;
  sampleRate: number;
  samples: number;
  durationMs: number;
  sentences: TimedSentence[];
  /** A Mandarin clip by the same voice settings (no timings): whisper splits Chinese characters over tokens. */
  mandarin: { wav: string; text: string };
  /** The versions of the tools that made it. */
  espeak: string;
  sox: string;
}

let made: TimedSpeech | undefined;

export function timedSpeech(): TimedSpeech {
  made ??= makeTimedSpeech();
  return made;
}

function makeTimedSpeech(): TimedSpeech {
  let stdout: string;
  try {
    stdout = execFileSync(process.execPath, [TIMED_SPEECH_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (err) {
    const { stderr } = err as { stderr?: string | Buffer };
    throw new Error(`scripts/make-timed-speech.mjs could not make the timed speech.\n${stderr === undefined ? String(err) : stderr.toString()}`);
  }
  const dir = stdout.trimEnd().split('\n').at(-1) ?? '';
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Omit<TimedSpeech, 'wav' | 'dir' | 'mandarin'> & {
    file: string;
    mandarin: { file: string; text: string };
  };
  const wav = path.join(dir, manifest.file);
  const mandarin = { wav: path.join(dir, manifest.mandarin.file), text: manifest.mandarin.text };
  if (!fs.existsSync(wav) || !fs.existsSync(mandarin.wav)) throw new Error(`timed speech in ${dir} has gone missing: delete ${dir} and run the tests again to remake it`);
  return {
    wav,
    dir,
    sampleRate: manifest.sampleRate,
    samples: manifest.samples,
    durationMs: manifest.durationMs,
    sentences: manifest.sentences,
    mandarin,
    espeak: manifest.espeak,
    sox: manifest.sox,
  };
}
