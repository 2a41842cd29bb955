import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { isThreatRelayError } from '../../contract/errors';
import type { KafkaNames } from '../../contract/names';
import { restartAfterCrash } from '../../platform/kafka';
import { commitMetadata, offsetWithMetadata } from '../../platform/lag';
import type { Logger } from '../../platform/logger';
import type { BatchMark, DedupStore } from '../dedup';
import type { DedupPort } from '../dedup/port';
import { deliverBatch, type BatchDeliveryDeps, type BatchOutcome } from '../delivery/batch';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-policy';
import type { CommittingDeadLetters, DeadLetter } from '../dlq/write';
import type { SubscriberMetrics } from '../metrics';
import { classify, type Classified, type ClassifyDeps, type Deliverable } from './classify';
import type { RecordChecks } from '../../contract/record-read';
import { waitWithHeartbeats } from './wait';
import { backoffDelay, type Backoff } from '../../platform/backoff';
import type { SubscriptionConfig } from '../../platform/config/config';
import type { WarninglistIndex } from '../../contract/warninglists';

/** Waits between tries of a record while its dedup store is down. */
const DEDUP_OUTAGE_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };
/** Partition batches a subscription works on at once. */
const PARTITIONS_AT_ONCE = 3;
/** Within a partition batch, the group's offset is written at most this often (and when the batch ends). */
const COMMIT_EVERY_MS = 1000;
/** Records whose dedup calls are issued together. */
const CLASSIFY_CHUNK = 500;
/** Consecutive dead records written in one dead-letter transaction at most. */
const DEAD_LETTERS_AT_ONCE = 100;

export interface SubscriptionConsumerDeps extends RecordChecks {
  kafka: Kafka;
  subscription: SubscriptionConfig;
  topics: KafkaNames;
  /** Writes dead letters in one transaction with the source offsets. */
  deadLetters: CommittingDeadLetters;
  logger: Logger;
  metrics: SubscriberMetrics;
  dedup?: DedupPort;
  /** The reader's own warninglists (see classify.ts). */
  warninglists?: WarninglistIndex;
  /** Resolves when the dedup store answers at all: tells an outage from one record it keeps failing. */
  dedupPing?: () => Promise<void>;
  /** Records each webhook batch in the dedup store before it is sent (see DedupStore.markBatch). */
  markBatch?: DedupStore['markBatch'];
  /** Resolves once the dedup store's state survives a crash of the machine; awaited before each offset commit. */
  dedupDurable?: () => Promise<void>;
  /** Samples the group's progress (platform/lag.ts) now, so /metrics keeps showing lag grow while the store is down. */
  sampleProgress?: () => Promise<void>;
  retryPolicy?: RetryPolicy;
  /** The group's session timeout; default 30 s (tests shorten it to see a member fenced). */
  sessionTimeoutMs?: number;
  /** Called once when the endpoint answered 410 Gone: the service records the switch in Kafka. */
  onGone: (reason: string) => Promise<void>;
}

/**
 * One subscription = one consumer group = one webhook endpoint, so a failing
 * endpoint never holds back another subscription. This class is the group's
 * lifecycle (start, stop, disable, restart after a crash) and the walk
 * through each fetched batch; what a record means is `classify`, how a batch
 * reaches the endpoint is `deliverBatch`. Offsets are committed only after
 * every record up to them was delivered, filtered out, deduplicated or
 * dead-lettered: at-least-once end to end. Dead letters are written in one
 * transaction with the offsets that move past them, so a batch is either
 * dead-lettered and committed, or neither (and read again).
 */
export class SubscriptionConsumer {
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private disabled = false;
  /** Set by stop(): a delivery waiting to retry gives up its batch (uncommitted) instead of waiting on. */
  private stopRequested = false;
  private stopping: Promise<void> | undefined;
  /** Times this instance joined (or rejoined, after a rebalance) its group: tests and operators watch it. */
  groupJoins = 0;
  private readonly log: Logger;
  private readonly id: string;
  readonly groupId: string;
  private readonly classifyDeps: ClassifyDeps;
  private readonly delivery: BatchDeliveryDeps;
  /** When a webhook batch of each partition was last accepted: written with every offset commit. */
  private readonly deliveredAt = new Map<string, number>();

  constructor(private readonly deps: SubscriptionConsumerDeps) {
    this.id = deps.subscription.id;
    this.groupId = deps.topics.subscriptionGroup(this.id);
    this.log = deps.logger.child({ subscription: this.id });
    this.classifyDeps = deps;
    this.delivery = {
      subscription: deps.subscription,
      metrics: deps.metrics,
      log: this.log,
      retryPolicy: deps.retryPolicy ?? deps.subscription.retry ?? DEFAULT_RETRY_POLICY,
      disable: (reason) => this.gone(reason),
      halted: () => this.stopRequested || this.disabled,
      ...(deps.markBatch ? { markBatch: deps.markBatch } : {}),
    };
  }

  /** The topics this subscription's org may read: community levels it is entitled to, and its own direct topic. */
  sourceTopics(): string[] {
    return this.deps.topics.readBy(this.deps.org);
  }

  get running(): boolean {
    return this.consumer !== undefined;
  }

  async start(): Promise<void> {
    await this.stopping;
    if (this.consumer || this.starting) return this.starting;
    this.disabled = false;
    this.stopRequested = false;
    this.deps.metrics.disabled.set({ subscription: this.id }, 0);
    this.starting = this.startConsumer().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.deps.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.deps.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.groupJoins += 1;
    });
    restartAfterCrash(consumer, {
      what: 'consumer',
      logger: this.log,
      isCurrent: () => this.consumer === consumer,
      forget: () => (this.consumer = undefined),
      wanted: () => !this.disabled && !this.stopRequested,
      restart: () => this.start(),
      // kafkajs reports a group the broker's ACLs refuse (GROUP_AUTHORIZATION_FAILED) only as this.
      details: (error) =>
        error.name === 'KafkaJSGroupCoordinatorNotFound'
          ? {
              hint: `with ACLs, this principal may lack READ on group ${this.groupId}: run threatrelay provision`,
            }
          : {},
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.sourceTopics(), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      // Offsets are resolved and committed here, record by record, never for a whole batch at once.
      eachBatchAutoResolve: false,
      // Batches of different partitions side by side: one waits on the dedup store's disk flush or the
      // endpoint while another is classified. Order within a partition is kept.
      partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.consumer = consumer;
    this.log.info({ groupId: this.groupId, topics: this.sourceTopics() }, 'subscription consuming');
  }

  /** Leaves the group; kafkajs waits for the running batch, which commits only what it delivered. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.starting?.catch(() => undefined);
        const consumer = this.consumer;
        this.consumer = undefined;
        await consumer?.disconnect();
      })().finally(() => (this.stopping = undefined));
    }
    return this.stopping;
  }

  /** Stops consuming until `start()`; nothing past the last delivered record is committed. */
  async disable(reason: string): Promise<void> {
    this.disabled = true;
    this.deps.metrics.disabled.set({ subscription: this.id }, 1);
    this.log.error({ reason }, 'subscription DISABLED: it resumes only when re-enabled');
    await this.stop();
  }

  /** 410 Gone: recorded in Kafka first, so every instance (and this one after a restart) stays stopped. */
  private async gone(reason: string): Promise<void> {
    this.disabled = true;
    try {
      await this.deps.onGone(reason);
    } catch (err) {
      this.log.error({ err }, 'could not record the disable switch in Kafka; disabling this instance only');
    } finally {
      // Not awaited: stopping waits for the very batch that called us to return.
      void this.disable(reason);
    }
  }

  /** Classifies and delivers records outside the group (a DLQ replay): see dlq/replay.ts. */
  classify(
    message: Classified['message'],
    position: { topic: string; partition: number },
    options: { replay?: boolean } = {},
  ): Promise<Classified> {
    return classify(this.classifyDeps, message, position, options);
  }

  deliver(
    items: Deliverable[],
    position: { topic: string; partition: number },
    heartbeat: () => Promise<void>,
  ): Promise<BatchOutcome> {
    return deliverBatch(this.delivery, items, position, heartbeat);
  }

  /** Classifies records in offset order, their dedup calls in flight together; undefined: stopping mid-outage. */
  private async classifyChunk(
    chunk: KafkaMessage[],
    position: { topic: string; partition: number },
    heartbeat: () => Promise<void>,
    carryOn: () => boolean,
  ): Promise<Classified[] | undefined> {
    const settled = await Promise.allSettled(chunk.map((m) => this.classify(m, position)));
    const classified: Classified[] = [];
    for (const [j, result] of settled.entries()) {
      if (result.status === 'fulfilled') {
        classified.push(result.value);
        continue;
      }
      const c = await this.classifyThroughOutage(chunk[j]!, position, result.reason, heartbeat, carryOn);
      if (!c) return undefined;
      classified.push(c);
    }
    return classified;
  }

  /**
   * A record whose dedup call failed. While the store is down, it is retried
   * with backoff for as long as it takes, heartbeating, committing nothing,
   * and lag keeps growing on /metrics. When the store answers but keeps
   * failing this one record (three times), the record is dead-lettered, so
   * it cannot stall its partition. Undefined: the consumer is stopping.
   */
  private async classifyThroughOutage(
    message: KafkaMessage,
    position: { topic: string; partition: number },
    error: unknown,
    heartbeat: () => Promise<void>,
    carryOn: () => boolean,
  ): Promise<Classified | undefined> {
    let failuresWhileUp = 0;
    for (let lastError = error, attempt = 1; ; attempt++) {
      const delayMs = backoffDelay(DEDUP_OUTAGE_BACKOFF, attempt);
      if (!isThreatRelayError(lastError, 'TR_DEDUP_UNAVAILABLE')) throw lastError;
      const storeUp = this.deps.dedupPing
        ? await this.deps.dedupPing().then(
            () => true,
            () => false,
          )
        : true;
      if (storeUp) failuresWhileUp += 1;
      if (failuresWhileUp >= 3) {
        const reason = `the dedup store answers but failed this record ${failuresWhileUp} times: ${describe(lastError)}`;
        return { kind: 'dead', message, code: 'TR_DEDUP_REJECTED', reason };
      }
      this.log.warn(
        { ...position, offset: message.offset, storeUp, retryInMs: delayMs, err: lastError },
        'dedup store failed; retrying the record, nothing committed',
      );
      await this.reportLag();
      if (!(await waitWithHeartbeats(delayMs, heartbeat, () => !carryOn()))) return undefined;
      try {
        return await this.classify(message, position);
      } catch (err) {
        lastError = err;
      }
    }
  }

  private async reportLag(): Promise<void> {
    await this.deps.sampleProgress?.().catch(() => undefined);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const position = { topic, partition };
    if (this.disabled) return;
    const metadata = (): string | null => commitMetadata(this.deliveredAt.get(`${topic}/${partition}`));
    const carryOn = (): boolean => isRunning() && !isStale() && !this.disabled;
    let pending: Classified[] = [];
    let pendingDeliveries = 0;
    /** Set while `pending` is a batch read again after a crash, being regrouped as it was first sent. */
    let regrouping: BatchMark | undefined;
    const started = Date.now();

    /**
     * Moves past `offset`. The group's offset is written at most every COMMIT_EVERY_MS within a batch
     * and when the batch ends (`force`): a crash in between re-reads a little more, which the dedup
     * store answers as repeats of the batches already sent (same webhook-ids), not as new deliveries.
     */
    let committedAt = Date.now();
    let uncommitted: string | undefined;
    const commit = async (offset: string, force = false): Promise<void> => {
      resolveOffset(offset);
      uncommitted = offset;
      if (!force && Date.now() - committedAt < COMMIT_EVERY_MS) return;
      // What the dedup store decided for these records is on disk before the group moves past them
      // (one flush per commit, not one per record).
      await this.deps.dedupDurable?.();
      await commitOffsetsIfNecessary({
        topics: [
          {
            topic,
            partitions: [offsetWithMetadata(partition, (BigInt(offset) + 1n).toString(), metadata())],
          },
        ],
      });
      committedAt = Date.now();
      uncommitted = undefined;
    };

    /**
     * Dead letters for the records from `from` to `last` (offsets), and the commit past `last`, in one
     * transaction. Inside it, before the transaction adds its offsets, the group's offset is committed
     * again where it stands (`from`): the broker checks that commit against the group's generation,
     * which the transaction's own offset commit (kafkajs sends TxnOffsetCommit v0/v1, without it) does
     * not. So a member that lost the partition (fenced, or a rebalance went on without it), whose
     * successor may be delivering these very records, aborts instead of dead-lettering them too. If
     * anything fails, nothing of it is visible: the error ends the batch, and the records are read again.
     */
    const deadLetterAndCommit = async (letters: DeadLetter[], from: string, last: string): Promise<void> => {
      await this.deps.dedupDurable?.();
      await this.deps.deadLetters.writeAndCommit(
        letters,
        {
          groupId: this.groupId,
          topic,
          partition,
          offset: (BigInt(last) + 1n).toString(),
          metadata: metadata(),
        },
        async () => {
          await commitOffsetsIfNecessary({
            topics: [{ topic, partitions: [offsetWithMetadata(partition, from, metadata())] }],
          });
        },
      );
      resolveOffset(last);
      committedAt = Date.now();
      uncommitted = undefined;
    };

    /** While a delivery waits to retry, what earlier batches delivered is committed first. */
    const beat = async (): Promise<void> => {
      if (uncommitted !== undefined) await commit(uncommitted, true);
      await heartbeat();
    };

    const flush = async (): Promise<boolean> => {
      if (pending.length === 0) return true;
      const deliverable = pending.filter((c): c is Deliverable => c.kind === 'deliver');
      const last = pending[pending.length - 1]!.message.offset;
      const outcome = deliverable.length > 0 ? await this.deliver(deliverable, position, beat) : undefined;
      if (outcome?.kind === 'halted') return false;
      if (outcome?.kind === 'delivered') this.deliveredAt.set(`${topic}/${partition}`, Date.now());
      if (outcome) {
        this.deps.metrics.deliverySeconds.observe({ subscription: this.id }, (Date.now() - started) / 1000);
      }
      if (outcome?.kind === 'dead-lettered') {
        await deadLetterAndCommit(outcome.letters, pending[0]!.message.offset, last);
      } else {
        await commit(last);
      }
      pending = [];
      pendingDeliveries = 0;
      regrouping = undefined;
      await heartbeat();
      return true;
    };

    /** Consecutive records to dead-letter, written with the commit past them in one transaction. */
    let dead: DeadLetter[] = [];
    const flushDead = async (): Promise<void> => {
      if (dead.length === 0) return;
      const run = dead;
      dead = [];
      await deadLetterAndCommit(run, run[0]!.message.offset, run[run.length - 1]!.message.offset);
    };

    /** One record's place in the walk: the webhook batch it joins, or a dead letter. False: stop the walk. */
    const take = async (c: Classified): Promise<boolean> => {
      if (c.kind === 'dead') {
        // Order matters: what came before is delivered before we move past this record.
        if (!(await flush())) return false;
        dead.push({
          message: c.message,
          sourceTopic: topic,
          sourcePartition: partition,
          code: c.code,
          reason: c.reason,
        });
        if (dead.length >= DEAD_LETTERS_AT_ONCE) await flushDead();
        return true;
      }
      await flushDead();
      if (c.kind === 'deliver') {
        // A record already handed to a batch goes out in exactly that batch again (same members, same
        // webhook-id); anything else closes the batch being regrouped, whole or not.
        const sameBatch = c.batch !== undefined && c.batch.webhookId === regrouping?.webhookId;
        if (!sameBatch && (regrouping !== undefined || c.batch !== undefined) && !(await flush()))
          return false;
        if (c.batch && !sameBatch) regrouping = c.batch;
      }
      pending.push(c);
      if (c.kind === 'deliver') pendingDeliveries += 1;
      const full = regrouping
        ? pendingDeliveries >= regrouping.size
        : pendingDeliveries >= this.deps.subscription.batchSize;
      return !full || flush();
    };

    // The walk through the batch: it returns early when delivery halts (stopping, 410) or a dedup outage
    // outlasts the consumer; whatever it delivered before is committed below either way.
    const walk = async (): Promise<void> => {
      // Records are classified a chunk at a time: the dedup calls of a chunk are issued in offset
      // order without waiting for each other, so the store applies them in order, in few write
      // transactions. They reach the disk before the offset commit that moves past them. The next
      // chunk is classified while this one's webhook batches are out: the checks run while the POSTs
      // wait on the endpoint. A chunk classified but not walked (the walk stopped) is read again and
      // answered by the store as the repeat it is.
      const chunkSize = Math.max(this.deps.subscription.batchSize, CLASSIFY_CHUNK);
      let walking = true;
      const classifying = (): boolean => walking && carryOn();
      const chunkAt = (i: number): Promise<Classified[] | undefined> | undefined => {
        const chunk = batch.messages.slice(i, i + chunkSize);
        if (chunk.length === 0 || !carryOn()) return undefined;
        const classified = this.classifyChunk(chunk, position, heartbeat, classifying);
        classified.catch(() => undefined); // awaited below, or at the end of the walk
        return classified;
      };
      let next = chunkAt(0);
      try {
        chunks: for (let i = 0; next; i += chunkSize) {
          const classified = await next;
          next = undefined;
          // Stopping mid-outage: nothing of this chunk is committed; it is read again on the next start.
          if (!classified) return;
          next = chunkAt(i + chunkSize);
          for (const c of classified) {
            if (!carryOn()) break chunks;
            if (!(await take(c))) return;
          }
        }
        if (this.disabled) return;
        await flushDead();
        await flush();
      } finally {
        // A chunk classified ahead is not left running past the batch (its dedup calls against a store
        // that may be closing): it stops waiting out an outage and its calls in flight end.
        walking = false;
        await next?.catch(() => undefined);
      }
    };
    await walk();
    if (uncommitted !== undefined) await commit(uncommitted, true);
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}
