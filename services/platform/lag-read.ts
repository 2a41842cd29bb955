import type { Admin, Kafka } from 'kafkajs';
import {
  internalCluster,
  READ_COMMITTED,
  READ_UNCOMMITTED,
  type FetchedPartition,
  type FetchedRecord,
  type IsolatedCluster,
} from './kafka';
import { deliveredAtOf, type PartitionReading } from './lag';
import type { Logger } from './logger';

/**
 * Reads what `lag.ts` needs from the broker. kafkajs's admin lists offsets
 * read_committed only, and an offset difference counts transaction markers as
 * records, so this reads the records themselves: one read_committed fetch per
 * partition from the group's position (the answer also carries the last stable
 * offset and the high watermark), counting what a consumer would be handed.
 * A fetch is bounded (`maxBytes`); what lies past it counts one record per
 * offset, which overstates only a partition already that far behind.
 */

/** Bytes read per partition per look: a caught-up partition answers with a marker or nothing. */
const MAX_BYTES = 1024 * 1024;

/** Kafka's internal topic of transaction coordinators' state: transactional id → producer id. */
const TRANSACTION_STATE_TOPIC = '__transaction_state';

export class GroupReader {
  private readonly committed: IsolatedCluster;
  private readonly uncommitted: IsolatedCluster;
  private connecting: Promise<void> | undefined;
  private readonly transactionalIds = new Map<string, string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly logger?: Logger,
  ) {
    this.committed = internalCluster(kafka, READ_COMMITTED);
    this.uncommitted = internalCluster(kafka, READ_UNCOMMITTED);
  }

  private connect(): Promise<void> {
    this.connecting ??= Promise.all([this.committed.connect(), this.uncommitted.connect()]).then(
      () => undefined,
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  async close(): Promise<void> {
    this.connecting = undefined;
    await Promise.all([this.committed.disconnect(), this.uncommitted.disconnect()]);
  }

  /** Every partition of `topics` as `groupId` stands on it. */
  async read(groupId: string, topics: string[]): Promise<PartitionReading[]> {
    await this.connect();
    const commits = await this.admin.fetchOffsets({ groupId, topics });
    const out: PartitionReading[] = [];
    for (const { topic, partitions } of commits) {
      // kafkajs's admin lists offsets read_committed: its `high` is the last stable offset.
      const marks = new Map((await this.admin.fetchTopicOffsets(topic)).map((m) => [m.partition, m]));
      await this.committed.addTargetTopic(topic);
      // One partition after another: kafkajs opens a broker's fetch connection on first use, and
      // fetches started together before it is open would each open one (and all but one would leak).
      for (const { partition, offset, metadata } of partitions) {
        const low = marks.get(partition)?.low ?? '0';
        const committed = BigInt(offset) >= 0n ? offset : undefined;
        const from = committed !== undefined && BigInt(committed) > BigInt(low) ? committed : low;
        const fetched = await this.fetch(
          this.committed,
          READ_COMMITTED,
          topic,
          partition,
          from,
          MAX_BYTES,
        ).catch((err: unknown) => {
          // Records kafkajs cannot decode (a hostile batch) must not blind the reader: counted by offsets.
          this.logger?.warn({ err, topic, partition, from }, 'reading records failed; counting offsets');
          const stable = marks.get(partition)?.high ?? from;
          return { lastStableOffset: stable, highWatermark: stable, abortedTransactions: [], messages: [] };
        });
        out.push({
          topic,
          partition,
          committed,
          low,
          lastStable: fetched.lastStableOffset,
          high: fetched.highWatermark,
          waiting: countWaiting(fetched, BigInt(from), BigInt(fetched.lastStableOffset)),
          lastDeliveryAt: deliveredAtOf(metadata),
        });
      }
    }
    return out;
  }

  /** The producer of the transaction open at `offset` (read_uncommitted: the records past the last stable offset). */
  async openProducer(topic: string, partition: number, offset: string): Promise<string | undefined> {
    await this.connect();
    await this.uncommitted.addTargetTopic(topic);
    const fetched = await this.fetch(this.uncommitted, READ_UNCOMMITTED, topic, partition, offset, 64 * 1024);
    const first = fetched.messages.find((m) => BigInt(m.offset) >= BigInt(offset));
    return first?.batchContext.inTransaction ? first.batchContext.producerId : undefined;
  }

  /**
   * The transactional id a producer id belongs to, from the coordinators' own log (its key is the
   * transactional id, its value starts with the producer id). Reading it needs DESCRIBE and READ on
   * that topic: the operator's principal has them, a service's own does not.
   */
  async transactionalIdOf(producerId: string): Promise<string | undefined> {
    const known = this.transactionalIds.get(producerId);
    if (known) return known;
    // A client of its own: a principal refused the topic keeps the refusal out of the other clients' metadata.
    const cluster = internalCluster(this.kafka, READ_UNCOMMITTED);
    await cluster.connect();
    try {
      await cluster.addTargetTopic(TRANSACTION_STATE_TOPIC);
      const partitions = cluster.findTopicPartitionMetadata(TRANSACTION_STATE_TOPIC);
      const [lows] = await cluster.fetchTopicsOffset([
        {
          topic: TRANSACTION_STATE_TOPIC,
          fromBeginning: true,
          partitions: partitions.map((p) => ({ partition: p.partitionId })),
        },
      ]);
      for (const { partition, offset } of lows?.partitions ?? []) {
        await this.readTransactionState(cluster, partition, offset);
      }
    } finally {
      await cluster.disconnect();
    }
    return this.transactionalIds.get(producerId);
  }

  /** One partition of `__transaction_state`, a bounded number of fetches, into `transactionalIds`. */
  private async readTransactionState(
    cluster: IsolatedCluster,
    partition: number,
    from: string,
  ): Promise<void> {
    for (let rounds = 0; rounds < 20; rounds += 1) {
      const fetched = await this.fetch(
        cluster,
        READ_UNCOMMITTED,
        TRANSACTION_STATE_TOPIC,
        partition,
        from,
        MAX_BYTES,
      );
      for (const m of fetched.messages) {
        const entry = transactionStateEntry(m);
        if (entry) this.transactionalIds.set(entry.producerId, entry.transactionalId);
      }
      const last = fetched.messages.at(-1);
      if (!last || BigInt(last.offset) + 1n >= BigInt(fetched.highWatermark)) return;
      from = (BigInt(last.offset) + 1n).toString();
    }
  }

  private async fetch(
    cluster: IsolatedCluster,
    isolationLevel: 0 | 1,
    topic: string,
    partition: number,
    fetchOffset: string,
    maxBytes: number,
  ): Promise<FetchedPartition> {
    const leaders = cluster.findLeaderForPartitions(topic, [partition]);
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) throw new Error(`${topic}/${partition} has no leader`);
    const broker = await cluster.findBroker({ nodeId });
    const { responses } = await broker.fetch({
      replicaId: -1,
      isolationLevel,
      maxWaitTime: 0,
      minBytes: 0,
      maxBytes,
      topics: [{ topic, partitions: [{ partition, fetchOffset, maxBytes }] }],
    });
    const answer = responses.flatMap((r) => r.partitions).find((p) => p.partition === partition);
    if (!answer) throw new Error(`no fetch answer for ${topic}/${partition}`);
    return answer;
  }
}

/**
 * The records a read_committed consumer would be handed from `from` up to `end`: no transaction
 * markers, nothing of an aborted transaction (the broker names them: producer id and first offset,
 * up to that producer's abort marker), as kafkajs's own consumer filters them.
 */
export function countWaiting(
  fetched: Pick<FetchedPartition, 'abortedTransactions' | 'messages'>,
  from: bigint,
  end: bigint,
): PartitionReading['waiting'] {
  const aborted = [...(fetched.abortedTransactions ?? [])].sort((a, b) =>
    BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : 1,
  );
  const abortedNow = new Set<string>();
  let counted = 0;
  let oldestAt: number | undefined;
  let readTo = from;
  for (const m of fetched.messages) {
    const offset = BigInt(m.offset);
    if (offset >= end) break;
    while (aborted.length > 0 && BigInt(aborted[0]!.firstOffset) <= offset) {
      abortedNow.add(aborted.shift()!.producerId);
    }
    const pid = m.batchContext.producerId;
    if (offset >= from) readTo = offset + 1n;
    if (m.isControlRecord) {
      abortedNow.delete(pid);
      continue;
    }
    if (offset < from || (m.batchContext.inTransaction && abortedNow.has(pid))) continue;
    counted += 1;
    if (oldestAt === undefined) oldestAt = timestampOf(m);
  }
  return { counted, readTo: readTo.toString(), oldestAt };
}

function timestampOf(m: FetchedRecord): number | undefined {
  const t = Number(m.timestamp);
  return Number.isFinite(t) && t > 0 ? t : undefined;
}

/** Key: version (int16), transactional id (int16-length string). Value: version (int16), producer id (int64). */
function transactionStateEntry(
  m: FetchedRecord,
): { transactionalId: string; producerId: string } | undefined {
  const { key, value } = m;
  if (!key || !value || key.length < 4 || value.length < 10) return undefined;
  const length = key.readInt16BE(2);
  if (length < 0 || key.length < 4 + length) return undefined;
  return {
    transactionalId: key.subarray(4, 4 + length).toString('utf8'),
    producerId: value.readBigInt64BE(2).toString(),
  };
}
