import type { IncomingMessage } from 'node:http';
import { ThreatRelayError } from '../contract/errors';

export interface RateLimiterOptions {
  /** Tokens a bucket holds at most, what a key may spend at once; default `perMinute`. */
  burst?: number;
  now?: () => number;
  /** Buckets kept at most; default 100,000. */
  maxKeys?: number;
}

/**
 * A token bucket per key (an API key, a client address): `perMinute` tokens a
 * minute on average, up to `burst` (default `perMinute`) at once. Kept per
 * process: it protects the instance (and Kafka) from one runaway script, it
 * is not a quota. At most `maxKeys` buckets are kept; past that the least
 * recently used goes, which only ever gives its key a full bucket again.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(
    private readonly perMinute: number,
    options: RateLimiterOptions = {},
  ) {
    this.burst = options.burst ?? perMinute;
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Takes a token; returns 0 when allowed, else the seconds to wait before one is free. */
  take(key: string): number {
    const bucket = this.refilled(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return this.secondsUntilToken(bucket.tokens);
  }

  /** 0 when `key` has a token, else the seconds until it has one; takes nothing. */
  wait(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = Math.min(this.burst, bucket.tokens + (this.now() - bucket.at) * this.ratePerMs());
    return tokens >= 1 ? 0 : this.secondsUntilToken(tokens);
  }

  private ratePerMs(): number {
    return this.perMinute / 60_000;
  }

  private secondsUntilToken(tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.ratePerMs() / 1000));
  }

  private refilled(key: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.ratePerMs());
    bucket.at = now;
    // Re-inserted, so the map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket;
  }
}

/** How many failed authentications one client address may make: the config's fields, the same in every service. */
export interface AuthFailureBudget {
  /** Failures an address regains a minute. */
  authFailuresPerMinute: number;
  /** Failures an address may make at once before it must wait; default `authFailuresPerMinute`. */
  authFailureBurst?: number | undefined;
}

/**
 * Failed authentications per client address, for every service that checks
 * credentials (producer API keys, console operators, TAXII readers): each
 * failure takes a token from the address's bucket, and an address with none
 * left is refused with `TR_RATE_LIMITED` and a `retryAfterSeconds` before its
 * credentials are looked at, a right one included, so guessing at speed gains
 * nothing. A success takes nothing and gives nothing back: it cannot reset
 * the count of a guesser on the same or another address. Behind a proxy the
 * address is the proxy's.
 */
export class AuthFailureThrottle {
  private readonly failures: RateLimiter;

  constructor(budget: AuthFailureBudget, options: Omit<RateLimiterOptions, 'burst'> = {}) {
    this.failures = new RateLimiter(budget.authFailuresPerMinute, {
      ...options,
      burst: budget.authFailureBurst ?? budget.authFailuresPerMinute,
    });
  }

  /** The error to answer `req` with when its address is over its budget; undefined when it may try. */
  refusal(req: IncomingMessage): ThreatRelayError | undefined {
    const address = addressOf(req);
    const wait = this.failures.wait(address);
    if (wait === 0) return undefined;
    return new ThreatRelayError(
      'TR_RATE_LIMITED',
      `too many failed authentications from ${address}; retry in ${wait} s`,
      { retryAfterSeconds: wait },
    );
  }

  /** Counts a failed authentication against the address `req` came from. */
  failed(req: IncomingMessage): void {
    this.failures.take(addressOf(req));
  }
}

function addressOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
