import type { RunningProducer } from '../../services/producer/service';
import { kafkaNames } from '../../services/contract/names';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * A webhook batch that gives up is dead-lettered, and the offsets that move
 * past it are committed, in one Kafka transaction. When that commit cannot
 * happen (the member lost its partition, the broker went away), neither is
 * visible: the records are read again and the batch, posted again, is
 * delivered. Each event ends in exactly one place: delivered (under one
 * webhook-id) or in the DLQ, never both, never neither.
 */

/** Gives up after the first failed attempt that took longer than 2 s. */
const GIVE_UP_FAST = { initialDelayMs: 100, maxDelayMs: 200, maxElapsedMs: 2000 };

function deliveredIds(receiver: Receiver): Map<string, Set<string>> {
  const byEvent = new Map<string, Set<string>>();
  for (const r of receiver.requests.filter((q) => q.status >= 200 && q.status < 300)) {
    for (const e of (JSON.parse(r.body) as { events: { eventId: string }[] }).events) {
      byEvent.set(e.eventId, (byEvent.get(e.eventId) ?? new Set()).add(String(r.headers['webhook-id'])));
    }
  }
  return byEvent;
}

interface Published {
  ids: string[];
  /** The offset of the last record in the green topic's one partition. */
  lastOffset: bigint;
}

async function publish(net: TestNetwork, producer: RunningProducer, tag: string): Promise<Published> {
  const res = await fetch(`${producer.url}/v1/indicators`, {
    method: 'POST',
    headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
    body: JSON.stringify(
      Array.from({ length: 5 }, (_, i) => ({
        type: 'domain',
        value: `${tag}-${i}.example.com`,
        category: 'phishing',
        tlp: 'green',
      })),
    ),
  });
  expect(res.status).toBe(202);
  const { receipts } = (await res.json()) as {
    receipts: { eventId: string; records: { offset: string }[] }[];
  };
  return {
    ids: receipts.map((r) => r.eventId),
    lastOffset: receipts
      .flatMap((r) => r.records.map((l) => BigInt(l.offset)))
      .reduce((a, b) => (a > b ? a : b)),
  };
}

/** A network with one subscription (`dhs-once`, batches of 5, one partition per topic) whose webhook may take 20 s. */
async function network(receiver: Receiver): Promise<TestNetwork> {
  const net = await createTestNetwork(
    [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
    [{ id: 'dhs-once', org: 'dhs', url: `${receiver.url}/ok`, batchSize: 5, retry: GIVE_UP_FAST }],
    { partitions: 1 },
  );
  // A held request must outlive the member's session, not time out first.
  net.config.subscriptions = net.config.subscriptions.map((s) => ({
    ...s,
    webhook: { ...s.webhook, timeoutMs: 20_000 },
  }));
  return net;
}

/** The events in exactly one place: each delivered under one webhook-id and not dead-lettered, or only dead-lettered. */
async function expectExactlyOnePlace(
  net: TestNetwork,
  receiver: Receiver,
  ids: string[],
  lastOffset: bigint,
): Promise<void> {
  // Everything read is committed before the DLQ is looked at: a dead letter would be visible by then.
  const topic = kafkaNames(net.prefix).community('green');
  const admin = await net.admin();
  await waitFor(
    'the group to commit past every record',
    async () => {
      // Tolerates a coordinator still moving after a broker restart.
      const offsets = await admin
        .fetchOffsets({ groupId: kafkaNames(net.prefix).subscriptionGroup('dhs-once'), topics: [topic] })
        .catch(() => undefined);
      const committed = offsets?.[0]?.partitions[0];
      return committed !== undefined && BigInt(committed.offset) > lastOffset;
    },
    60_000,
  );
  const letters = new Set((await readDeadLetters(net.config, 'dhs-once', net.logger)).map((l) => l.eventId));
  const delivered = deliveredIds(receiver);
  for (const id of ids) {
    const place = [delivered.has(id) ? 'delivered' : '', letters.has(id) ? 'dead-lettered' : ''].filter(
      Boolean,
    );
    expect([id, place]).toEqual([id, [expect.any(String)]]);
    if (delivered.has(id)) expect([id, delivered.get(id)!.size]).toEqual([id, 1]);
  }
}

/**
 * A subscriber of `dhs` with the broker's smallest session timeout, its first batch held at the receiver
 * until the broker dropped the member from its group (a member that sends nothing for 6 s is out).
 */
async function fencedWhileHeld(
  net: TestNetwork,
  producer: RunningProducer,
  receiver: Receiver,
  tag: string,
): Promise<{ subscriber: RunningSubscriber } & Published> {
  const subscriber = await startSubscriber({
    dataDir: net.dataDir,
    config: net.config,
    org: 'dhs',
    logger: net.logger,
    sessionTimeoutMs: 6000,
  });
  const groupId = kafkaNames(net.prefix).subscriptionGroup('dhs-once');
  const admin = await net.admin();
  const groupState = async (): Promise<string> => (await admin.describeGroups([groupId])).groups[0]!.state;
  await waitFor('the subscription consuming', async () => (await groupState()) === 'Stable');
  receiver.hold();
  const published = await publish(net, producer, tag);
  await waitFor('the batch at the receiver, unanswered', () => receiver.inFlight() === 1, 30_000);
  // While its POST hangs the member heartbeats nothing: the broker drops it from the group.
  await waitFor('the member out of its group', async () => (await groupState()) === 'Empty', 30_000);
  return { subscriber, ...published };
}

describe('a dead-lettered batch whose offset commit fails', () => {
  it('is delivered on the re-read and never also dead-lettered when the member was fenced from its group', async () => {
    const receiver = await startReceiver();
    const net = await network(receiver);
    const producer = await net.startProducer('google');
    let subscriber: RunningSubscriber | undefined;
    try {
      const fenced = await fencedWhileHeld(net, producer, receiver, 'fenced');
      subscriber = fenced.subscriber;
      const { ids, lastOffset } = fenced;
      // The held attempt fails after more than the retry bound: the batch gives up and is dead-lettered
      // by a member that no longer owns the partition, so its commit cannot succeed. The next requests
      // (the re-read batch) are answered 200.
      receiver.release(500);

      await waitFor('every event delivered', () => ids.every((id) => deliveredIds(receiver).has(id)), 60_000);
      await expectExactlyOnePlace(net, receiver, ids, lastOffset);
      expect(receiver.requests.filter((r) => r.status === 500)).toHaveLength(1);
      // The re-read batch went out as the first one did: same events, same webhook-id.
      const [failed, ok] = [
        receiver.requests.find((r) => r.status === 500)!,
        receiver.requests.find((r) => r.status === 200)!,
      ];
      expect(ok.headers['webhook-id']).toBe(failed.headers['webhook-id']);
    } finally {
      receiver.release(500);
      await subscriber?.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 180_000);

  it('dead-letters a batch exactly once when it still gives up after the re-read', async () => {
    const receiver = await startReceiver();
    const net = await network(receiver);
    const producer = await net.startProducer('google');
    let subscriber: RunningSubscriber | undefined;
    try {
      const fenced = await fencedWhileHeld(net, producer, receiver, 'refused');
      subscriber = fenced.subscriber;
      const { ids, lastOffset } = fenced;
      // The endpoint now refuses the batch for good (422): the re-read batch is dead-lettered again, and
      // this time committed. The first, aborted, attempt must not show in the DLQ as a second copy.
      receiver.answerAll(422);
      receiver.release(500);

      await waitFor('the batch refused again', () => receiver.requests.some((r) => r.status === 422), 60_000);
      await expectExactlyOnePlace(net, receiver, ids, lastOffset);
      const letters = await readDeadLetters(net.config, 'dhs-once', net.logger);
      expect(letters.map((l) => l.eventId).sort()).toEqual([...ids].sort());
      expect(letters.every((l) => l.code === 'TR_DELIVERY_REJECTED')).toBe(true);
    } finally {
      receiver.release(500);
      await subscriber?.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 180_000);
});

/**
 * The broker of this test's own: it is killed while the subscriber is about to dead-letter a batch, so
 * the transaction cannot complete; once it is back the batch is read again and delivered.
 */
describe('a batch given up while the broker is down', () => {
  let broker: LocalBroker;
  const saved = process.env.KAFKA_BROKERS;

  beforeAll(async () => {
    broker = await startLocalBroker();
    process.env.KAFKA_BROKERS = broker.bootstrap;
  }, 180_000);

  afterAll(async () => {
    process.env.KAFKA_BROKERS = saved;
    await broker?.stop();
  });

  it('is neither dead-lettered nor lost: delivered once the broker is back', async () => {
    const receiver = await startReceiver();
    const net = await network(receiver);
    const producer = await net.startProducer('google');
    let subscriber: RunningSubscriber | undefined;
    try {
      subscriber = await startSubscriber({
        dataDir: net.dataDir,
        config: net.config,
        org: 'dhs',
        logger: net.logger,
      });
      const groupId = kafkaNames(net.prefix).subscriptionGroup('dhs-once');
      const admin = await net.admin();
      await waitFor(
        'the subscription consuming',
        async () => (await admin.describeGroups([groupId])).groups[0]!.state === 'Stable',
      );

      receiver.hold();
      const { ids, lastOffset } = await publish(net, producer, 'outage');
      await waitFor('the batch at the receiver, unanswered', () => receiver.inFlight() === 1, 30_000);
      // Past the retry bound before the answer, so the held attempt is the last one: the batch gives up.
      await new Promise((r) => setTimeout(r, 2500));
      await broker.stopProcess();
      receiver.release(500);
      // Long enough for the transaction to fail and the consumer to give the batch up uncommitted.
      await new Promise((r) => setTimeout(r, 8000));
      await broker.restart();
      const restartedAt = Date.now();

      await waitFor(
        'every event delivered',
        () => ids.every((id) => deliveredIds(receiver).has(id)),
        120_000,
      );
      await expectExactlyOnePlace(net, receiver, ids, lastOffset);
      // The held attempt was the last: nothing went out until the broker was back and the batch read again.
      expect(receiver.requests.filter((r) => r.status === 500)).toHaveLength(1);
      expect(receiver.requests.filter((r) => r.status === 200).every((r) => r.at > restartedAt)).toBe(true);
    } finally {
      receiver.release(500);
      await subscriber?.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 300_000);
});
