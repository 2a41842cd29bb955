import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { loadEventCodec } from '../contract/avro/codec';
import { orgById, type Config, type OrgConfig, type SubscriptionConfig } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter } from '../platform/http';
import {
  brokerRoundTrip,
  checkOwnUser,
  createIdempotentProducer,
  createKafka,
  withTimeout,
} from '../platform/kafka';
import type { Backoff } from '../platform/backoff';
import type { Logger } from '../platform/logger';
import { GroupProgress, ProgressMetrics, ProgressMonitor, watchSettings } from '../platform/lag-monitor';
import { GroupReader } from '../platform/lag-read';
import { orgPublicKeys } from '../contract/keyring';
import { kafkaNames, type KafkaNames } from '../contract/names';
import { SubscriptionConsumer } from './pipeline/consumer';
import { checkWarninglistIds, openWarninglists } from '../platform/warninglists';
import type { WarninglistIndex } from '../contract/warninglists';
import { freshnessFor } from './pipeline/freshness';
import { openDedup } from './dedup/port';
import { ControlListener, writeSwitch, type SubscriptionSwitch } from './control';
import { TransactionalDeadLetterWriter } from './dlq/write';
import { createSubscriberMetrics, type SubscriberMetrics } from './metrics';
import { waitForKafka } from './start';

export { SubscriberStartAborted } from './start';
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
  /** Waits between attempts to reach Kafka at start: doubling from `initialMs` to at most `maxMs`. Default 1 s to 30 s. */
  connectBackoff?: Backoff;
  /**
   * Aborting it while the subscriber still waits for Kafka at start ends the wait: what was opened is
   * closed and `startSubscriber` rejects with `SubscriberStartAborted`.
   */
  signal?: AbortSignal;
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
  const { org, subscriptions, warninglists } = subscriptionsToRun(options);
  const topics = kafkaNames(config.kafka.topicPrefix);
  const metrics = createSubscriberMetrics(orgId);
  const kafka = createKafka(config.kafka, logger, `threatrelay-subscriber-${orgId}`);
  const clients: Clients = {
    kafka,
    producer: createIdempotentProducer(kafka),
    admin: kafka.admin(),
    topics,
    metrics,
  };
  const progress = watchProgress(options, clients);
  const built = buildSubscriptions(options, { org, subscriptions, warninglists }, clients, progress);
  const switches = followSwitches(options, clients, built.consumers);

  // /healthz answers from the start; /readyz only once Kafka was reached and answers a round trip.
  let connected = false;
  const ops =
    options.port === undefined ? undefined : await startOps(options, options.port, clients, () => connected);

  const stopKafka = async (): Promise<void> => {
    await switches.stop();
    // Each consumer finishes its batch and commits what it delivered before leaving the group.
    await Promise.all([...built.consumers.values()].map((c) => c.stop().catch(() => undefined)));
  };
  const closeAll = async (): Promise<void> => {
    await new Promise<void>((resolve) => (ops ? ops.server.close(() => resolve()) : resolve()));
    await stopKafka();
    await progress.close().catch(() => undefined);
    for (const close of built.closers) await close().catch(() => undefined);
    await clients.producer.disconnect().catch(() => undefined);
    await clients.admin.disconnect().catch(() => undefined);
  };
  await waitForKafka({
    // Everything that talks to Kafka at start; an attempt that fails is undone before the next.
    connect: async () => {
      await Promise.all([clients.producer.connect(), clients.admin.connect()]);
      // Initialized now: a transactional id the broker's ACLs refuse fails the start, not the first letter.
      await Promise.all(built.writers.map((w) => w.connect()));
      await switches.start();
    },
    undo: stopKafka,
    closeAll,
    backoff: options.connectBackoff ?? { initialMs: 1000, maxMs: 30_000 },
    signal: options.signal,
    logger,
    brokers: config.kafka.brokers,
    org: orgId,
  });
  connected = true;
  progress.monitor.start();

  return {
    subscriptions: subscriptions.map((s) => s.id),
    url: ops?.url,
    consumer: (id) => built.consumers.get(id)!,
    async close() {
      await closeAll();
      logger.info({ org: orgId }, 'subscriber stopped');
    },
  };
}

/** The Kafka clients and names every subscription of the process shares. */
interface Clients {
  kafka: Kafka;
  producer: Producer;
  admin: Admin;
  topics: KafkaNames;
  metrics: SubscriberMetrics;
}

/** Each subscription's progress: lag, stalls and hanging transactions (platform/lag.ts), on /metrics. */
interface Progress {
  monitor: ProgressMonitor;
  watch(subscriptionId: string, consumer: SubscriptionConsumer): void;
  close(): Promise<void>;
}

/** One monitor samples every subscription's group, by the one definition of lag every reader of the bus uses. */
function watchProgress(options: SubscriberOptions, clients: Clients): Progress {
  const { config, logger } = options;
  const reader = new GroupReader(clients.kafka, clients.admin, logger);
  const progressMetrics = new ProgressMetrics(clients.metrics.registry, 'subscription');
  const watched: ConstructorParameters<typeof ProgressMonitor>[0] = [];
  const monitor = new ProgressMonitor(watched, config.monitoring.sampleIntervalMs, logger);
  return {
    monitor,
    watch(subscriptionId, consumer) {
      const settings = watchSettings(config.monitoring);
      watched.push({
        progress: new GroupProgress(reader, consumer.groupId, consumer.sourceTopics(), settings),
        report: (statuses) => progressMetrics.report(subscriptionId, statuses),
      });
    },
    async close() {
      await monitor.stop();
      await reader.close();
    },
  };
}

/** The org and the subscriptions of it this process runs: all, or those `options.subscriptions` names. */
function subscriptionsToRun(options: SubscriberOptions): {
  org: OrgConfig;
  subscriptions: SubscriptionConfig[];
  warninglists: WarninglistIndex;
} {
  const { config, org: orgId } = options;
  const org = orgById(config, orgId);
  if (!org) throw new ThreatRelayError('TR_CONFIG', `org "${orgId}" is not in the config`);
  const subscriptions = config.subscriptions.filter(
    (s) => s.org === orgId && (!options.subscriptions || options.subscriptions.includes(s.id)),
  );
  if (subscriptions.length === 0) {
    throw new ThreatRelayError('TR_CONFIG', `org "${orgId}" has no subscriptions to run`);
  }
  checkOwnUser(config, orgId, 'subscriber');
  // Before Kafka: the reader's own snapshot, and every list a subscription drops must be in it.
  const warninglists = openWarninglists(config.warninglists.dir);
  checkWarninglistIds(
    warninglists,
    config.subscriptions.flatMap((s, i) =>
      subscriptions.includes(s)
        ? [{ path: `subscriptions.${i}.filter.warninglists.drop`, ids: s.filter.warninglists?.drop ?? [] }]
        : [],
    ),
  );
  return { org, subscriptions, warninglists };
}

/** Each subscription's dedup store, dead-letter writer and consumer; `closers` undo what was opened. */
function buildSubscriptions(
  options: SubscriberOptions,
  run: { org: OrgConfig; subscriptions: SubscriptionConfig[]; warninglists: WarninglistIndex },
  clients: Clients,
  progress: Progress,
): {
  consumers: Map<string, SubscriptionConsumer>;
  writers: TransactionalDeadLetterWriter[];
  closers: (() => Promise<void>)[];
} {
  const { config, logger } = options;
  const { org, subscriptions, warninglists } = run;
  const { kafka, producer, topics, metrics } = clients;
  const shared = {
    orgKeys: orgPublicKeys(config.orgs),
    pdqFloors: new Map(config.orgs.map((o) => [o.id, o.pdq.minQuality])),
    codec: loadEventCodec(),
  };
  const dataDir = options.dataDir ?? process.env.THREATRELAY_DATA_DIR ?? join(process.cwd(), 'data');
  const consumers = new Map<string, SubscriptionConsumer>();
  const writers: TransactionalDeadLetterWriter[] = [];
  const closers: (() => Promise<void>)[] = [];
  for (const subscription of subscriptions) {
    const dedup = openDedup(config, subscription, dataDir);
    if (dedup) closers.push(() => dedup.close());
    const deadLetters = new TransactionalDeadLetterWriter({
      kafka,
      idPrefix: topics.subscriberTransactionalIdPrefix(org.id),
      dlqTopic: topics.dlq(subscription.id),
      subscriptionId: subscription.id,
      metrics,
      log: logger.child({ subscription: subscription.id }),
    });
    writers.push(deadLetters);
    closers.push(() => deadLetters.close());
    const consumer = new SubscriptionConsumer({
      kafka,
      subscription,
      org,
      ...shared,
      freshness: freshnessFor(config.subscriber, subscription),
      topics,
      deadLetters,
      logger,
      metrics,
      ...(dedup
        ? {
            dedup: dedup.port,
            dedupPing: dedup.ping,
            markBatch: dedup.markBatch,
            dedupDurable: dedup.durable,
          }
        : {}),
      sampleProgress: () => progress.monitor.sampleNow(),
      warninglists,
      ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
      ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
      // Recorded in Kafka first, so every instance, and this one after a restart, stays stopped.
      onGone: (reason) =>
        writeSwitch(producer, topics.control(org.id), {
          subscription: subscription.id,
          disabled: true,
          reason,
          at: new Date().toISOString(),
        }),
    });
    consumers.set(subscription.id, consumer);
    progress.watch(subscription.id, consumer);
  }
  return { consumers, writers, closers };
}

/**
 * The switches in the control topic, applied to the consumers: `start`
 * reads their history (which only sets the desired state), then starts
 * every subscription not switched off; later switches disable or re-enable
 * a subscription as they come.
 */
function followSwitches(
  options: SubscriberOptions,
  clients: Clients,
  consumers: Map<string, SubscriptionConsumer>,
): { start(): Promise<void>; stop(): Promise<void> } {
  const { logger, org: orgId } = options;
  const { topics, metrics } = clients;
  const switches = new Map<string, boolean>();
  let caughtUp = false;
  const onSwitch = (sw: SubscriptionSwitch): void => {
    const consumer = consumers.get(sw.subscription);
    if (!consumer) return;
    switches.set(sw.subscription, sw.disabled);
    // History read at start only sets the desired state; what it ends at is applied by `start`.
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
  };
  const control = new ControlListener(
    clients.kafka,
    clients.admin,
    topics.control(orgId),
    topics.controlGroupPrefix(orgId),
    onSwitch,
    logger,
  );
  return {
    async start() {
      caughtUp = false;
      switches.clear();
      await withTimeout(
        control.start(),
        30_000,
        () => new Error('could not read the control topic within 30 s'),
      );
      caughtUp = true;
      for (const [id, consumer] of consumers) {
        if (!switches.get(id)) {
          await consumer.start();
          continue;
        }
        metrics.disabled.set({ subscription: id }, 1);
        logger.error(
          { subscription: id },
          'subscription is DISABLED (control topic); not consuming until re-enabled',
        );
      }
    },
    stop: () => control.stop().catch(() => undefined),
  };
}

/** /healthz, /readyz (a broker round trip, once `connected`) and /metrics. */
async function startOps(
  options: SubscriberOptions,
  port: number,
  clients: Clients,
  connected: () => boolean,
): Promise<{ server: Server; url: string }> {
  const { logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.use(
    opsRouter({
      ready: () =>
        connected()
          ? withTimeout(
              brokerRoundTrip(clients.admin),
              3000,
              () => new Error('no answer from Kafka within 3 s'),
            )
          : Promise.reject(new Error('still waiting to reach Kafka')),
      metrics: clients.metrics.registry,
      logger,
    }),
  );
  app.use(notFound(OPS_ROUTES));
  app.use(errorMiddleware(logger));
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(port, host, () => resolve(s));
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  logger.info({ url }, 'ops endpoints listening: /healthz, /readyz, /metrics');
  return { server, url };
}
