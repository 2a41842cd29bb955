import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { ThreatEvent } from '../../../services/contract/model';
import { TaxiiExpiry, taxiiMaxAgeMs } from '../../../services/taxii/expiry';
import { additionsOf, eventKeyOf, nextVersion } from '../../../services/taxii/objects';
import { TaxiiStore } from '../../../services/taxii/store';
import { publishedMinimal } from '../../fixtures/threat-events';

/**
 * The TAXII store forgets what the topics no longer hold: a real lmdb in a
 * temp folder, the clock passed in (no waiting). The measure of "right" is a
 * cold start: a store fed only the records still retained must hold exactly
 * what the running store holds after the sweep.
 */

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const RETENTION = 30 * DAY;

/** A clear indicator from `org`, for key number `k`, produced at `at`; event number `n`. */
function event(n: number, k: number, org: string, at: number, revoke = false): ThreatEvent {
  const key = k.toString(16).padStart(64, '0');
  const base = {
    ...publishedMinimal,
    eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    producedAt: new Date(at).toISOString(),
    source: { org, submitter: 'api' },
  };
  if (revoke) {
    return {
      ...base,
      payload: {
        kind: 'IndicatorRevoked',
        key,
        type: 'ipv4',
        value: `198.51.100.${k}`,
        platform: null,
        tlp: 'clear',
        recipients: [],
        reason: 'false positive',
      },
    };
  }
  return {
    ...base,
    payload: {
      ...publishedMinimal.payload,
      key,
      indicator: {
        ...(publishedMinimal.payload as { indicator: object }).indicator,
        value: `198.51.100.${k}`,
      },
    },
  } as ThreatEvent;
}

const feed = (e: ThreatEvent) => ({
  eventKey: eventKeyOf(e),
  additions: additionsOf(e),
  at: Date.parse(e.producedAt),
});

/** Every (collection, id, version) the store holds, with each object's head: what a client can see. */
function contents(store: TaxiiStore): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  for (const json of store.rawJson('clear')) ids.add((JSON.parse(json) as { id: string }).id);
  for (const id of [...ids].sort()) {
    const versions = store.versionsOf('clear', id).map((v) => v.version);
    const head = store.head('clear', id)!;
    out.push(`${id} ${versions.join(',')} first=${head.first.version} last=${head.last.version}`);
  }
  return out;
}

describe('TAXII store expiry', () => {
  let dir: string;
  const opened: TaxiiStore[] = [];
  const openStore = (name: string, now?: () => number): TaxiiStore => {
    const s = TaxiiStore.open(join(dir, name), now);
    opened.push(s);
    return s;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'threatrelay-taxii-expiry-'));
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds, after a sweep, exactly what a store rebuilt from the retained records holds', async () => {
    // 40 days of records: two orgs, keys reported again (new versions), one revocation, one key
    // reported by both orgs. Each day's events arrive that day.
    const events: ThreatEvent[] = [];
    let n = 0;
    for (let day = 0; day < 40; day++) {
      const at = T0 + day * DAY;
      events.push(event(++n, day % 7, 'facebook', at));
      if (day % 3 === 0) events.push(event(++n, day % 5, 'google', at + 1000));
      if (day === 33) events.push(event(++n, 3, 'facebook', at + 2000, true));
    }
    const running = openStore('running');
    for (const e of events)
      await running.add([feed(e)], undefined, nextVersion, () => Date.parse(e.producedAt));
    const before = contents(running);

    const now = T0 + 40 * DAY;
    const cutoff = now - RETENTION;
    const expiry = new TaxiiExpiry({ store: running, maxAgeMs: RETENTION, now: () => now, batch: 7 });
    const swept = await expiry.sweep();
    expect(swept.more).toBe(false);
    expect(swept.versions).toBeGreaterThan(0);

    const cold = openStore('cold');
    for (const e of events.filter((x) => Date.parse(x.producedAt) >= cutoff))
      await cold.add([feed(e)], undefined, nextVersion, () => now);
    const after = contents(running);
    expect(after).toEqual(contents(cold));
    expect(after).not.toEqual(before);
    // facebook's and google's identities stay: retained records still carry them.
    expect(after.filter((l) => l.startsWith('identity--'))).toHaveLength(2);
    expect(running.count('clear')).toBe(cold.count('clear'));
    // Nothing older than the cutoff is left to sweep.
    expect(running.oldest()).toBeGreaterThanOrEqual(cutoff);
    expect(await expiry.sweep()).toEqual({ versions: 0, events: 0, more: false });
  });

  it('keeps a shared object as long as any record carries it, and drops it with the last one', async () => {
    const store = openStore('s');
    await store.add([feed(event(1, 1, 'facebook', T0))], undefined, nextVersion, () => T0);
    await store.add([feed(event(2, 2, 'facebook', T0 + 10 * DAY))], undefined, nextVersion, () => T0);
    const types = (): string[] =>
      [...store.rawJson('clear')].map((j) => (JSON.parse(j) as { type: string }).type).sort();
    expect(types()).toEqual(['identity', 'indicator', 'indicator', 'marking-definition']);
    // The first record is past retention, the second is not: its identity and marking stay.
    await store.expire(T0 + 5 * DAY);
    expect(types()).toEqual(['identity', 'indicator', 'marking-definition']);
    await store.expire(T0 + 11 * DAY);
    expect(types()).toEqual([]);
    expect(store.count('clear')).toBe(0);
  });

  it('moves an object’s head to the versions left, and forgets expired events', async () => {
    const store = openStore('s');
    const first = event(1, 9, 'facebook', T0);
    const second = event(2, 9, 'facebook', T0 + 10 * DAY);
    for (const e of [first, second]) await store.add([feed(e)], undefined, nextVersion, () => T0);
    const id = store.versionsOf(
      'clear',
      [...store.rawJson('clear')]
        .map((j) => JSON.parse(j) as { id: string; type: string })
        .find((o) => o.type === 'indicator')!.id,
    )[0]!.id;
    expect(store.versionsOf('clear', id).map((v) => v.version)).toEqual([
      first.producedAt,
      second.producedAt,
    ]);

    const removed = await store.expire(T0 + DAY);
    expect(removed).toEqual({ versions: 1, events: 1, more: false });
    expect(store.versionsOf('clear', id).map((v) => v.version)).toEqual([second.producedAt]);
    const head = store.head('clear', id)!;
    expect([head.first.version, head.last.version]).toEqual([second.producedAt, second.producedAt]);
    // The event is forgotten as a rebuild would not know it: read again, it is added again.
    expect(await store.add([feed(first)], undefined, nextVersion, () => T0 + 20 * DAY)).toBe(1);
    // ...and an event still remembered is not.
    expect(await store.add([feed(second)], undefined, nextVersion, () => T0 + 20 * DAY)).toBe(0);
  });

  it('removes at most `limit` per call and says when more is due; a sweep stops at its bound', async () => {
    const store = openStore('s');
    for (let i = 1; i <= 10; i++)
      await store.add([feed(event(i, i, 'facebook', T0 + i))], undefined, nextVersion, () => T0);
    // 10 indicators + identity + marking, and 10 remembered events: 22 rows, all older than the cutoff.
    const first = await store.expire(T0 + DAY, 5);
    expect(first.versions + first.events).toBe(5);
    expect(first.more).toBe(true);
    const expiry = new TaxiiExpiry({ store, maxAgeMs: DAY, now: () => T0 + 2 * DAY, batch: 4, batches: 2 });
    const bounded = await expiry.sweep();
    expect(bounded.versions + bounded.events).toBe(8);
    expect(bounded.more).toBe(true);
    // 9 left: the next sweep stops at its bound again, the one after finishes.
    expect(await expiry.sweep()).toMatchObject({ more: true });
    const last = await expiry.sweep();
    expect(last.versions + last.events).toBe(1);
    expect(last.more).toBe(false);
    expect(store.count('clear')).toBe(0);
    expect(store.oldest()).toBeUndefined();
  });

  it('ages a store written before expiry existed from its positions', async () => {
    // Such a store: entries without `at`, event marks of 1, no aging index.
    const path = join(dir, 'old');
    const root = open({ path, compression: false });
    const entries = root.openDB({ name: 'entries' });
    const versions = root.openDB({ name: 'versions' });
    const heads = root.openDB({ name: 'heads' });
    const meta = root.openDB({ name: 'meta' });
    const position = (T0 + 3 * DAY) * 1000;
    const object = {
      type: 'identity',
      id: 'identity--x',
      created: '2026-01-01T00:00:00.000Z',
      modified: '2026-01-01T00:00:00.000Z',
    };
    await root.transaction(() => {
      entries.putSync(['clear', position], {
        id: object.id,
        type: object.type,
        version: object.modified,
        json: JSON.stringify(object),
      });
      versions.putSync(['clear', object.id, object.modified], position);
      heads.putSync(['clear', object.id], {
        first: { version: object.modified, position },
        last: { version: object.modified, position },
      });
      meta.putSync(['event', 'clear', 'facebook\nold'], 1);
      meta.putSync(['seq', 'clear'], position);
    });
    await root.close();

    const store = openStore('old', () => T0 + 10 * DAY);
    expect(store.oldest()).toBe(T0 + 3 * DAY);
    expect(await store.expire(T0 + 3 * DAY)).toEqual({ versions: 0, events: 0, more: false });
    // The version ages from when it was added; the event mark, of unknown age, from the upgrade.
    expect(await store.expire(T0 + 3 * DAY + 1)).toEqual({ versions: 1, events: 0, more: false });
    expect(store.head('clear', object.id)).toBeUndefined();
    expect(await store.expire(T0 + 10 * DAY + 1)).toEqual({ versions: 0, events: 1, more: false });
  });

  it('expires at the shorter of the topics’ retention and the freshness window', () => {
    expect(taxiiMaxAgeMs({ kafka: { retentionDays: 30 }, taxii: { windowDays: 30 } })).toBe(30 * DAY);
    expect(taxiiMaxAgeMs({ kafka: { retentionDays: 7 }, taxii: { windowDays: 30 } })).toBe(7 * DAY);
    expect(taxiiMaxAgeMs({ kafka: { retentionDays: 90 }, taxii: { windowDays: 14 } })).toBe(14 * DAY);
  });
});
