// What the fixture scripts (make-audio-fixtures.mjs, make-timed-speech.mjs) share: a cache folder
// keyed by the recipe and the tools that ran it, and the tools' versions.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A cache key from its parts, each length-prefixed so that moving text from one part to the next changes it. */
export function fixtureKey(parts) {
  const hash = crypto.createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.from(part);
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Where one kind of fixture of one key lives: $WHISPER_NAPI_CACHE or ~/.cache/whisper-napi, then <kind>/<key>. */
export function fixtureDir(kind, key, env = process.env) {
  return path.join(env.WHISPER_NAPI_CACHE || path.join(os.homedir(), '.cache', 'whisper-napi'), kind, key);
}

/**
 * The first line a tool prints for its version. `fail(message)` is called (and must not return)
 * when the tool is missing or fails; `installHint` says what to install.
 */
export function toolVersionLine(tool, args, { fail, installHint }) {
  const result = spawnSync(tool, args, { encoding: 'utf8' });
  if (result.error) {
    const why = result.error.code === 'ENOENT' ? 'is not installed (not found on PATH)' : `could not be run (${result.error.message})`;
    fail(`${tool} ${why}; ${installHint}`);
  }
  const line = `${result.stdout}\n${result.stderr}`.split('\n').find((text) => text.trim() !== '');
  if (result.status !== 0 || line === undefined) fail(`\`${tool} ${args.join(' ')}\` failed (exit ${result.status}): ${result.stderr.trim()}`);
  return line.trim();
}

/** Runs a tool in `cwd`, its output discarded; a failure throws with the tool's stderr. */
export function runTool(argv, cwd) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.error) throw new Error(`${argv[0]} could not be run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (exit ${result.status ?? result.signal}):\n${result.stderr.trim()}`);
}

/**
 * Makes the fixture folder `dir` whole or not at all: `build(scratch)` writes the files into a
 * private scratch folder beside it and returns the manifest, which is written last; the folder
 * is then renamed into place. Returns the manifest.
 */
export function makeFixtureDir(dir, key, build) {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(parent, `.${key}-`));
  try {
    const manifest = build(scratch);
    fs.writeFileSync(path.join(scratch, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    // mkdtemp makes the folder private; the cache is as readable as the rest of ~/.cache/whisper-napi.
    fs.chmodSync(scratch, 0o755);
    try {
      fs.renameSync(scratch, dir);
    } catch (err) {
      // Another process renamed its complete folder into place first: use that one.
      if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw err;
    }
    return manifest;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The fixture folder of `key`, made by `make(dir)` unless it is there already; prints its path. */
export function ensureFixtureDir(dir, make, { log, fail }) {
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
    log(`making ${dir}`);
    try {
      make(dir);
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
  }
  process.stdout.write(`${dir}\n`);
}
