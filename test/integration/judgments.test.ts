import { randomBytes } from 'node:crypto';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Every org's word on a key reaches the subscription, on a real broker: a
 * benign first report does not hide a harmful later one (corroborations on
 * and off), and an org's material change to its own report is an update.
 * Absence is shown by order, not by waiting: every report here has the same
 * key, so the same partition, so a later delivered report proves the earlier
 * one was decided.
 */

interface Delivered {
  type: string;
  key: string;
  source: { org: string };
  indicator?: { category: string; severity: string; confidence: number; value: string };
  sources?: string[];
  reports?: { org: string; tlp: string; category?: string; severity?: string; confidence?: number }[];
  changed?: string[];
  previous?: { category: string; severity: string; confidence: number; validUntil: string | null };
}

const ORGS = ['facebook', 'google', 'microsoft', 'twitter'];

describe('judgments on the bus', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let subscriber: RunningSubscriber;
  const producers: Record<string, RunningProducer> = {};

  const delivered = (path: string, key: string): Delivered[] =>
    receiver.requests
      .filter((r) => r.status >= 200 && r.status < 300 && r.path === path)
      .flatMap((r) => (JSON.parse(r.body) as { events: Delivered[] }).events)
      .filter((e) => e.key === key);

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [...ORGS.map((id) => ({ id })), { id: 'dhs', kind: 'government' as const }],
      [
        // Corroborations default to on.
        { id: 'dhs-all', org: 'dhs', url: `${receiver.url}/ok/all` },
        { id: 'dhs-quiet', org: 'dhs', url: `${receiver.url}/ok/quiet`, corroborations: false },
      ],
    );
    for (const org of ORGS) producers[org] = await net.startProducer(org);
    subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
  });

  afterAll(async () => {
    await subscriber?.close();
    for (const p of Object.values(producers)) await p.close();
    await receiver?.close();
    await net?.close();
  });

  /** Publishes one indicator and answers its key. */
  const publish = async (org: string, body: Record<string, unknown>): Promise<string> => {
    const res = await fetch(`${producers[org]!.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'domain', tlp: 'green', ...body }),
    });
    expect(res.status).toBe(202);
    const receipt = (await res.json()) as { receipts: { key: string }[] };
    return receipt.receipts[0]!.key;
  };
  const domain = (): string => `squatted-${randomBytes(4).toString('hex')}.example.com`;
  const benign = { category: 'other', severity: 'low', confidence: 5 };
  const harmful = { category: 'disinformation', severity: 'critical', confidence: 95 };

  it("delivers a harmful report after a benign one as a corroboration with each org's labels", async () => {
    const value = domain();
    const key = await publish('facebook', { value, ...benign });
    await publish('google', { value, ...harmful });
    await waitFor('dhs-all to get both reports', () => delivered('/ok/all', key).length >= 2);
    const [first, second] = delivered('/ok/all', key);
    expect(first).toMatchObject({ type: 'indicator.published', source: { org: 'facebook' } });
    expect(second).toMatchObject({
      type: 'indicator.corroborated',
      source: { org: 'google' },
      indicator: { category: 'disinformation', severity: 'critical', confidence: 95 },
      sources: ['facebook', 'google'],
      reports: [
        { org: 'facebook', tlp: 'green', category: 'other', severity: 'low', confidence: 5 },
        { org: 'google', tlp: 'green', category: 'disinformation', severity: 'critical', confidence: 95 },
      ],
    });
  });

  it('delivers a harmful report after a benign one with corroborations off', async () => {
    const value = domain();
    const key = await publish('facebook', { value, ...benign });
    await publish('google', { value, ...harmful });
    await waitFor('dhs-quiet to get both reports', () => delivered('/ok/quiet', key).length >= 2);
    expect(delivered('/ok/quiet', key).map((e) => [e.type, e.source.org])).toEqual([
      ['indicator.published', 'facebook'],
      ['indicator.corroborated', 'google'],
    ]);
  });

  it('with corroborations off, drops a report that says nothing new and delivers the next that does', async () => {
    const value = domain();
    const key = await publish('facebook', { value, category: 'disinformation', severity: 'high' });
    // Same category, lower severity: nothing new for dhs-quiet.
    await publish('twitter', { value, category: 'disinformation', severity: 'medium' });
    // Higher severity: escalates.
    await publish('microsoft', { value, category: 'disinformation', severity: 'critical' });
    await waitFor('dhs-quiet to get the escalation', () => delivered('/ok/quiet', key).length >= 2);
    expect(delivered('/ok/quiet', key).map((e) => e.source.org)).toEqual(['facebook', 'microsoft']);
    await waitFor('dhs-all to get all three', () => delivered('/ok/all', key).length >= 3);
    expect(delivered('/ok/all', key).map((e) => e.source.org)).toEqual(['facebook', 'twitter', 'microsoft']);
  });

  it('delivers a material change by the same org as an update with what changed, and an unchanged republish not at all', async () => {
    const value = domain();
    const key = await publish('facebook', { value, ...benign, description: 'parked page' });
    await publish('facebook', { value, ...benign, description: 'parked page' });
    await publish('facebook', { value, ...benign, severity: 'high', description: 'now serves fake results' });
    await waitFor('both subscriptions to get the update', () =>
      ['/ok/all', '/ok/quiet'].every((path) => delivered(path, key).length >= 2),
    );
    for (const path of ['/ok/all', '/ok/quiet']) {
      const [published, update] = delivered(path, key);
      expect(published!.type).toBe('indicator.published');
      expect(update).toMatchObject({
        type: 'indicator.updated',
        indicator: { severity: 'high' },
        changed: ['severity', 'description'],
        previous: { category: 'other', severity: 'low', confidence: 5, validUntil: null },
      });
    }
  });

  it('does not call a confidence change below 10 an update', async () => {
    const value = domain();
    const key = await publish('facebook', { value, ...benign, confidence: 50 });
    await publish('facebook', { value, ...benign, confidence: 55 });
    await publish('facebook', { value, ...benign, confidence: 70 });
    await waitFor('dhs-all to get the update', () => delivered('/ok/all', key).length >= 2);
    expect(delivered('/ok/all', key).map((e) => [e.type, e.indicator?.confidence])).toEqual([
      ['indicator.published', 50],
      ['indicator.updated', 70],
    ]);
    expect(delivered('/ok/all', key)[1]).toMatchObject({
      changed: ['confidence'],
      previous: { confidence: 50 },
    });
  });
});
