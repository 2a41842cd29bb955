import { loadEventCodec } from '../../services/contract/avro/codec';
import { ThreatRelayError } from '../../services/contract/errors';
import { kafkaNames } from '../../services/contract/names';
import { orgPublicKeys } from '../../services/contract/keyring';
import { createKafka } from '../../services/platform/kafka';
import { openDedup } from '../../services/subscriber/dedup/port';
import { createSubscriberMetrics } from '../../services/subscriber/metrics';
import { SubscriptionConsumer } from '../../services/subscriber/pipeline/consumer';
import { freshnessFor } from '../../services/subscriber/pipeline/freshness';
import { createTestNetwork } from '../../testkit/network';
import { startReceiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * The embedded dedup store answers as soon as its lmdb transaction commits,
 * before the disk flush, so a POST need not wait on the disk. The group's
 * offset must not move past records before what the store decided for them
 * is on disk: after a machine crash the records would otherwise be neither
 * read again nor remembered. The flush is held here; the deliveries go out,
 * the offset waits, and moves once the flush is let through.
 */
describe('a subscription with the embedded dedup store', () => {
  it('delivers before the store flushes, and commits only after it flushed', async () => {
    const receiver = await startReceiver(0);
    const net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-durable', org: 'dhs', url: `${receiver.url}/ok`, batchSize: 50 }],
      { partitions: 1 },
    );
    const producer = await net.startProducer('google');
    const subscription = net.config.subscriptions.find((s) => s.id === 'dhs-durable')!;
    const dedup = openDedup(net.config, subscription, net.dataDir)!;
    let release: () => void = () => undefined;
    const flushHeld = new Promise<void>((resolve) => (release = resolve));
    let durableCalls = 0;
    const kafka = createKafka(net.config.kafka, net.logger, 'durable-commit-test');
    const topics = kafkaNames(net.prefix);
    const consumer = new SubscriptionConsumer({
      kafka,
      subscription,
      org: net.config.orgs.find((o) => o.id === 'dhs')!,
      codec: loadEventCodec(),
      freshness: freshnessFor(net.config.subscriber, subscription),
      orgKeys: orgPublicKeys(net.config.orgs),
      topics,
      deadLetters: {
        writeAndCommit: () =>
          Promise.reject(new ThreatRelayError('TR_INTERNAL', 'nothing here is dead-lettered')),
      },
      logger: net.logger,
      metrics: createSubscriberMetrics('dhs'),
      dedup: dedup.port,
      dedupPing: dedup.ping,
      markBatch: dedup.markBatch,
      dedupDurable: async () => {
        durableCalls += 1;
        await flushHeld;
        await dedup.durable();
      },
      onGone: async () => undefined,
    });
    const admin = await net.admin();
    const committed = async (): Promise<string | undefined> => {
      const [offsets] = await admin.fetchOffsets({
        groupId: topics.subscriptionGroup('dhs-durable'),
        topics: [topics.community('green')],
      });
      return offsets!.partitions[0]!.offset;
    };
    try {
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          Array.from({ length: 120 }, (_, i) => ({
            type: 'domain',
            value: `durable-${i}.example.com`,
            category: 'phishing',
            tlp: 'green',
          })),
        ),
      });
      expect(res.status).toBe(202);
      await consumer.start();
      await waitFor(
        'every record delivered',
        () =>
          receiver.requests.flatMap((r) => (JSON.parse(r.body) as { events: unknown[] }).events).length >=
          120,
        60_000,
      );
      await waitFor('a commit waiting on the flush', () => durableCalls > 0, 10_000);
      // Delivered, yet the group has not moved: the offset waits for the flush.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await committed()).toBe('-1');

      release();
      await waitFor(
        'the offset committed past every record',
        async () => ((await committed()) === '120' ? true : undefined),
        10_000,
      );
    } finally {
      release();
      await consumer.stop();
      await dedup.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 120_000);
});
