import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { loadEventCodec } from '../contract/avro/codec';
import { orgById, type Config } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter } from '../platform/http';
import {
  brokerRoundTrip,
  checkOwnUser,
  createIdempotentProducer,
  createKafka,
  withTimeout,
} from '../platform/kafka';
import { backoffDelay, type Backoff } from '../platform/backoff';
import type { Logger } from '../platform/logger';
import { GroupProgress, ProgressMetrics, ProgressMonitor, watchSettings } from '../platform/lag-monitor';
import { GroupReader } from '../platform/lag-read';
import { orgPublicKeys } from '../contract/keyring';
import { kafkaNames } from '../contract/names';
import { SubscriptionConsumer } from './pipeline/consumer';
import { checkWarninglistIds, openWarninglists } from '../platform/warninglists';
import { freshnessFor } from './pipeline/freshness';
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
  /** Waits between attempts to reach Kafka at start: doubling from `initialMs` to at most `maxMs`. Default 1 s to 30 s. */
  connectBackoff?: Backoff;
  /**
   * Aborting it while the subscriber still waits for Kafka at start ends the wait: what was opened is
   * closed and `startSubscriber` rejects with `SubscriberStartAborted`.
   */
  signal?: AbortSignal;
}

/** The start was called off (`signal` aborted) while Kafka was still unreachable. */
export class SubscriberStartAborted extends Error {
  constructor() {
    super('the subscriber was stopped before Kafka was reachable');
    this.name = 'SubscriberStartAborted';
  }
}

/**
 * Whether a failure to start talking to Kafka is worth waiting out: anything
 * but what no wait can fix (this bus's own config errors, credentials the
 * broker refuses, ACLs that refuse the user).
 */
export function isFatalAtStart(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ThreatRelayError) return true;
    const { name, type } = e as { name?: string; type?: string };
    if (name === 'KafkaJSSASLAuthenticationError') return true;
    if (typeof type === 'string' && type.endsWith('AUTHORIZATION_FAILED')) return true;
  }
  return false;
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
  const orgKeys = orgPublicKeys(config.orgs);
  const codec = loadEventCodec();
  const topics = kafkaNames(config.kafka.topicPrefix);
  const metrics = createSubscriberMetrics(orgId);
  const kafka = createKafka(config.kafka, logger, `threatrelay-subscriber-${orgId}`);
  const producer = createIdempotentProducer(kafka);
  const admin = kafka.admin();

  const writers: TransactionalDeadLetterWriter[] = [];
  const closers: (() => Promise<void>)[] = [];
  const dataDir = options.dataDir ?? process.env.THREATRELAY_DATA_DIR ?? join(process.cwd(), 'data');
  const consumers = new Map<string, SubscriptionConsumer>();
  // Lag, stalls and hanging transactions per subscription, the one definition (platform/lag.ts), into /metrics.
  const reader = new GroupReader(kafka, admin, logger);
  const progressMetrics = new ProgressMetrics(metrics.registry, 'subscription');
  const watched: ConstructorParameters<typeof ProgressMonitor>[0] = [];
  const monitor = new ProgressMonitor(watched, config.monitoring.sampleIntervalMs, logger);
  closers.push(async () => {
    await monitor.stop();
    await reader.close();
  });
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
    writers.push(deadLetters);
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
      ...(dedup
        ? {
            dedup: dedup.port,
            dedupPing: dedup.ping,
            markBatch: dedup.markBatch,
            dedupDurable: dedup.durable,
          }
        : {}),
      sampleProgress: () => monitor.sampleNow(),
      warninglists,
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
    watched.push({
      progress: new GroupProgress(
        reader,
        consumer.groupId,
        consumer.sourceTopics(),
        watchSettings(config.monitoring),
      ),
      report: (statuses) => progressMetrics.report(subscription.id, statuses),
    });
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

  // /healthz answers from the start; /readyz only once Kafka was reached and answers a round trip.
  let connected = false;
  let server: Server | undefined;
  let url: string | undefined;
  const port = options.port;
  if (port !== undefined) {
    const app = express();
    app.disable('x-powered-by');
    app.use(
      opsRouter({
        ready: () =>
          connected
            ? withTimeout(brokerRoundTrip(admin), 3000, () => new Error('no answer from Kafka within 3 s'))
            : Promise.reject(new Error('still waiting to reach Kafka')),
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
    logger.info({ url }, 'ops endpoints listening: /healthz, /readyz, /metrics');
  }

  /** Everything that talks to Kafka at start; an attempt that fails is undone before the next. */
  const connect = async (): Promise<void> => {
    await Promise.all([producer.connect(), admin.connect()]);
    // Initialized now: a transactional id the broker's ACLs refuse fails the start, not the first letter.
    await Promise.all(writers.map((w) => w.connect()));
    caughtUp = false;
    switches.clear();
    await withTimeout(
      control.start(),
      30_000,
      () => new Error('could not read the control topic within 30 s'),
    );
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
  };
  const stopKafka = async (): Promise<void> => {
    await control.stop().catch(() => undefined);
    // Each consumer finishes its batch and commits what it delivered before leaving the group.
    await Promise.all([...consumers.values()].map((c) => c.stop().catch(() => undefined)));
  };
  const closeAll = async (): Promise<void> => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await stopKafka();
    for (const close of closers) await close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  };

  // kafkajs gives up connecting after its own few retries; a subscriber started before its broker (or
  // while the broker restarts) waits for it instead of exiting, with bounded exponential backoff.
  const backoff = options.connectBackoff ?? { initialMs: 1000, maxMs: 30_000 };
  const signal = options.signal;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted) resolve('aborted');
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  const stopWaiting = async (): Promise<never> => {
    await closeAll();
    logger.info({ org: orgId }, 'subscriber stopped while waiting for Kafka');
    throw new SubscriberStartAborted();
  };
  for (let attempt = 1; ; attempt++) {
    const delayMs = backoffDelay(backoff, attempt);
    const trying = connect().then(
      () => undefined,
      (err: unknown) => err ?? new Error('unknown failure'),
    );
    const failure = await Promise.race([trying, aborted]);
    if (failure === undefined) break;
    if (failure === 'aborted') {
      // The attempt under way ends by itself within kafkajs's few retries (a few seconds when the broker
      // refuses connections); waited for, within a bound, so that nothing it opens outlives the close.
      await Promise.race([trying, pause(10_000)]);
      await stopWaiting();
    }
    await stopKafka();
    if (isFatalAtStart(failure)) {
      await closeAll();
      throw failure;
    }
    logger.warn(
      { err: failure, attempt, retryInMs: delayMs, brokers: config.kafka.brokers },
      'Kafka is unreachable; trying again (not ready meanwhile)',
    );
    if (!(await pause(delayMs, signal))) await stopWaiting();
  }
  connected = true;
  monitor.start();

  return {
    subscriptions: subscriptions.map((s) => s.id),
    url,
    consumer: (id) => consumers.get(id)!,
    async close() {
      await closeAll();
      logger.info({ org: orgId }, 'subscriber stopped');
    },
  };
}

/** Waits `ms`; false when `signal` aborted first (the timer is cleared, so it holds no process open). */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    // A bound raced against other work must not keep the process alive once that work is done.
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
