#!/usr/bin/env node
// A long-form English recording for the side-by-side CPU benchmark (scripts/bench-vs-peers.mjs):
// about 6.5 minutes of espeak-ng speech, one sentence at a time with 1.5 s of silence between
// sentences (the pauses a long-file path cuts its windows in, and a VAD skips), joined by sox
// into one 16 kHz mono 16-bit WAV. The text is this script's own; the manifest carries it as the
// reference transcript.
//
// Cached outside the clone (~/.cache/whisper-napi/long-form/<key>/, or $WHISPER_NAPI_CACHE/...),
// keyed by a hash of this script's text and the espeak-ng and sox versions, and made whole or
// not at all (scripts/fixture-cache.mjs), as scripts/make-timed-speech.mjs does.
//
//   node scripts/make-long-form.mjs     make the files (as needed); the folder is the last line
//                                       of stdout, holding long-form.wav and manifest.json
//
// Needs espeak-ng and sox on PATH (apt-get install espeak-ng sox).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtureDir, fixtureDir, fixtureKey, makeFixtureDir, runTool, toolVersionLine } from './fixture-cache.mjs';

const scriptPath = fileURLToPath(import.meta.url);

const SAMPLE_RATE = 16000;
/** espeak-ng writes 22.05 kHz; the pauses are made at that rate too, so that sox joins everything first and resamples once. */
const ESPEAK_RATE = 22050;
const ESPEAK = ['espeak-ng', '-v', 'en-us', '-s', '150', '-a', '100'];
// -D: no dither, so the output is a function of the input alone; -G: no clipping when resampling.
const SOX = ['sox', '-D', '-G'];
const PAUSE_S = 1.5;
/** The benchmark's long-form workload is meant to be past 6 minutes; a shorter result means the text was cut. */
const MIN_DURATION_S = 360;
const SENTENCES = [
  'The harbor was quiet before the fishing boats came back in the evening.',
  'Gulls circled above the pier and waited for the first nets to be opened.',
  'An old man sat on a wooden bench and watched the tide come in.',
  'He had worked on the water for most of his life and knew every rock.',
  'His daughter ran the small cafe at the end of the street by the church.',
  'Every morning she baked bread before the sun came up over the hills.',
  'The smell of warm bread drifted down to the boats tied along the wall.',
  'Visitors often asked her for the recipe, but she only smiled at them.',
  'In the spring the town painted the railings along the sea a bright green.',
  'Children collected shells on the beach and sorted them by color and size.',
  'The school had a garden where each class grew beans and tomatoes.',
  'Their teacher showed them how seeds need water, light and patience.',
  'On rainy days they read stories about sailors and distant islands.',
  'The library was a narrow building with a red door and tall windows.',
  'Its shelves held maps of the coast that were drawn long ago by hand.',
  'A young student came every week to copy the old maps into her notebook.',
  'She wanted to understand how the shape of the shore had changed.',
  'Storms had moved the sand and closed the mouth of the little river.',
  'Where there had once been a channel, there was now a field of reeds.',
  'Birds nested in the reeds and filled the marsh with their calls at dawn.',
  'The council argued for months about whether to dig the channel again.',
  'Some people wanted bigger boats to reach the harbor in any weather.',
  'Others said the marsh protected the town from floods in the winter.',
  'In the end they asked an engineer from the city to study the problem.',
  'She walked along the coast for many days and measured the water.',
  'Her report said the marsh should stay, and the harbor wall should grow.',
  'The builders came in the summer with heavy stones and a tall crane.',
  'People gathered on the hill to watch the wall rise a little each day.',
  'The old man said he had never seen so much work done so carefully.',
  'When the wall was finished, the town held a festival by the water.',
  'There was music in the square and lanterns hung between the houses.',
  'The cafe stayed open late, and the bread ran out before midnight.',
  'Later that year a strong wind blew for three days without stopping.',
  'Waves broke over the new wall, but the boats inside were safe.',
  'After the storm the beach was covered with seaweed and broken wood.',
  'Everyone came down with rakes and baskets to clear the sand again.',
  'The student found a glass bottle with a faded letter inside it.',
  'The letter was written by a sailor who had passed the coast long ago.',
  'He wrote about the lights of the town seen from the deck at night.',
  'The library framed the letter and hung it beside the oldest map.',
  'In the autumn the hills turned brown and the mornings grew cold.',
  'Smoke rose from the chimneys, and the streets smelled of burning wood.',
  'The fishing season ended, and the boats were pulled up onto the shore.',
  'Men painted the hulls and mended the nets in the long sheds.',
  'Women and men sang together while they worked through the short days.',
  'The daughter began to teach a baking class in the back of the cafe.',
  'Her students learned to fold the dough and let it rest in a warm place.',
  'Some loaves came out flat, and the class laughed at the strange shapes.',
  'By the end of the winter every student could bake a good round loaf.',
  'The old man grew tired and spent more time by the window at home.',
  'He liked to watch the light change on the water as the clouds moved.',
  'His daughter brought him tea and told him the news from the harbor.',
  'One evening he asked her to keep his small boat and take care of it.',
  'She promised she would sail it in the summer when the sea was calm.',
  'When spring returned, the marsh was full of birds and young green reeds.',
  'The student finished her notebook and gave a talk in the town hall.',
  'She showed how the river had moved and how the town had answered.',
  'People listened closely and asked many questions about the future.',
  'She told them that the sea would keep changing, as it always had.',
  'The best plan was to watch it closely and to work with it, not against it.',
  'After the talk the council decided to keep a record of the coast.',
  'Each year someone would walk the shore and write down what they saw.',
  'The first walk was done by the student and the engineer together.',
  'They found that the sand had returned to the place where it used to be.',
  'That summer the daughter sailed the small boat out beyond the wall.',
  'The water was calm, and the town looked tiny against the green hills.',
  'She thought of her father and of all the years he spent on the sea.',
  'When she came back, the whole harbor was waiting for her at the pier.',
  'That night the cafe was full, and the lanterns were lit once more.',
  'The town went on as it always had, between the marsh and the open sea.',
];

const log = (msg) => process.stderr.write(`[long-form] ${msg}\n`);

function fail(msg) {
  process.stderr.write(`long-form: ${msg}\n`);
  process.exit(1);
}

function toolVersion(tool, args) {
  const line = toolVersionLine(tool, args, { fail, installHint: 'the long-form speech is made with espeak-ng and sox: install them (apt-get install espeak-ng sox)' });
  // espeak-ng names its data folder after the version: machine-specific, not part of the recipe.
  return line.replace(/\s+Data at:.*$/, '').trim();
}

function durationSeconds(file) {
  const result = spawnSync('soxi', ['-D', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`soxi -D ${file} failed: ${result.stderr.trim()}`);
  return Number(result.stdout.trim());
}

function make(dir, key, versions) {
  const manifest = makeFixtureDir(dir, key, (scratch) => {
    runTool(['sox', '-r', String(ESPEAK_RATE), '-c', '1', '-b', '16', '-n', 'pause.wav', 'trim', '0', `${Math.round(PAUSE_S * ESPEAK_RATE)}s`], scratch);
    const pieces = [];
    SENTENCES.forEach((text, i) => {
      const spoken = `sentence-${String(i).padStart(3, '0')}.wav`;
      runTool([...ESPEAK, '-w', spoken, text], scratch);
      if (i > 0) pieces.push('pause.wav');
      pieces.push(spoken);
    });
    runTool([...SOX, ...pieces, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', 'long-form.wav'], scratch);
    for (const file of fs.readdirSync(scratch)) if (file !== 'long-form.wav') fs.rmSync(path.join(scratch, file));
    const seconds = durationSeconds(path.join(scratch, 'long-form.wav'));
    if (seconds < MIN_DURATION_S) throw new Error(`the speech lasts ${seconds.toFixed(1)} s, less than the ${MIN_DURATION_S} s the benchmark needs: add sentences`);
    return {
      key,
      espeak: versions.espeak,
      sox: versions.sox,
      recipe: { espeak: ESPEAK, pauseSeconds: PAUSE_S },
      file: 'long-form.wav',
      sampleRate: SAMPLE_RATE,
      durationSeconds: seconds,
      sentences: SENTENCES,
      text: SENTENCES.join(' '),
    };
  });
  log(`made ${SENTENCES.length} sentences, ${(manifest.durationSeconds / 60).toFixed(1)} min, in ${dir}`);
}

function main() {
  const versions = { espeak: toolVersion('espeak-ng', ['--version']), sox: toolVersion('sox', ['--version']) };
  const key = fixtureKey([fs.readFileSync(scriptPath), versions.espeak, versions.sox]);
  const dir = fixtureDir('long-form', key);
  ensureFixtureDir(dir, (target) => make(target, key, versions), { log, fail });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === scriptPath) main();
