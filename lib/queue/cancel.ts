/**
 * Cancelling a job from any process. BullMQ aborts a running job only from inside the worker
 * that holds it (`worker.cancelJob`), so a cancellation is a Redis key beside the queue's own:
 * the producer sets it, and the worker holding the job sees it within a poll interval and
 * aborts the transcription; a job not started yet fails with ABORTED as soon as a worker takes it.
 */
import type { RedisQueueBackend } from 'bullmq';

/** How long a cancellation is kept: long enough for any queued job to be taken, then Redis forgets it. */
const CANCEL_TTL_SECONDS = 7 * 24 * 3600;

/** How often a worker looks for the cancellation of a job it runs, by default. */
export const DEFAULT_CANCEL_POLL_MS = 500;

function cancelKey(backend: RedisQueueBackend, jobId: string): string {
  return backend.toKey(`whisper-napi:cancel:${jobId}`);
}

export async function markCancelled(backend: RedisQueueBackend, jobId: string, reason: string): Promise<void> {
  const client = await backend.client;
  await client.set(cancelKey(backend, jobId), reason, { EX: CANCEL_TTL_SECONDS });
}

/** The cancellation's reason, or null when the job was not cancelled. */
export async function cancellationOf(backend: RedisQueueBackend, jobId: string): Promise<string | null> {
  const client = await backend.client;
  return client.get(cancelKey(backend, jobId));
}

/**
 * Calls `onCancel` once if the job is cancelled while this watch runs; `stop` ends it. A poll
 * that fails (Redis briefly gone) is skipped, and no poll starts while one is in flight.
 */
export function watchCancellation(backend: RedisQueueBackend, jobId: string, intervalMs: number, onCancel: (reason: string) => void): { stop(): void } {
  let polling = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    cancellationOf(backend, jobId)
      .then((reason) => {
        if (reason !== null && !stopped) {
          stop();
          onCancel(reason);
        }
      })
      .catch(() => undefined)
      .finally(() => (polling = false));
  }, intervalMs);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop };
}
