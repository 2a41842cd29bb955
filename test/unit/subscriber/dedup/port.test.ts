import { ThreatRelayError } from '../../../../services/contract/errors';
import type { ThreatEvent } from '../../../../services/contract/model';
import type { DedupInput, DedupOutcome, DedupStore } from '../../../../services/subscriber/dedup';
import { dedupPort, deliveryDecisionFor, labelsOf } from '../../../../services/subscriber/dedup/port';

/**
 * The dedup port's decisions: what each store outcome means for delivery,
 * and how the port talks to its store. The store is a fake that answers one
 * outcome and records what it was asked; the real stores are tested in
 * index.test.ts and types.test.ts.
 */

const published = {
  eventId: 'e-1',
  source: { org: 'google', submitter: 's' },
  payload: {
    kind: 'IndicatorPublished',
    key: 'k',
    indicator: {
      category: 'disinformation',
      severity: 'high',
      confidence: 80,
      validUntil: '2026-12-01T00:00:00.000Z',
      description: null,
      tags: [],
    },
  },
} as unknown as ThreatEvent;
const revocation = {
  eventId: 'e-2',
  source: { org: 'google', submitter: 's' },
  payload: { kind: 'IndicatorRevoked', key: 'k' },
} as unknown as ThreatEvent;

function fakeStore(answer: () => Promise<DedupOutcome>): { store: DedupStore; asked: DedupInput[] } {
  const asked: DedupInput[] = [];
  const store = {
    record: async (input: DedupInput) => {
      asked.push(input);
      return answer();
    },
  } as unknown as DedupStore;
  return { store, asked };
}

const subscription = { id: 'sub', corroborations: true };

describe('deliveryDecisionFor', () => {
  it.each([
    [{ kind: 'new', repeat: false }, 'indicator.published'],
    [{ kind: 'revoked', remainingSources: [], repeat: false }, 'indicator.revoked'],
    [
      { kind: 'corroborated', sources: ['a', 'b'], reports: [], escalates: false, repeat: false },
      'indicator.corroborated',
    ],
    [{ kind: 'duplicate' }, undefined],
    [{ kind: 'republished', repeat: false }, undefined],
    [{ kind: 'revocation-unknown', repeat: false }, undefined],
  ] as [DedupOutcome, string | undefined][])('delivers %j as %s', (outcome, deliver) => {
    expect(deliveryDecisionFor(outcome, true).deliver).toBe(deliver);
  });

  it('drops a corroboration for a subscription that does not want them', () => {
    const outcome: DedupOutcome = {
      kind: 'corroborated',
      sources: ['a', 'b'],
      reports: [],
      escalates: false,
      repeat: false,
    };
    expect(deliveryDecisionFor(outcome, false)).toEqual({
      deliver: undefined,
      outcome: 'corroborated',
    });
  });

  it('tells the receiver of a revocation which orgs still report the key', () => {
    expect(
      deliveryDecisionFor({ kind: 'revoked', remainingSources: ['b'], repeat: false }, true).detail?.sources,
    ).toEqual(['b']);
  });
});

describe('dedupPort', () => {
  it("asks the store with the event's org, key, kind, labels, position and expiry", async () => {
    const { store, asked } = fakeStore(async () => ({ kind: 'new', repeat: false }));
    await dedupPort(store, subscription)(published, 't/0/7');
    expect(asked).toEqual([
      {
        eventId: 'e-1',
        key: 'k',
        org: 'google',
        kind: 'published',
        labels: labelsOf(
          (published.payload as Extract<ThreatEvent['payload'], { kind: 'IndicatorPublished' }>).indicator,
        ),
        position: 't/0/7',
        validUntil: Date.parse('2026-12-01T00:00:00.000Z'),
      },
    ]);
  });

  it('gives a revocation no expiry', async () => {
    const { store, asked } = fakeStore(async () => ({
      kind: 'revoked',
      remainingSources: [],
      repeat: false,
    }));
    await dedupPort(store, subscription)(revocation, 't/0/8');
    expect(asked[0]).toMatchObject({ kind: 'revoked', validUntil: null });
  });

  it('hands back the webhook batch a re-read record was first sent in', async () => {
    const batch = { webhookId: 'w', size: 2 };
    const { store } = fakeStore(async () => ({ kind: 'new', repeat: true, batch }));
    expect((await dedupPort(store, subscription)(published, 't/0/7')).batch).toEqual(batch);
  });

  it('passes on a record the store refuses as the record’s fault', async () => {
    const { store } = fakeStore(() => Promise.reject(new ThreatRelayError('TR_DEDUP_REJECTED', 'bad key')));
    await expect(dedupPort(store, subscription)(published, 't/0/7')).rejects.toMatchObject({
      code: 'TR_DEDUP_REJECTED',
    });
  });

  it("reports any other store failure as the store's outage", async () => {
    const { store } = fakeStore(() => Promise.reject(new Error('connection refused')));
    await expect(dedupPort(store, subscription)(published, 't/0/7')).rejects.toMatchObject({
      code: 'TR_DEDUP_UNAVAILABLE',
    });
  });
});
