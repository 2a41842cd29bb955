import {
  corroborationCheck,
  entitled,
  ledgerRow,
  rowPasses,
  type AcceptedEvent,
  type LedgerSubscription,
  type WebhookRequest,
} from '../../soak/ledger';

const dhs: LedgerSubscription = {
  id: 'dhs-native',
  org: 'dhs',
  maxTlp: 'amber',
  corroborations: false,
  format: 'native',
};

const ev = (n: number, over: Partial<AcceptedEvent> = {}): AcceptedEvent => ({
  eventId: `e${n}`,
  key: `k${n}`,
  org: 'google',
  tlp: 'green',
  recipients: [],
  ...over,
});

const req = (webhookId: string, ids: string[], over: Partial<WebhookRequest> = {}): WebhookRequest => ({
  webhookId,
  status: 200,
  verified: true,
  events: ids.map((eventId) => ({ eventId, key: `k${eventId.slice(1)}`, type: 'indicator.published' })),
  ...over,
});

describe('the soak ledger', () => {
  it('entitles community levels up to maxTlp and direct levels only to named recipients', () => {
    const green = { org: 'odni', maxTlp: 'green' as const };
    expect(entitled(green, ev(1, { tlp: 'green' }))).toBe(true);
    expect(entitled(green, ev(1, { tlp: 'amber' }))).toBe(false);
    expect(entitled(green, ev(1, { tlp: 'red', recipients: ['odni'] }))).toBe(true);
    expect(entitled(dhs, ev(1, { tlp: 'amber+strict', recipients: ['fbi'] }))).toBe(false);
  });

  it('passes when every entitled event arrives once and a retry reuses its webhook-id', () => {
    const row = ledgerRow(
      dhs,
      [ev(1), ev(2), ev(3, { tlp: 'red', recipients: ['fbi'] })],
      [req('w1', ['e1', 'e2']), req('w1', ['e1', 'e2']), req('w0', ['e1'], { status: 503, events: [] })],
      [],
    );
    expect(row).toMatchObject({ entitled: 2, delivered: 2, lost: 0, duplicated: 0, redelivered: 1 });
    expect(rowPasses(row)).toBe(true);
  });

  it('counts an event that never arrived as lost, unless it was dead-lettered with a reason', () => {
    const lost = ledgerRow(dhs, [ev(1), ev(2)], [req('w1', ['e1'])], []);
    expect(lost).toMatchObject({ lost: 1, delivered: 1 });
    const dead = ledgerRow(
      dhs,
      [ev(1), ev(2)],
      [req('w1', ['e1'])],
      [{ eventId: 'e2', code: 'TR_DELIVERY_RETRYABLE', reason: 'gave up' }],
    );
    expect(dead).toMatchObject({ lost: 0, deadLettered: 1 });
    expect(rowPasses(dead)).toBe(true);
    const noReason = ledgerRow(dhs, [ev(1)], [], [{ eventId: 'e1', code: 'TR_X', reason: '' }]);
    expect(rowPasses(noReason)).toBe(false);
  });

  it('counts the same event under two webhook-ids as duplicated', () => {
    const row = ledgerRow(dhs, [ev(1), ev(2)], [req('w1', ['e1']), req('w2', ['e1', 'e2'])], []);
    expect(row.duplicated).toBe(1);
    expect(rowPasses(row)).toBe(false);
  });

  it('counts what the subscription is not entitled to, or nobody acknowledged, as unexpected', () => {
    const row = ledgerRow(dhs, [ev(1, { tlp: 'red', recipients: ['fbi'] })], [req('w1', ['e1', 'e9'])], []);
    expect(row.unexpected).toBe(2);
  });

  it('fails a request whose signature did not verify', () => {
    const row = ledgerRow(dhs, [ev(1)], [req('w1', ['e1']), req('w2', [], { verified: false })], []);
    expect(rowPasses(row)).toBe(false);
  });

  describe('the shared set', () => {
    const orgs = ['facebook', 'google', 'microsoft', 'twitter'];
    const shared: AcceptedEvent[] = orgs.flatMap((org, i) => [
      ev(10 + i, { org, key: 'ks', tlp: 'clear', shared: 'first' }),
      ev(20 + i, { org, key: 'ks', tlp: 'clear', shared: 'again' }),
    ]);

    it('expects one first report per key without corroborations, and never a re-publication', () => {
      expect(rowPasses(ledgerRow(dhs, shared, [req('w1', ['e12'])], []))).toBe(true);
      expect(ledgerRow(dhs, shared, [req('w1', ['e12', 'e13'])], []).unexpected).toBe(1);
      expect(ledgerRow(dhs, shared, [req('w1', ['e12', 'e22'])], []).unexpected).toBe(1);
      expect(ledgerRow(dhs, shared, [], []).lost).toBe(1);
    });

    it('expects every org first report with corroborations: one published, the rest corroborated', () => {
      const corr = { ...dhs, corroborations: true };
      const events = (types: string[]): WebhookRequest => ({
        webhookId: 'w1',
        status: 200,
        verified: true,
        events: types.map((type, i) => ({ eventId: `e${10 + i}`, key: 'ks', type })),
      });
      const good = events([
        'indicator.published',
        'indicator.corroborated',
        'indicator.corroborated',
        'indicator.corroborated',
      ]);
      expect(rowPasses(ledgerRow(corr, shared, [good], []))).toBe(true);
      expect(corroborationCheck(corr, shared, [good]).ok).toBe(true);
      const twoPublished = events([
        'indicator.published',
        'indicator.published',
        'indicator.corroborated',
        'indicator.corroborated',
      ]);
      expect(corroborationCheck(corr, shared, [twoPublished]).ok).toBe(false);
      expect(ledgerRow(corr, shared, [events(['indicator.published'])], []).lost).toBe(3);
    });
  });
});
