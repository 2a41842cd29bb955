import { backoffDelay, jitteredDelay } from '../../../services/platform/backoff';

const backoff = { initialMs: 500, maxMs: 30_000 };

describe('backoffDelay', () => {
  it('doubles from the first wait on every try', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(backoff, n))).toEqual([500, 1000, 2000, 4000]);
  });

  it('never waits longer than the bound, however many tries', () => {
    expect(backoffDelay(backoff, 7)).toBe(30_000);
    expect(backoffDelay(backoff, 10_000)).toBe(30_000);
  });
});

describe('jitteredDelay', () => {
  it('waits uniformly below the backoff', () => {
    expect(jitteredDelay(backoff, 4, () => 0.75)).toBe(3000);
  });

  it('never waits under half the first wait', () => {
    expect(jitteredDelay(backoff, 4, () => 0)).toBe(250);
  });
});
