import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type express from 'express';
import type { Admin, Kafka } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import { loadEventCodec } from '../contract/avro/codec';
import { ThreatRelayError } from '../contract/errors';
import { kafkaNames } from '../contract/names';
import { orgPublicKeys } from '../contract/keyring';
import { orgById, type Config, type OrgConfig, type TaxiiReaderConfig } from '../platform/config/config';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter } from '../platform/http';
import { brokerRoundTrip, checkOwnUser, createKafka, withTimeout } from '../platform/kafka';
import { GroupProgress, ProgressMetrics, ProgressMonitor, watchSettings } from '../platform/lag-monitor';
import { GroupReader } from '../platform/lag-read';
import type { Logger } from '../platform/logger';
import { createRegistry } from '../platform/metrics';
import { taxiiApp, API_ROOT_PATH, DISCOVERY_PATH } from './app';
import { collectionsOf, type Collection } from './collections';
import { taxiiMaxAgeMs, TaxiiExpiry } from './expiry';
import { TaxiiFeed } from './feed';
import { TaxiiStore } from './store';
import { openWarninglists } from '../platform/warninglists';

export interface TaxiiServerOptions {
  config: Config;
  org: string;
  logger: Logger;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The store lives in `<dataDir>/taxii/<org>`. Default `$THREATRELAY_DATA_DIR` or `./data`. */
  dataDir?: string;
  /** Between two sweeps of what the topics no longer hold (services/taxii/expiry.ts). Default 10 min. */
  expiryIntervalMs?: number;
}

export interface RunningTaxiiServer {
  /** Base URL; discovery is `${url}/taxii2/`. */
  url: string;
  discoveryUrl: string;
  collections: Collection[];
  store: TaxiiStore;
  feed: TaxiiFeed;
  expiry: TaxiiExpiry;
  close(): Promise<void>;
}

/** One org's TAXII 2.1 server: its feed from Kafka into lmdb, and the HTTP API over it. */
export async function startTaxiiServer(options: TaxiiServerOptions): Promise<RunningTaxiiServer> {
  const { config, org: orgId, logger } = options;
  const { org, readers } = orgAndReaders(config, orgId);
  // The TAXII server reads what the org's subscriber reads, as a principal of its own (role taxii).
  checkOwnUser(config, orgId, 'taxii');
  const dataDir = options.dataDir ?? process.env.THREATRELAY_DATA_DIR ?? join(process.cwd(), 'data');
  const store = TaxiiStore.open(join(dataDir, 'taxii', orgId));
  const collections = collectionsOf(org, config.kafka.topicPrefix);
  const metrics = taxiiMetrics(orgId);
  const kafka = createKafka(config.kafka, logger, `threatrelay-taxii-${orgId}`);
  const admin = kafka.admin();
  const log = logger.child({ taxii: orgId });
  const feed = feedOf(config, { org, kafka, store, metrics, log });
  const expiry = new TaxiiExpiry({
    store,
    maxAgeMs: taxiiMaxAgeMs(config),
    intervalMs: options.expiryIntervalMs,
    logger: log,
    onExpired: (n) => metrics.expired.inc(n),
  });
  const progress = feedProgress(config, { org: orgId, kafka, admin, feed, registry: metrics.registry, log });
  let server: Server | undefined;
  try {
    await admin.connect();
    // First what a rebuild would no longer hold (a store that was stopped a while), then the feed.
    expiry.start();
    await feed.start();
    progress.start();
    const app = httpApp(options, { store, collections, readers, admin, metrics, log });
    const host = options.host ?? '127.0.0.1';
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(options.port, host, () => resolve(s)).once('error', reject);
    });
  } catch (err) {
    await progress.stop().catch(() => undefined);
    await expiry.stop();
    await feed.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await store.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url: `${url}${DISCOVERY_PATH}`, apiRoot: API_ROOT_PATH }, 'TAXII server listening');
  const running = server;
  return {
    url,
    discoveryUrl: `${url}${DISCOVERY_PATH}`,
    collections,
    store,
    feed,
    expiry,
    async close() {
      const closed = new Promise<void>((resolve) => running.close(() => resolve()));
      running.closeIdleConnections();
      await closed;
      // The feed finishes the batch in hand: its objects and offsets are on disk before it leaves.
      await feed.stop();
      await progress.stop();
      await expiry.stop();
      await admin.disconnect();
      await store.close();
      log.info('TAXII server stopped');
    },
  };
}

/** The org, and the readers its server lets in: a server nobody could read is a config mistake. */
function orgAndReaders(config: Config, orgId: string): { org: OrgConfig; readers: TaxiiReaderConfig[] } {
  const org = orgById(config, orgId);
  if (!org) throw new ThreatRelayError('TR_CONFIG', `org "${orgId}" is not in the config`);
  const readers = config.taxii.readers.filter((r) => r.org === orgId);
  if (readers.length === 0) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `org "${orgId}" has no taxii.readers: nobody could read its server`,
    );
  }
  return { org, readers };
}

/** The org's feed: every record through the subscriber's own checks, into the store. */
function feedOf(
  config: Config,
  parts: {
    org: OrgConfig;
    kafka: Kafka;
    store: TaxiiStore;
    metrics: ReturnType<typeof taxiiMetrics>;
    log: Logger;
  },
): TaxiiFeed {
  const { org, kafka, store, metrics, log } = parts;
  return new TaxiiFeed({
    kafka,
    topics: kafkaNames(config.kafka.topicPrefix),
    store,
    logger: log,
    codec: loadEventCodec(),
    orgKeys: orgPublicKeys(config.orgs),
    pdqFloors: new Map(config.orgs.map((o) => [o.id, o.pdq.minQuality])),
    org,
    freshness: {
      maxAgeMs: config.taxii.windowDays * 86_400_000,
      maxSkewMs: config.subscriber.maxClockSkewSeconds * 1000,
    },
    onRefused: (code, reason, where) => {
      metrics.refused.inc({ reason: code });
      log.warn({ code, reason, ...where }, 'TAXII feed refused a record');
    },
    onAdded: (n) => metrics.added.inc(n),
    warninglists: openWarninglists(config.warninglists.dir),
  });
}

/** The feed's lag and stalls, as every reader of the bus defines them (platform/lag.ts), on /metrics. */
function feedProgress(
  config: Config,
  parts: { org: string; kafka: Kafka; admin: Admin; feed: TaxiiFeed; registry: Registry; log: Logger },
): { start(): void; stop(): Promise<void> } {
  const { feed, log } = parts;
  const reader = new GroupReader(parts.kafka, parts.admin, log);
  const progressMetrics = new ProgressMetrics(parts.registry, 'feed');
  const progress = new GroupProgress(
    reader,
    feed.groupId,
    feed.sourceTopics(),
    watchSettings(config.monitoring),
  );
  const monitor = new ProgressMonitor(
    [{ progress, report: (statuses) => progressMetrics.report(parts.org, statuses) }],
    config.monitoring.sampleIntervalMs,
    log,
  );
  return {
    start: () => monitor.start(),
    async stop() {
      await monitor.stop();
      await reader.close();
    },
  };
}

/** What /metrics shows of the server: records refused, object versions added, served and expired. */
function taxiiMetrics(orgId: string) {
  const registry = createRegistry(`taxii-${orgId}`);
  const refused = new Counter({
    name: 'threatrelay_taxii_refused_total',
    help: 'Records the TAXII feed refused, by error code (the same checks as a subscription).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const added = new Counter({
    name: 'threatrelay_taxii_added_total',
    help: 'Object versions added to the TAXII store.',
    registers: [registry],
  });
  const served = new Counter({
    name: 'threatrelay_taxii_served_total',
    help: 'Objects served in TAXII object pages.',
    registers: [registry],
  });
  const expired = new Counter({
    name: 'threatrelay_taxii_expired_total',
    help: 'Object versions dropped from the TAXII store once older than the topics keep records.',
    registers: [registry],
  });
  return { registry, refused, added, served, expired };
}

/** The TAXII API and the ops routes (/healthz, /readyz: a broker round trip, /metrics) on one app. */
function httpApp(
  options: TaxiiServerOptions,
  parts: {
    store: TaxiiStore;
    collections: Collection[];
    readers: TaxiiReaderConfig[];
    admin: Admin;
    metrics: ReturnType<typeof taxiiMetrics>;
    log: Logger;
  },
): express.Express {
  const { store, collections, readers, admin, metrics, log } = parts;
  const app = taxiiApp({
    org: options.org,
    store,
    collections,
    readers,
    authFailures: options.config.taxii,
    defaultPageSize: options.config.taxii.defaultPageSize,
    maxPageSize: options.config.taxii.maxPageSize,
    ...(options.config.taxii.publicUrl ? { publicUrl: options.config.taxii.publicUrl } : {}),
    logger: log,
    onServed: (n) => metrics.served.inc(n),
  });
  app.use(
    opsRouter({
      ready: () =>
        withTimeout(brokerRoundTrip(admin), 3000, () => new Error('no answer from Kafka within 3 s')),
      metrics: metrics.registry,
      logger: log,
    }),
  );
  app.use(notFound(OPS_ROUTES));
  app.use(errorMiddleware(log));
  return app;
}
