import type { IncomingMessage } from 'node:http';
import { AuthFailureThrottle, RateLimiter } from '../../../services/platform/rate-limit';

describe('RateLimiter', () => {
  it('allows perMinute at once, then says how long to wait, and refills', () => {
    let now = 0;
    const limiter = new RateLimiter(3, { now: () => now });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(20);
    expect(limiter.take('b')).toBe(0);
    now += 20_000;
    expect(limiter.take('a')).toBe(0);
  });

  it('wait() tells whether a key has a token without taking one', () => {
    let now = 0;
    const limiter = new RateLimiter(2, { now: () => now });
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
    const limiter = new RateLimiter(1, { now: () => 0, maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('a');
    limiter.take('c');
    // b was least recently used: forgotten, so it has a full bucket again; a is still empty.
    expect(limiter.wait('b')).toBe(0);
    expect(limiter.wait('a')).toBeGreaterThan(0);
  });
});

describe('AuthFailureThrottle', () => {
  const from = (remoteAddress: string) => ({ socket: { remoteAddress } }) as IncomingMessage;

  it('refuses an address after perMinute failures, with the wait, until a token is back', () => {
    let now = 0;
    const throttle = new AuthFailureThrottle({ authFailuresPerMinute: 2 }, { now: () => now });
    expect(throttle.refusal(from('10.0.0.1'))).toBeUndefined();
    throttle.failed(from('10.0.0.1'));
    expect(throttle.refusal(from('10.0.0.1'))).toBeUndefined();
    throttle.failed(from('10.0.0.1'));
    const refused = throttle.refusal(from('10.0.0.1'));
    expect([refused?.code, refused?.retryAfterSeconds]).toEqual(['TR_RATE_LIMITED', 30]);
    expect(refused?.message).toContain('10.0.0.1');
    // Another address has its own budget.
    expect(throttle.refusal(from('10.0.0.2'))).toBeUndefined();
    now += 30_000;
    expect(throttle.refusal(from('10.0.0.1'))).toBeUndefined();
    throttle.failed(from('10.0.0.1'));
    expect(throttle.refusal(from('10.0.0.1'))?.retryAfterSeconds).toBe(30);
  });

  it('allows authFailureBurst failures at once, then regains authFailuresPerMinute a minute', () => {
    let now = 0;
    const throttle = new AuthFailureThrottle(
      { authFailuresPerMinute: 30, authFailureBurst: 3 },
      { now: () => now },
    );
    for (let i = 0; i < 3; i++) {
      expect(throttle.refusal(from('10.0.0.1'))).toBeUndefined();
      throttle.failed(from('10.0.0.1'));
    }
    expect(throttle.refusal(from('10.0.0.1'))?.retryAfterSeconds).toBe(2);
    now += 2_000;
    expect(throttle.refusal(from('10.0.0.1'))).toBeUndefined();
    // A long quiet refills the bucket to the burst, not to the rate.
    now += 3_600_000;
    for (let i = 0; i < 3; i++) throttle.failed(from('10.0.0.1'));
    expect(throttle.refusal(from('10.0.0.1'))).toBeDefined();
  });

  it('keeps at most maxKeys addresses', () => {
    const throttle = new AuthFailureThrottle({ authFailuresPerMinute: 1 }, { now: () => 0, maxKeys: 2 });
    for (const a of ['a', 'b', 'c']) throttle.failed(from(a));
    expect(throttle.refusal(from('a'))).toBeUndefined();
    expect(throttle.refusal(from('c'))).toBeDefined();
  });
});
