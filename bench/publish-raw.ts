import type { Message } from 'kafkajs';
import { loadEventCodec } from '../services/contract/avro/codec';
import { indicatorInputSchema } from '../services/contract/indicator';
import { kafkaNames } from '../services/contract/names';
import { signedBatch } from '../services/contract/record';
import { loadPrivateKey } from '../services/contract/signing';
import { createIdempotentProducer, createKafka } from '../services/platform/kafka';
import { buildPublishedEvents } from '../services/producer/ingest/build-events';
import type { TestNetwork } from '../testkit/network';
import { indicatorGenerator } from './support';

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
    const ctx = { org, submitter: `${org}-secops`, idempotencyKey: undefined };
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += 500) {
      const n = Math.min(500, count - i);
      const items = generate(n).map((item, j) => {
        const { platform: _platform, ...rest } = item;
        return indicatorInputSchema.parse({
          ...rest,
          type: 'domain',
          value: `n${i + j}-${seed}.backlog.example.net`,
        });
      });
      const messages: Message[] = signedBatch(buildPublishedEvents(items, ctx, true), codec, key);
      inFlight.push(producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
}
