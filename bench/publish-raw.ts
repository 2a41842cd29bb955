import { loadEventCodec } from '../services/contract/avro/codec';
import { kafkaNames } from '../services/contract/names';
import { loadPrivateKey } from '../services/contract/signing';
import { createIdempotentProducer, createKafka } from '../services/platform/kafka';
import type { TestNetwork } from '../testkit/network';
import { indicatorGenerator, producerWrites } from './support';

/**
 * Writes `count` distinct TLP:GREEN indicators of `org` to the network's green
 * topic as the producer writes them (built, Avro-encoded and batch-signed 500
 * at a time), with a plain idempotent kafkajs producer: a backlog without the
 * API's cost. Every value is a domain numbered `i`, so all are distinct
 * whatever `count`; the other fields follow the generator's mix.
 */
export async function publishRaw(net: TestNetwork, org: string, count: number, seed: number): Promise<void> {
  const codec = loadEventCodec();
  const key = loadPrivateKey(net.signingKeys[org]!);
  const topic = kafkaNames(net.config.kafka.topicPrefix).community('green');
  const kafka = createKafka(net.config.kafka, net.logger, 'threatrelay-bench-backlog');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const generate = indicatorGenerator(seed);
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += 500) {
      const n = Math.min(500, count - i);
      const items = generate(n).map((item, j) => {
        const { platform: _platform, ...rest } = item;
        return { ...rest, type: 'domain', value: `n${i + j}-${seed}.backlog.example.net` };
      });
      const messages = producerWrites(items, org, codec, key);
      inFlight.push(producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
}
