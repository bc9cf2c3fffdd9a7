#!/usr/bin/env node
// `npm install` hook: use a binary that loads (a prebuild or an earlier build), otherwise
// build from source. WHISPER_NAPI_FORCE_BUILD=1 always builds.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function binaryLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (process.env.WHISPER_NAPI_FORCE_BUILD !== '1' && binaryLoads()) process.exit(0);
const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
