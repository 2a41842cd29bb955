/**
 * A token bucket per key (an API key, a client address): `perMinute` tokens a
 * minute on average, up to `perMinute` at once. Kept per producer instance:
 * it protects the instance and Kafka from one runaway script, it is not a
 * quota. At most `maxKeys` buckets are kept; past that the least recently
 * used goes, which only ever gives its key a full bucket again.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

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
    const tokens = Math.min(this.perMinute, bucket.tokens + (this.now() - bucket.at) * this.ratePerMs());
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
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.ratePerMs());
    bucket.at = now;
    // Re-inserted, so the map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket;
  }
}
