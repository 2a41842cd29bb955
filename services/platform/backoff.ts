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
