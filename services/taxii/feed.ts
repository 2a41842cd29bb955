import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { KafkaNames } from '../contract/names';
import { restartAfterCrash } from '../platform/kafka';
import type { Logger } from '../platform/logger';
import { verifyRecord, type RecordChecks } from '../contract/record-read';
import type { ThreatEvent } from '../contract/model';
import { readerWarnings, type Warning, type WarninglistIndex } from '../contract/warninglists';
import { additionsOf, eventKeyOf, nextVersion } from './objects';
import type { Addition, TaxiiStore } from './store';

export interface TaxiiFeedDeps extends RecordChecks {
  kafka: Kafka;
  topics: KafkaNames;
  store: TaxiiStore;
  logger: Logger;
  /** A record the feed refused: its code (the subscriber's dead-letter codes) and why. */
  onRefused: (
    code: string,
    reason: string,
    where: { topic: string; partition: number; offset: string },
  ) => void;
  onAdded: (count: number) => void;
  /** The reader's own warninglists: indicators are labelled with what they find. Absent: no labels. */
  warninglists?: WarninglistIndex;
}

/** What one record adds to the store. */
export interface FeedEntry {
  eventKey: string;
  additions: Addition[];
  /** What the objects age from (TaxiiStore.expire): when the record was produced, as freshness checks. */
  at: number;
}

/**
 * One record as the feed takes it: the subscriber's checks, then its STIX
 * objects. Any record is an entry or a refusal with a code, never an
 * exception, which would restart the feed's consumer at the same offset.
 */
export function readFeedRecord(
  checks: RecordChecks & { warninglists?: WarninglistIndex | undefined },
  message: KafkaMessage,
): { ok: true; entry: FeedEntry } | { ok: false; code: string; reason: string } {
  const verdict = verifyRecord(checks, message);
  if (!verdict.ok) return verdict;
  const { event } = verdict;
  const additions = additionsOf(event, feedWarnings(checks.warninglists, event));
  return { ok: true, entry: { eventKey: eventKeyOf(event), additions, at: Date.parse(event.producedAt) } };
}

/** The reader's own warnings for a published indicator; none without a snapshot. */
function feedWarnings(index: WarninglistIndex | undefined, event: ThreatEvent): Warning[] | undefined {
  const p = event.payload;
  return index && p.kind === 'IndicatorPublished' ? readerWarnings(index, p.indicator) : undefined;
}

/**
 * The org's TAXII feed: one consumer group (`<prefix>.taxii.<org>`) over the
 * topics the org may read, every record through the subscriber's own checks
 * (`verifyRecord`: signature, decode, source, identity, freshness,
 * entitlement) into the store.
 *
 * The store, not the group, is the truth about where to resume: each batch's
 * objects and its next offset are written in one lmdb transaction, and on
 * every assignment the consumer seeks to the offsets the store holds (the
 * beginning of the partition when it holds none, so an empty store rebuilds
 * from Kafka). The group's offsets are committed only after the store
 * flushed, so group lag on the broker is true, but they never decide what
 * is read.
 *
 * A refused record has no dead-letter topic here: the feed is a view
 * derived from topics that keep every record for the retention period, so
 * once the cause is fixed (a missing public key) a rebuild reads it again.
 * It is logged and counted (`threatrelay_taxii_refused_total{reason}`).
 */
export class TaxiiFeed {
  private consumer: Consumer | undefined;
  private stopping = false;
  readonly groupId: string;

  constructor(private readonly deps: TaxiiFeedDeps) {
    this.groupId = deps.topics.taxiiGroup(deps.org.id);
  }

  sourceTopics(): string[] {
    return this.deps.topics.readBy(this.deps.org);
  }

  async start(): Promise<void> {
    const { kafka, store, logger } = this.deps;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    const admin = kafka.admin();
    await admin.connect();
    // Where each partition starts when the store holds nothing of it: its first retained offset.
    const earliest = new Map<string, string>();
    try {
      for (const topic of this.sourceTopics()) {
        for (const p of await admin.fetchTopicOffsets(topic)) earliest.set(`${topic}:${p.partition}`, p.low);
      }
    } finally {
      await admin.disconnect();
    }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Called before the first fetch of the new assignment: seeks take effect on it.
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        const stored = store.offsets(topic);
        for (const partition of partitions) {
          const offset = stored.get(partition) ?? earliest.get(`${topic}:${partition}`) ?? '0';
          consumer.seek({ topic, partition, offset });
        }
      }
    });
    restartAfterCrash(consumer, {
      what: 'TAXII feed',
      logger,
      isCurrent: () => !this.stopping && this.consumer === consumer,
      forget: () => (this.consumer = undefined),
      wanted: () => !this.stopping,
      restart: () => this.start(),
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.sourceTopics(), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.consumer = consumer;
    logger.info({ groupId: this.groupId, topics: this.sourceTopics() }, 'TAXII feed consuming');
  }

  private async onBatch({
    batch,
    resolveOffset,
    commitOffsetsIfNecessary,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const events: FeedEntry[] = [];
    for (const message of batch.messages) {
      const read = readFeedRecord(this.deps, message);
      if (read.ok) events.push(read.entry);
      else this.deps.onRefused(read.code, read.reason, { topic, partition, offset: message.offset });
    }
    if (!isRunning() || isStale()) return;
    const last = batch.messages.at(-1);
    if (!last) return;
    const next = (BigInt(last.offset) + 1n).toString();
    const added = await this.deps.store.add(events, { topic, partition, next }, nextVersion);
    this.deps.onAdded(added);
    resolveOffset(last.offset);
    await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
    await heartbeat();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect();
  }
}
