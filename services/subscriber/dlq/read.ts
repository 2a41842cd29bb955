import { randomBytes } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { HEADERS } from '../../contract/definitions';
import { kafkaNames } from '../../contract/names';
import type { Config } from '../../platform/config/config';
import { createKafka, headerText, recordTime } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';

/** A dead letter as the operator sees it: why, when, and where it came from. */
export interface DeadLetterEntry {
  offset: string;
  at: string;
  code: string;
  reason: string;
  source: { topic: string; partition: number; offset: string };
  eventId: string | undefined;
  message: KafkaMessage;
}

/**
 * A record of a DLQ topic as the operator sees it. Anyone who may write the
 * topic wrote its headers, so each is read without trusting its shape; an
 * unreadable one is an empty field, never an exception.
 */
export function deadLetterEntry(m: KafkaMessage): DeadLetterEntry {
  return {
    offset: m.offset,
    at: headerText(m, HEADERS.dlqAt) ?? recordTime(m) ?? '',
    code: headerText(m, HEADERS.dlqCode) ?? 'unknown',
    reason: headerText(m, HEADERS.dlqReason) ?? '',
    source: {
      topic: headerText(m, HEADERS.dlqTopic) ?? '',
      partition: Number(headerText(m, HEADERS.dlqPartition) ?? -1),
      offset: headerText(m, HEADERS.dlqOffset) ?? '',
    },
    eventId: headerText(m, HEADERS.eventId),
    message: m,
  };
}

/**
 * Reads the whole DLQ topic (up to its current end), oldest first: the
 * committed dead letters only (read_committed, and the end is the last
 * stable offset), so none whose transaction was aborted or is still open.
 */
export async function readDeadLetters(
  config: Config,
  subscriptionId: string,
  logger: Logger,
): Promise<DeadLetterEntry[]> {
  const topic = kafkaNames(config.kafka.topicPrefix).dlq(subscriptionId);
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
        // Done with a partition once a batch ends at its end. Watched on every batch kafkajs processes,
        // not only those it hands to eachBatch: the subscriber writes dead letters in transactions, so a
        // partition can end in a commit marker or an aborted transaction, a batch with no records to show.
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          if (BigInt(payload.lastOffset) + 1n >= (pending.get(payload.partition) ?? 0n)) {
            pending.delete(payload.partition);
          }
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        });
        consumer
          .run({
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) entries.push(deadLetterEntry(m));
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
