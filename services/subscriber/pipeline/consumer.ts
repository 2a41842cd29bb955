import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaNames } from '../../contract/names';
import type { RecordChecks } from '../../contract/record-read';
import type { SubscriptionConfig } from '../../platform/config/config';
import { restartAfterCrash } from '../../platform/kafka';
import { commitMetadata } from '../../platform/lag';
import type { Logger } from '../../platform/logger';
import type { DedupStore } from '../dedup';
import type { DedupPort } from '../dedup/port';
import { deliverBatch, type BatchDeliveryDeps } from '../delivery/batch';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-policy';
import type { CommittingDeadLetters } from '../dlq/write';
import type { SubscriberMetrics } from '../metrics';
import { classifyChunk, type ChunkDeps } from './classify';
import { BatchWalk, type WalkDeps } from './walk';
import type { WarninglistIndex } from '../../contract/warninglists';

/** Partition batches a subscription works on at once. */
const PARTITIONS_AT_ONCE = 3;

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
 * lifecycle (start, stop, disable, restart after a crash); each fetched batch
 * is a `BatchWalk`, which calls the record checks and dedup (`classify`),
 * then delivery (`deliverBatch`), and none of them calls back. Offsets are committed only after
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
  private readonly walkDeps: WalkDeps;
  /** When a webhook batch of each partition was last accepted: written with every offset commit. */
  private readonly deliveredAt = new Map<string, number>();

  constructor(private readonly deps: SubscriptionConsumerDeps) {
    this.id = deps.subscription.id;
    this.groupId = deps.topics.subscriptionGroup(this.id);
    this.log = deps.logger.child({ subscription: this.id });
    this.walkDeps = this.walkDepsFor(deps);
  }

  /** What each batch walk calls: the checks (riding out a dedup outage), delivery, the dead letters. */
  private walkDepsFor(deps: SubscriptionConsumerDeps): WalkDeps {
    const checks: ChunkDeps = {
      ...deps,
      log: this.log,
      dedupPing: deps.dedupPing,
      onOutage: () => this.reportLag(),
    };
    const delivery: BatchDeliveryDeps = {
      subscription: deps.subscription,
      metrics: deps.metrics,
      log: this.log,
      retryPolicy: deps.retryPolicy ?? deps.subscription.retry ?? DEFAULT_RETRY_POLICY,
      disable: (reason) => this.gone(reason),
      halted: () => this.stopRequested || this.disabled,
      ...(deps.markBatch ? { markBatch: deps.markBatch } : {}),
    };
    return {
      groupId: this.groupId,
      batchSize: deps.subscription.batchSize,
      classifyChunk: (chunk, position, heartbeat, carryOn) =>
        classifyChunk(checks, chunk, position, heartbeat, carryOn),
      deliver: (items, position, heartbeat) => deliverBatch(delivery, items, position, heartbeat),
      deadLetters: deps.deadLetters,
      dedupDurable: deps.dedupDurable,
      onDelivered: ({ topic, partition }, seconds, accepted) => {
        if (accepted) this.deliveredAt.set(`${topic}/${partition}`, Date.now());
        deps.metrics.deliverySeconds.observe({ subscription: this.id }, seconds);
      },
      commitMetadata: ({ topic, partition }) => commitMetadata(this.deliveredAt.get(`${topic}/${partition}`)),
      disabled: () => this.disabled,
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

  private async reportLag(): Promise<void> {
    await this.deps.sampleProgress?.().catch(() => undefined);
  }

  /** One fetched partition batch: the walk through it (lag is sampled by the service's ProgressMonitor). */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    if (this.disabled) return;
    await new BatchWalk(this.walkDeps, payload).run();
  }
}
