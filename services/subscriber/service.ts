import type { KeyObject } from 'node:crypto';
import { loadSchemaRegistry } from '../shared/codec';
import type { Config } from '../shared/config';
import { ThreatRelayError } from '../shared/errors';
import { createIdempotentProducer, createKafka } from '../shared/kafka';
import type { Logger } from '../shared/logger';
import { publicKeyFromBase64 } from '../shared/signing';
import { topicNames } from '../shared/topics';
import { SubscriptionConsumer } from './consumer';
import { DeadLetterWriter } from './dead-letter';

export interface SubscriberOptions {
  config: Config;
  /** The subscribing org; every subscription of it runs, unless `subscriptions` names some. */
  org: string;
  subscriptions?: string[];
  logger: Logger;
}

export interface RunningSubscriber {
  subscriptions: string[];
  close(): Promise<void>;
}

export function groupIdFor(config: Config, subscriptionId: string): string {
  return `${config.kafka.topicPrefix}.sub.${subscriptionId}`;
}

/** Starts one consumer group per subscription of `org`. */
export async function startSubscriber(options: SubscriberOptions): Promise<RunningSubscriber> {
  const { config, org: orgId, logger } = options;
  const org = config.orgs.find((o) => o.id === orgId);
  if (!org) throw new ThreatRelayError('TR_CONFIG', `org "${orgId}" is not in the config`);
  const subscriptions = config.subscriptions.filter(
    (s) => s.org === orgId && (!options.subscriptions || options.subscriptions.includes(s.id)),
  );
  if (subscriptions.length === 0) {
    throw new ThreatRelayError('TR_CONFIG', `org "${orgId}" has no subscriptions to run`);
  }
  const orgKeys = new Map<string, KeyObject>(
    config.orgs.filter((o) => o.publicKey).map((o) => [o.id, publicKeyFromBase64(o.publicKey!)]),
  );
  const registry = loadSchemaRegistry();
  const topics = topicNames(config.kafka.topicPrefix);
  const kafka = createKafka(config.kafka, logger, `threatrelay-subscriber-${orgId}`);
  const dlqProducer = createIdempotentProducer(kafka);
  await dlqProducer.connect();
  const consumers = subscriptions.map(
    (subscription) =>
      new SubscriptionConsumer({
        kafka,
        subscription,
        org,
        registry,
        orgKeys,
        topics,
        deadLetters: new DeadLetterWriter(dlqProducer, topics.dlq(subscription.id)),
        logger,
        groupId: groupIdFor(config, subscription.id),
      }),
  );
  await Promise.all(consumers.map((c) => c.start()));
  return {
    subscriptions: subscriptions.map((s) => s.id),
    async close() {
      await Promise.all(consumers.map((c) => c.stop()));
      await dlqProducer.disconnect();
      logger.info({ org: orgId }, 'subscriber stopped');
    },
  };
}
