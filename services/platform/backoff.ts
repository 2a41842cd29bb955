import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Bounded exponential backoff, the one rule every retry loop of the product
 * waits by: the wait doubles from `initialMs` on every try, up to `maxMs`.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The wait before try `attempt + 1` (attempt counts from 1). */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  // The exponent is capped so that a loop that runs for days never computes Infinity.
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
}

/**
 * The same wait with full jitter, so that many clients failed by one outage
 * do not retry in step: uniform below the backoff, but never under half the
 * first wait. `random` is injectable for tests.
 */
export function jitteredDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  return Math.max(backoff.initialMs / 2, Math.floor(random() * backoffDelay(backoff, attempt)));
}

/** How often a long wait inside a consumer's batch stops to heartbeat, so the group never thinks it died. */
const HEARTBEAT_EVERY_MS = 1000;

/**
 * Waits `ms` inside a batch without losing the group: heartbeats every
 * second, and returns early (false) once `halted` says the consumer is
 * stopping or disabled.
 */
export async function waitWithHeartbeats(
  ms: number,
  heartbeat: () => Promise<void>,
  halted: () => boolean,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until && !halted()) {
    await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()));
    await heartbeat();
  }
  return !halted();
}

/** Waits `ms`; false when `signal` aborted first (the timer is cleared, so it holds no process open). */
export function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    // A bound raced against other work must not keep the process alive once that work is done.
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
