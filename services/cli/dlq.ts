import { randomBytes } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../contract/avro/codec';
import type { Config } from '../platform/config/config';
import { HEADERS } from '../contract/definitions';
import { ThreatRelayError } from '../contract/errors';
import { createIdempotentProducer, createKafka, headerText } from '../platform/kafka';
import type { Logger } from '../platform/logger';
import { publicKeyFromBase64 } from '../contract/signing';
import { topicNames } from '../contract/names';
import { SubscriptionConsumer } from '../subscriber/pipeline/consumer';
import { DeadLetterWriter } from '../subscriber/dlq/write';
import { createSubscriberMetrics } from '../subscriber/metrics';
import { groupIdFor } from '../subscriber/service';

/** `threatrelay dlq list|replay <subscription>`: what was dead-lettered, and sending it again. */

export interface DeadLetterEntry {
  offset: string;
  at: string;
  code: string;
  reason: string;
  source: { topic: string; partition: number; offset: string };
  eventId: string | undefined;
  message: KafkaMessage;
}

/** Reads the whole DLQ topic (up to its current end), oldest first. */
export async function readDeadLetters(
  config: Config,
  subscriptionId: string,
  logger: Logger,
): Promise<DeadLetterEntry[]> {
  const topic = topicNames(config.kafka.topicPrefix).dlq(subscriptionId);
  const kafka = createKafka(config.kafka, logger, 'threatrelay-dlq');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const pending = new Map(
      ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
    );
    const entries: DeadLetterEntry[] = [];
    if (pending.size === 0) return entries;
    const consumer = kafka.consumer({
      groupId: `${config.kafka.topicPrefix}.dlq-reader.${randomBytes(6).toString('hex')}`,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`reading ${topic} took longer than 60 s`)), 60_000);
        consumer
          .run({
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                entries.push({
                  offset: m.offset,
                  at: headerText(m, HEADERS.dlqAt) ?? new Date(Number(m.timestamp)).toISOString(),
                  code: headerText(m, HEADERS.dlqCode) ?? 'unknown',
                  reason: headerText(m, HEADERS.dlqReason) ?? '',
                  source: {
                    topic: headerText(m, HEADERS.dlqTopic) ?? '',
                    partition: Number(headerText(m, HEADERS.dlqPartition) ?? -1),
                    offset: headerText(m, HEADERS.dlqOffset) ?? '',
                  },
                  eventId: headerText(m, HEADERS.eventId),
                  message: m,
                });
              }
              // A fetch is capped (1 MiB a partition): done only once the last record read is the last one.
              if (BigInt(batch.lastOffset()) + 1n >= (pending.get(batch.partition) ?? 0n))
                pending.delete(batch.partition);
              if (pending.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return entries.sort((a, b) => a.at.localeCompare(b.at));
  } finally {
    await admin.disconnect();
  }
}

export interface ReplayOptions {
  since?: string;
  until?: string;
}

/** Sends the dead letters dead-lettered within [since, until] through delivery again, bypassing dedup. */
export async function replayDeadLetters(
  config: Config,
  subscriptionId: string,
  options: ReplayOptions,
  logger: Logger,
): Promise<{ selected: number; delivered: number; deadLettered: number; skipped: number }> {
  const subscription = config.subscriptions.find((s) => s.id === subscriptionId);
  if (!subscription)
    throw new ThreatRelayError('TR_CONFIG', `no subscription "${subscriptionId}" in the config`);
  const org = config.orgs.find((o) => o.id === subscription.org)!;
  const entries = (await readDeadLetters(config, subscriptionId, logger)).filter(
    (e) => (!options.since || e.at >= options.since) && (!options.until || e.at <= options.until),
  );
  const topics = topicNames(config.kafka.topicPrefix);
  const kafka = createKafka(config.kafka, logger, 'threatrelay-dlq-replay');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const consumer = new SubscriptionConsumer({
      kafka,
      subscription,
      org,
      codec: loadEventCodec(),
      orgKeys: new Map(
        config.orgs.filter((o) => o.publicKey).map((o) => [o.id, publicKeyFromBase64(o.publicKey!)]),
      ),
      topics,
      deadLetters: new DeadLetterWriter(producer, topics.dlq(subscriptionId)),
      logger,
      groupId: groupIdFor(config, subscriptionId),
      metrics: createSubscriberMetrics(`${org.id}-replay`),
      onGone: async () => undefined,
    });
    const result = await consumer.replay(
      entries.map((e) => ({ message: e.message, topic: e.source.topic, partition: e.source.partition })),
    );
    return { selected: entries.length, ...result };
  } finally {
    await producer.disconnect();
  }
}
