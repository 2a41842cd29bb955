import { DEFAULT_RETRY_POLICY, nextDelayMs } from '../../../../services/subscriber/delivery/retry-policy';

const policy = { initialDelayMs: 1000, maxDelayMs: 30_000, maxElapsedMs: 120_000 };

describe('retry policy', () => {
  it('grows the ceiling exponentially, with full jitter below it', () => {
    expect(nextDelayMs(policy, 1, 0, undefined, () => 0.999)).toBe(999);
    expect(nextDelayMs(policy, 3, 0, undefined, () => 0.999)).toBe(3996);
    expect(nextDelayMs(policy, 3, 0, undefined, () => 0)).toBe(500);
  });

  it('never waits longer than maxDelayMs', () => {
    expect(nextDelayMs(policy, 40, 0, undefined, () => 0.999)).toBe(29_970);
  });

  it('honors Retry-After, bounded by maxDelayMs', () => {
    expect(nextDelayMs(policy, 1, 0, 10, () => 0)).toBe(10_000);
    expect(nextDelayMs(policy, 1, 0, 3600, () => 0)).toBe(30_000);
  });

  it('stops once the total elapsed bound would be passed', () => {
    expect(nextDelayMs(policy, 5, 119_000, undefined, () => 0.5)).toBeUndefined();
    expect(nextDelayMs(policy, 1, 0, undefined, () => 0.5)).toBeDefined();
  });

  it('has sane defaults', () => {
    expect(DEFAULT_RETRY_POLICY.maxElapsedMs).toBeGreaterThan(DEFAULT_RETRY_POLICY.maxDelayMs);
  });
});
