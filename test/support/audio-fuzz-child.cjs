// The child of the audio fuzzer (scripts/fuzz-audio.mjs): decodes each file it is given with the
// built library's loadAudio, once from its path and once from its bytes (a Buffer), and prints one
// JSON line per file on stdout. Plain CommonJS over dist/, so it runs under `node` alone and a
// crash shows its own stack on stderr:
//
//   node test/support/audio-fuzz-child.cjs [--dist DIR] FILE_OR_DIR...   (no files: paths from stdin, one a line)
//
// A line: {file, outcome, code?, samples?, message?, path: {...}, bytes: {...}, maxRssKb}, where path and
// bytes are each {outcome: 'ok', samples, ms} | {outcome: 'typed', code, ms} | {outcome: 'untyped',
// message, ms}. The file's own outcome is the worse of the two ('untyped' over 'typed' over 'ok'),
// with the code or sample count of the path decode where that one decided it. Any failure that is
// not a WhisperError is a bug in the library: 'untyped', with its message.
//
// For the fuzzer's own test only: --crash-on NAME aborts the process, and --hang-on NAME waits
// forever, when it reaches the file whose base name is NAME, so the parent's attribution of
// crashes and hangs can be tested against a crash and a hang that are known to be there.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function parseArguments(argv) {
  const options = { dist: path.join(REPO_ROOT, 'dist'), crashOn: undefined, hangOn: undefined, inputs: [] };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--dist' || argument === '--crash-on' || argument === '--hang-on') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${argument} needs a value`);
      if (argument === '--dist') options.dist = path.resolve(value);
      else if (argument === '--crash-on') options.crashOn = value;
      else options.hangOn = value;
    } else {
      options.inputs.push(argument);
    }
  }
  return options;
}

/** Directories stand for the files in them, in name order, so a run over a folder is repeatable. */
function expandInputs(inputs) {
  const files = [];
  for (const input of inputs) {
    if (fs.statSync(input).isDirectory()) {
      for (const name of fs.readdirSync(input).sort()) {
        const file = path.join(input, name);
        if (fs.statSync(file).isFile()) files.push(file);
      }
    } else {
      files.push(input);
    }
  }
  return files;
}

async function readStdinLines() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split('\n').filter((line) => line.trim() !== '');
}

async function decodeOnce(loadAudio, WhisperError, input) {
  const started = process.hrtime.bigint();
  const ms = () => Number((process.hrtime.bigint() - started) / 1000n) / 1000;
  try {
    const pcm = await loadAudio(input);
    if (!(pcm instanceof Float32Array))
      return { outcome: 'untyped', message: `loadAudio resolved with ${Object.prototype.toString.call(pcm)}, not a Float32Array`, ms: ms() };
    return { outcome: 'ok', samples: pcm.length, ms: ms() };
  } catch (error) {
    if (error instanceof WhisperError && typeof error.code === 'string' && typeof error.message === 'string') return { outcome: 'typed', code: error.code, ms: ms() };
    const message = error instanceof Error ? `${error.name}: ${error.message}` : `a non-Error was thrown: ${String(error)}`;
    return { outcome: 'untyped', message, ms: ms() };
  }
}

const RANK = { ok: 0, typed: 1, untyped: 2 };

function fileLine(file, fromPath, fromBytes) {
  const worse = RANK[fromBytes.outcome] > RANK[fromPath.outcome] ? fromBytes : fromPath;
  const line = { file, outcome: worse.outcome };
  if (worse.code !== undefined) line.code = worse.code;
  if (worse.samples !== undefined) line.samples = worse.samples;
  if (worse.message !== undefined) line.message = worse.message;
  line.path = fromPath;
  line.bytes = fromBytes;
  // The peak resident set so far (never falls): a jump names a file that made a decoder allocate a lot.
  line.maxRssKb = process.resourceUsage().maxRSS;
  return line;
}

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const { loadAudio } = require(path.join(options.dist, 'audio', 'load.js'));
  const { WhisperError } = require(path.join(options.dist, 'errors', 'whisper-error.js'));
  const files = options.inputs.length > 0 ? expandInputs(options.inputs) : await readStdinLines();

  let current;
  // Something thrown where no caller can catch it (an 'error' event nobody listens to, a rejected
  // promise nobody awaits) is the library's bug too: said against the file being decoded, and
  // then the process stops (exit 70), since its state is no longer known.
  const escaped = (kind) => (error) => {
    const message = `${kind}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    print({ file: current ?? '(none)', outcome: 'untyped', message, escaped: true });
    process.stderr.write(`${kind} while decoding ${current}: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(70);
  };
  process.on('uncaughtException', escaped('uncaught exception'));
  process.on('unhandledRejection', escaped('unhandled rejection'));

  for (const file of files) {
    current = file;
    const name = path.basename(file);
    if (name === options.crashOn) process.abort();
    if (name === options.hangOn) await new Promise(() => setInterval(() => {}, 1000));
    const fromPath = await decodeOnce(loadAudio, WhisperError, file);
    const fromBytes = await decodeOnce(loadAudio, WhisperError, fs.readFileSync(file));
    print(fileLine(file, fromPath, fromBytes));
  }
  current = undefined;
}

main().catch((error) => {
  // A failure of the harness itself (no dist/, an unreadable list), not of a decode.
  process.stderr.write(`audio-fuzz-child: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(2);
});
