import { RateLimiter } from '../../../../services/producer/http/rate-limit';

describe('RateLimiter', () => {
  it('allows perMinute at once, then says how long to wait, and refills', () => {
    let now = 0;
    const limiter = new RateLimiter(3, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(20);
    expect(limiter.take('b')).toBe(0);
    now += 20_000;
    expect(limiter.take('a')).toBe(0);
  });

  it('wait() tells whether a key has a token without taking one', () => {
    let now = 0;
    const limiter = new RateLimiter(2, () => now);
    expect(limiter.wait('ip')).toBe(0);
    limiter.take('ip');
    expect(limiter.wait('ip')).toBe(0);
    limiter.take('ip');
    expect(limiter.wait('ip')).toBe(30);
    expect(limiter.wait('ip')).toBe(30);
    now += 30_000;
    expect(limiter.wait('ip')).toBe(0);
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const limiter = new RateLimiter(1, () => 0, 2);
    limiter.take('a');
    limiter.take('b');
    limiter.take('a');
    limiter.take('c');
    // b was least recently used: forgotten, so it has a full bucket again; a is still empty.
    expect(limiter.wait('b')).toBe(0);
    expect(limiter.wait('a')).toBeGreaterThan(0);
  });
});
