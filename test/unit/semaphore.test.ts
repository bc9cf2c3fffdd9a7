/** The pool's admission logic without the addon: bound, order, queue limit, abort, timeout, close. */
import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../lib/errors/whisper-error';
import { autoConcurrency } from '../../lib/model/concurrency';
import { Semaphore, type Release } from '../../lib/model/semaphore';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `jobs` through the semaphore with random hold times, counting holders at every step. */
async function instrumentedRun(concurrency: number, jobs: number, seed: number) {
  const semaphore = new Semaphore({ concurrency });
  let holders = 0;
  let maxHolders = 0;
  let rng = seed;
  const random = () => {
    rng = (rng * 1103515245 + 12345) % 2 ** 31;
    return rng / 2 ** 31;
  };
  const done: number[] = [];
  await Promise.all(
    Array.from({ length: jobs }, async (_, i) => {
      const release = await semaphore.acquire({ priority: Math.floor(random() * 3) });
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      const hold = Math.floor(random() * 4);
      for (let t = 0; t < hold; t++) await tick();
      holders--;
      done.push(i);
      release();
    }),
  );
  return { maxHolders, done, stats: semaphore.stats() };
}

describe('Semaphore', () => {
  it('never lets more than N hold a permit, and reaches N under load', async () => {
    for (const n of [1, 2, 3, 7]) {
      const { maxHolders, done, stats } = await instrumentedRun(n, 60, n * 17 + 1);
      expect(maxHolders).toBe(n);
      expect(stats.peakRunning).toBe(n);
      expect(stats.running).toBe(0);
      expect(stats.queued).toBe(0);
      expect(new Set(done).size).toBe(60);
    }
  });

  it('serves waiters FIFO within a priority and higher priorities first', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const first = await semaphore.acquire();
    const order: string[] = [];
    const jobs = [
      ['low-a', 0],
      ['high-a', 5],
      ['low-b', 0],
      ['mid-a', 1],
      ['high-b', 5],
      ['neg', -3],
      ['mid-b', 1],
    ] as const;
    const all = jobs.map(([name, priority]) =>
      semaphore.acquire({ priority }).then((release) => {
        order.push(name);
        release();
      }),
    );
    expect(semaphore.stats().queued).toBe(jobs.length);
    first();
    await Promise.all(all);
    expect(order).toEqual(['high-a', 'high-b', 'mid-a', 'mid-b', 'low-a', 'low-b', 'neg']);
    expect(semaphore.stats().peakQueued).toBe(jobs.length);
  });

  it('a newcomer does not overtake waiters when a permit frees up', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const release = await semaphore.acquire();
    const order: string[] = [];
    const waiting = semaphore.acquire().then((r) => (order.push('waiter'), r()));
    release();
    const late = semaphore.acquire({ priority: 0 }).then((r) => (order.push('late'), r()));
    await Promise.all([waiting, late]);
    expect(order).toEqual(['waiter', 'late']);
  });

  it('rejects with QUEUE_FULL at once when maxQueue waiters already wait, whatever the priority', async () => {
    const semaphore = new Semaphore({ concurrency: 1, maxQueue: 2 });
    const hold = await semaphore.acquire();
    const a = semaphore.acquire();
    const b = semaphore.acquire();
    expect(() => semaphore.acquire({ priority: 100 })).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(semaphore.stats()).toMatchObject({ running: 1, queued: 2 });
    hold();
    (await a)();
    // A slot in the queue is free again.
    const c = semaphore.acquire();
    (await b)();
    (await c)();
    expect(semaphore.stats()).toMatchObject({ running: 0, queued: 0, peakQueued: 2 });
  });

  it('maxQueue 0 means run now or be refused', async () => {
    const semaphore = new Semaphore({ concurrency: 2, maxQueue: 0 });
    const r1 = await semaphore.acquire();
    const r2 = await semaphore.acquire();
    let error: unknown;
    try {
      void semaphore.acquire();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WhisperError);
    expect((error as WhisperError).code).toBe('QUEUE_FULL');
    expect((error as WhisperError).message).toMatch(/maxQueue 0/);
    r1();
    r2();
  });

  it('an abort removes a waiter from the queue; the others keep their order', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const hold = await semaphore.acquire();
    const controller = new AbortController();
    const order: string[] = [];
    const a = semaphore.acquire().then((r) => (order.push('a'), r()));
    const b = semaphore.acquire({ signal: controller.signal }).then((r) => (order.push('b'), r()));
    const c = semaphore.acquire().then((r) => (order.push('c'), r()));
    controller.abort();
    await expect(b).rejects.toMatchObject({ code: 'ABORTED' });
    expect(semaphore.stats().queued).toBe(2);
    hold();
    await Promise.all([a, c]);
    expect(order).toEqual(['a', 'c']);
  });

  it('an abort reason that is a WhisperError becomes the rejection (how a job deadline reports TIMEOUT)', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const hold = await semaphore.acquire();
    const controller = new AbortController();
    const waiting = semaphore.acquire({ signal: controller.signal });
    controller.abort(new WhisperError('TIMEOUT', 'deadline'));
    await expect(waiting).rejects.toMatchObject({ code: 'TIMEOUT', message: 'deadline' });
    hold();
  });

  it('an already aborted signal is refused without queueing', () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    expect(() => semaphore.acquire({ signal: AbortSignal.abort() })).toThrow(expect.objectContaining({ code: 'ABORTED' }));
    expect(semaphore.stats().peakRunning).toBe(0);
  });

  it('timeoutMs rejects a waiter with TIMEOUT and frees its place', async () => {
    const semaphore = new Semaphore({ concurrency: 1, maxQueue: 1 });
    const hold = await semaphore.acquire();
    const started = Date.now();
    const error = (await semaphore.acquire({ timeoutMs: 30 }).catch((e: unknown) => e)) as WhisperError;
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(/30 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(semaphore.stats().queued).toBe(0);
    // The queue slot was given back: another waiter fits.
    const next = semaphore.acquire({ timeoutMs: 10_000 });
    hold();
    (await next)();
  });

  it('a waiter granted before its timeout keeps its permit', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const hold = await semaphore.acquire();
    const waiting = semaphore.acquire({ timeoutMs: 50 });
    hold();
    const release = await waiting;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(semaphore.stats().running).toBe(1);
    release();
    expect(semaphore.stats().running).toBe(0);
  });

  it('release is idempotent: a double release never lets an extra holder in', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const release = await semaphore.acquire();
    const next = semaphore.acquire();
    const after = semaphore.acquire();
    release();
    release();
    const r = await next;
    await tick();
    expect(semaphore.stats()).toMatchObject({ running: 1, queued: 1 });
    r();
    (await after)();
  });

  it('close rejects every waiter and later acquires; held permits still release', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const hold = await semaphore.acquire();
    const waiters = [semaphore.acquire(), semaphore.acquire({ priority: 3 }), semaphore.acquire({ timeoutMs: 60_000 })];
    const disposed = () => new WhisperError('DISPOSED', 'gone');
    semaphore.close(disposed);
    const results = await Promise.allSettled(waiters);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'DISPOSED' });
    }
    expect(() => semaphore.acquire()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    semaphore.close(disposed);
    hold();
    expect(semaphore.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('validates its limits', () => {
    expect(() => new Semaphore({ concurrency: 0 })).toThrow(/concurrency: expected an integer of at least 1, got 0/);
    expect(() => new Semaphore({ concurrency: 1, maxQueue: -1 })).toThrow(/maxQueue/);
    expect(() => new Semaphore({ concurrency: 1.5 })).toThrow(/concurrency/);
  });

  it('keeps many mixed waiters consistent: each acquire settles exactly once', async () => {
    const semaphore = new Semaphore({ concurrency: 3, maxQueue: 50 });
    const outcomes = new Map<number, string>();
    const held: Release[] = [];
    const promises = Array.from({ length: 80 }, (_, i) => {
      const controller = new AbortController();
      const acquire = () => {
        try {
          return semaphore.acquire({ priority: i % 4, signal: controller.signal, timeoutMs: i % 7 === 0 ? 5 : undefined });
        } catch (error) {
          return Promise.reject(error);
        }
      };
      const p = acquire().then(
        (release) => {
          outcomes.set(i, outcomes.has(i) ? 'twice' : 'granted');
          held.push(release);
        },
        (error: WhisperError) => {
          outcomes.set(i, outcomes.has(i) ? 'twice' : error.code);
        },
      );
      if (i % 5 === 0) controller.abort();
      return p;
    });
    // Drain: release holders until everyone settled.
    while (outcomes.size < 80) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      held.splice(0).forEach((release) => release());
    }
    await Promise.all(promises);
    held.splice(0).forEach((release) => release());
    const counts = [...outcomes.values()].reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
    expect(counts.twice).toBeUndefined();
    expect(counts.granted).toBeGreaterThan(0);
    expect(counts.QUEUE_FULL).toBeGreaterThan(0);
    expect(counts.ABORTED).toBeGreaterThan(0);
    expect(semaphore.stats()).toMatchObject({ running: 0, queued: 0, peakRunning: 3, peakQueued: 50 });
  });
});

describe("autoConcurrency (concurrency: 'auto')", () => {
  const GiB = 1024 ** 3;
  const perState = (total: number) => ({
    weightsBytes: 0,
    perState: { kvSelf: 0, kvCross: 0, kvPad: 0, compute: { conv: 0, encode: 0, cross: 0, decode: 0 }, total, decoders: 1 },
  });
  const estimate = (weights: number, state: number) => ({ ...perState(state), weightsBytes: weights });

  it('divides free memory, less the margin and the weights, by one state', () => {
    // 80 GiB GPU, 60 GiB free: margin 8 GiB (10 %), 52 GiB - 3 GiB weights = 49 GiB / 2 GiB = 24.
    const r = autoConcurrency({ freeBytes: 60 * GiB, totalBytes: 80 * GiB, estimate: estimate(3 * GiB, 2 * GiB), device: 'gpu', cores: 2, explicitBudget: false });
    expect(r).toEqual({ concurrency: 24, budgetBytes: 52 * GiB, marginBytes: 8 * GiB, limitedBy: 'memory' });
  });

  it('keeps at least 512 MiB back on a small device', () => {
    const r = autoConcurrency({ freeBytes: 2 * GiB, totalBytes: 2 * GiB, estimate: estimate(0.25 * GiB, 0.25 * GiB), device: 'gpu', cores: 2, explicitBudget: false });
    expect(r.marginBytes).toBe(0.5 * GiB);
    expect(r.concurrency).toBe(5);
  });

  it('caps the CPU at one job per core, a GPU at 64', () => {
    expect(
      autoConcurrency({ freeBytes: 64 * GiB, totalBytes: 64 * GiB, estimate: estimate(GiB, 0.1 * GiB), device: 'cpu', cores: 2, explicitBudget: false }),
    ).toMatchObject({ concurrency: 2, limitedBy: 'cores' });
    expect(
      autoConcurrency({ freeBytes: 640 * GiB, totalBytes: 640 * GiB, estimate: estimate(GiB, 0.01 * GiB), device: 'gpu', cores: 2, explicitBudget: false }),
    ).toMatchObject({ concurrency: 64, limitedBy: 'max' });
  });

  it('never plans fewer than one state, and takes no margin off an explicit budget', () => {
    expect(autoConcurrency({ freeBytes: GiB, totalBytes: 80 * GiB, estimate: estimate(2 * GiB, GiB), device: 'gpu', cores: 2, explicitBudget: false })).toMatchObject({
      concurrency: 1,
      limitedBy: 'minimum',
    });
    expect(autoConcurrency({ freeBytes: 5 * GiB, totalBytes: 80 * GiB, estimate: estimate(2 * GiB, GiB), device: 'gpu', cores: 8, explicitBudget: true })).toEqual({
      concurrency: 3,
      budgetBytes: 5 * GiB,
      marginBytes: 0,
      limitedBy: 'memory',
    });
  });
});

describe('Semaphore.tryReserve: permits lent to a running job', () => {
  it('lends a free permit, which counts against concurrency but not as a running job', async () => {
    const semaphore = new Semaphore({ concurrency: 2 });
    const own = await semaphore.acquire();
    const borrowed = semaphore.tryReserve();
    expect(borrowed).toBeTypeOf('function');
    expect(semaphore.stats()).toMatchObject({ running: 1, peakRunning: 1, queued: 0 });
    expect(semaphore.borrowed).toBe(1);
    expect(semaphore.tryReserve()).toBeUndefined();
    borrowed!();
    borrowed!();
    expect(semaphore.borrowed).toBe(0);
    expect(semaphore.stats()).toMatchObject({ running: 1, peakRunning: 1 });
    own();
  });

  it('never takes a permit a waiter is owed, and a returned one goes to the waiter first', async () => {
    const semaphore = new Semaphore({ concurrency: 2 });
    const own = await semaphore.acquire();
    const borrowed = semaphore.tryReserve()!;
    let waiterGot: Release | undefined;
    void semaphore.acquire().then((release) => (waiterGot = release));
    expect(semaphore.stats().queued).toBe(1);
    borrowed();
    // Handed over on release: nothing is free for the next tryReserve.
    expect(semaphore.tryReserve()).toBeUndefined();
    await tick();
    expect(waiterGot).toBeTypeOf('function');
    expect(semaphore.stats()).toMatchObject({ running: 2, queued: 0 });
    waiterGot!();
    own();
  });

  it('lends nothing while anyone waits, nor once closed', async () => {
    const semaphore = new Semaphore({ concurrency: 1, maxQueue: 5 });
    const own = await semaphore.acquire();
    const waiting = semaphore.acquire();
    own();
    // The freed permit went to the waiter.
    expect(semaphore.tryReserve()).toBeUndefined();
    (await waiting)();
    expect(semaphore.stats().running).toBe(0);
    semaphore.close(() => new WhisperError('DISPOSED', 'closed'));
    expect(semaphore.tryReserve()).toBeUndefined();
  });

  it('nextFree resolves when a permit comes free with nobody waiting, not when it is handed to a waiter', async () => {
    const semaphore = new Semaphore({ concurrency: 1 });
    const first = await semaphore.acquire();
    const waiting = semaphore.acquire();
    let freed = false;
    void semaphore.nextFree().then(() => (freed = true));
    first();
    await tick();
    expect(freed).toBe(false);
    (await waiting)();
    await tick();
    expect(freed).toBe(true);
    let freedAtClose = false;
    const holder = await semaphore.acquire();
    void semaphore.nextFree().then(() => (freedAtClose = true));
    semaphore.close(() => new WhisperError('DISPOSED', 'closed'));
    await tick();
    expect(freedAtClose).toBe(true);
    holder();
  });
});
