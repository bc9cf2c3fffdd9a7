#!/usr/bin/env node
// Checks the commit messages made since the house rules started (CONTRIBUTING.md):
// a subject of at most 72 characters and, when there is a body, a blank second line.
//
//   node scripts/check-commits.mjs           every commit after BASE up to HEAD
//   node scripts/check-commits.mjs <rev>     every commit after BASE up to <rev>
//
// Commits up to and including BASE predate the rules and are never checked. In a shallow
// clone (CI's default checkout) BASE may be missing; then every commit the clone has is
// checked, which is all of them after BASE as long as BASE itself is not there.
// Exits 0 when all pass, 1 listing the offenders, 2 when git cannot answer.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The last commit before the rules (README: the static build time as measured). */
const BASE = 'e4f7c9406ea91897bad7e155ead033e7ef94f24d';
const MAX_SUBJECT = 72;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function git(args) {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

function gitSucceeds(args) {
  try {
    git(args);
    return true;
  } catch {
    return false;
  }
}

/** The rev-list range to check, and a note for the reader when the clone is shallow. */
function rangeFor(head) {
  if (gitSucceeds(['cat-file', '-e', `${BASE}^{commit}`])) {
    if (!gitSucceeds(['merge-base', '--is-ancestor', BASE, head])) {
      throw new Error(`${head} does not descend from ${BASE.slice(0, 7)}, the commit the rules start after`);
    }
    return { range: [`${BASE}..${head}`], note: '' };
  }
  if (git(['rev-parse', '--is-shallow-repository']).trim() === 'true') {
    return { range: [head], note: ` (shallow clone without ${BASE.slice(0, 7)}: checked every commit it has)` };
  }
  throw new Error(`${BASE.slice(0, 7)} is not in this repository's history, and the clone is not shallow`);
}

/** Each commit's hash and raw message, oldest first. */
function commitsIn(range) {
  // %B is the message exactly as stored; -z puts a NUL between commits.
  const out = git(['log', '-z', '--reverse', '--format=%H%n%B', ...range, '--']);
  return out
    .split('\0')
    .filter((record) => record.length > 0)
    .map((record) => {
      const newline = record.indexOf('\n');
      return { hash: record.slice(0, newline), message: record.slice(newline + 1) };
    });
}

/** What is wrong with one message; empty when it follows the rules. */
function messageProblems(message) {
  const lines = message.replace(/\n+$/, '').split('\n');
  const subject = lines[0];
  const problems = [];
  if (subject.trim().length === 0) problems.push('empty subject');
  // Code points, not UTF-16 units or bytes: "…" and "→" count as one character each.
  const length = [...subject].length;
  if (length > MAX_SUBJECT) problems.push(`subject is ${length} characters (at most ${MAX_SUBJECT})`);
  if (lines.length > 1 && lines[1].trim().length > 0) problems.push('second line is not blank (a body must follow an empty line)');
  return problems;
}

function main() {
  const head = process.argv[2] ?? 'HEAD';
  let range;
  let commits;
  try {
    if (!gitSucceeds(['rev-parse', '--verify', '--quiet', `${head}^{commit}`])) throw new Error(`${head} is not a commit`);
    range = rangeFor(head);
    commits = commitsIn(range.range);
  } catch (error) {
    const detail = error.stderr ? String(error.stderr).trim() : error.message;
    process.stderr.write(`check-commits: ${detail}\n`);
    return 2;
  }
  const offenders = commits.map((commit) => ({ ...commit, problems: messageProblems(commit.message) })).filter((commit) => commit.problems.length > 0);
  for (const { hash, message, problems } of offenders) {
    process.stderr.write(`${hash.slice(0, 12)} ${message.split('\n')[0]}\n  ${problems.join('\n  ')}\n`);
  }
  const summary = `${commits.length} commit(s) checked${range.note}`;
  if (offenders.length > 0) {
    process.stderr.write(`check-commits: ${offenders.length} of ${summary} break the commit message rules (CONTRIBUTING.md)\n`);
    return 1;
  }
  process.stdout.write(`check-commits: ${summary}, all fine\n`);
  return 0;
}

process.exitCode = main();
