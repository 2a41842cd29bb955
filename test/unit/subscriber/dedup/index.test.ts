import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDedupStore,
  EmbeddedDedupStore,
  RedisDedupStore,
  type DedupInput,
} from '../../../../services/subscriber/dedup';
import { freePort } from '../../../../testkit/broker-provider';
import { startRedis, type RedisServer } from '../../../../testkit/redis';

/** What each store does beyond the shared contract: how it stays bounded, and its options. */

const DAY = 24 * 60 * 60_000;
const WINDOW = 30 * DAY;

/** A UUID per number, so tests can name the event they mean. */
const eventIdOf = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

const report = (n: number, extra: Partial<DedupInput> = {}): DedupInput => ({
  eventId: eventIdOf(n),
  key: n.toString(16).padStart(64, '0'),
  org: 'facebook',
  kind: 'published',
  tlp: 'clear',
  position: `t/0/${n}`,
  ...extra,
});

describe('embedded dedup store', () => {
  let dir: string;
  let store: EmbeddedDedupStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threatrelay-dedup-'));
    store = EmbeddedDedupStore.open({ path: join(dir, 'a', 'b'), windowMs: WINDOW });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deletes expired rows as it records: a pass over 300 rows takes 75 records, 4 rows per record', async () => {
    const t0 = Date.now();
    for (let n = 1; n <= 300; n++) await store.record(report(n), t0);
    await store.markBatch([{ org: 'facebook', eventId: eventIdOf(1) }], { webhookId: 'msg_a', size: 1 });
    expect(store.entryCount()).toEqual({ events: 300, keys: 300, batches: 1 });
    // Nothing is due yet: sweeping deletes nothing live.
    for (let n = 301; n <= 380; n++) await store.record(report(n), t0 + 1);
    expect(store.entryCount()).toEqual({ events: 380, keys: 380, batches: 1 });
    // After the window, everything recorded before it goes within one pass (380 rows / 4 per record).
    for (let n = 381; n <= 500; n++) await store.record(report(n), t0 + WINDOW + 2);
    expect(store.entryCount()).toEqual({ events: 120, keys: 120, batches: 0 });
  });

  it('keeps an entry in under 200 bytes of disk: the growth from 20,000 to 40,000 events in batches of 100', async () => {
    const t0 = Date.now();
    const file = (): number => statSync(join(dir, 'a', 'b', 'data.mdb')).blocks * 512;
    const fill = async (from: number): Promise<void> => {
      for (let n = from; n < from + 20_000; n += 100) {
        // Random ids and keys, as on the bus: in-order ids would pack lmdb's pages tighter than real traffic.
        const batch = Array.from({ length: 100 }, (_, i) =>
          report(n + i, { eventId: randomUUID(), key: randomBytes(32).toString('hex') }),
        );
        await Promise.all(batch.map((r) => store.record(r, t0)));
        await store.markBatch(batch, {
          webhookId: `msg_${randomBytes(24).toString('base64url')}`,
          size: 100,
        });
      }
    };
    await fill(0);
    const first = file();
    await fill(20_000);
    // lmdb also keeps about a megabyte of pages freed by its last transactions: a constant, not per entry.
    expect(first).toBeLessThan(20_000 * 200 + 2 * 2 ** 20);
    expect((file() - first) / 20_000).toBeLessThanOrEqual(200);
  }, 60_000);

  it('deletes a key revoked by its last source at once', async () => {
    const t0 = Date.now();
    await store.record(report(1), t0);
    await store.record(report(2, { key: report(1).key, kind: 'revoked' }), t0);
    expect(store.entryCount()).toEqual({ events: 2, keys: 0, batches: 0 });
  });

  it('keeps the stores of one data directory apart, and closing one leaves the others working', async () => {
    const a = EmbeddedDedupStore.open({ path: join(dir, 'shared'), name: 'sub-a', windowMs: WINDOW });
    const b = EmbeddedDedupStore.open({ path: join(dir, 'shared'), name: 'sub-b', windowMs: WINDOW });
    expect(await a.record(report(1))).toEqual({ kind: 'new', repeat: false });
    expect(await b.record(report(1))).toEqual({ kind: 'new', repeat: false });
    expect(await a.record(report(1, { position: 't/0/99' }))).toEqual({ kind: 'duplicate' });
    await a.close();
    expect(await b.record(report(2))).toEqual({ kind: 'new', repeat: false });
    expect(b.entryCount()).toEqual({ events: 2, keys: 2, batches: 0 });
    await b.close();
    // Reopened: each store finds its own state again.
    const again = EmbeddedDedupStore.open({ path: join(dir, 'shared'), name: 'sub-a', windowMs: WINDOW });
    expect(again.entryCount()).toEqual({ events: 1, keys: 1, batches: 0 });
    await again.close();
  });

  it('refuses to record once closed', async () => {
    await store.close();
    await expect(store.record(report(1))).rejects.toMatchObject({ code: 'TR_INTERNAL' });
  });
});

describe('redis dedup store', () => {
  let redis: RedisServer;
  let store: RedisDedupStore;
  let prefix: string;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(() => {
    prefix = `test:{${randomUUID()}}:`;
    store = new RedisDedupStore({ url: redis.url, prefix, windowMs: WINDOW });
  });
  afterEach(async () => {
    await store.close();
  });

  it('lets Redis expire an event at the end of the window and a report at its validUntil', async () => {
    const t0 = Date.now();
    const input = report(1, { validUntil: t0 + DAY });
    await store.record(input, t0);
    const client = redis.client();
    expect(await client.pexpiretime(`${prefix}e:${input.org}/${input.eventId}`)).toBe(t0 + WINDOW);
    expect(await client.pexpiretime(`${prefix}k:${input.key}`)).toBe(t0 + DAY);
  });

  it('keeps a key until its longest-lived report expires', async () => {
    const t0 = Date.now();
    await store.record(report(1, { validUntil: t0 + 2 * DAY }), t0);
    await store.record(report(2, { key: report(1).key, org: 'google', validUntil: t0 + DAY }), t0);
    expect(await redis.client().pexpiretime(`${prefix}k:${report(1).key}`)).toBe(t0 + 2 * DAY);
  });

  it('deletes a key revoked by its last source at once', async () => {
    const t0 = Date.now();
    await store.record(report(1), t0);
    await store.record(report(2, { key: report(1).key, kind: 'revoked' }), t0);
    expect(await redis.client().exists(`${prefix}k:${report(1).key}`)).toBe(0);
  });

  it('writes only under its prefix', async () => {
    await store.record(report(1));
    const keys = await redis.client().keys('*');
    expect(keys.filter((k) => !k.startsWith('test:'))).toEqual([]);
    expect(keys.filter((k) => k.startsWith(prefix)).sort()).toEqual([
      `${prefix}e:facebook/${eventIdOf(1)}`,
      `${prefix}k:${report(1).key}`,
    ]);
  });

  it('rejects, rather than answer, when the server cannot be reached', async () => {
    const unreachable = new RedisDedupStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      prefix,
      windowMs: WINDOW,
    });
    try {
      await expect(unreachable.record(report(1))).rejects.toThrow();
    } finally {
      await unreachable.close();
    }
  });
});

describe('dedup window', () => {
  it('remembers for 30 days unless told otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threatrelay-dedup-'));
    const store = createDedupStore({ kind: 'embedded', path: dir });
    const shortStore = createDedupStore({ kind: 'embedded', path: join(dir, 'short'), windowDays: 1 });
    try {
      const t0 = Date.now();
      await store.record(report(1), t0);
      await shortStore.record(report(1), t0);
      const later = report(2, { key: report(1).key, org: 'google' });
      expect(await store.record(later, t0 + 30 * DAY - 1)).toMatchObject({ kind: 'corroborated' });
      expect(await shortStore.record(later, t0 + DAY)).toMatchObject({ kind: 'new' });
    } finally {
      await store.close();
      await shortStore.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('test redis-server helper', () => {
  it('says how to install redis-server when it is missing', async () => {
    await expect(startRedis({ binary: 'redis-server-not-installed' })).rejects.toThrow(
      /redis-server-not-installed is not installed.*ensure-redis\.sh/s,
    );
  });
});
