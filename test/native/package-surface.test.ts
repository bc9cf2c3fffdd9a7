/**
 * The package boundary as a user meets it, on the built package (`npm run build` first): the
 * packed tarball passes publint --strict and Are the Types Wrong, the public types hold for an
 * ES module and a CommonJS consumer, the API reports in api/ match the declarations, and a
 * process that imports both forms has one library (one WhisperError class, one loaded binary).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-surface-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function tool(name: string): string {
  return path.join(REPO_ROOT, 'node_modules', '.bin', name);
}

/** Runs a command to completion; the output goes into the assertion message when it fails. */
function run(command: string, args: string[], options: { cwd?: string } = {}): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: options.cwd ?? REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}${result.error ? `\n${result.error.message}` : ''}` };
}

describe('the package boundary', () => {
  let tarball: string;

  beforeAll(() => {
    for (const file of ['dist/index.js', 'dist/esm/index.mjs', 'dist/tools/index.d.ts', 'dist/esm/tools.d.mts', 'dist/esm/server.d.mts', 'dist/esm/queue.d.mts']) {
      if (!fs.existsSync(path.join(REPO_ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first`);
    }
    // The tarball of what is built now; --ignore-scripts so that packing does not rebuild dist/.
    const output = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tarball = path.join(scratch, (JSON.parse(output.slice(output.indexOf('['))) as Array<{ filename: string }>)[0].filename);
  });

  it('passes publint --strict', () => {
    const lint = run(tool('publint'), ['run', '--strict', tarball]);
    expect(lint.status, lint.output).toBe(0);
    // publint exits 0 on suggestions; the package should have none either.
    expect(lint.output).not.toMatch(/Suggestions:|Warnings:|Errors:/);
  });

  it('passes Are the Types Wrong for every entry under node10, node16 (CJS and ESM) and bundler resolution', () => {
    const attw = run(tool('attw'), ['--format', 'json', tarball]);
    expect(attw.status, attw.output).toBe(0);
    const report = JSON.parse(attw.output.slice(attw.output.indexOf('{'))) as {
      analysis: { entrypoints: Record<string, unknown>; problems: unknown[] };
      problems: Record<string, unknown>;
    };
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(['.', './package.json', './queue', './server', './tools']);
    expect(report.analysis.problems).toEqual([]);
    expect(report.problems).toEqual({});
  });

  it('has the public types an ES module and a CommonJS consumer expect (test/types)', () => {
    const typecheck = run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'test/types/tsconfig.json']);
    expect(typecheck.status, typecheck.output).toBe(0);
  });

  it('matches the API reports in api/', () => {
    const check = run(process.execPath, [path.join(REPO_ROOT, 'scripts', 'api-report.mjs'), '--check']);
    expect(check.status, check.output).toBe(0);
  });

  it('is one library when a process imports both forms: one WhisperError class, one loaded binary', () => {
    // An application with the package installed (linked), importing it by name through the exports map.
    const app = path.join(scratch, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    fs.symlinkSync(REPO_ROOT, path.join(app, 'node_modules', 'whisper-napi'), 'dir');
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    fs.writeFileSync(
      path.join(app, 'both-forms.mjs'),
      `
import { createRequire } from 'node:module';
import * as esm from 'whisper-napi';
import * as esmTools from 'whisper-napi/tools';
const require = createRequire(import.meta.url);
const cjs = require('whisper-napi');
const cjsTools = require('whisper-napi/tools');
const names = (module) => Object.keys(module).filter((name) => name !== '__esModule' && name !== 'default').sort();
const notExported = async (load) => { try { await load(); return 'loaded'; } catch (error) { return error.code; } };
const refused = await esm.loadBackend({ gpu: 'gpu' }).catch((error) => error);
const info = await esm.loadBackend({ gpu: 'cpu' });
const switched = await cjs.loadBackend({ gpu: 'cuda' }).catch((error) => error);
process.stdout.write(JSON.stringify({
  sameNames: JSON.stringify(names(esm)) === JSON.stringify(names(cjs)) && JSON.stringify(names(esmTools)) === JSON.stringify(names(cjsTools)),
  sameValues: names(cjs).every((name) => esm[name] === cjs[name]) && names(cjsTools).every((name) => esmTools[name] === cjsTools[name]),
  sameErrorClass: esm.WhisperError === cjs.WhisperError,
  esmErrorIsCjsError: refused instanceof cjs.WhisperError && refused.code === 'INVALID_ARGUMENT',
  sameBackend: JSON.stringify(cjs.backendInfo()) === JSON.stringify(info),
  switchRefused: switched instanceof esm.WhisperError ? switched.message : String(switched),
  deepImport: await notExported(() => import('whisper-napi/dist/index.js')),
  deepRequire: await notExported(() => require('whisper-napi/dist/tools/wer.js')),
  manifest: require('whisper-napi/package.json').name,
}));
`,
    );
    const child = spawnSync(process.execPath, [path.join(app, 'both-forms.mjs')], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({
      sameNames: true,
      sameValues: true,
      sameErrorClass: true,
      esmErrorIsCjsError: true,
      sameBackend: true,
      switchRefused: expect.stringMatching(/^gpu: the native backend is already loaded \(gpu: 'cpu', cpu binary\) and can't change to 'cuda' in this process/),
      deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      deepRequire: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      manifest: 'whisper-napi',
    });
  });
});
