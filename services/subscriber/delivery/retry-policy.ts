import { DEFAULTS } from '../../platform/config/defaults';
import { jitteredDelay } from '../../platform/backoff';

/**
 * When to try a failed webhook delivery again: exponential backoff with full
 * jitter, a receiver's `Retry-After` honored within bounds, and a bound on the
 * total time after which the batch is dead-lettered instead.
 */
export interface RetryPolicy {
  /** First backoff. */
  initialDelayMs: number;
  /** Largest single wait, `Retry-After` included. */
  maxDelayMs: number;
  /** Give up (dead-letter) once this much time has passed since the first attempt. */
  maxElapsedMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { ...DEFAULTS.retry };

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1), or undefined
 * when the elapsed bound says stop. `random` is injectable for tests.
 */
export function nextDelayMs(
  policy: RetryPolicy,
  attempt: number,
  elapsedMs: number,
  retryAfterSeconds: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const backoff = { initialMs: policy.initialDelayMs, maxMs: policy.maxDelayMs };
  let delay = jitteredDelay(backoff, attempt, random);
  if (retryAfterSeconds !== undefined)
    delay = Math.min(policy.maxDelayMs, Math.max(delay, retryAfterSeconds * 1000));
  if (elapsedMs + delay > policy.maxElapsedMs) return undefined;
  return delay;
}
