import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { loadEventCodec } from '../contract/avro/codec';
import type { Config } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter } from '../platform/http';
import {
  brokerRoundTrip,
  groupLag,
  checkOwnUser,
  createIdempotentProducer,
  createKafka,
  withTimeout,
} from '../platform/kafka';
import type { Logger } from '../platform/logger';
import { orgPublicKeys } from '../contract/signing';
import { kafkaNames } from '../contract/names';
import { SubscriptionConsumer } from './pipeline/consumer';
import { freshnessFor } from './pipeline/verify';
import { openDedup } from './dedup/port';
import { ControlListener, writeSwitch } from './control';
import { TransactionalDeadLetterWriter } from './dlq/write';
import { createSubscriberMetrics } from './metrics';
import type { RetryPolicy } from './delivery/retry-policy';

export interface SubscriberOptions {
  config: Config;
  /** The subscribing org; every subscription of it runs, unless `subscriptions` names some. */
  org: string;
  subscriptions?: string[];
  logger: Logger;
  /** Port of /healthz, /readyz, /metrics; undefined = no HTTP server. */
  port?: number;
  host?: string;
  /** Where embedded dedup stores live (one lmdb environment, `<dataDir>/dedup`, a store per subscription in it). Default `$THREATRELAY_DATA_DIR` or `./data`. */
  dataDir?: string;
  retryPolicy?: RetryPolicy;
  /** The consumer groups' session timeout; default 30 s. */
  sessionTimeoutMs?: number;
}

export interface RunningSubscriber {
  subscriptions: string[];
  /** The HTTP server's URL, when a port was given. */
  url: string | undefined;
  consumer(id: string): SubscriptionConsumer;
  close(): Promise<void>;
}

/** Starts one consumer group per subscription of `org`, honoring the switches in the control topic. */
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
  checkOwnUser(config, orgId, 'subscriber');
  const orgKeys = orgPublicKeys(config.orgs);
  const codec = loadEventCodec();
  const topics = kafkaNames(config.kafka.topicPrefix);
  const metrics = createSubscriberMetrics(orgId);
  const kafka = createKafka(config.kafka, logger, `threatrelay-subscriber-${orgId}`);
  const producer = createIdempotentProducer(kafka);
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);

  const closers: (() => Promise<void>)[] = [];
  const dataDir = options.dataDir ?? process.env.THREATRELAY_DATA_DIR ?? join(process.cwd(), 'data');
  const consumers = new Map<string, SubscriptionConsumer>();
  for (const subscription of subscriptions) {
    const dedup = openDedup(config, subscription, dataDir);
    if (dedup) closers.push(() => dedup.close());
    const deadLetters = new TransactionalDeadLetterWriter({
      kafka,
      idPrefix: topics.subscriberTransactionalIdPrefix(orgId),
      dlqTopic: topics.dlq(subscription.id),
      subscriptionId: subscription.id,
      metrics,
      log: logger.child({ subscription: subscription.id }),
    });
    // Initialized now: a transactional id the broker's ACLs refuse fails the start, not the first letter.
    await deadLetters.connect();
    closers.push(() => deadLetters.close());
    const consumer: SubscriptionConsumer = new SubscriptionConsumer({
      kafka,
      subscription,
      org,
      codec,
      orgKeys,
      freshness: freshnessFor(config.subscriber, subscription),
      topics,
      deadLetters,
      logger,
      metrics,
      ...(dedup ? { dedup: dedup.port, dedupPing: dedup.ping, markBatch: dedup.markBatch } : {}),
      groupLag: (groupId, topics) => groupLag(admin, groupId, topics),
      ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
      ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
      onGone: async (reason) => {
        // Recorded in Kafka first, so every instance, and this one after a restart, stays stopped.
        await writeSwitch(producer, topics.control(orgId), {
          subscription: subscription.id,
          disabled: true,
          reason,
          at: new Date().toISOString(),
        });
      },
    });
    consumers.set(subscription.id, consumer);
  }

  const switches = new Map<string, boolean>();
  let caughtUp = false;
  const control = new ControlListener(
    kafka,
    admin,
    topics.control(orgId),
    topics.controlGroupPrefix(orgId),
    (sw) => {
      const consumer = consumers.get(sw.subscription);
      if (!consumer) return;
      switches.set(sw.subscription, sw.disabled);
      // History read at start only sets the desired state; what it ends at is applied below.
      if (!caughtUp) return;
      if (sw.disabled) void consumer.disable(sw.reason);
      else {
        // start() first waits for a stop still under way (a disable read in the same batch), and does
        // nothing when the consumer already runs.
        if (!consumer.running) logger.warn({ subscription: sw.subscription }, 'subscription re-enabled');
        consumer
          .start()
          .catch((err: unknown) => logger.error({ err, subscription: sw.subscription }, 'restart failed'));
      }
    },
    logger,
  );
  await withTimeout(control.start(), 30_000, () => new Error('could not read the control topic within 30 s'));
  caughtUp = true;
  for (const [id, consumer] of consumers) {
    if (switches.get(id)) {
      metrics.disabled.set({ subscription: id }, 1);
      logger.error(
        { subscription: id },
        'subscription is DISABLED (control topic); not consuming until re-enabled',
      );
    } else {
      await consumer.start();
    }
  }

  let server: Server | undefined;
  let url: string | undefined;
  const port = options.port;
  if (port !== undefined) {
    const app = express();
    app.disable('x-powered-by');
    app.use(
      opsRouter({
        ready: () =>
          withTimeout(brokerRoundTrip(admin), 3000, () => new Error('no answer from Kafka within 3 s')),
        metrics: metrics.registry,
        logger,
      }),
    );
    app.use(notFound(OPS_ROUTES));
    app.use(errorMiddleware(logger));
    const host = options.host ?? '127.0.0.1';
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(port, host, () => resolve(s));
    });
    url = `http://${host}:${(server.address() as AddressInfo).port}`;
  }

  return {
    subscriptions: subscriptions.map((s) => s.id),
    url,
    consumer: (id) => consumers.get(id)!,
    async close() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await control.stop();
      // Each consumer finishes its batch and commits what it delivered before leaving the group.
      await Promise.all([...consumers.values()].map((c) => c.stop()));
      for (const close of closers) await close();
      await producer.disconnect();
      await admin.disconnect();
      logger.info({ org: orgId }, 'subscriber stopped');
    },
  };
}
