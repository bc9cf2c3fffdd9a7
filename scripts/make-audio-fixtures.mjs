#!/usr/bin/env node
// Real encoded audio for the decoder tests (FLAC, MP3, Ogg Vorbis, Opus, AAC, mu-law, a video
// container, a 20-minute MP3), made with ffmpeg and sox from the shared 16 kHz speech clips.
//
// The files are cached outside the clone (~/.cache/whisper-napi/audio-fixtures/<key>/, or
// $WHISPER_NAPI_CACHE/audio-fixtures/<key>/). The key hashes this script's own text and the
// ffmpeg and sox versions, so a changed recipe or tool makes a new folder instead of mixing old
// files with new ones. A folder is written under a temporary name and renamed into place whole:
// test processes racing to make it either find it complete or not at all.
//
//   node scripts/make-audio-fixtures.mjs     make the files (as needed); the folder is the last line
//                                            of stdout, and its manifest.json lists each file with
//                                            the exact argv that made it (run in that folder) and
//                                            the shared WAV it came from
//
// Needs ffmpeg (with libmp3lame, libvorbis, libopus) and sox on PATH; .ci/run installs both.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtureDir, fixtureDir, fixtureKey, makeFixtureDir, runTool, toolVersionLine } from './fixture-cache.mjs';

const scriptPath = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(scriptPath), '..');
/** ../shared beside the clone, as test/support/paths.ts has it (a script cannot import TypeScript). */
const SHARED = path.resolve(root, '..', 'shared');
const JFK = { source: 'audio/jfk.wav', path: path.join(SHARED, 'audio', 'jfk.wav') };
const LIBRIVOX = {
  source: 'audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav',
  path: path.join(SHARED, 'audio', 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav'),
};

// -map_metadata -1 drops the source's "encoder" tag, so a file carries only what its recipe says.
const FFMPEG = ['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y'];
// -D: no dither, so sox's output is a function of its input alone.
const SOX = ['sox', '-D'];
const NO_TAGS = ['-map_metadata', '-1'];

/**
 * Every fixture, in the order they are made (jfk-24.flac reads jfk-24.wav). `encoder` names an
 * ffmpeg encoder that not every build has: without it the file is skipped and the manifest says so.
 */
const RECIPES = [
  {
    name: 'jfk.flac',
    from: JFK,
    about: '16-bit FLAC of jfk.wav: decodes to exactly its samples',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-c:a', 'flac', '-sample_fmt', 's16', 'jfk.flac'],
  },
  {
    name: 'jfk-24.wav',
    from: JFK,
    about: 'jfk.wav at 0.8 volume as 24-bit PCM, so the low byte carries signal too',
    argv: [...SOX, JFK.path, '-b', '24', 'jfk-24.wav', 'vol', '0.8'],
  },
  {
    name: 'jfk-24.flac',
    from: JFK,
    about: '24-bit FLAC of jfk-24.wav: decodes to exactly its samples',
    argv: [...FFMPEG, '-i', 'jfk-24.wav', ...NO_TAGS, '-c:a', 'flac', 'jfk-24.flac'],
  },
  {
    name: 'jfk-44k-stereo-cbr.mp3',
    from: JFK,
    about: '44.1 kHz stereo MP3, 128 kbit/s constant bit rate',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', 'jfk-44k-stereo-cbr.mp3'],
  },
  {
    name: 'jfk-44k-stereo-vbr.mp3',
    from: JFK,
    about: '44.1 kHz stereo MP3, LAME variable bit rate (quality 4, Xing header)',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-q:a', '4', 'jfk-44k-stereo-vbr.mp3'],
  },
  {
    name: 'librivox.mp3',
    from: LIBRIVOX,
    about: 'a LibriVox sentence as a 44.1 kHz stereo MP3, 128 kbit/s',
    argv: [...FFMPEG, '-i', LIBRIVOX.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', 'librivox.mp3'],
  },
  {
    name: 'librivox.flac',
    from: LIBRIVOX,
    about: 'the same LibriVox sentence as 16 kHz mono 16-bit FLAC: decodes to exactly its samples',
    argv: [...FFMPEG, '-i', LIBRIVOX.path, ...NO_TAGS, '-c:a', 'flac', '-sample_fmt', 's16', 'librivox.flac'],
  },
  {
    name: 'jfk.ogg',
    from: JFK,
    about: 'Ogg Vorbis, 44.1 kHz stereo (quality 4)',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'libvorbis', '-q:a', '4', 'jfk.ogg'],
  },
  {
    name: 'jfk-opus.ogg',
    from: JFK,
    about: 'Opus in Ogg, 48 kHz mono, 32 kbit/s (an .ogg that is not Vorbis)',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', 'jfk-opus.ogg'],
  },
  {
    name: 'jfk-opus.webm',
    from: JFK,
    about: 'Opus in WebM, 48 kHz mono, 32 kbit/s',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', 'jfk-opus.webm'],
  },
  {
    name: 'jfk.m4a',
    from: JFK,
    about: 'AAC in MP4, 44.1 kHz stereo, moov atom at the end (needs seeking: not readable from a pipe)',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'aac', '-b:a', '128k', 'jfk.m4a'],
  },
  {
    name: 'jfk-faststart.m4a',
    from: JFK,
    about: 'as jfk.m4a with the moov atom first (+faststart), readable front to back',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '44100', '-ac', '2', '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', 'jfk-faststart.m4a'],
  },
  {
    name: 'jfk-video.mp4',
    from: JFK,
    about: 'a 160x120 4 fps test-pattern video (stream 0) with jfk.wav as 48 kHz stereo AAC (stream 1)',
    argv: [
      ...FFMPEG,
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=4',
      '-i',
      JFK.path,
      ...NO_TAGS,
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-shortest',
      '-c:v',
      'mpeg4',
      '-q:v',
      '10',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      '-ar',
      '48000',
      '-ac',
      '2',
      'jfk-video.mp4',
    ],
  },
  {
    name: 'jfk-8k-telephone.wav',
    from: JFK,
    about: '8 kHz mono G.711 mu-law WAV, telephone audio',
    argv: [...SOX, JFK.path, '-r', '8000', '-e', 'mu-law', '-b', '8', 'jfk-8k-telephone.wav'],
  },
  {
    name: 'jfk-8k.amr',
    from: JFK,
    about: 'AMR-NB at 12.2 kbit/s, 8 kHz mono',
    encoder: 'libopencore_amrnb',
    argv: [...FFMPEG, '-i', JFK.path, ...NO_TAGS, '-ar', '8000', '-ac', '1', '-c:a', 'libopencore_amrnb', '-b:a', '12.2k', 'jfk-8k.amr'],
  },
  {
    name: 'jfk-stereo-right-silent.flac',
    from: JFK,
    about: '16 kHz stereo 16-bit FLAC: left is jfk.wav sample for sample, right is digital silence',
    argv: [...SOX, JFK.path, 'jfk-stereo-right-silent.flac', 'remix', '1', '0'],
  },
  {
    name: 'long.mp3',
    from: JFK,
    about: 'jfk.wav played 110 times (1210 s, over 20 minutes) as a 16 kHz mono MP3, 64 kbit/s',
    argv: [...FFMPEG, '-stream_loop', '109', '-i', JFK.path, ...NO_TAGS, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '64k', 'long.mp3'],
  },
];

/** ffmpeg encoders every recipe without an `encoder` of its own needs. */
const REQUIRED_ENCODERS = ['flac', 'libmp3lame', 'libvorbis', 'libopus', 'aac', 'mpeg4'];

const log = (msg) => process.stderr.write(`[audio-fixtures] ${msg}\n`);

function fail(msg) {
  process.stderr.write(`audio-fixtures: ${msg}\n`);
  process.exit(1);
}

/**
 * The cache folder's name: a hash of the recipes (this script's text) and the tools that ran them.
 * @param {{ script: string | Buffer; ffmpeg: string; sox: string }} inputs
 */
export function fixturesKey({ script, ffmpeg, sox }) {
  return fixtureKey([script, ffmpeg, sox]);
}

/** Where the fixtures of one key live: $WHISPER_NAPI_CACHE or ~/.cache/whisper-napi, then audio-fixtures/<key>. */
export function fixturesDir(key, env = process.env) {
  return fixtureDir('audio-fixtures', key, env);
}

/** The first line a tool prints for its version, or a failure naming the package to install. */
function toolVersion(tool, args) {
  return toolVersionLine(tool, args, {
    fail,
    installHint: 'the audio fixtures are made with ffmpeg and sox: install them (apt-get install ffmpeg sox), as .ci/run does',
  });
}

function ffmpegEncoders() {
  const result = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
  if (result.status !== 0) fail(`\`ffmpeg -encoders\` failed (exit ${result.status}): ${result.stderr.trim()}`);
  // Lines such as " A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)".
  return new Set([...result.stdout.matchAll(/^ [VAS][A-Z.]{5} (\S+)/gm)].map((match) => match[1]));
}

function make(dir, key, versions) {
  const encoders = ffmpegEncoders();
  const absent = REQUIRED_ENCODERS.filter((encoder) => !encoders.has(encoder));
  if (absent.length > 0) fail(`this ffmpeg (${versions.ffmpeg}) has no ${absent.join(', ')} encoder; install a full build (Debian/Ubuntu: apt-get install ffmpeg)`);
  for (const { path: source } of [JFK, LIBRIVOX]) {
    if (!fs.existsSync(source)) fail(`the shared clip ${source} is missing (the fixtures are made from ../shared/audio beside the clone)`);
  }

  const started = Date.now();
  const manifest = makeFixtureDir(dir, key, (scratch) => {
    const made = { key, ffmpeg: versions.ffmpeg, sox: versions.sox, shared: SHARED, files: {}, skipped: {} };
    for (const recipe of RECIPES) {
      if (recipe.encoder !== undefined && !encoders.has(recipe.encoder)) {
        made.skipped[recipe.name] = { source: recipe.from.source, reason: `this ffmpeg has no ${recipe.encoder} encoder`, recipe: recipe.argv };
        log(`skipped ${recipe.name}: this ffmpeg has no ${recipe.encoder} encoder`);
        continue;
      }
      runTool(recipe.argv, scratch);
      const bytes = fs.statSync(path.join(scratch, recipe.name)).size;
      made.files[recipe.name] = { source: recipe.from.source, about: recipe.about, recipe: recipe.argv, bytes };
    }
    return made;
  });
  log(`made ${Object.keys(manifest.files).length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function main() {
  const versions = { ffmpeg: toolVersion('ffmpeg', ['-version']), sox: toolVersion('sox', ['--version']) };
  const key = fixturesKey({ script: fs.readFileSync(scriptPath), ...versions });
  const dir = fixturesDir(key);
  ensureFixtureDir(dir, (target) => make(target, key, versions), { log, fail });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === scriptPath) main();
