import type { Kafka } from 'kafkajs';
import { HANGING_AFTER_MS, partitionMarks, type PartitionMarks } from '../platform/kafka';

/**
 * Finds hanging transactions on the bus's topics: a partition whose last
 * stable offset stays below its high watermark at the same offset for longer
 * than any of the bus's producers keeps a transaction open (30 s, the
 * transaction timeout of the producers and the subscribers' dead-letter
 * writers). A transaction that long open is one its coordinator no longer
 * knows about, and that no timeout will end: every read_committed consumer of
 * the partition (every subscriber, the console, DLQ readers) stops at its
 * first record. Seen after the single broker was killed (kill -9) and
 * restarted (RELIABILITY.md). Only an abort marker written by an operator ends
 * it: `abortCommand`.
 */

/** Longer than the transaction timeout every ThreatRelay transactional producer uses (30 s). */
export { HANGING_AFTER_MS };

/** Partitions with a transaction open now: their last stable offset is below the high watermark. */
export async function openTransactions(kafka: Kafka, topics: string[]): Promise<PartitionMarks[]> {
  const marks = await partitionMarks(kafka, topics);
  return marks.filter((m) => BigInt(m.lastStable) < BigInt(m.high));
}

/**
 * Looks twice, `waitMs` apart: what was open at the same offset both times has
 * been open for at least `waitMs` (a transaction that ended moved the last
 * stable offset past its markers).
 */
export async function findHangingTransactions(
  kafka: Kafka,
  topics: string[],
  waitMs = HANGING_AFTER_MS,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<PartitionMarks[]> {
  const first = await openTransactions(kafka, topics);
  if (first.length === 0) return [];
  await sleep(waitMs);
  const second = await openTransactions(kafka, topics);
  return second.filter((now) =>
    first.some(
      (then) =>
        then.topic === now.topic && then.partition === now.partition && then.lastStable === now.lastStable,
    ),
  );
}

/** Kafka's own tool (KIP-664) writes the abort marker the coordinator never will. */
export function abortCommand(p: PartitionMarks, bootstrap: string): string {
  return `kafka-transactions.sh --bootstrap-server ${bootstrap} abort --topic ${p.topic} --partition ${p.partition} --start-offset ${p.lastStable}`;
}
