import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { SchemaRegistry } from '../shared/codec';
import type { OrgConfig, SubscriptionConfig } from '../shared/config';
import { HEADERS } from '../shared/definitions';
import { isThreatRelayError, type ErrorCode } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { ThreatEvent } from '../shared/model';
import { verifyValue } from '../shared/signing';
import type { TopicNames } from '../shared/topics';
import type { DeadLetterWriter } from './dead-letter';
import { postWebhook, webhookIdFor } from './delivery';
import { communityLevels, entitlementProblem } from './entitlement';
import { passesFilter } from './filter';
import { DEFAULT_RETRY_POLICY, nextDelayMs, type RetryPolicy } from './retry-policy';
import { toNative, type WebhookBody } from './shape';

/**
 * One subscription = one consumer group = one webhook endpoint, so a failing
 * endpoint never holds back another subscription. Offsets are committed only
 * after every record up to them was delivered, filtered out or dead-lettered:
 * at-least-once end to end.
 */

export interface SubscriptionConsumerDeps {
  kafka: Kafka;
  subscription: SubscriptionConfig;
  org: OrgConfig;
  registry: SchemaRegistry;
  /** Public keys of the publishing orgs, by org id. */
  orgKeys: Map<string, KeyObject>;
  topics: TopicNames;
  deadLetters: DeadLetterWriter;
  logger: Logger;
  groupId: string;
  retryPolicy?: RetryPolicy;
}

type Classified =
  | { kind: 'deliver'; message: KafkaMessage; event: ThreatEvent }
  | { kind: 'skip'; message: KafkaMessage; reason: string }
  | { kind: 'dead'; message: KafkaMessage; code: ErrorCode; reason: string };

function header(message: KafkaMessage, name: string): string | undefined {
  const v = message.headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

/** How often a long wait stops to heartbeat, so the group never thinks we died. */
const HEARTBEAT_EVERY_MS = 1000;

export class SubscriptionConsumer {
  private consumer: Consumer | undefined;
  private readonly log: Logger;
  private readonly retryPolicy: RetryPolicy;

  constructor(private readonly deps: SubscriptionConsumerDeps) {
    this.log = deps.logger.child({ subscription: deps.subscription.id });
    this.retryPolicy = deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
  }

  /** The topics this subscription's org may read: community levels it is entitled to, and its own direct topic. */
  sourceTopics(): string[] {
    const { topics, org } = this.deps;
    return [...communityLevels(org).map((l) => topics.community(l)), topics.direct(org.id)];
  }

  async start(): Promise<void> {
    const consumer = this.deps.kafka.consumer({
      groupId: this.deps.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: this.sourceTopics(), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      // Offsets are resolved and committed here, record by record, never for a whole batch at once.
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.log.info({ groupId: this.deps.groupId, topics: this.sourceTopics() }, 'subscription consuming');
  }

  async stop(): Promise<void> {
    // kafkajs waits for the running eachBatch to finish and commits nothing on its own.
    await this.consumer?.disconnect();
  }

  private classify(message: KafkaMessage): Classified {
    const { registry, orgKeys, org, subscription } = this.deps;
    const value = message.value;
    if (!value) return { kind: 'dead', message, code: 'TR_CODEC_MALFORMED', reason: 'record has no value' };
    const sourceOrg = header(message, HEADERS.sourceOrg);
    const signature = header(message, HEADERS.signature);
    const key = sourceOrg === undefined ? undefined : orgKeys.get(sourceOrg);
    if (!sourceOrg || !signature) {
      return { kind: 'dead', message, code: 'TR_SIGNATURE_INVALID', reason: 'record is not signed' };
    }
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
      event = registry.decode(value);
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      return { kind: 'dead', message, code: err.code, reason: err.message };
    }
    if (event.source.org !== sourceOrg) {
      return {
        kind: 'dead',
        message,
        code: 'TR_SIGNATURE_INVALID',
        reason: `record claims source ${event.source.org} but is signed by ${sourceOrg}`,
      };
    }
    const p = event.payload;
    const route = p.kind === 'IndicatorPublished' ? p.indicator : p;
    const problem = entitlementProblem(org, route.tlp, route.recipients);
    if (problem) return { kind: 'dead', message, code: 'TR_FORBIDDEN', reason: problem };
    if (!passesFilter(subscription.filter, event)) return { kind: 'skip', message, reason: 'filtered' };
    return { kind: 'deliver', message, event };
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    let pending: Classified[] = [];

    const commit = async (offset: string): Promise<void> => {
      resolveOffset(offset);
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(offset) + 1n).toString() }] }],
      });
    };

    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const deliverable = pending.filter(
        (c): c is Extract<Classified, { kind: 'deliver' }> => c.kind === 'deliver',
      );
      if (deliverable.length > 0) await this.deliver(deliverable, topic, partition, heartbeat);
      await commit(pending[pending.length - 1]!.message.offset);
      pending = [];
      await heartbeat();
    };

    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      const classified = this.classify(message);
      if (classified.kind === 'dead') {
        // Order matters: what came before is delivered before we move past this record.
        await flush();
        await this.deps.deadLetters.write([
          {
            message,
            sourceTopic: topic,
            sourcePartition: partition,
            code: classified.code,
            reason: classified.reason,
          },
        ]);
        this.log.warn(
          { topic, partition, offset: message.offset, code: classified.code, reason: classified.reason },
          'dead-lettered',
        );
        await commit(message.offset);
        continue;
      }
      pending.push(classified);
      if (pending.filter((c) => c.kind === 'deliver').length >= this.deps.subscription.batchSize)
        await flush();
    }
    await flush();
  }

  /**
   * Delivers one webhook batch, retrying what may pass later. When the retry
   * bound is reached or the endpoint rejects the batch for good, its records
   * go to the DLQ: either way nothing is lost and the partition moves on.
   */
  private async deliver(
    items: Extract<Classified, { kind: 'deliver' }>[],
    topic: string,
    partition: number,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { subscription } = this.deps;
    const events = items.map((i) => toNative(i.event));
    const body: WebhookBody = { subscription: subscription.id, events };
    const text = JSON.stringify(body);
    const webhookId = webhookIdFor(
      subscription.id,
      events.map((e) => e.eventId),
    );
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await postWebhook(subscription.webhook, webhookId, text);
        this.log.info({ webhookId, events: events.length, attempt }, 'delivered');
        return;
      } catch (err) {
        if (!isThreatRelayError(err)) throw err;
        const delay = err.canRetry
          ? nextDelayMs(this.retryPolicy, attempt, Date.now() - started, err.retryAfterSeconds)
          : undefined;
        if (delay === undefined) {
          const reason = err.canRetry ? `gave up after ${attempt} attempts: ${err.message}` : err.message;
          await this.deps.deadLetters.write(
            items.map((i) => ({
              message: i.message,
              sourceTopic: topic,
              sourcePartition: partition,
              code: err.code,
              reason,
            })),
          );
          this.log.error(
            { webhookId, code: err.code, reason, events: events.length },
            'delivery dead-lettered',
          );
          return;
        }
        this.log.warn(
          { webhookId, attempt, delayMs: delay, reason: err.message },
          'delivery failed, will retry',
        );
        await this.waitWithHeartbeats(delay, heartbeat);
      }
    }
  }

  private async waitWithHeartbeats(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()));
      await heartbeat();
    }
  }
}
