/** ModelGroup's routing and stats over fake members: most free slots first, then fewest running, then round-robin. */
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import type { ModelDevice } from '../../lib/model/devices';
import { groupGpuIndices, ModelGroup, type ModelGroupMember } from '../../lib/model/model-group';
import type { ModelStats } from '../../lib/model/stats';
import type { Segment, Transcript } from '../../lib/transcription/transcript';
import { itRefusesEach, rejectedWhisperError } from '../support/errors';

/** A member that runs up to `concurrency` calls and queues the rest, each held until released, like a model's semaphore. */
class FakeMember implements ModelGroupMember {
  readonly calls: string[] = [];
  readonly #waiting: Array<() => void> = [];
  readonly #held: Array<() => void> = [];
  running = 0;
  completed = 0;
  disposed = false;

  constructor(
    readonly label: string,
    readonly concurrency: number,
    readonly external = { running: 0, queued: 0 },
  ) {}

  async transcribe(audio: unknown): Promise<Transcript> {
    this.calls.push(String(audio));
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.running++;
    await new Promise<void>((resolve) => this.#held.push(resolve));
    this.running--;
    this.completed++;
    this.#waiting.shift()?.();
    return { text: `${this.label}:${String(audio)}` } as unknown as Transcript;
  }

  async *transcribeStream(): AsyncGenerator<Segment> {
    this.calls.push('stream');
    yield { text: this.label } as unknown as Segment;
  }

  /** Lets the oldest running call finish. */
  release(): void {
    this.#held.shift()?.();
  }

  stats(): ModelStats {
    return {
      running: this.running + this.external.running,
      queued: this.#waiting.length + this.external.queued,
      completed: this.completed,
      failed: 0,
      aborted: 0,
      timedOut: 0,
      rejected: 0,
      peakRunning: this.concurrency,
      peakQueued: 0,
      concurrency: this.concurrency,
      maxQueue: Infinity,
      states: this.concurrency,
    };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

const gpu = (name: string): ModelDevice => ({ kind: 'gpu', name, backend: 'CUDA', freeBytes: 1, totalBytes: 1 });

function groupOf(...members: FakeMember[]): ModelGroup {
  return new ModelGroup(
    members,
    members.map((member) => gpu(member.label)),
  );
}

describe('routing', () => {
  it('takes equal members in turn', async () => {
    const [a, b, c] = [new FakeMember('a', 2), new FakeMember('b', 2), new FakeMember('c', 2)];
    const group = groupOf(a, b, c);
    const jobs = ['1', '2', '3', '4', '5', '6'].map((audio) => group.transcribe(audio));
    expect([a.calls, b.calls, c.calls]).toEqual([
      ['1', '4'],
      ['2', '5'],
      ['3', '6'],
    ]);
    for (const member of [a, b, c]) {
      member.release();
      member.release();
    }
    expect((await Promise.all(jobs)).map((t) => t.text)).toEqual(['a:1', 'b:2', 'c:3', 'a:4', 'b:5', 'c:6']);
  });

  it('sends each call to the member with most free slots, counting calls routed this very tick', () => {
    const big = new FakeMember('big', 4);
    const small = new FakeMember('small', 1);
    const group = groupOf(small, big);
    for (let i = 0; i < 6; i++) void group.transcribe(String(i));
    // big has 4 free and small 1: big takes three calls; then each has one free slot and small
    // runs fewer; once both are full the backlog is shared in turn.
    expect(big.calls).toEqual(['0', '1', '2', '4']);
    expect(small.calls).toEqual(['3', '5']);
  });

  it('counts work a member got from elsewhere (its own stats) against it', () => {
    const busy = new FakeMember('busy', 2, { running: 2, queued: 1 });
    const idle = new FakeMember('idle', 2);
    const group = groupOf(busy, idle);
    void group.transcribe('x');
    void group.transcribe('y');
    expect(idle.calls).toEqual(['x', 'y']);
    expect(busy.calls).toEqual([]);
  });

  it('breaks a tie in free slots by fewest running, before taking turns', () => {
    // One free slot each; the first in turn runs a call it got elsewhere, the second runs nothing.
    const first = new FakeMember('first', 2, { running: 1, queued: 0 });
    const second = new FakeMember('second', 1);
    const group = groupOf(first, second);
    void group.transcribe('x');
    expect(second.calls).toEqual(['x']);
    expect(first.calls).toEqual([]);
  });

  it('frees a member again as its calls settle', async () => {
    const a = new FakeMember('a', 1);
    const b = new FakeMember('b', 1);
    const group = groupOf(a, b);
    const first = group.transcribe('1');
    void group.transcribe('2');
    a.release();
    await first;
    void group.transcribe('3');
    expect(a.calls).toEqual(['1', '3']);
    expect(b.calls).toEqual(['2']);
  });

  it('keeps a live stream on one member', async () => {
    const a = new FakeMember('a', 1);
    const b = new FakeMember('b', 1);
    const group = groupOf(a, b);
    const segments: string[] = [];
    for await (const segment of group.transcribeStream([])) segments.push(segment.text);
    expect(segments).toEqual(['a']);
    expect(b.calls).toEqual([]);
  });
});

describe('stats and lifetime', () => {
  it('reports each device and the totals', async () => {
    const a = new FakeMember('a', 2);
    const b = new FakeMember('b', 3);
    const group = groupOf(a, b);
    const job = group.transcribe('1');
    const stats = group.stats();
    expect(stats.devices.map((entry) => [entry.member, entry.device.name, entry.stats.running])).toEqual([
      [0, 'a', 0],
      [1, 'b', 1],
    ]);
    expect(group.stats().total).toMatchObject({ running: 1, concurrency: 5, states: 5, completed: 0 });
    expect(group.concurrency).toBe(5);
    b.release();
    await job;
    expect(group.stats().total.completed).toBe(1);
  });

  it('disposes every member once, then refuses calls with DISPOSED', async () => {
    const a = new FakeMember('a', 1);
    const b = new FakeMember('b', 1);
    const group = groupOf(a, b);
    await Promise.all([group.dispose(), group.dispose()]);
    expect([a.disposed, b.disposed, group.disposed]).toEqual([true, true, true]);
    const error = await rejectedWhisperError(group.transcribe('x'));
    expect(error).toBeInstanceOf(WhisperError);
    expect([error.code, error.message]).toEqual(['DISPOSED', 'the model group has been disposed']);
  });
});

describe('which GPUs a group loads on', () => {
  it("is every GPU for 'all', none (one CPU model) without GPUs or with gpu: false", () => {
    expect(groupGpuIndices('all', true, 3)).toEqual([0, 1, 2]);
    expect(groupGpuIndices(undefined, true, 2)).toEqual([0, 1]);
    expect(groupGpuIndices('all', true, 0)).toEqual([]);
    expect(groupGpuIndices('all', false, 2)).toEqual([]);
    expect(groupGpuIndices([2, 0], true, 3)).toEqual([2, 0]);
  });

  itRefusesEach([
    [
      'an index past the GPUs',
      () => groupGpuIndices([0, 3], true, 2),
      "options.devices[1]: expected 'all' or a non-empty array of distinct GPU indices from 0 to 1, got 3",
    ],
    ['an index twice', () => groupGpuIndices([1, 1], true, 2), "options.devices[1]: expected 'all' or a non-empty array of distinct GPU indices from 0 to 1, got 1"],
    [
      'an empty list',
      () => groupGpuIndices([], true, 2),
      "options.devices: expected 'all' or a non-empty array of distinct GPU indices from 0 to 1, got an array of length 0",
    ],
    ['indices without a GPU', () => groupGpuIndices([0], true, 0), "options.devices[0]: expected 'all' (ggml reports no GPU, so the group is one CPU model), got 0"],
    [
      'indices with gpu: false',
      () => groupGpuIndices([0], false, 2),
      "options.devices: expected 'all' (options.gpu is false, so the group is one CPU model), got an array of length 1",
    ],
    ['a string', () => groupGpuIndices('first', true, 2), 'options.devices: expected \'all\' or a non-empty array of distinct GPU indices from 0 to 1, got "first"'],
  ]);
});
