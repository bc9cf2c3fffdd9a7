/**
 * What the queue tests share: ten short clips of real speech with ten different transcripts,
 * job options that keep each job near a second on one thread, `whisper-napi worker` processes
 * (dist/cli/cli.js, so `npm run build` first) and a wait for jobs that polls Redis, so that it
 * rides over a Redis restart.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Job, Queue } from 'bullmq';
import type { QueueTranscribeOptions, TranscriptionJobData, TranscriptionResult } from '../../lib/queue/job-data';
import { loadModel } from '../../lib/model/whisper-model';
import { normalizeWords, wordEdits } from '../../lib/tools/wer';
import { REPO_ROOT, SHARED } from './paths';

export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'cli.js');

/**
 * A 5.12 s encoder window (every clip is shorter) instead of 30 s, a multiple of 256 frames so
 * that results do not depend on the state's earlier jobs (with flash attention other contexts
 * read the cross-cache padding: ARCHITECTURE.md); no temperature fallback, whose retries make a
 * clip cut mid-word take many times longer. One thread is the workers' own setting
 * (`--threads 1`, transcribeDefaults), since jobs cannot set it.
 */
export const FAST_JOB_OPTIONS = { audioContext: 256, temperatureIncrement: 0 } as const satisfies QueueTranscribeOptions;

/** Ten clips of 1 to 3.5 s with ten clearly different texts: three playing cards read out, six book and speech cuts. */
export function makeClips(dir: string): string[] {
  const cards = ['001', '002', '005'].map((name) => {
    const target = path.join(dir, `card-${name}.wav`);
    fs.copyFileSync(path.join(SHARED, 'audio', 'cards', `${name}.wav`), target);
    return target;
  });
  const cut = (source: string, name: string, from: number, seconds?: number) => {
    const target = path.join(dir, `${name}.wav`);
    execFileSync('sox', [source, target, 'trim', String(from), ...(seconds === undefined ? [] : [String(seconds)])]);
    return target;
  };
  const book = (id: string) => path.join(SHARED, 'audio', 'librivox', `sense_and_sensibility_01_austen_64kb-${id}.wav`);
  const jfk = path.join(SHARED, 'audio', 'jfk.wav');
  return [
    ...cards,
    cut(book('0880'), 'book-0880', 0),
    cut(book('0930'), 'book-0930', 0),
    cut(book('0870'), 'book-0870', 0, 3.3),
    cut(book('0890'), 'book-0890', 0, 3.3),
    cut(book('0920'), 'book-0920', 0, 3.3),
    cut(jfk, 'jfk-start', 0, 3.3),
    cut(jfk, 'jfk-middle', 3.8, 3.4),
  ];
}

/** Each clip's transcript with the jobs' own options, made in this process: what every job of that clip must return. */
export async function referenceTranscripts(model: string, clips: readonly string[]): Promise<Map<string, string>> {
  const expected = new Map<string, string>();
  const reference = await loadModel(model, { gpu: false });
  try {
    for (const clip of clips) expected.set(clip, (await reference.transcribe(clip, { ...FAST_JOB_OPTIONS, threads: 1 })).text);
  } finally {
    await reference.dispose();
  }
  return expected;
}

/**
 * True when `text` is nearer (fewest word edits) to `references[own]` than to every other
 * reference. With these options a clip's transcript was seen to vary in a word between
 * whisper states that ran different clips before ("Cloves" / "gloves."), so the tests ask that
 * each job's text be recognisably its own clip's, not byte-identical.
 */
export function isNearestTo(text: string, own: string, references: readonly string[]): boolean {
  const edits = (reference: string) => wordEdits(normalizeWords(reference), normalizeWords(text));
  const distance = (reference: string) => {
    const e = edits(reference);
    return e.substitutions + e.insertions + e.deletions;
  };
  const mine = distance(own);
  return references.every((reference) => reference === own || distance(reference) > mine);
}

export interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout lines so far. */
  readonly lines: string[];
  stderr(): string;
  /** Ids of the jobs it printed `completed <id>` for. */
  completedIds(): string[];
  /** Resolves once a stdout line matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (finishes the running jobs), then waits for the exit. */
  stop(): Promise<number | null>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
}

/** A `whisper-napi worker` with one thread that may read files under `audioRoots` (none by default). */
export function startWorkerProcess(options: {
  redisUrl: string;
  queue: string;
  name: string;
  model: string;
  audioRoots?: readonly string[];
  args?: readonly string[];
}): WorkerProcess {
  const args = [
    CLI,
    'worker',
    '--redis',
    options.redisUrl,
    '--queue',
    options.queue,
    '--model',
    options.model,
    '--name',
    options.name,
    '--threads',
    '1',
    '--cpu',
    ...(options.audioRoots ?? []).flatMap((root) => ['--audio-root', root]),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name: options.name,
    child,
    lines,
    stderr: () => stderr,
    completedIds: () => lines.filter((line) => line.startsWith('completed ')).map((line) => line.slice('completed '.length)),
    waitForLine(pattern, timeoutMs = 120_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker ${options.name}: no line matching ${pattern} in ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
        void exited.then((code) => reject(new Error(`worker ${options.name} exited (${code}) before a line matched ${pattern}; stderr:\n${stderr}`)));
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export type TranscriptionJob = Job<TranscriptionJobData, TranscriptionResult>;

/**
 * The jobs once every one has finished (completed or failed for good), read by polling Redis:
 * a command that fails while Redis is down is simply tried again on the next round.
 */
export async function waitForJobs(queue: Queue<TranscriptionJobData, TranscriptionResult>, ids: readonly string[], timeoutMs: number): Promise<TranscriptionJob[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id))).catch(() => undefined);
    if (jobs?.every((job) => job !== undefined && job.finishedOn !== undefined && (job.returnvalue !== null || job.failedReason !== undefined))) {
      return jobs as TranscriptionJob[];
    }
    if (Date.now() > deadline) {
      const states = jobs === undefined ? 'Redis unreachable' : await queue.getJobCounts().then((counts) => JSON.stringify(counts));
      throw new Error(`jobs not finished within ${timeoutMs} ms (${states})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The transcript text of a completed json job. */
export function resultText(job: TranscriptionJob): string {
  return (JSON.parse(job.returnvalue.output) as { text: string }).text;
}
