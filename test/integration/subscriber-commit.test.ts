import { kafkaNames } from '../../services/contract/names';
import { startSubscriber } from '../../services/subscriber/service';
import { createTestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * A subscription writes its group offset at most once a second within a
 * partition batch. What it delivered must not wait on what comes after:
 * while the next webhook batch is being retried, the offset past the
 * delivered one is written, so a crash during a long outage re-reads only
 * what was not delivered.
 */
describe('a subscription whose next batch keeps failing', () => {
  it('commits the batch it delivered while it retries the next', async () => {
    const receiver: Receiver = await startReceiver(0, [], {
      // The first webhook batch is accepted, every later one refused with a 500 (retried).
      onRequest: (r) => {
        if (r.status === 200) receiver.answerAll(500);
      },
    });
    const net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [
        {
          id: 'dhs-commit',
          org: 'dhs',
          url: `${receiver.url}/ok`,
          batchSize: 100,
          retry: { initialDelayMs: 200, maxDelayMs: 500, maxElapsedMs: 120_000 },
        },
      ],
      { partitions: 1 },
    );
    const producer = await net.startProducer('google');
    let subscriber: Awaited<ReturnType<typeof startSubscriber>> | undefined;
    try {
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          Array.from({ length: 150 }, (_, i) => ({
            type: 'domain',
            value: `commit-${i}.example.com`,
            category: 'phishing',
            tlp: 'green',
          })),
        ),
      });
      expect(res.status).toBe(202);
      // Published before the subscriber starts: one fetch holds all 150, one partition batch.
      subscriber = await startSubscriber({
        config: net.config,
        org: 'dhs',
        logger: net.logger,
        dataDir: net.dataDir,
      });
      await waitFor(
        'the second batch refused twice',
        () => receiver.requests.filter((r) => r.status === 500).length >= 2,
        60_000,
      );
      expect(receiver.requests.filter((r) => r.status === 200)).toHaveLength(1);

      const topics = kafkaNames(net.prefix);
      const admin = await net.admin();
      const committed = async (): Promise<string | undefined> => {
        const [offsets] = await admin.fetchOffsets({
          groupId: topics.subscriptionGroup('dhs-commit'),
          topics: [topics.community('green')],
        });
        return offsets!.partitions[0]!.offset;
      };
      // Records 0–99 went out in the first batch: the group's next offset is 100 while 100–149 retry.
      await waitFor(
        'the delivered batch committed',
        async () => ((await committed()) === '100' ? true : undefined),
        10_000,
      );
      expect(receiver.requests.filter((r) => r.status === 200)).toHaveLength(1);
    } finally {
      receiver.answerAll(200);
      await subscriber?.close();
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 120_000);
});
