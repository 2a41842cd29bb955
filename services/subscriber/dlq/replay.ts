import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../contract/avro/codec';
import { ThreatRelayError } from '../../contract/errors';
import { kafkaNames } from '../../contract/names';
import { orgPublicKeys } from '../../contract/signing';
import { orgById, type Config } from '../../platform/config/config';
import { createIdempotentProducer, createKafka } from '../../platform/kafka';
import type { Logger } from '../../platform/logger';
import { createSubscriberMetrics } from '../metrics';
import { deliverBatch, type BatchDeliveryDeps, type DeliveryItem } from '../delivery/batch';
import { DEFAULT_RETRY_POLICY } from '../delivery/retry-policy';
import { classify, type ClassifyDeps } from '../pipeline/classify';
import { freshnessFor } from '../pipeline/freshness';
import { readDeadLetters } from './read';
import { DeadLetterWriter } from './write';

export interface ReplayOptions {
  since?: string;
  until?: string;
}

export interface ReplayResult {
  delivered: number;
  deadLettered: number;
  skipped: number;
}

type Letter = { message: KafkaMessage; topic: string; partition: number };

/** What a replay calls: the record checks (without dedup) and the delivery, as a subscription does. */
export interface ReplayDeps {
  checks: ClassifyDeps;
  delivery: BatchDeliveryDeps;
  deadLetters: DeadLetterWriter;
}

/**
 * Runs dead letters through the checks again, bypassing dedup (an operator
 * asked for them): verified, decoded, entitled, filtered, and delivered in
 * batches. What fails again goes back to the DLQ with its new reason, so a
 * replay loses nothing either.
 */
export async function replayLetters(deps: ReplayDeps, letters: Letter[]): Promise<ReplayResult> {
  const { deadLetters } = deps;
  const batchSize = deps.checks.subscription.batchSize;
  const result = { delivered: 0, deadLettered: 0, skipped: 0 };
  const noHeartbeat = async (): Promise<void> => undefined;
  for (let i = 0; i < letters.length; i += batchSize) {
    const deliverable: (DeliveryItem & { topic: string; partition: number })[] = [];
    for (const letter of letters.slice(i, i + batchSize)) {
      const c = await classify(deps.checks, letter.message, letter, { replay: true });
      if (c.kind === 'dead') {
        await deadLetters.write([
          {
            message: c.message,
            sourceTopic: letter.topic,
            sourcePartition: letter.partition,
            code: c.code,
            reason: c.reason,
          },
        ]);
        result.deadLettered += 1;
      } else if (c.kind === 'skip') result.skipped += 1;
      else deliverable.push({ ...c, topic: letter.topic, partition: letter.partition });
    }
    if (deliverable.length === 0) continue;
    const outcome = await deliverBatch(deps.delivery, deliverable, deliverable[0]!, noHeartbeat);
    if (outcome.kind === 'halted') {
      throw new ThreatRelayError('TR_DELIVERY_GONE', 'the webhook endpoint answered 410 Gone during replay');
    }
    if (outcome.kind === 'delivered') result.delivered += deliverable.length;
    else {
      // Outside any consumer group: no offsets to commit with them, a plain write.
      await deadLetters.write(outcome.letters);
      result.deadLettered += deliverable.length;
    }
  }
  return result;
}

/** `threatrelay dlq replay`: the dead letters written within [since, until], delivered again. */
export async function replayDeadLetters(
  config: Config,
  subscriptionId: string,
  options: ReplayOptions,
  logger: Logger,
): Promise<{ selected: number } & ReplayResult> {
  const subscription = config.subscriptions.find((s) => s.id === subscriptionId);
  if (!subscription)
    throw new ThreatRelayError('TR_CONFIG', `no subscription "${subscriptionId}" in the config`);
  const org = orgById(config, subscription.org)!;
  const entries = (await readDeadLetters(config, subscriptionId, logger)).filter(
    (e) => (!options.since || e.at >= options.since) && (!options.until || e.at <= options.until),
  );
  const topics = kafkaNames(config.kafka.topicPrefix);
  const kafka = createKafka(config.kafka, logger, 'threatrelay-dlq-replay');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const metrics = createSubscriberMetrics(`${org.id}-replay`);
    const log = logger.child({ subscription: subscriptionId });
    const deadLetters = new DeadLetterWriter(
      producer,
      topics.dlq(subscriptionId),
      subscriptionId,
      metrics,
      log,
    );
    // A 410 during a replay stops it (replayLetters throws); the switch is the subscriber's to record.
    let gone = false;
    const deps: ReplayDeps = {
      checks: {
        subscription,
        org,
        codec: loadEventCodec(),
        freshness: freshnessFor(config.subscriber, subscription),
        orgKeys: orgPublicKeys(config.orgs),
        metrics,
      },
      delivery: {
        subscription,
        metrics,
        log,
        retryPolicy: subscription.retry ?? DEFAULT_RETRY_POLICY,
        disable: async (reason) => {
          gone = true;
          log.error({ reason }, 'the webhook endpoint is gone; the replay stops');
        },
        halted: () => gone,
      },
      deadLetters,
    };
    const letters = entries.map((e) => ({
      message: e.message,
      topic: e.source.topic,
      partition: e.source.partition,
    }));
    const result = await replayLetters(deps, letters);
    return { selected: entries.length, ...result };
  } finally {
    await producer.disconnect();
  }
}
