import { randomBytes, randomUUID } from 'node:crypto';
import { loadEventCodec } from '../../services/contract/avro/codec';
import { HEADERS } from '../../services/contract/definitions';
import { kafkaNames } from '../../services/contract/names';
import type { ThreatEvent } from '../../services/contract/model';
import { signedRecord } from '../../services/contract/record';
import { loadPrivateKey } from '../../services/contract/signing';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Sightings on a real broker, from the agencies' producers to the
 * subscriptions that hold the key: each kind, the status they make, their
 * TLP, and a member that sights in another org's name. Absence is shown by
 * order on one key's partition, not by waiting.
 */

interface Delivered {
  type: string;
  key: string;
  source: { org: string };
  sighting?: { kind: string; count: number; where: string | null; note: string | null; tlp: string };
  opinion?: { status: string; counts: Record<string, number>; orgs: Record<string, Record<string, number>> };
}

const AGENCIES = ['dhs', 'fbi', 'odni'];

describe('sightings reach the subscriptions that hold the key', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  const subscribers: RunningSubscriber[] = [];
  const producers: Record<string, RunningProducer> = {};

  const delivered = (path: string, key: string): Delivered[] =>
    receiver.requests
      .filter((r) => r.status >= 200 && r.status < 300 && r.path === path)
      .flatMap((r) => (JSON.parse(r.body) as { events: Delivered[] }).events)
      .filter((e) => e.key === key);
  const sightedAt = (path: string, key: string): Delivered[] =>
    delivered(path, key).filter((e) => e.type === 'indicator.sighted');

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'google' }, ...AGENCIES.map((id) => ({ id, kind: 'government' as const }))],
      [
        { id: 'dhs-all', org: 'dhs', url: `${receiver.url}/ok/dhs` },
        { id: 'facebook-feedback', org: 'facebook', url: `${receiver.url}/ok/facebook` },
      ],
    );
    for (const org of ['facebook', 'google', ...AGENCIES]) producers[org] = await net.startProducer(org);
    for (const org of ['dhs', 'facebook']) {
      subscribers.push(
        await startSubscriber({ dataDir: net.dataDir, config: net.config, org, logger: net.logger }),
      );
    }
  });

  afterAll(async () => {
    for (const s of subscribers) await s.close();
    for (const p of Object.values(producers)) await p.close();
    await receiver?.close();
    await net?.close();
  });

  const post = async (org: string, path: string, body: Record<string, unknown>): Promise<string> => {
    const res = await fetch(`${producers[org]!.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { receipts: { key: string }[] }).receipts[0]!.key;
  };
  const domain = (): string => `fake-results-${randomBytes(4).toString('hex')}.example.com`;
  /** facebook reports a domain; answers its key once both subscriptions hold it. */
  const reported = async (value = domain(), org = 'facebook'): Promise<string> => {
    const key = await post(org, '/v1/indicators', {
      type: 'domain',
      value,
      category: 'disinformation',
      tlp: 'green',
    });
    await waitFor('both subscriptions to hold the key', () =>
      ['/ok/dhs', '/ok/facebook'].every((p) => delivered(p, key).length >= 1),
    );
    return key;
  };
  const sight = (org: string, key: string, body: Record<string, unknown>): Promise<string> =>
    post(org, '/v1/sightings', { key, to: ['facebook'], ...body });

  it('delivers a confirmation with the sighting and the status confirmed, to the reporter and to dhs', async () => {
    const key = await reported();
    await sight('fbi', key, { kind: 'true_positive', count: 4, where: 'county mail gateway' });
    await waitFor('both to get the sighting', () =>
      ['/ok/dhs', '/ok/facebook'].every((p) => sightedAt(p, key).length >= 1),
    );
    for (const path of ['/ok/dhs', '/ok/facebook']) {
      expect(sightedAt(path, key)[0]).toMatchObject({
        source: { org: 'fbi' },
        sighting: { kind: 'true_positive', count: 4, where: 'county mail gateway', tlp: 'green' },
        opinion: { status: 'confirmed', orgs: { fbi: { true_positive: 1 } } },
      });
    }
  });

  it('moves the status from confirmed to disputed when another agency reports a false positive', async () => {
    const key = await reported();
    await sight('fbi', key, { kind: 'true_positive' });
    await sight('odni', key, { kind: 'false_positive', note: 'a parked page since Tuesday' });
    await waitFor('facebook to get both', () => sightedAt('/ok/facebook', key).length >= 2);
    const [confirmation, dispute] = sightedAt('/ok/facebook', key);
    expect(confirmation!.opinion!.status).toBe('confirmed');
    expect(dispute).toMatchObject({
      source: { org: 'odni' },
      sighting: { kind: 'false_positive', note: 'a parked page since Tuesday' },
      opinion: {
        status: 'disputed',
        counts: { true_positive: 1, false_positive: 1, seen: 0, expired: 0 },
        orgs: { fbi: { true_positive: 1 }, odni: { false_positive: 1 } },
      },
    });
  });

  it('calls a key with false positives only false_positive', async () => {
    const key = await reported();
    await sight('odni', key, { kind: 'false_positive' });
    await waitFor('facebook to get it', () => sightedAt('/ok/facebook', key).length >= 1);
    expect(sightedAt('/ok/facebook', key)[0]!.opinion!.status).toBe('false_positive');
  });

  it('leaves a key that was only seen or expired unconfirmed, counting each kind', async () => {
    const key = await reported();
    await sight('dhs', key, { kind: 'seen', count: 12 });
    await sight('fbi', key, { kind: 'expired' });
    await waitFor('facebook to get both', () => sightedAt('/ok/facebook', key).length >= 2);
    const last = sightedAt('/ok/facebook', key)[1]!;
    expect(last.opinion).toMatchObject({ status: 'unconfirmed', counts: { seen: 1, expired: 1 } });
    expect(sightedAt('/ok/facebook', key)[0]!.sighting).toMatchObject({ kind: 'seen', count: 12 });
  });

  it('counts a second confirmation of one agency within the hour once', async () => {
    const key = await reported();
    await sight('fbi', key, { kind: 'true_positive' });
    await sight('fbi', key, { kind: 'true_positive' });
    await waitFor('facebook to get both', () => sightedAt('/ok/facebook', key).length >= 2);
    expect(sightedAt('/ok/facebook', key)[1]!.opinion!.orgs).toEqual({ fbi: { true_positive: 1 } });
  });

  it('does not deliver a sighting of a key the subscription does not hold', async () => {
    const value = domain();
    // Nobody reported it yet: dhs holds nothing of the key.
    const key = await post('fbi', '/v1/sightings', { type: 'domain', value, kind: 'true_positive' });
    await reported(value, 'google');
    await sight('odni', key, { kind: 'seen' });
    await waitFor('dhs to get the second sighting', () => sightedAt('/ok/dhs', key).length >= 1);
    expect(delivered('/ok/dhs', key).map((e) => [e.type, e.source.org])).toEqual([
      ['indicator.published', 'google'],
      ['indicator.sighted', 'odni'],
    ]);
    expect(sightedAt('/ok/dhs', key)[0]!.opinion!.orgs).toEqual({ odni: { seen: 1 } });
  });

  it('delivers a red sighting only to its named recipients', async () => {
    const key = await reported();
    await sight('fbi', key, { kind: 'true_positive', tlp: 'red', recipients: ['facebook'] });
    await sight('odni', key, { kind: 'seen' });
    await waitFor('facebook to get both', () => sightedAt('/ok/facebook', key).length >= 2);
    await waitFor('dhs to get the green one', () => sightedAt('/ok/dhs', key).length >= 1);
    expect(sightedAt('/ok/facebook', key)[0]!.sighting!.tlp).toBe('red');
    // The red one travels on facebook's direct topic only; dhs never reads it.
    expect(sightedAt('/ok/dhs', key).map((e) => e.source.org)).toEqual(['odni']);
  });

  it("dead-letters a member's sighting written in another org's name", async () => {
    const key = await reported();
    const forged: ThreatEvent = {
      eventId: randomUUID(),
      schemaVersion: 4,
      producedAt: new Date().toISOString(),
      source: { org: 'fbi', submitter: 'forged' },
      canonicalizationVersion: 2,
      payload: {
        kind: 'Sighting',
        key,
        sightingKind: 'false_positive',
        count: 1,
        firstSeen: null,
        lastSeen: null,
        where: null,
        note: 'not ours to say',
        tlp: 'green',
        recipients: [],
        to: [],
      },
    };
    const producer = net.kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: kafkaNames(net.prefix).community('green'),
        acks: -1,
        // odni signs a record that says fbi sighted it.
        messages: [signedRecord(forged, loadEventCodec(), loadPrivateKey(net.signingKeys.odni!))],
      });
    } finally {
      await producer.disconnect();
    }
    const dlq = await net.readAll(kafkaNames(net.prefix).dlq('dhs-all'), { atLeast: 1 });
    const dead = dlq.find((m) => m.key?.toString() === key);
    expect(dead?.headers?.[HEADERS.dlqCode]?.toString()).toBe('TR_SIGNATURE_INVALID');
    expect(sightedAt('/ok/dhs', key)).toEqual([]);
  });
});
