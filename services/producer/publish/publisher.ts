import { Partitioners, type Admin, type Message, type PartitionMetadata } from 'kafkajs';
import type { EventCodec } from '../../contract/avro/codec';
import { ThreatRelayError, isThreatRelayError } from '../../contract/errors';
import type { Signer } from '../../contract/keyring';
import { routeOf, type ThreatEvent } from '../../contract/model';
import type { KafkaNames } from '../../contract/names';
import { signedBatch } from '../../contract/record';
import { withTimeout } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';
import { GroupCommit } from './group-commit';
import type { TransactionalSender } from './transactional-sender';

/**
 * Turns validated API input into signed, Avro-encoded Kafka records and
 * publishes them. A request's records are acknowledged by Kafka (acks=-1)
 * before anything is confirmed to the client; when Kafka cannot acknowledge
 * within the bound, the client gets TR_KAFKA_UNAVAILABLE and retries with
 * the same Idempotency-Key, which reproduces the same eventIds.
 */

export interface RecordLocation {
  topic: string;
  partition: number;
  offset: string;
}

export interface Receipt {
  index: number;
  eventId: string;
  key: string;
  /** One per topic the record went to (one per recipient for amber+strict and red). */
  records: RecordLocation[];
}

export interface PublisherDeps {
  sender: TransactionalSender;
  admin: Admin;
  codec: EventCodec;
  /** The org's key and its validity: a batch is signed only inside it. */
  signer: Signer;
  topics: KafkaNames;
  logger: Logger;
  produceTimeoutMs: number;
  /** Observes each send's duration and outcome. */
  observeSend?: (seconds: number, outcome: 'ok' | 'error') => void;
  /** Transactions in flight at once; the sender's pool size. */
  concurrency: number;
  /** Most indicators one group commit (transaction) holds. */
  maxGroupItems: number;
  /** Observes each transaction: requests and indicators it held. */
  observeGroup?: (requests: number, items: number) => void;
}

export class Publisher {
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly partitions = new Map<string, PartitionMetadata[]>();

  private readonly groups: GroupCommit<ThreatEvent, Receipt>;

  constructor(private readonly deps: PublisherDeps) {
    this.groups = new GroupCommit({
      send: (events, deadline) => this.send(events, deadline),
      concurrency: deps.concurrency,
      maxItems: deps.maxGroupItems,
      expired: () => new Error('the request timed out before its transaction began'),
      ...(deps.observeGroup ? { onGroup: deps.observeGroup } : {}),
    });
  }

  /**
   * Encodes, signs, routes and sends, in the next transaction (group-commit.ts);
   * resolves only after Kafka committed it. Receipts' indexes are this request's own.
   */
  async publish(events: ThreatEvent[]): Promise<Receipt[]> {
    const { logger, produceTimeoutMs } = this.deps;
    const started = process.hrtime.bigint();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const receipts = await withTimeout(
        this.groups
          .submit(events, Date.now() + produceTimeoutMs)
          .then((receipts) => receipts.map((r, index) => ({ ...r, index }))),
        produceTimeoutMs,
        () =>
          new ThreatRelayError(
            'TR_KAFKA_UNAVAILABLE',
            `Kafka did not acknowledge within ${produceTimeoutMs} ms; retry with the same Idempotency-Key`,
            { retryAfterSeconds: 5 },
          ),
      );
      outcome = 'ok';
      return receipts;
    } catch (err) {
      if (isThreatRelayError(err)) throw err;
      logger.warn({ err }, 'publishing to Kafka failed');
      throw new ThreatRelayError(
        'TR_KAFKA_UNAVAILABLE',
        'Kafka is unavailable; retry with the same Idempotency-Key',
        { cause: err, retryAfterSeconds: 5 },
      );
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.observeSend?.(seconds, outcome);
      logger.debug({ ms: seconds * 1000, records: events.length, outcome }, 'kafka send');
    }
  }

  private async partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.partitions.get(topic);
    if (cached) return cached;
    const meta = await this.deps.admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = meta.topics[0]?.partitions ?? [];
    if (partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
    this.partitions.set(topic, partitions);
    return partitions;
  }

  private async send(events: ThreatEvent[], deadline: number): Promise<Receipt[]> {
    const { codec, signer, topics, sender } = this.deps;
    // Partitions are chosen here, with kafkajs's own (Java-compatible) partitioner,
    // so that each record's offset can be read back from the per-partition base offsets.
    const byTopicPartition = new Map<
      string,
      { topic: string; partition: number; messages: Message[]; owners: number[] }
    >();
    const receipts: Receipt[] = [];
    // One signature for the whole transaction (record signatures v2); each record carries its proof.
    const records = signedBatch(events, codec, signer);
    for (const [index, event] of events.entries()) {
      const route = routeOf(event.payload);
      const record = records[index]!;
      receipts.push({ index, eventId: event.eventId, key: event.payload.key, records: [] });
      const p = event.payload;
      // A sighting also goes to each addressed org's direct topic: the orgs whose indicator it is hear of it.
      const addressed = p.kind === 'Sighting' ? p.to.map((org) => topics.direct(org)) : [];
      for (const topic of new Set([...topics.route(route.tlp, route.recipients), ...addressed])) {
        const message: Message = { ...record };
        const partition = this.partitioner({
          topic,
          partitionMetadata: await this.partitionsOf(topic),
          message,
        });
        const slot = `${topic}\u0000${partition}`;
        let group = byTopicPartition.get(slot);
        if (!group) byTopicPartition.set(slot, (group = { topic, partition, messages: [], owners: [] }));
        group.messages.push({ ...message, partition });
        group.owners.push(index);
      }
    }
    const groups = [...byTopicPartition.values()];
    const byTopic = new Map<string, Message[]>();
    for (const g of groups) byTopic.set(g.topic, [...(byTopic.get(g.topic) ?? []), ...g.messages]);
    const metadata = await sender.send(
      [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      deadline,
    );
    for (const g of groups) {
      const meta = metadata.find((m) => m.topicName === g.topic && m.partition === g.partition);
      if (!meta || meta.errorCode !== 0 || meta.baseOffset === undefined) {
        throw new Error(`Kafka did not acknowledge ${g.topic}/${g.partition}`);
      }
      const base = BigInt(meta.baseOffset);
      g.owners.forEach((owner, i) => {
        receipts[owner]!.records.push({
          topic: g.topic,
          partition: g.partition,
          offset: String(base + BigInt(i)),
        });
      });
    }
    return receipts;
  }
}
