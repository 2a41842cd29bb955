import type { KafkaMessage } from 'kafkajs';
import { kafkaNames } from '../../services/contract/names';
import { TransactionalDeadLetterWriter } from '../../services/subscriber/dlq/write';
import { createSubscriberMetrics } from '../../services/subscriber/metrics';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

/**
 * A subscription works on several partitions at once, and each may dead-letter
 * at the same moment through the subscription's one transactional producer,
 * which holds one transaction at a time: the writer takes them in turn.
 */
describe('TransactionalDeadLetterWriter, against a real broker', () => {
  let net: TestNetwork;

  beforeAll(async () => {
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-all', org: 'dhs', url: 'http://127.0.0.1:9/ok' }],
    );
  });
  afterAll(async () => {
    await net.close();
  });

  it('writes the dead letters of three partitions given at once, each with its offset, all committed', async () => {
    const topics = kafkaNames(net.prefix);
    const writer = new TransactionalDeadLetterWriter({
      kafka: net.kafka,
      idPrefix: topics.subscriberTransactionalIdPrefix('dhs'),
      dlqTopic: topics.dlq('dhs-all'),
      subscriptionId: 'dhs-all',
      metrics: createSubscriberMetrics('dhs'),
      log: net.logger,
    });
    const source = topics.community('green');
    const groupId = topics.subscriptionGroup('dhs-all');
    const letter = (partition: number) => ({
      message: {
        key: Buffer.from(`k${partition}`),
        value: Buffer.from(`garbage from partition ${partition}`),
        headers: {},
        offset: '4',
        timestamp: String(Date.now()),
        attributes: 0,
      } as unknown as KafkaMessage,
      sourceTopic: source,
      sourcePartition: partition,
      code: 'TR_CODEC_MALFORMED' as const,
      reason: 'not a record',
    });
    try {
      await Promise.all(
        [0, 1, 2].map((partition) =>
          writer.writeAndCommit([letter(partition)], { groupId, topic: source, partition, offset: '5' }),
        ),
      );
    } finally {
      await writer.close();
    }
    const dlq = await net.readAll(topics.dlq('dhs-all'), { atLeast: 3, quietMs: 1000 });
    expect(dlq.map((m) => m.value!.toString()).sort()).toEqual([
      'garbage from partition 0',
      'garbage from partition 1',
      'garbage from partition 2',
    ]);
    const admin = await net.admin();
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [source] });
    expect(offsets!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '5'],
      [1, '5'],
      [2, '5'],
    ]);
  });
});
