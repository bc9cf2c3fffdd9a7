/**
 * initialPrompt and suppressRegex values that killed or froze the process: a long prompt
 * overflowed the job thread's stack in whisper.cpp's tokenizer (std::regex recursing once per
 * character of a word) or took minutes in its longest-match loop; a long suppressRegex overflowed
 * the JS thread's stack in the std::regex compile meant to check it, and whisper.cpp's own matching
 * (backtracking, recompiled at every decoding step) froze or overflowed on exponential or deep
 * patterns. binding/params.cpp now tokenizes only a prompt's tail and judges the pattern itself.
 * Through the library in child processes (scripts/hostile-options.mjs over dist/, so a death is
 * counted, not suffered), then the parity that shows the bounds change nothing for normal values.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadModel, type WhisperModel } from '../../lib';
import { wordErrorRate } from '../../lib/tools/wer';
import type { HostileCase, HostileOutcome } from '../../scripts/hostile-options.mjs' with { 'resolution-mode': 'import' };
import { JFK_WAV } from '../support/paths';
import { realModels } from '../support/real-models';
import { readVocabBytes } from '../support/vocab';
import { cliParityOptions, runWhisperCli, toOracleShape } from '../support/whisper-cli';

const THREADS = 2;
const base = realModels().models.base.files.q5_0.path;
const JFK_REFERENCE = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let runCases: (options: {
  model: string;
  audio: string;
  baseOptions: Record<string, unknown>;
  cases: HostileCase[];
  caseTimeoutMs?: number;
}) => Promise<HostileOutcome[]>;
beforeAll(async () => {
  ({ runCases } = await import('../../scripts/hostile-options.mjs'));
});

const generated = (shape: string, length: number) => ({ $string: { shape, length } });
const byName = (outcomes: HostileOutcome[]) => new Map(outcomes.map((o) => [o.name, o]));
const where = (o: HostileOutcome | undefined) => JSON.stringify(o).slice(0, 3000);

describe('hostile values through the library, in a child process', () => {
  it('a 30,000-letter or 65,535-digit prompt gives the jfk.wav transcript, in bounded time, and the process lives', async () => {
    // Spaces, "ab ab" and random text as the prompt's last 223 tokens make base decode nonsense to the
    // end of the window (as whisper-cli does with them): native-hardening.test.ts runs those on the
    // synthetic model, where only survival and time are the question.
    const cases: HostileCase[] = [
      { name: 'no prompt', option: 'initialPrompt', options: {} },
      { name: '30,000 letters', option: 'initialPrompt', options: { initialPrompt: generated('letters', 30_000) } },
      { name: '65,535 digits, carried', option: 'initialPrompt', options: { initialPrompt: generated('digits', 65_535), carryInitialPrompt: true } },
      { name: 'after them', option: 'initialPrompt', options: {} },
    ];
    const baseOptions = { language: 'en', threads: THREADS, audioContext: 'auto', temperatureIncrement: 0 };
    const outcomes = byName(await runCases({ model: base, audio: JFK_WAV, baseOptions, cases, caseTimeoutMs: 120_000 }));
    const plain = outcomes.get('no prompt')!;
    expect(plain.kind, where(plain)).toBe('ok');
    for (const { name } of cases) {
      const outcome = outcomes.get(name)!;
      // Before: SIGSEGV in whisper.cpp's tokenizer.
      expect(outcome.kind, where(outcome)).toBe('ok');
      expect(outcome.ms!, where(outcome)).toBeLessThan(3 * plain.ms! + 5000);
      expect(outcome.stallMs!, where(outcome)).toBeLessThan(1000);
      expect(wordErrorRate(JFK_REFERENCE, outcome.text!).wer, where(outcome)).toBeLessThanOrEqual(0.1);
    }
  });

  it('each hostile suppressRegex is INVALID_ARGUMENT before the job is counted (or at run, when too slow), and the next job is right', async () => {
    const cases: HostileCase[] = [
      // Before: a stack overflow on the JS thread, in the std::regex compile that checked it.
      { name: '200,000 characters', option: 'suppressRegex', options: { suppressRegex: generated('parens', 200_000) } },
      { name: 'nested 5,000 deep', option: 'suppressRegex', options: { suppressRegex: generated('parens', 10_000) } },
      // Nested as deep as the size bound allows: compiled and matched on a large stack, harmless.
      { name: 'nested 120 deep', option: 'suppressRegex', options: { suppressRegex: `${'('.repeat(120)}x${')'.repeat(120)}` } },
      // JS RegExp accepts lookbehind; std::regex does not.
      { name: 'lookbehind', option: 'suppressRegex', options: { suppressRegex: '(?<=a)b' } },
      { name: 'back-reference', option: 'suppressRegex', options: { suppressRegex: '(a)\\1' } },
      // 12 bytes that took libstdc++ 17 s to compile at its default state limit.
      { name: 'too many states', option: 'suppressRegex', options: { suppressRegex: '(?:){49000}' } },
      // Compiles within the bounds; matching it against the vocabulary takes over the budget.
      { name: 'too slow', option: 'suppressRegex', options: { suppressRegex: '(.?){300}' } },
      // Exponential for a backtracking executor; linear for the breadth-first one it runs on now.
      { name: 'exponential', option: 'suppressRegex', options: { suppressRegex: '(a|a)*b|(x+x+)+y' } },
      { name: 'after them', option: 'suppressRegex', options: {} },
    ];
    const outcomes = byName(await runCases({ model: base, audio: JFK_WAV, baseOptions: { language: 'en', threads: THREADS, audioContext: 'auto' }, cases }));
    const refused = (name: string, message: RegExp, admitted: number) => {
      const outcome = outcomes.get(name);
      expect(outcome, where(outcome)).toMatchObject({ kind: 'typed', code: 'INVALID_ARGUMENT', admitted });
      expect(outcome!.message, where(outcome)).toMatch(/^options\.suppressRegex: expected a valid regular expression std::regex \(ECMAScript\) accepts/);
      expect(outcome!.message, where(outcome)).toMatch(message);
      expect(outcome!.stallMs!, where(outcome)).toBeLessThan(200);
    };
    refused('200,000 characters', /\(it has 200000 bytes\), got a string of length 200000$/, 0);
    refused('nested 5,000 deep', /\(it has 10000 bytes\)/, 0);
    refused('lookbehind', /zero-width assertion.*got "\(\?<=a\)b"$/, 0);
    refused('back-reference', /\(too complex: back-references are not supported\)/, 0);
    refused('too many states', /\(too complex: its automaton would have more than 2048 states\)/, 0);
    refused('too slow', /\(too complex: matching it against the model's 51865 tokens took over 2 s\), got "\(\.\?\)\{300\}"$/, 1);
    for (const name of ['nested 120 deep', 'exponential', 'after them']) {
      const outcome = outcomes.get(name)!;
      expect(outcome.kind, where(outcome)).toBe('ok');
      expect(wordErrorRate(JFK_REFERENCE, outcome.text!).wer, where(outcome)).toBe(0);
    }
  });
});

describe('the bounds change nothing for normal values: parity with whisper-cli on real base q5_0', () => {
  const cli = inject('whisperCli');
  let model: WhisperModel;
  let vocab: Buffer[];
  beforeAll(async () => {
    model = await loadModel(base, { gpu: false, flashAttention: true });
    vocab = await readVocabBytes(base);
  });
  afterAll(() => model?.dispose());

  async function expectParity(options: Record<string, unknown>, cliArgs: string[]) {
    const ours = await model.transcribe(JFK_WAV, { ...cliParityOptions(THREADS), ...options });
    const oracle = await runWhisperCli(cli, { model: base, audio: JFK_WAV, threads: THREADS, language: 'en', flashAttention: true, extraArgs: cliArgs });
    const specialText = new Map(ours.segments.flatMap((s) => s.tokens).map((t) => [t.id, t.text]));
    const tokenBytes = (id: number) => vocab[id] ?? Buffer.from(specialText.get(id) ?? '', 'utf8');
    expect(toOracleShape(ours, tokenBytes)).toEqual(oracle.segments);
    return ours;
  }

  it('a 4 kB prompt, of which the addon tokenizes only the tail: the tokens whisper-cli gives with all of it', async () => {
    const sentences = [
      'The quarterly review covered Kubernetes autoscaling,  PostgreSQL replication lag and idempotency.',
      "Participants:\tDr. Anneliese Vandermeulen, Siobhan O'Callaghan and Przemysław Wojciechowski.",
      'We asked not what the platform could do for us -- but what we could do for the platform!\n',
      'Numbers: 1,234.56 and 7 8 9; café, naïve, 東京, Москва.',
    ];
    let prompt = '';
    for (let i = 0; Buffer.byteLength(prompt) < 4096; i++) prompt += `${sentences[i % sentences.length]} `;
    const ours = await expectParity({ initialPrompt: prompt }, ['--prompt', prompt]);
    expect(wordErrorRate(JFK_REFERENCE, ours.text).wer).toBeLessThanOrEqual(0.1);
  });

  it('suppressRegex: the same suppression as whisper.cpp applies itself, timestamp tokens included', async () => {
    const pattern = '.*([Cc]ountry|,).*|\\[_TT_1[0-9][0-9]\\]';
    const ours = await expectParity({ suppressRegex: pattern }, ['--suppress-regex', pattern]);
    // The pattern did change the transcript: no "country", no comma.
    expect(ours.text).not.toMatch(/country|,/);
  });
});
