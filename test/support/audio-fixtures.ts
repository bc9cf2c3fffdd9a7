/**
 * Real encoded audio (FLAC, MP3, Vorbis, Opus, AAC, mu-law, a video, a 20-minute MP3) made by
 * scripts/make-audio-fixtures.mjs with ffmpeg and sox from the shared clips, and cached on disk under
 * a hash of the recipes and the tool versions. The first call in a test process runs the script
 * (a few seconds on a fresh machine, a few milliseconds once cached); later calls reuse its answer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export const AUDIO_FIXTURES_SCRIPT = path.join(REPO_ROOT, 'scripts', 'make-audio-fixtures.mjs');

/** Every fixture the script knows. A name may still be skipped on a machine (see `has`). */
export const AUDIO_FIXTURE_NAMES = [
  'jfk.flac',
  'jfk-24.wav',
  'jfk-24.flac',
  'jfk-44k-stereo-cbr.mp3',
  'jfk-44k-stereo-vbr.mp3',
  'librivox.mp3',
  'librivox.flac',
  'jfk.ogg',
  'jfk-opus.ogg',
  'jfk-opus.webm',
  'jfk.m4a',
  'jfk-faststart.m4a',
  'jfk-video.mp4',
  'jfk-8k-telephone.wav',
  'jfk-8k.amr',
  'jfk-stereo-right-silent.flac',
  'long.mp3',
] as const;

export type AudioFixtureName = (typeof AUDIO_FIXTURE_NAMES)[number];

export interface AudioFixtureFile {
  /** The shared WAV it was made from, relative to ../shared ('audio/jfk.wav'). */
  source: string;
  about: string;
  /** The exact argv that made it, run in the fixtures folder. */
  recipe: string[];
  bytes: number;
}

export interface AudioFixturesManifest {
  /** The folder's name: a hash of the script's text and the two version lines below. */
  key: string;
  ffmpeg: string;
  sox: string;
  /** The ../shared folder the sources were read from. */
  shared: string;
  files: Partial<Record<AudioFixtureName, AudioFixtureFile>>;
  /** Fixtures this machine's ffmpeg cannot make (an encoder it was built without), and why. */
  skipped: Partial<Record<AudioFixtureName, { source: string; reason: string; recipe: string[] }>>;
}

export interface AudioFixtures {
  dir: string;
  /** The fixture's path; throws, saying why, for one that was skipped or has gone missing. */
  file(name: AudioFixtureName): string;
  /** Whether this machine could make the fixture (AMR-NB needs an ffmpeg built with libopencore-amrnb). */
  has(name: AudioFixtureName): boolean;
  manifest: AudioFixturesManifest;
}

let made: AudioFixtures | undefined;

export function audioFixtures(): AudioFixtures {
  made ??= makeAudioFixtures();
  return made;
}

function makeAudioFixtures(): AudioFixtures {
  let stdout: string;
  try {
    stdout = execFileSync(process.execPath, [AUDIO_FIXTURES_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (err) {
    const { stderr } = err as { stderr?: string | Buffer };
    throw new Error(`scripts/make-audio-fixtures.mjs could not make the audio fixtures.\n${stderr === undefined ? String(err) : stderr.toString()}`);
  }
  const dir = stdout.trimEnd().split('\n').at(-1) ?? '';
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as AudioFixturesManifest;
  const has = (name: AudioFixtureName) => manifest.files[name] !== undefined;
  const file = (name: AudioFixtureName) => {
    const skipped = manifest.skipped[name];
    if (skipped !== undefined) throw new Error(`audio fixture ${name} was not made on this machine: ${skipped.reason}; check has('${name}') first`);
    if (!has(name)) throw new Error(`audio fixture ${name} is not in ${path.join(dir, 'manifest.json')}`);
    const fixture = path.join(dir, name);
    if (!fs.existsSync(fixture)) throw new Error(`audio fixture ${fixture} has gone missing: delete ${dir} and run the tests again to remake it`);
    return fixture;
  };
  return { dir, file, has, manifest };
}
