export declare const FORMATS: readonly string[];

export interface LoadClip {
  id: string;
  wav: string;
}

export interface LoadOptions {
  /** dist/cli/cli.js by default. */
  cli?: string;
  model: string;
  requests?: number;
  clients?: number;
  concurrency?: number;
  maxQueue?: number;
  threads?: number;
  clips: LoadClip[];
  log?: (line: string) => void;
}

export interface Latencies {
  p50: number | undefined;
  p99: number | undefined;
}

export interface LoadProblem {
  index: number;
  clip: string;
  format: string;
  kind: string;
  ms: number;
  detail?: string;
}

export interface LoadReport {
  requests: number;
  clients: number;
  concurrency: number;
  maxQueue: number;
  threads: number;
  ok: number;
  rejected: number;
  lost: number;
  mixedUp: number;
  wrong: number;
  serverErrors: number;
  otherStatus: number;
  okMs: Latencies;
  rejectedMs: Latencies;
  rejectedWithoutRetryAfter: number;
  serverCounted: { completed: number; rejected: number; failed: number };
  problems: LoadProblem[];
  byFormat: Record<string, number>;
  before: { rss: number; peak: number };
  after: { rss: number; peak: number };
  wallSeconds: number;
  exit: { code: number | null; signal: string | null };
  stderr: string;
}

export declare function runServerLoad(options: LoadOptions): Promise<LoadReport>;
export declare function textOf(format: string, body: string): string;
export declare function markdownTable(report: LoadReport): string;
