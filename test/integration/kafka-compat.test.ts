import { randomSuffix } from '../../testkit/network';
import { Kafka, logLevel } from 'kafkajs';
import { waitFor } from '../../testkit/wait-for';

/**
 * The kafkajs calls the bus relies on, against the pinned broker: admin
 * (create/list/describe/offsets), idempotent acks=-1 produce with headers,
 * eachBatch consume with auto-commit off and explicit commits.
 */
describe('kafkajs against the test broker', () => {
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const topic = `compat-${randomSuffix()}`;
  const groupId = `compat-group-${randomSuffix()}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  beforeAll(async () => {
    console.log(`broker under test: ${process.env.THREATRELAY_TEST_BROKER_DESCRIPTION}`);
    await Promise.all([admin.connect(), producer.connect()]);
  });
  afterAll(async () => {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  });

  it('creates, lists and describes topics', async () => {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    expect(await admin.listTopics()).toContain(topic);
    // The broker's metadata cache may take a moment to show the new topic's leaders.
    const meta = await waitFor('topic metadata', () =>
      admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined),
    );
    expect(meta.topics[0]!.partitions).toHaveLength(3);
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.length).toBeGreaterThan(0);
  });

  it('produces idempotently with acks=-1 and headers, and reads them back with eachBatch', async () => {
    const sent = await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({
        key: `k${i % 3}`,
        value: `v${i}`,
        headers: { h: `x${i}` },
      })),
    });
    expect(sent.every((m) => m.errorCode === 0)).toBe(true);
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: { value: string; header: string }[] = [];
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
        for (const m of batch.messages) {
          got.push({ value: m.value!.toString(), header: m.headers!.h!.toString() });
          resolveOffset(m.offset);
        }
        const next = (BigInt(batch.lastOffset()) + 1n).toString();
        await commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition: batch.partition, offset: next }] }],
        });
      },
    });
    await waitFor('10 records', () => got.length === 10);
    await consumer.disconnect();
    expect(got.map((g) => g.value).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
    expect(got.every((g) => g.header === `x${g.value.slice(1)}`)).toBe(true);
    // The commits really landed: the group's offsets equal the high watermarks.
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const highs = await admin.fetchTopicOffsets(topic);
    const nonEmpty = highs.filter((h) => h.high !== '0');
    expect(nonEmpty.length).toBeGreaterThan(0);
    for (const h of nonEmpty) {
      expect(committed[0]!.partitions.find((p) => p.partition === h.partition)!.offset).toBe(h.high);
    }
  });
});
