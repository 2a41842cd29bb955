import { Kafka, logLevel } from 'kafkajs';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import { replayDeadLetters } from '../../services/subscriber/dlq/replay';
import type { RunningProducer } from '../../services/producer/service';
import { HEADERS } from '../../services/contract/definitions';
import { loadPrivateKey, signValue } from '../../services/contract/signing';
import { kafkaNames } from '../../services/contract/names';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * The subscriber against a real broker and real receivers: entitlement,
 * dead letters that do not stop the consumer, retries and Retry-After, a
 * receiver that is down for a minute, 410 Gone, and DLQ replay.
 */

const FAST_RETRY = { initialDelayMs: 100, maxDelayMs: 2000, maxElapsedMs: 120_000 };

interface Delivered {
  type: string;
  eventId: string;
  key: string;
  source: { org: string };
  indicator?: { value: string; tlp: string };
}

function events(receiver: Receiver, path?: string): Delivered[] {
  return receiver.requests
    .filter((r) => r.status >= 200 && r.status < 300 && (!path || r.path.startsWith(path)))
    .flatMap((r) => (JSON.parse(r.body) as { events?: Delivered[] }).events ?? []);
}

describe('subscriber', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let producer: RunningProducer;
  const subscribers: RunningSubscriber[] = [];

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [
        { id: 'facebook' },
        { id: 'fbi', kind: 'government' },
        { id: 'dhs', kind: 'government' },
        { id: 'odni', kind: 'government' },
        { id: 'smallco', maxTlp: 'green' },
      ],
      [
        { id: 'fbi-all', org: 'fbi', url: `${receiver.url}/ok/fbi` },
        { id: 'dhs-all', org: 'dhs', url: `${receiver.url}/ok/dhs` },
        {
          id: 'fbi-stix',
          org: 'fbi',
          url: `${receiver.url}/ok/stix`,
          format: 'stix21',
          filter: { types: ['domain'] },
        },
        { id: 'smallco-all', org: 'smallco', url: `${receiver.url}/ok/smallco` },
        {
          id: 'odni-flaky',
          org: 'odni',
          url: `${receiver.url}/flaky/3`,
          batchSize: 1,
          filter: { types: ['ipv4'] },
        },
      ],
    );
    producer = await net.startProducer('facebook');
    for (const org of ['fbi', 'dhs', 'smallco', 'odni']) {
      subscribers.push(
        await startSubscriber({
          dataDir: net.dataDir,
          config: net.config,
          org,
          logger: net.logger,
          retryPolicy: FAST_RETRY,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const s of subscribers) await s.close();
    await producer?.close();
    await receiver?.close();
    await net?.close();
  });

  const publish = async (body: unknown): Promise<{ eventId: string; key: string }[]> => {
    const res = await fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { receipts: { eventId: string; key: string }[] }).receipts;
  };

  it('delivers a TLP:RED indicator for fbi to fbi and no one else, and amber only to orgs entitled to amber', async () => {
    const [red] = await publish({
      type: 'domain',
      value: 'red-only-for-fbi.example.com',
      category: 'influence_operation',
      tlp: 'red',
      recipients: ['fbi'],
    });
    const [amber] = await publish({
      type: 'domain',
      value: 'amber.example.com',
      category: 'spam',
      tlp: 'amber',
    });
    await waitFor('fbi and dhs to get the amber one', () =>
      ['/ok/fbi', '/ok/dhs'].every((p) => events(receiver, p).some((e) => e.eventId === amber!.eventId)),
    );
    await waitFor('fbi to get the red one', () =>
      events(receiver, '/ok/fbi').some((e) => e.eventId === red!.eventId),
    );
    // Give everyone else time to (wrongly) receive it.
    await new Promise((r) => setTimeout(r, 2000));
    expect(events(receiver).filter((e) => e.eventId === red!.eventId)).toHaveLength(1);
    expect(events(receiver, '/ok/smallco').some((e) => e.eventId === amber!.eventId)).toBe(false);
    const dhsDirect = await net.readAll(kafkaNames(net.prefix).direct('dhs'));
    expect(dhsDirect).toHaveLength(0);
  });

  it('delivers STIX 2.1 bundles to a subscription that asked for them, TLP-marked', async () => {
    const bundles = await waitFor('a STIX bundle with the red indicator', () => {
      const got = receiver.requests
        .filter((r) => r.path === '/ok/stix' && r.status === 200)
        .map((r) => JSON.parse(r.body) as { type: string; objects: Record<string, unknown>[] });
      return got.some((b) => JSON.stringify(b).includes('red-only-for-fbi.example.com')) ? got : undefined;
    });
    expect(bundles.every((b) => b.type === 'bundle')).toBe(true);
    const indicator = bundles
      .flatMap((b) => b.objects)
      .find((o) => o.type === 'indicator' && String(o.pattern).includes('red-only-for-fbi'))!;
    expect(indicator).toMatchObject({
      spec_version: '2.1',
      pattern: "[domain-name:value = 'red-only-for-fbi.example.com']",
      object_marking_refs: ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1'],
    });
  });

  it('retries 5xx until the endpoint recovers, honoring the same webhook-id', async () => {
    const [ev] = await publish({ type: 'ipv4', value: '198.51.100.23', category: 'c2', tlp: 'green' });
    const attempts = await waitFor('odni to get it after 3 failures', () => {
      const tries = receiver.requests.filter(
        (r) => r.path.startsWith('/flaky') && r.body.includes(ev!.eventId),
      );
      return tries.some((t) => t.status === 200) ? tries : undefined;
    });
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 200]);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
  });

  it('dead-letters a forged signature and garbage bytes with their reasons and keeps delivering after them', async () => {
    const topic = kafkaNames(net.prefix).community('green');
    const kafka = new Kafka({ brokers: net.config.kafka.brokers, logLevel: logLevel.NOTHING });
    const raw = kafka.producer();
    await raw.connect();
    const valid = await net.readAll(topic, { atLeast: 1 });
    const genuine = valid[0]!.value!;
    const tampered = Buffer.from(genuine);
    tampered[tampered.length - 1] ^= 0xff;
    const attacker = loadPrivateKey(net.signingKeys.fbi!);
    await raw.send({
      topic,
      acks: -1,
      messages: [
        // Signed by the wrong org's key, claiming facebook.
        {
          key: 'forged',
          value: genuine,
          headers: { [HEADERS.sourceOrg]: 'facebook', [HEADERS.signature]: signValue(genuine, attacker) },
        },
        // The right headers on bytes that are not our Avro at all.
        {
          key: 'garbage',
          value: Buffer.from('not avro at all'),
          headers: {
            [HEADERS.sourceOrg]: 'facebook',
            [HEADERS.signature]: signValue(
              Buffer.from('not avro at all'),
              loadPrivateKey(net.signingKeys.facebook!),
            ),
          },
        },
        // A genuine record whose bytes were changed after signing.
        { key: 'tampered', value: tampered, headers: valid[0]!.headers! },
      ],
    });
    await raw.disconnect();
    const [after] = await publish({
      type: 'domain',
      value: 'after-the-garbage.example.com',
      category: 'phishing',
      tlp: 'green',
    });
    await waitFor('dhs to deliver the record after the bad ones', () =>
      events(receiver, '/ok/dhs').some((e) => e.eventId === after!.eventId),
    );
    const letters = await waitFor('3 dead letters for dhs', async () => {
      const l = await readDeadLetters(net.config, 'dhs-all', net.logger);
      return l.length >= 3 ? l : undefined;
    });
    expect(letters.map((l) => l.code).sort()).toEqual([
      'TR_CODEC_MALFORMED',
      'TR_SIGNATURE_INVALID',
      'TR_SIGNATURE_INVALID',
    ]);
    expect(letters.every((l) => l.source.topic === topic && l.source.offset !== '')).toBe(true);
    expect(letters.find((l) => l.code === 'TR_CODEC_MALFORMED')!.reason).toMatch(
      /magic|header|single-object|short/i,
    );
  });

  it('holds on replay the dead letters a check refused, and sends none of them', async () => {
    const before = await readDeadLetters(net.config, 'dhs-all', net.logger);
    expect(before.length).toBeGreaterThan(0);
    const result = await replayDeadLetters(net.config, 'dhs-all', {}, net.logger);
    expect(result).toEqual({ selected: 0, held: before.length, delivered: 0, deadLettered: 0, skipped: 0 });
    expect(await readDeadLetters(net.config, 'dhs-all', net.logger)).toHaveLength(before.length);
  });

  it('replays a forged letter only when the operator forces it, and it fails its checks again', async () => {
    const [forged] = (await readDeadLetters(net.config, 'dhs-all', net.logger)).filter(
      (l) => l.code === 'TR_SIGNATURE_INVALID' && !l.replayed,
    );
    const id = `${forged!.partition}:${forged!.offset}`;
    await expect(replayDeadLetters(net.config, 'dhs-all', { letter: id }, net.logger)).rejects.toMatchObject({
      code: 'TR_USAGE',
    });
    const result = await replayDeadLetters(
      net.config,
      'dhs-all',
      { letter: id, forceTrustFailure: true, dataDir: net.dataDir },
      net.logger,
    );
    expect(result).toMatchObject({ selected: 1, delivered: 0, deadLettered: 1 });
    const after = await readDeadLetters(net.config, 'dhs-all', net.logger);
    expect(
      after.find((l) => l.partition === forged!.partition && l.offset === forged!.offset)?.replayed,
    ).toBe(true);
  });
});

describe('dead-letter replay', () => {
  it('delivers, on replay, what an endpoint refused with a 4xx, bypassing dedup, once', async () => {
    const receiver = await startReceiver();
    const net = await createTestNetwork(
      [{ id: 'microsoft' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-replay', org: 'dhs', url: `${receiver.url}/ok` }],
    );
    const producer = await net.startProducer('microsoft');
    const subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
    try {
      receiver.answerAll(422);
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.microsoft}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'hashtag',
          platform: 'instagram',
          value: '#StopTheCount2026',
          category: 'disinformation',
          tlp: 'green',
        }),
      });
      const [{ eventId }] = ((await res.json()) as { receipts: { eventId: string }[] }).receipts as [
        { eventId: string },
      ];
      const letters = await waitFor('the refused batch in the DLQ', async () => {
        const l = await readDeadLetters(net.config, 'dhs-replay', net.logger);
        return l.length > 0 ? l : undefined;
      });
      expect(letters[0]).toMatchObject({ code: 'TR_DELIVERY_REJECTED', eventId });
      expect(letters[0]!.reason).toMatch(/422/);
      expect(receiver.requests).toHaveLength(1);

      receiver.answerAll(undefined);
      const result = await replayDeadLetters(
        net.config,
        'dhs-replay',
        { since: '2000-01-01T00:00:00Z' },
        net.logger,
      );
      expect(result).toEqual({ selected: 1, held: 0, delivered: 1, deadLettered: 0, skipped: 0 });
      expect(events(receiver).map((e) => e.eventId)).toEqual([eventId]);
      // Marked as replayed: a second replay sends nothing again.
      expect(await replayDeadLetters(net.config, 'dhs-replay', {}, net.logger)).toMatchObject({
        selected: 0,
      });
      expect(events(receiver).map((e) => e.eventId)).toEqual([eventId]);
      expect((await readDeadLetters(net.config, 'dhs-replay', net.logger)).map((l) => l.replayed)).toEqual([
        true,
      ]);
      // A window that excludes it selects nothing.
      expect(
        (await replayDeadLetters(net.config, 'dhs-replay', { until: '2000-01-01T00:00:00Z' }, net.logger))
          .selected,
      ).toBe(0);
    } finally {
      await subscriber.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  });
});

describe('subscriber with a receiver that is down', () => {
  it('delivers everything, in partition order, after a minute of downtime, without a rebalance', async () => {
    const receiver = await startReceiver();
    const net = await createTestNetwork(
      [{ id: 'twitter' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-patient', org: 'dhs', url: `${receiver.url}/ok`, batchSize: 5 }],
    );
    const producer = await net.startProducer('twitter');
    const subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
      retryPolicy: { initialDelayMs: 200, maxDelayMs: 5000, maxElapsedMs: 10 * 60_000 },
    });
    try {
      receiver.down();
      const values = Array.from({ length: 40 }, (_, i) => `handle_${String(i).padStart(2, '0')}`);
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.twitter}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          values.map((v) => ({
            type: 'social_account',
            platform: 'twitter',
            value: v,
            category: 'spam',
            tlp: 'green',
          })),
        ),
      });
      expect(res.status).toBe(202);
      const receipts = (
        (await res.json()) as {
          receipts: { eventId: string; records: { partition: number; offset: string }[] }[];
        }
      ).receipts;
      await new Promise((r) => setTimeout(r, 60_000));
      expect(receiver.requests.length).toBeGreaterThan(3);
      expect(receiver.accepted()).toHaveLength(0);
      receiver.up();
      const got = await waitFor(
        'all 40 after recovery',
        () => {
          const all = events(receiver);
          return new Set(all.map((e) => e.eventId)).size >= 40 ? all : undefined;
        },
        60_000,
      );
      expect(new Set(got.map((e) => e.eventId))).toEqual(new Set(receipts.map((r) => r.eventId)));
      // Per partition, events arrived in offset order.
      const where = new Map(receipts.map((r) => [r.eventId, r.records[0]!]));
      const firstSeen = [...new Map(got.map((e) => [e.eventId, e])).keys()];
      for (const partition of new Set([...where.values()].map((w) => w.partition))) {
        const offsets = firstSeen
          .filter((id) => where.get(id)!.partition === partition)
          .map((id) => BigInt(where.get(id)!.offset));
        expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }
      expect(subscriber.consumer('dhs-patient').groupJoins).toBe(1);
    } finally {
      await subscriber.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 240_000);
});

describe('subscriber whose endpoint is gone', () => {
  it('disables the subscription on 410, keeps it disabled across a restart, and resumes when re-enabled', async () => {
    const receiver = await startReceiver();
    const net = await createTestNetwork(
      [{ id: 'google' }, { id: 'fbi', kind: 'government' }],
      [{ id: 'fbi-gone', org: 'fbi', url: `${receiver.url}/gone`, batchSize: 1 }],
    );
    const producer = await net.startProducer('google');
    let subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'fbi',
      logger: net.logger,
      port: 0,
    });
    try {
      const post = (value: string): Promise<Response> =>
        fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'domain', value, category: 'phishing', tlp: 'clear' }),
        });
      expect((await post('gone-1.example.com')).status).toBe(202);
      await waitFor('the subscription to be disabled', () => !subscriber.consumer('fbi-gone').running);
      const metrics = await (await fetch(`${subscriber.url}/metrics`)).text();
      expect(metrics).toMatch(/threatrelay_subscription_disabled\{subscription="fbi-gone"[^}]*\} 1/);
      const attempts = receiver.requests.length;
      expect(attempts).toBe(1);

      // A restart reads the switch from Kafka and stays disabled.
      await subscriber.close();
      subscriber = await startSubscriber({
        dataDir: net.dataDir,
        config: net.config,
        org: 'fbi',
        logger: net.logger,
      });
      expect(subscriber.consumer('fbi-gone').running).toBe(false);
      await new Promise((r) => setTimeout(r, 2000));
      expect(receiver.requests.length).toBe(attempts);

      // Re-enabled by the operator (what `threatrelay subscription enable` writes): it resumes where it stopped.
      const kafka = new Kafka({ brokers: net.config.kafka.brokers, logLevel: logLevel.NOTHING });
      const p = kafka.producer();
      await p.connect();
      const { writeSwitch } = await import('../../services/subscriber/control');
      await writeSwitch(p, kafkaNames(net.prefix).control('fbi'), {
        subscription: 'fbi-gone',
        disabled: false,
        reason: 'endpoint fixed',
        at: new Date().toISOString(),
      });
      await p.disconnect();
      await waitFor('a new attempt at the same record', () => receiver.requests.length > attempts, 30_000);
      expect(receiver.requests[attempts]!.body).toBe(receiver.requests[0]!.body);
    } finally {
      await subscriber.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 120_000);
});
