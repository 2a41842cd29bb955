import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { startProducer, type RunningProducer } from '../services/producer/service';
import { apiKeyHash, parseConfig, type ApiScope, type Config } from '../services/platform/config/config';
import { createLogger, type Logger } from '../services/platform/logger';
import { provisionTopics } from '../services/admin/provision';
import { generateSigningKeyPair } from '../services/contract/signing';
import type { Category } from '../services/contract/model';
import { waitFor } from './wait-for';

/**
 * A throwaway ThreatRelay network for one test file: its own topic prefix
 * (so topics and groups never collide with another test), freshly generated
 * Ed25519 keys and API keys per org, and every Kafka client it hands out
 * closed by `close()`.
 */

export interface TestOrg {
  id: string;
  kind?: 'company' | 'government';
  maxTlp?: 'clear' | 'green' | 'amber';
  /** The category of MISP imports nothing else names; default none (`other`). */
  mispDefaultCategory?: Category;
  /** The org's producer policy for MISP warninglists (lists to reject, values never warned). */
  warninglists?: { reject?: string[]; exceptions?: string[] };
  /** The org's `pdq` settings; the config's default when absent. */
  pdq?: { minQuality: number };
}

export interface TestSubscription {
  id: string;
  org: string;
  url: string;
  batchSize?: number;
  filter?: Record<string, unknown>;
  secrets?: string[];
  corroborations?: boolean;
  format?: 'native' | 'stix21';
  dedup?: Record<string, unknown>;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxElapsedMs?: number };
}

export interface TestNetwork {
  prefix: string;
  config: Config;
  /** PKCS#8 PEM private signing key per org. */
  signingKeys: Record<string, string>;
  /** Plain API key per org (scopes publish, revoke and sight). */
  apiKeys: Record<string, string>;
  /** Standard Webhooks secret per subscription. */
  webhookSecrets: Record<string, string>;
  /** TAXII reader credentials per org named in `taxiiReaders`. */
  taxiiReaders: Record<string, { username: string; password: string }>;
  logger: Logger;
  /** A fresh folder for subscribers' embedded dedup stores, removed by `close()`. */
  dataDir: string;
  kafka: Kafka;
  admin(): Promise<Admin>;
  /**
   * Sum of the topics' high watermarks: it moves whenever anything is written
   * (records or transaction markers), so equal sums mean nothing was written.
   */
  highWatermarks(topics: string[]): Promise<number>;
  /**
   * Reads the committed records of `topic` from the beginning until at least
   * `atLeast` arrived and then none for `quietMs`; bounded by `timeoutMs`.
   */
  readAll(
    topic: string,
    options?: { atLeast?: number; quietMs?: number; timeoutMs?: number },
  ): Promise<KafkaMessage[]>;
  /** Starts `org`'s producer on a free port with this network's config, key and logger. */
  startProducer(org: string): Promise<RunningProducer>;
  close(): Promise<void>;
}

export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

export function whsecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export interface TestNetworkOptions {
  /** Overrides of the producer settings (rate limit, body limit, timeouts). */
  producer?: Record<string, number>;
  /** More API keys, by name; their plain keys land in `apiKeys` under the name. */
  extraApiKeys?: { name: string; org: string; scopes: ApiScope[] }[];
  /** Partitions of every topic; default 3. */
  partitions?: number;
  /** Orgs that get a TAXII reader (`<org>-taxii`) in `taxii.readers`. */
  taxiiReaders?: string[];
  /** Bootstrap servers; default `$KAFKA_BROKERS`, else 127.0.0.1:9092. */
  brokers?: string[];
}

export async function createTestNetwork(
  orgs: TestOrg[],
  subscriptions: TestSubscription[] = [],
  options: TestNetworkOptions = {},
): Promise<TestNetwork> {
  const prefix = `tr-${randomSuffix()}`;
  const signingKeys: Record<string, string> = {};
  const apiKeys: Record<string, string> = {};
  const webhookSecrets: Record<string, string> = {};
  const rawOrgs = orgs.map((o) => {
    const pair = generateSigningKeyPair();
    signingKeys[o.id] = pair.privateKeyPem;
    apiKeys[o.id] = `trk_${o.id}_${randomBytes(16).toString('hex')}`;
    return {
      id: o.id,
      name: o.id,
      kind: o.kind ?? 'company',
      publicKey: pair.publicKey,
      maxTlp: o.maxTlp ?? 'amber',
      ...(o.mispDefaultCategory ? { mispDefaultCategory: o.mispDefaultCategory } : {}),
      ...(o.warninglists ? { warninglists: o.warninglists } : {}),
      ...(o.pdq ? { pdq: o.pdq } : {}),
    };
  });
  const rawKeys = orgs.map((o) => ({
    name: `${o.id}-secops`,
    org: o.id,
    sha256: apiKeyHash(apiKeys[o.id]!),
    scopes: ['publish', 'revoke', 'sight'],
  }));
  for (const extra of options.extraApiKeys ?? []) {
    apiKeys[extra.name] = `trk_${extra.name}_${randomBytes(16).toString('hex')}`;
    rawKeys.push({ ...extra, sha256: apiKeyHash(apiKeys[extra.name]!) });
  }
  const rawSubs = subscriptions.map((s) => {
    webhookSecrets[s.id] = s.secrets?.[0] ?? whsecret();
    return {
      id: s.id,
      org: s.org,
      batchSize: s.batchSize ?? 100,
      filter: s.filter ?? {},
      ...(s.corroborations !== undefined ? { corroborations: s.corroborations } : {}),
      ...(s.format ? { format: s.format } : {}),
      ...(s.dedup ? { dedup: s.dedup } : {}),
      ...(s.retry ? { retry: s.retry } : {}),
      webhook: {
        url: s.url,
        secrets: s.secrets ?? [webhookSecrets[s.id]],
        allowPrivateNetworks: true,
        timeoutMs: 5000,
      },
    };
  });
  const taxiiReaders: Record<string, { username: string; password: string }> = {};
  for (const org of options.taxiiReaders ?? []) {
    taxiiReaders[org] = {
      username: `${org}-taxii`,
      password: `trt_${org}_${randomBytes(24).toString('base64url')}`,
    };
  }
  const config = parseConfig({
    kafka: {
      brokers: options.brokers ?? [process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'],
      topicPrefix: prefix,
      partitions: options.partitions ?? 3,
    },
    ...(options.producer ? { producer: options.producer } : {}),
    orgs: rawOrgs,
    apiKeys: rawKeys,
    subscriptions: rawSubs,
    taxii: {
      readers: Object.entries(taxiiReaders).map(([org, r]) => ({
        name: r.username,
        org,
        sha256: apiKeyHash(r.password),
      })),
    },
  });
  const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const dataDir = mkdtempSync(join(tmpdir(), 'threatrelay-data-'));
  const kafka = new Kafka({
    brokers: config.kafka.brokers,
    clientId: `test-${prefix}`,
    logLevel: logLevel.NOTHING,
  });
  const admins: Admin[] = [];
  const consumers: Consumer[] = [];
  const admin = async (): Promise<Admin> => {
    const a = kafka.admin();
    await a.connect();
    admins.push(a);
    return a;
  };
  const mainAdmin = await admin();
  await provisionTopics(mainAdmin, config);
  const readWatermarks = async (topics: string[]): Promise<number> => {
    let total = 0;
    for (const topic of topics) {
      // Fresh topics can answer "not the leader" for a moment while leadership settles.
      const offsets = await waitFor(`offsets of ${topic}`, () =>
        mainAdmin.fetchTopicOffsets(topic).catch(() => undefined),
      );
      for (const p of offsets) total += Number(p.high);
    }
    return total;
  };
  // Transaction markers land just after a commit returns, so a single read can lag; wait until two agree.
  const highWatermarks = async (topics: string[]): Promise<number> => {
    let last = await readWatermarks(topics);
    const settled = await waitFor(`watermarks of ${topics.length} topic(s) to settle`, async () => {
      await new Promise((r) => setTimeout(r, 300));
      const now = await readWatermarks(topics);
      const same = now === last;
      last = now;
      return same ? { now } : undefined;
    });
    return settled.now;
  };
  return {
    prefix,
    config,
    signingKeys,
    apiKeys,
    webhookSecrets,
    taxiiReaders,
    logger,
    dataDir,
    kafka,
    admin,
    highWatermarks,
    startProducer: (org) => startProducer({ config, org, signingKeyPem: signingKeys[org]!, port: 0, logger }),
    async readAll(topic, { atLeast = 0, quietMs = 1500, timeoutMs = 30_000 } = {}) {
      const consumer = kafka.consumer({ groupId: `${prefix}-reader-${randomSuffix()}` });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: KafkaMessage[] = [];
      let lastArrival = Date.now();
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message);
          lastArrival = Date.now();
        },
      });
      try {
        await waitFor(
          `${atLeast} records in ${topic}, then ${quietMs} ms of quiet`,
          () => got.length >= atLeast && Date.now() - lastArrival >= quietMs,
          timeoutMs,
        );
      } finally {
        await consumer.disconnect();
      }
      return got;
    },
    async close() {
      await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
      await Promise.all(admins.map((a) => a.disconnect().catch(() => undefined)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
