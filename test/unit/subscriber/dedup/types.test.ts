import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDedupStore,
  type DedupDecision,
  type DedupInput,
  type DedupOutcome,
  type DedupStore,
} from '../../../../services/subscriber/dedup';
import type { Labels } from '../../../../services/subscriber/dedup/types';
import type { SightingKind } from '../../../../services/contract/model';
import { startRedis, type RedisServer } from '../../../../testkit/redis';

/**
 * One contract, run against every dedup store: what DESIGN.md ("Subscriber
 * pipeline" → Dedup) promises, plus the crash-safety rule of dedup/types.ts.
 * Time is injected (`now`), starting from the real clock because Redis
 * garbage-collects by its own clock.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const WINDOW = 30 * DAY;

interface Harness {
  /** Opens a store over this test's state: the same directory, or the same prefix on the same server. */
  open(): Promise<DedupStore>;
  /** Whether several stores may be open over one state at once, as the instances of a scaled group. */
  sharedByInstances: boolean;
  cleanup(): Promise<void>;
}

function describeDedupContract(name: string, makeHarness: () => Promise<Harness>): void {
  describe(`dedup store contract: ${name}`, () => {
    let harness: Harness;
    let opened: DedupStore[];
    let store: DedupStore;
    let t0: number;
    let key: string;
    let seq: number;

    const open = async (): Promise<DedupStore> => {
      const s = await harness.open();
      opened.push(s);
      return s;
    };
    const next = (): number => ++seq;
    const eventIdOf = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
    const published = (org: string, extra: Partial<DedupInput> = {}): DedupInput => {
      const n = next();
      return {
        eventId: eventIdOf(n),
        key,
        org,
        kind: 'published',
        tlp: 'clear',
        position: `t/0/${n}`,
        ...extra,
      };
    };
    const revoked = (org: string, extra: Partial<DedupInput> = {}): DedupInput => {
      const n = next();
      return {
        eventId: eventIdOf(n),
        key,
        org,
        kind: 'revoked',
        tlp: 'clear',
        position: `t/0/${n}`,
        ...extra,
      };
    };
    /**
     * The outcome of a record seen for the first time. A corroboration given
     * by its sources alone matches whatever labels it carries: the tests of
     * labels say so themselves.
     */
    const first = (decision: DedupDecision | { kind: 'corroborated'; sources: string[] }): unknown =>
      decision.kind === 'corroborated' && !('reports' in decision)
        ? expect.objectContaining({ ...decision, repeat: false })
        : ({ ...decision, repeat: false } as DedupOutcome);
    const labels = (extra: Partial<Labels> = {}): Labels => ({
      category: 8,
      severity: 0,
      confidence: 5,
      validUntil: null,
      description: 0,
      tags: 0,
      ...extra,
    });

    beforeEach(async () => {
      harness = await makeHarness();
      opened = [];
      store = await open();
      t0 = Date.now();
      key = randomUUID().replace(/-/g, '').repeat(2);
      seq = 0;
    });

    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await harness.cleanup();
    });

    describe('reports', () => {
      it('delivers the first report of a key as new', async () => {
        expect(await store.record(published('facebook'), t0)).toEqual(first({ kind: 'new' }));
      });

      it('treats keys independently', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(published('google', { key: 'b'.repeat(64) }), t0)).toEqual(
          first({ kind: 'new' }),
        );
      });

      it('drops a second copy of an event read at another position as a duplicate', async () => {
        const event = published('facebook');
        await store.record(event, t0);
        expect(await store.record({ ...event, position: 't/0/999' }, t0 + MINUTE)).toEqual({
          kind: 'duplicate',
        });
      });

      it("does not let one org's eventId shadow another org's event with the same eventId", async () => {
        const hostile = published('twitter', { key: 'c'.repeat(64) });
        await store.record(hostile, t0);
        const real = published('google', { eventId: hostile.eventId });
        expect(await store.record(real, t0 + MINUTE)).toEqual(first({ kind: 'new' }));
      });

      it('refuses input it cannot keep with TR_DEDUP_REJECTED, and stays usable', async () => {
        for (const bad of [
          published('facebook', { eventId: 'x'.repeat(3000) }),
          published('facebook', { eventId: '' }),
          published('facebook', { key: 'not-hex' }),
          published('Facebook Inc'),
        ]) {
          await expect(store.record(bad, t0)).rejects.toMatchObject({ code: 'TR_DEDUP_REJECTED' });
        }
        await expect(store.ping()).resolves.toBeUndefined();
        expect(await store.record(published('facebook'), t0)).toEqual(first({ kind: 'new' }));
      });

      it('calls a re-publication by the same org under a new eventId republished', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(published('facebook'), t0 + MINUTE)).toEqual(
          first({ kind: 'republished' }),
        );
      });

      it('counts every org that reported a key when another org corroborates it', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(published('google'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google'] }),
        );
        expect(await store.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google', 'twitter'] }),
        );
        expect(await store.record(published('microsoft'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google', 'microsoft', 'twitter'] }),
        );
      });

      it('does not name an amber+strict report in a clear corroboration, and calls it new', async () => {
        await store.record(published('microsoft', { tlp: 'amber+strict' }), t0);
        expect(await store.record(published('google'), t0)).toEqual(first({ kind: 'new' }));
        expect(await store.record(published('twitter', { tlp: 'green' }), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['google', 'twitter'] }),
        );
      });

      it('names a clear report in a red corroboration', async () => {
        await store.record(published('google'), t0);
        expect(await store.record(published('microsoft', { tlp: 'red' }), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['google', 'microsoft'] }),
        );
      });

      it('does not name a red report among the sources that remain after a clear revocation', async () => {
        await store.record(published('google'), t0);
        await store.record(published('microsoft', { tlp: 'red' }), t0);
        await store.record(published('twitter', { tlp: 'amber' }), t0);
        expect(await store.record(revoked('google'), t0)).toEqual(
          first({ kind: 'revoked', remainingSources: [] }),
        );
        expect(await store.record(revoked('twitter', { tlp: 'amber' }), t0)).toEqual(
          first({ kind: 'revoked', remainingSources: [] }),
        );
      });

      it('names a green report among the sources that remain after an amber revocation', async () => {
        await store.record(published('twitter', { tlp: 'amber' }), t0);
        await store.record(published('google', { tlp: 'green' }), t0);
        expect(await store.record(revoked('twitter', { tlp: 'amber' }), t0)).toEqual(
          first({ kind: 'revoked', remainingSources: ['google'] }),
        );
      });

      it('does not count a corroborating org twice when it reports again', async () => {
        await store.record(published('facebook'), t0);
        await store.record(published('google'), t0);
        expect(await store.record(published('google'), t0)).toEqual(first({ kind: 'republished' }));
        expect(await store.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google', 'twitter'] }),
        );
      });
    });

    describe('labels', () => {
      it("names each reporting org's labels in a corroboration, in the order of its sources", async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        const outcome = await store.record(
          published('google', { tlp: 'green', labels: labels({ category: 0, severity: 3, confidence: 95 }) }),
          t0,
        );
        expect(outcome).toEqual(
          first({
            kind: 'corroborated',
            sources: ['facebook', 'google'],
            reports: [
              { org: 'facebook', tlp: 0, labels: labels() },
              { org: 'google', tlp: 1, labels: labels({ category: 0, severity: 3, confidence: 95 }) },
            ],
            escalates: true,
          }),
        );
      });

      it('marks a corroboration with a category no other report has as escalating', async () => {
        await store.record(published('facebook', { labels: labels({ severity: 2 }) }), t0);
        const outcome = await store.record(published('google', { labels: labels({ category: 4 }) }), t0);
        expect(outcome).toMatchObject({ kind: 'corroborated', escalates: true });
      });

      it('marks a corroboration with a severity above every other report as escalating', async () => {
        await store.record(published('facebook', { labels: labels({ severity: 1 }) }), t0);
        const outcome = await store.record(published('google', { labels: labels({ severity: 2 }) }), t0);
        expect(outcome).toMatchObject({ kind: 'corroborated', escalates: true });
      });

      it('does not mark a corroboration of the same category and no higher severity as escalating', async () => {
        await store.record(published('facebook', { labels: labels({ severity: 2 }) }), t0);
        await store.record(published('twitter', { labels: labels({ category: 0, severity: 0 }) }), t0);
        const outcome = await store.record(published('google', { labels: labels({ severity: 2 }) }), t0);
        expect(outcome).toMatchObject({ kind: 'corroborated', escalates: false });
      });

      it('calls a re-publication with a material change updated, with the changes and the labels before', async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        const next = labels({ severity: 3, validUntil: t0 + DAY, description: 7, tags: 9 });
        expect(await store.record(published('facebook', { labels: next }), t0 + MINUTE)).toEqual(
          first({
            kind: 'updated',
            changed: ['severity', 'validUntil', 'description', 'tags'],
            previous: labels(),
          }),
        );
      });

      it('calls a changed category an update', async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        const outcome = await store.record(published('facebook', { labels: labels({ category: 0 }) }), t0);
        expect(outcome).toMatchObject({ kind: 'updated', changed: ['category'] });
      });

      it('calls an unchanged re-publication republished', async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        expect(await store.record(published('facebook', { labels: labels() }), t0 + MINUTE)).toEqual(
          first({ kind: 'republished' }),
        );
      });

      it('measures confidence against the labels last delivered, so small steps add up to an update', async () => {
        await store.record(published('facebook', { labels: labels({ confidence: 50 }) }), t0);
        expect(await store.record(published('facebook', { labels: labels({ confidence: 56 }) }), t0)).toEqual(
          first({ kind: 'republished' }),
        );
        expect(await store.record(published('facebook', { labels: labels({ confidence: 61 }) }), t0)).toEqual(
          first({ kind: 'updated', changed: ['confidence'], previous: labels({ confidence: 50 }) }),
        );
      });

      it('returns the original update again for a re-read of the same record', async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        const update = published('facebook', { labels: labels({ severity: 3 }) });
        await store.record(update, t0);
        await store.record(published('facebook', { labels: labels({ severity: 1 }) }), t0);
        expect(await store.record(update, t0 + MINUTE)).toEqual({
          kind: 'updated',
          changed: ['severity'],
          previous: labels(),
          repeat: true,
        });
      });

      it('returns the original labels of a corroboration again for a re-read of the same record', async () => {
        await store.record(published('facebook', { labels: labels() }), t0);
        const corroboration = published('google', { labels: labels({ severity: 3 }) });
        const original = await store.record(corroboration, t0);
        await store.record(published('facebook', { labels: labels({ category: 2 }) }), t0);
        expect(await store.record(corroboration, t0 + MINUTE)).toEqual({
          ...(original as object),
          repeat: true,
        });
      });
    });

    describe('sightings', () => {
      const sighted = (org: string, sightingKind: SightingKind): DedupInput => ({
        ...published(org),
        kind: 'sighted',
        sightingKind,
      });

      it('drops a sighting of a key the subscription does not hold', async () => {
        expect(await store.record(sighted('fbi', 'true_positive'), t0)).toEqual(
          first({ kind: 'sighting-unknown' }),
        );
      });

      it('gives a sighting of a held key the opinion so far, sorted by org and kind', async () => {
        await store.record(published('facebook'), t0);
        await store.record(sighted('odni', 'false_positive'), t0);
        expect(await store.record(sighted('fbi', 'true_positive'), t0 + MINUTE)).toEqual(
          first({
            kind: 'sighted',
            opinion: [
              { org: 'fbi', kind: 'true_positive', counted: 1, countedAt: t0 + MINUTE },
              { org: 'odni', kind: 'false_positive', counted: 1, countedAt: t0 },
            ],
          }),
        );
      });

      it('counts sightings of one org and kind within an hour once', async () => {
        await store.record(published('facebook'), t0);
        await store.record(sighted('fbi', 'seen'), t0);
        await store.record(sighted('fbi', 'seen'), t0 + 30 * MINUTE);
        expect(await store.record(sighted('fbi', 'seen'), t0 + 61 * MINUTE)).toEqual(
          first({
            kind: 'sighted',
            opinion: [{ org: 'fbi', kind: 'seen', counted: 2, countedAt: t0 + 61 * MINUTE }],
          }),
        );
      });

      it('returns the original opinion again for a re-read of the same sighting', async () => {
        await store.record(published('facebook'), t0);
        const sighting = sighted('fbi', 'true_positive');
        const original = await store.record(sighting, t0);
        await store.record(sighted('odni', 'false_positive'), t0);
        expect(await store.record(sighting, t0 + MINUTE)).toEqual({ ...(original as object), repeat: true });
      });

      it('does not let a sighting make a key held', async () => {
        await store.record(sighted('fbi', 'true_positive'), t0);
        expect(await store.record(published('facebook'), t0)).toEqual(first({ kind: 'new' }));
      });
    });

    describe('revocations', () => {
      it('delivers a revocation of a key received from that org, with the sources that remain', async () => {
        await store.record(published('facebook'), t0);
        await store.record(published('google'), t0);
        expect(await store.record(revoked('google'), t0)).toEqual(
          first({ kind: 'revoked', remainingSources: ['facebook'] }),
        );
      });

      it('does not deliver a revocation of a key it never received', async () => {
        expect(await store.record(revoked('facebook'), t0)).toEqual(first({ kind: 'revocation-unknown' }));
      });

      it('does not deliver a revocation of a key it received only from other orgs', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(revoked('google'), t0)).toEqual(first({ kind: 'revocation-unknown' }));
        expect(await store.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'twitter'] }),
        );
      });

      it('clears a key revoked by its last source, so a later report is new', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(revoked('facebook'), t0)).toEqual(
          first({ kind: 'revoked', remainingSources: [] }),
        );
        expect(await store.record(published('facebook'), t0 + MINUTE)).toEqual(first({ kind: 'new' }));
      });

      it('no longer counts a source that revoked', async () => {
        await store.record(published('facebook'), t0);
        await store.record(published('google'), t0);
        await store.record(revoked('facebook'), t0);
        expect(await store.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['google', 'twitter'] }),
        );
      });

      it('does not deliver a second revocation by the same org', async () => {
        await store.record(published('facebook'), t0);
        await store.record(published('google'), t0);
        await store.record(revoked('google'), t0);
        expect(await store.record(revoked('google'), t0)).toEqual(first({ kind: 'revocation-unknown' }));
      });
    });

    describe('expiry', () => {
      it('forgets a report once its validUntil has passed', async () => {
        await store.record(published('facebook', { validUntil: t0 + 60 * MINUTE }), t0);
        expect(await store.record(published('google'), t0 + 60 * MINUTE - 1)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google'] }),
        );
        expect(await store.record(published('twitter'), t0 + 60 * MINUTE)).toEqual(
          first({ kind: 'corroborated', sources: ['google', 'twitter'] }),
        );
      });

      it('treats a key as new once every report of it has expired', async () => {
        await store.record(published('facebook', { validUntil: t0 + 60 * MINUTE }), t0);
        expect(await store.record(published('google'), t0 + 61 * MINUTE)).toEqual(first({ kind: 'new' }));
      });

      it('keeps a report without validUntil for the whole window, and forgets it after', async () => {
        await store.record(published('facebook'), t0);
        expect(await store.record(published('google'), t0 + WINDOW - 1)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google'] }),
        );
        expect(await store.record(published('twitter'), t0 + WINDOW + DAY)).toEqual(
          first({ kind: 'corroborated', sources: ['google', 'twitter'] }),
        );
      });

      it('forgets a report at the end of the window even when its validUntil is later', async () => {
        await store.record(published('facebook', { validUntil: t0 + 365 * DAY }), t0);
        expect(await store.record(published('google'), t0 + WINDOW)).toEqual(first({ kind: 'new' }));
      });

      it('refreshes the expiry of a report its org publishes again', async () => {
        await store.record(published('facebook', { validUntil: t0 + 60 * MINUTE }), t0);
        await store.record(published('facebook', { validUntil: t0 + 120 * MINUTE }), t0 + 30 * MINUTE);
        expect(await store.record(published('google'), t0 + 90 * MINUTE)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google'] }),
        );
      });

      it('does not deliver the revocation of a report that has already expired', async () => {
        await store.record(published('facebook', { validUntil: t0 + 60 * MINUTE }), t0);
        expect(await store.record(revoked('facebook'), t0 + 61 * MINUTE)).toEqual(
          first({ kind: 'revocation-unknown' }),
        );
      });

      it('remembers an eventId for the window even after its report expired', async () => {
        const event = published('facebook', { validUntil: t0 + MINUTE });
        await store.record(event, t0);
        expect(await store.record({ ...event, position: 't/1/5' }, t0 + 10 * DAY)).toEqual({
          kind: 'duplicate',
        });
      });

      it('forgets an eventId after the window', async () => {
        const event = published('facebook');
        await store.record(event, t0);
        expect(await store.record({ ...event, position: 't/1/5' }, t0 + WINDOW + 1)).toEqual(
          first({ kind: 'new' }),
        );
      });
    });

    describe('re-reading a record whose offset was never committed', () => {
      it('returns the original outcome of the same record again, marked repeat', async () => {
        const event = published('facebook');
        await store.record(event, t0);
        expect(await store.record(event, t0 + MINUTE)).toEqual({ kind: 'new', repeat: true });
      });

      it('returns the original sources, not the current ones, and changes nothing', async () => {
        await store.record(published('facebook'), t0);
        const corroboration = published('google');
        await store.record(corroboration, t0);
        await store.record(published('twitter'), t0);
        expect(await store.record(corroboration, t0)).toEqual(
          expect.objectContaining({ kind: 'corroborated', sources: ['facebook', 'google'], repeat: true }),
        );
        expect(await store.record(published('microsoft'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google', 'microsoft', 'twitter'] }),
        );
      });

      it('returns the original outcome of a revocation again without revoking twice', async () => {
        await store.record(published('facebook'), t0);
        await store.record(published('google'), t0);
        const revocation = revoked('google');
        await store.record(revocation, t0);
        expect(await store.record(revocation, t0)).toEqual({
          kind: 'revoked',
          remainingSources: ['facebook'],
          repeat: true,
        });
        expect(await store.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'twitter'] }),
        );
      });

      it('returns the webhook batch a re-read record was handed to, and only for a re-read', async () => {
        const a = published('facebook');
        const b = published('google', { key: 'd'.repeat(64) });
        await store.record(a, t0);
        await store.record(b, t0);
        const mark = { webhookId: 'msg_abc', size: 2 };
        await store.markBatch(
          [a, b, published('twitter')].map((e) => ({ org: e.org, eventId: e.eventId })),
          mark,
        );
        expect(await store.record(a, t0 + MINUTE)).toEqual({ kind: 'new', repeat: true, batch: mark });
        expect(await store.record({ ...b, position: 't/9/9' }, t0 + MINUTE)).toEqual({ kind: 'duplicate' });
        // An event the store never held is not created by a mark.
        const unseen = published('twitter', { key: 'e'.repeat(64) });
        await store.markBatch([{ org: unseen.org, eventId: unseen.eventId }], mark);
        expect(await store.record(unseen, t0 + MINUTE)).toEqual(first({ kind: 'new' }));
      });

      it('returns repeat for a record that was dropped the first time too', async () => {
        const revocation = revoked('facebook');
        await store.record(revocation, t0);
        expect(await store.record(revocation, t0)).toEqual({ kind: 'revocation-unknown', repeat: true });
      });
    });

    describe('concurrency', () => {
      const storesForInstances = async (): Promise<DedupStore[]> =>
        harness.sharedByInstances ? [store, await open()] : [store];

      it('gives exactly one of 20 simultaneous reports of a key from different orgs "new"', async () => {
        const stores = await storesForInstances();
        const inputs = Array.from({ length: 20 }, (_, i) => published(`org-${String(i).padStart(2, '0')}`));
        const outcomes = await Promise.all(
          inputs.map((input, i) => stores[i % stores.length]!.record(input, t0)),
        );
        expect(outcomes.filter((o) => o.kind === 'new')).toHaveLength(1);
        // Each call saw the state every earlier one left: the counts are 2..20, each exactly once.
        const counts = outcomes.flatMap((o) => (o.kind === 'corroborated' ? [o.sources.length] : []));
        expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 2));
      });

      it('gives exactly one of 20 simultaneous reports of a key from one org "new"', async () => {
        const stores = await storesForInstances();
        const inputs = Array.from({ length: 20 }, () => published('facebook'));
        const outcomes = await Promise.all(
          inputs.map((input, i) => stores[i % stores.length]!.record(input, t0)),
        );
        expect(outcomes.filter((o) => o.kind === 'new')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'republished')).toHaveLength(19);
      });

      it('records one event read at 20 positions at once exactly once', async () => {
        const stores = await storesForInstances();
        const event = published('facebook');
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            stores[i % stores.length]!.record({ ...event, position: `t/0/${1000 + i}` }, t0),
          ),
        );
        expect(outcomes.filter((o) => o.kind === 'new')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(19);
      });
    });

    describe('durability', () => {
      it('keeps its state for the next store opened over it', async () => {
        const event = published('facebook');
        await store.record(event, t0);
        await store.record(published('google'), t0);
        if (!harness.sharedByInstances) await store.close();
        const other = await open();
        expect(await other.record(event, t0)).toEqual({ kind: 'new', repeat: true });
        expect(await other.record({ ...event, position: 't/9/9' }, t0)).toEqual({ kind: 'duplicate' });
        expect(await other.record(published('twitter'), t0)).toEqual(
          first({ kind: 'corroborated', sources: ['facebook', 'google', 'twitter'] }),
        );
      });
    });
  });
}

describeDedupContract('embedded (lmdb)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'threatrelay-dedup-'));
  return {
    sharedByInstances: false,
    open: async () => createDedupStore({ kind: 'embedded', path: join(dir, 'dedup', 'sub-1') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describeDedupContract('redis', async () => {
  const prefix = `test:dedup:{${randomUUID()}}:`;
  return {
    sharedByInstances: true,
    open: async () => createDedupStore({ kind: 'redis', url: redis!.url, prefix }),
    cleanup: async () => undefined,
  };
});
