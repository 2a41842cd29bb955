import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { EventCodec } from '../../contract/avro/codec';
import type { OrgConfig, SubscriptionConfig } from '../../platform/config/config';
import { HEADERS } from '../../contract/definitions';
import { isThreatRelayError, type ErrorCode } from '../../contract/errors';
import { headerText } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';
import type { ThreatEvent } from '../../contract/model';
import { verifyValue } from '../../contract/signing';
import { communityLevels, type TopicNames } from '../../contract/names';
import type { DeadLetterWriter } from '../dlq/write';
import { postWebhook, webhookIdFor } from '../delivery/webhook';
import { entitlementProblem } from './entitlement';
import { passesFilter } from './filter';
import type { SubscriberMetrics } from '../metrics';
import { DEFAULT_RETRY_POLICY, nextDelayMs, type RetryPolicy } from '../delivery/retry-policy';
import { toNative, type DeliveryKind, type WebhookBody } from './shape';
import { toStixBundle } from '../../stix/export';

/**
 * One subscription = one consumer group = one webhook endpoint, so a failing
 * endpoint never holds back another subscription. For each record, in order:
 * verify the signature → decode → entitlement → filter → dedup → shape →
 * deliver. Offsets are committed only after every record up to them was
 * delivered, filtered out, deduplicated or dead-lettered: at-least-once end
 * to end. While a delivery waits for a retry the consumer keeps
 * heartbeating, so a slow endpoint causes no rebalance.
 */

/** What the dedup store decided for one record; `deliver` says what, if anything, goes out. */
export interface DeliveryDecision {
  deliver: DeliveryKind | undefined;
  /** Distinct source orgs that reported the key (for corroborations). */
  sources?: string[];
  /** Why nothing is delivered (metric label). */
  outcome: string;
}

/**
 * The consumer's view of the dedup store. `position` (`topic/partition/offset`)
 * tells a re-read after a crash from a second copy of the event. Absent:
 * every entitled, filtered record is delivered.
 */
export type DedupPort = (event: ThreatEvent, position: string) => Promise<DeliveryDecision>;

export interface SubscriptionConsumerDeps {
  kafka: Kafka;
  subscription: SubscriptionConfig;
  org: OrgConfig;
  codec: EventCodec;
  /** Public keys of the publishing orgs, by org id. */
  orgKeys: Map<string, KeyObject>;
  topics: TopicNames;
  deadLetters: DeadLetterWriter;
  logger: Logger;
  groupId: string;
  metrics: SubscriberMetrics;
  dedup?: DedupPort;
  retryPolicy?: RetryPolicy;
  /** Called once when the endpoint answered 410 Gone: the service records the switch and stops us. */
  onGone: (reason: string) => Promise<void>;
}

type Classified =
  | { kind: 'deliver'; message: KafkaMessage; event: ThreatEvent; as: DeliveryKind; sources?: string[] }
  | { kind: 'skip'; message: KafkaMessage }
  | { kind: 'dead'; message: KafkaMessage; code: ErrorCode; reason: string };
type Deliverable = Extract<Classified, { kind: 'deliver' }>;

/** How often a long wait stops to heartbeat, so the group never thinks we died. */
const HEARTBEAT_EVERY_MS = 1000;

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
  private readonly retryPolicy: RetryPolicy;
  private readonly id: string;

  constructor(private readonly deps: SubscriptionConsumerDeps) {
    this.id = deps.subscription.id;
    this.log = deps.logger.child({ subscription: this.id });
    this.retryPolicy = deps.retryPolicy ?? deps.subscription.retry ?? DEFAULT_RETRY_POLICY;
  }

  /** The topics this subscription's org may read: community levels it is entitled to, and its own direct topic. */
  sourceTopics(): string[] {
    const { topics, org } = this.deps;
    return [...communityLevels(org).map((l) => topics.community(l)), topics.direct(org.id)];
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
      groupId: this.deps.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.groupJoins += 1;
    });
    // kafkajs gives up on a consumer after an error it does not retry (a bug in shaping, a DLQ
    // write refused by the broker): start again after a pause rather than stop for good.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.consumer !== consumer) return;
      // kafkajs reports a group the broker's ACLs refuse (GROUP_AUTHORIZATION_FAILED) only as this.
      const hint =
        payload.error.name === 'KafkaJSGroupCoordinatorNotFound'
          ? {
              hint: `with ACLs, this principal may lack READ on group ${this.deps.groupId}: run threatrelay provision`,
            }
          : {};
      this.log.error({ err: payload.error, ...hint }, 'consumer crashed; restarting in 5 s');
      this.consumer = undefined;
      void consumer.disconnect().catch(() => undefined);
      setTimeout(() => {
        if (!this.disabled && !this.stopRequested) {
          this.start().catch((err: unknown) => this.log.error({ err }, 'restart after crash failed'));
        }
      }, 5000).unref();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.sourceTopics(), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      // Offsets are resolved and committed here, record by record, never for a whole batch at once.
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.consumer = consumer;
    this.log.info({ groupId: this.deps.groupId, topics: this.sourceTopics() }, 'subscription consuming');
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

  /**
   * Runs dead letters through the pipeline again, bypassing dedup (an
   * operator asked for them): verified, decoded, entitled, filtered, and
   * delivered in batches. What fails again goes back to the DLQ with its new
   * reason, so a replay loses nothing either.
   */
  async replay(
    letters: { message: KafkaMessage; topic: string; partition: number }[],
  ): Promise<{ delivered: number; deadLettered: number; skipped: number }> {
    const result = { delivered: 0, deadLettered: 0, skipped: 0 };
    const noHeartbeat = async (): Promise<void> => undefined;
    for (let i = 0; i < letters.length; i += this.deps.subscription.batchSize) {
      const chunk = letters.slice(i, i + this.deps.subscription.batchSize);
      const deliverable: (Deliverable & { topic: string; partition: number })[] = [];
      for (const letter of chunk) {
        const c = await this.classify(letter.message, letter, { bypassDedup: true });
        if (c.kind === 'dead') {
          await this.deadLetter([c], letter.topic, letter.partition);
          result.deadLettered += 1;
        } else if (c.kind === 'skip') result.skipped += 1;
        else deliverable.push({ ...c, topic: letter.topic, partition: letter.partition });
      }
      if (deliverable.length === 0) continue;
      const first = deliverable[0]!;
      const outcome = await this.deliver(deliverable, first.topic, first.partition, noHeartbeat);
      if (outcome === 'halted')
        throw new Error(`subscription ${this.id} endpoint answered 410 Gone during replay`);
      if (outcome === 'delivered') result.delivered += deliverable.length;
      else result.deadLettered += deliverable.length;
    }
    return result;
  }

  private async classify(
    message: KafkaMessage,
    position: { topic: string; partition: number },
    options: { bypassDedup?: boolean } = {},
  ): Promise<Classified> {
    const { codec, orgKeys, org, subscription } = this.deps;
    const value = message.value;
    if (!value) return { kind: 'dead', message, code: 'TR_CODEC_MALFORMED', reason: 'record has no value' };
    const sourceOrg = headerText(message, HEADERS.sourceOrg);
    const signature = headerText(message, HEADERS.signature);
    if (!sourceOrg || !signature) {
      return { kind: 'dead', message, code: 'TR_SIGNATURE_INVALID', reason: 'record is not signed' };
    }
    const key = orgKeys.get(sourceOrg);
    if (!key) {
      return {
        kind: 'dead',
        message,
        code: 'TR_SIGNATURE_INVALID',
        reason: `no public key for source org ${sourceOrg}`,
      };
    }
    if (!verifyValue(value, signature, key)) {
      return {
        kind: 'dead',
        message,
        code: 'TR_SIGNATURE_INVALID',
        reason: `signature does not verify for ${sourceOrg}`,
      };
    }
    let event: ThreatEvent;
    try {
      event = codec.decode(value);
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      return { kind: 'dead', message, code: err.code, reason: err.message };
    }
    if (event.source.org !== sourceOrg) {
      const reason = `record claims source ${event.source.org} but is signed by ${sourceOrg}`;
      return { kind: 'dead', message, code: 'TR_SIGNATURE_INVALID', reason };
    }
    const p = event.payload;
    const route = p.kind === 'IndicatorPublished' ? p.indicator : p;
    const problem = entitlementProblem(org, route.tlp, route.recipients);
    if (problem) return { kind: 'dead', message, code: 'TR_FORBIDDEN', reason: problem };
    if (!passesFilter(subscription.filter, event)) {
      this.deps.metrics.filtered.inc({ subscription: this.id });
      return { kind: 'skip', message };
    }
    if (!this.deps.dedup || options.bypassDedup) {
      const as = p.kind === 'IndicatorPublished' ? 'indicator.published' : 'indicator.revoked';
      return { kind: 'deliver', message, event, as };
    }
    const decision = await this.deps.dedup(
      event,
      `${position.topic}/${position.partition}/${message.offset}`,
    );
    if (!decision.deliver) {
      this.deps.metrics.deduplicated.inc({ subscription: this.id, outcome: decision.outcome });
      return { kind: 'skip', message };
    }
    return {
      kind: 'deliver',
      message,
      event,
      as: decision.deliver,
      ...(decision.sources ? { sources: decision.sources } : {}),
    };
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (this.disabled) return;
    this.deps.metrics.lag.set(
      { subscription: this.id, topic, partition: String(partition) },
      Number(batch.offsetLag()),
    );
    let pending: Classified[] = [];
    let pendingDeliveries = 0;
    const started = Date.now();

    const commit = async (offset: string): Promise<void> => {
      resolveOffset(offset);
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(offset) + 1n).toString() }] }],
      });
    };

    const flush = async (): Promise<boolean> => {
      if (pending.length === 0) return true;
      const deliverable = pending.filter((c): c is Deliverable => c.kind === 'deliver');
      if (deliverable.length > 0) {
        if ((await this.deliver(deliverable, topic, partition, heartbeat)) === 'halted') return false;
        this.deps.metrics.deliverySeconds.observe({ subscription: this.id }, (Date.now() - started) / 1000);
      }
      await commit(pending[pending.length - 1]!.message.offset);
      pending = [];
      pendingDeliveries = 0;
      await heartbeat();
      return true;
    };

    // Records are classified a chunk at a time: the dedup calls of a chunk are issued in offset
    // order without waiting for each other, so the store applies them in order but makes them
    // durable together (one disk flush per chunk, not one per record).
    const chunkSize = Math.max(this.deps.subscription.batchSize, 50);
    const classifiedAll: Classified[] = [];
    for (let i = 0; i < batch.messages.length; i += chunkSize) {
      if (!isRunning() || isStale() || this.disabled) break;
      const chunk = batch.messages.slice(i, i + chunkSize);
      classifiedAll.push(...(await Promise.all(chunk.map((m) => this.classify(m, { topic, partition })))));
    }

    for (const classified of classifiedAll) {
      if (!isRunning() || isStale() || this.disabled) break;
      const message = classified.message;
      if (classified.kind === 'dead') {
        // Order matters: what came before is delivered before we move past this record.
        if (!(await flush())) return;
        await this.deadLetter([classified], topic, partition);
        await commit(message.offset);
        continue;
      }
      pending.push(classified);
      if (classified.kind === 'deliver') pendingDeliveries += 1;
      if (pendingDeliveries >= this.deps.subscription.batchSize) {
        if (!(await flush())) return;
      }
    }
    if (!this.disabled) await flush();
  }

  private async deadLetter(
    items: { message: KafkaMessage; code: ErrorCode; reason: string }[],
    topic: string,
    partition: number,
  ): Promise<void> {
    await this.deps.deadLetters.write(
      items.map((i) => ({
        message: i.message,
        sourceTopic: topic,
        sourcePartition: partition,
        code: i.code,
        reason: i.reason,
      })),
    );
    for (const i of items) {
      this.deps.metrics.deadLettered.inc({ subscription: this.id, reason: i.code });
      this.log.warn(
        { topic, partition, offset: i.message.offset, code: i.code, reason: i.reason },
        'dead-lettered',
      );
    }
  }

  private body(items: Deliverable[], webhookId: string): string {
    if (this.deps.subscription.format === 'stix21') {
      return JSON.stringify(
        toStixBundle(
          items.map((i) => i.event),
          webhookId,
        ),
      );
    }
    const body: WebhookBody = {
      subscription: this.id,
      events: items.map((i) => toNative(i.event, i.as, i.sources)),
    };
    return JSON.stringify(body);
  }

  /**
   * Delivers one webhook batch, retrying what may pass later. When the retry
   * bound is reached or the endpoint rejects the batch for good, its records
   * go to the DLQ: either way nothing is lost and the partition moves on.
   * Returns 'halted' when the endpoint answered 410 (the subscription is now
   * disabled) or the consumer is stopping: nothing of the batch may be committed.
   */
  private async deliver(
    items: Deliverable[],
    topic: string,
    partition: number,
    heartbeat: () => Promise<void>,
  ): Promise<'delivered' | 'dead-lettered' | 'halted'> {
    const { subscription, metrics } = this.deps;
    const webhookId = webhookIdFor(
      subscription.id,
      items.map((i) => i.event.eventId),
    );
    const text = this.body(items, webhookId);
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await postWebhook(subscription.webhook, webhookId, text);
        for (const i of items) metrics.delivered.inc({ subscription: this.id, type: i.as });
        this.log.info({ webhookId, events: items.length, attempt }, 'delivered');
        return 'delivered';
      } catch (err) {
        if (!isThreatRelayError(err)) throw err;
        if (err.code === 'TR_DELIVERY_GONE') {
          this.disabled = true;
          // The URL stays out: it can hold a token, and the switch is read by every instance.
          const reason = 'the webhook endpoint answered 410 Gone';
          try {
            await this.deps.onGone(reason);
          } catch (switchErr) {
            this.log.error(
              { err: switchErr },
              'could not record the disable switch in Kafka; disabling this instance only',
            );
          } finally {
            // Not awaited: stopping waits for this very batch to return.
            void this.disable(reason);
          }
          return 'halted';
        }
        const delay = err.canRetry
          ? nextDelayMs(this.retryPolicy, attempt, Date.now() - started, err.retryAfterSeconds)
          : undefined;
        if (delay === undefined) {
          const reason = err.canRetry ? `gave up after ${attempt} attempts: ${err.message}` : err.message;
          await this.deadLetter(
            items.map((i) => ({ message: i.message, code: err.code, reason })),
            topic,
            partition,
          );
          return 'dead-lettered';
        }
        metrics.retries.inc({ subscription: this.id });
        this.log.warn(
          { webhookId, attempt, delayMs: delay, reason: err.message },
          'delivery failed, will retry',
        );
        await this.waitWithHeartbeats(delay, heartbeat);
        // Asked to stop while waiting: give the batch up uncommitted; it is read again on the next start.
        if (this.stopRequested || this.disabled) return 'halted';
      }
    }
  }

  private async waitWithHeartbeats(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !this.stopRequested && !this.disabled) {
      await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()));
      await heartbeat();
    }
  }
}
