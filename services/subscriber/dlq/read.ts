import { randomBytes } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { HEADERS } from '../../contract/definitions';
import { kafkaNames } from '../../contract/names';
import type { Config } from '../../platform/config/config';
import { headerText } from '../../contract/headers';
import { createKafka, recordTime } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';

/** A dead letter as the operator sees it: why, when, and where it came from. */
export interface DeadLetterEntry {
  /** Where the letter is on its DLQ topic. */
  partition: number;
  offset: string;
  at: string;
  code: string;
  reason: string;
  source: { topic: string; partition: number; offset: string };
  eventId: string | undefined;
  message: KafkaMessage;
  /** A replay handled it already (a mark on the DLQ names it): the next replay leaves it. */
  replayed: boolean;
}

/**
 * A record of a DLQ topic as the operator sees it. Anyone who may write the
 * topic wrote its headers, so each is read without trusting its shape; an
 * unreadable one is an empty field, never an exception.
 */
export function deadLetterEntry(m: KafkaMessage, partition: number): DeadLetterEntry {
  return {
    partition,
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
    replayed: false,
  };
}

/** The `partition:offset` a replay mark names, or undefined when the record is a dead letter. */
export function replayMarkOf(m: KafkaMessage): string | undefined {
  return headerText(m, HEADERS.dlqReplayed);
}

/** Where a letter is, as a replay mark names it. */
export const letterId = (e: Pick<DeadLetterEntry, 'partition' | 'offset'>): string =>
  `${e.partition}:${e.offset}`;

/**
 * Reads the whole DLQ topic (up to its current end), oldest first: the
 * dead letters, each flagged when a replay mark names it; the marks
 * themselves are not letters. The committed dead letters only (read_committed, and the end is the last
 * stable offset), so none whose transaction was aborted or is still open.
 */
export async function readDeadLetters(
  config: Config,
  subscriptionId: string,
  logger: Logger,
  /** The prefix of the reader's throwaway group: the console reads under its own (its ACLs grant no other). */
  options: { groupPrefix?: string } = {},
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
    const marks = new Set<string>();
    if (pending.size === 0) return entries;
    const consumer = kafka.consumer({
      groupId: `${options.groupPrefix ?? `${config.kafka.topicPrefix}.dlq-reader.`}${randomBytes(6).toString('hex')}`,
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
              for (const m of batch.messages) {
                const mark = replayMarkOf(m);
                if (mark === undefined) entries.push(deadLetterEntry(m, batch.partition));
                else marks.add(mark);
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    for (const e of entries) e.replayed = marks.has(letterId(e));
    return entries.sort((a, b) => a.at.localeCompare(b.at));
  } finally {
    await admin.disconnect();
  }
}
