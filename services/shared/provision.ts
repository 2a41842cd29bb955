import type { Admin } from 'kafkajs';
import type { Config } from './config';
import { ensureTopics } from './kafka';
import { topicNames } from './topics';

/** Every topic the config implies: community topics, one direct topic per org, one DLQ per subscription. */
export function topicsOf(config: Config): string[] {
  const names = topicNames(config.kafka.topicPrefix);
  return [
    names.community('clear'),
    names.community('green'),
    names.community('amber'),
    ...config.orgs.map((o) => names.direct(o.id)),
    ...config.subscriptions.map((s) => names.dlq(s.id)),
  ];
}

/** Creates the missing topics; idempotent. Returns the topics it created. */
export async function provisionTopics(admin: Admin, config: Config): Promise<string[]> {
  const created = await ensureTopics(admin, topicsOf(config), config.kafka);
  const control = await ensureTopics(admin, [topicNames(config.kafka.topicPrefix).control()], {
    partitions: 1,
    replicationFactor: config.kafka.replicationFactor,
    configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
  });
  return [...created, ...control];
}
