import { IdempotencyCache } from '../../../../services/producer/publish/idempotency';
import { isThreatRelayError } from '../../../../services/contract/errors';

/** A cache of string answers whose size is their length, on a clock the test moves. */
function cache(maxBytes: number, ttlMs = 1000) {
  let now = 0;
  const c = new IdempotencyCache<string>({ maxBytes, ttlMs, sizeOf: (s) => s.length, now: () => now });
  return { c, tick: (ms: number) => (now += ms) };
}

describe('IdempotencyCache', () => {
  it('runs the work once per scope and key and replays its answer', async () => {
    const { c } = cache(1_000_000);
    let runs = 0;
    const work = async (): Promise<string> => `answer ${++runs}`;
    expect(await c.run('s', 'k', 'h', work)).toBe('answer 1');
    expect(await c.run('s', 'k', 'h', work)).toBe('answer 1');
    expect(runs).toBe(1);
  });

  it('treats the same key under another scope (another API key) as another request', async () => {
    const { c } = cache(1_000_000);
    let runs = 0;
    const work = async (): Promise<string> => `answer ${++runs}`;
    expect(await c.run('/v1/indicators\nkey-a', 'k', 'h', work)).toBe('answer 1');
    expect(await c.run('/v1/indicators\nkey-b', 'k', 'other body', work)).toBe('answer 2');
    expect(runs).toBe(2);
  });

  it('refuses the same key with another body as a conflict', async () => {
    const { c } = cache(1_000_000);
    await c.run('s', 'k', 'h1', async () => 'a');
    const err = await c.run('s', 'k', 'h2', async () => 'b').catch((e: unknown) => e);
    expect(isThreatRelayError(err, 'TR_IDEMPOTENCY_CONFLICT')).toBe(true);
  });

  it('keeps the answers within the byte bound, forgetting the oldest first', async () => {
    const { c } = cache(3 * (256 + 20) + 3 * 1000);
    for (let i = 0; i < 10; i++) await c.run('s', `k${i}`, 'h', async () => 'x'.repeat(1000));
    expect(c.sizeBytes).toBeLessThanOrEqual(3 * (256 + 20) + 3 * 1000);
    expect(c.size).toBe(3);
    let runs = 0;
    await c.run('s', 'k9', 'h', async () => `${++runs}`);
    expect(runs).toBe(0);
    await c.run('s', 'k0', 'h', async () => `${++runs}`);
    expect(runs).toBe(1);
  });

  it('does not keep an answer larger than the whole bound', async () => {
    const { c } = cache(10_000);
    await c.run('s', 'big', 'h', async () => 'x'.repeat(20_000));
    expect(c.size).toBe(0);
    expect(c.sizeBytes).toBe(0);
  });

  it('forgets a failed request, so its retry runs again', async () => {
    const { c } = cache(1_000_000);
    await expect(c.run('s', 'k', 'h', async () => Promise.reject(new Error('kafka down')))).rejects.toThrow();
    expect(await c.run('s', 'k', 'h', async () => 'ok')).toBe('ok');
    expect(c.size).toBe(1);
  });

  it('forgets answers after the TTL', async () => {
    const { c, tick } = cache(1_000_000, 1000);
    await c.run('s', 'k', 'h1', async () => 'a');
    tick(1000);
    expect(await c.run('s', 'k', 'h2', async () => 'b')).toBe('b');
    expect(c.size).toBe(1);
  });
});
