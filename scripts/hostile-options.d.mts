export interface HostileCase {
  name: string;
  option: string;
  /** transcribe() options; {$string: {shape, length}} and {$number: 'NaN' | ...} are generated in the child. */
  options: Record<string, unknown>;
}
export interface HostileOutcome {
  option: string;
  name: string;
  kind: 'ok' | 'typed' | 'untyped' | 'died' | 'hung';
  code?: string;
  message?: string;
  text?: string;
  ms?: number;
  stallMs?: number;
  admitted?: number;
  signal?: string | null;
  status?: number | string | null;
  stderr?: string;
}
export declare function runCases(options: {
  dist?: string;
  model: string;
  audio: string;
  loadOptions?: Record<string, unknown>;
  baseOptions?: Record<string, unknown>;
  cases: HostileCase[];
  caseTimeoutMs?: number;
}): Promise<HostileOutcome[]>;
export declare function allCases(vadModel?: string): HostileCase[];
export declare function summarize(outcomes: HostileOutcome[]): Array<Record<string, number | string>>;
