import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaConfig,
  type KafkaMessage,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Config, KafkaRole } from './config/config';
import type { HeaderValue } from '../contract/headers';
import { ThreatRelayError } from '../contract/errors';
import { CLIENT_ID } from '../contract/definitions';
import { DEFAULTS } from './config/defaults';
import type { Logger } from './logger';

/**
 * kafkajs setup shared by the services: one Kafka client per process, its log
 * lines routed into pino, and the few admin calls the bus needs.
 */

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(kafkaConfig: Config['kafka'], logger: Logger, clientId = CLIENT_ID): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
    clientId,
    brokers: kafkaConfig.brokers,
    ssl: kafkaConfig.ssl,
    connectionTimeout: 3000,
    // Bounded: a call that cannot reach the broker fails within seconds instead of hanging.
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // "Response X" errors are broker answers kafkajs retries by itself (a coordinator
        // still loading, a leader moving); they matter only if the retries run out.
        const severity = level === logLevel.ERROR && message.startsWith('Response ') ? 'warn' : LEVELS[level];
        log[severity ?? 'info']({ kafkaLabel: label, ...rest }, message);
      },
  };
  if (kafkaConfig.sasl) config.sasl = { ...kafkaConfig.sasl } as SASLOptions;
  return new Kafka(config);
}

/** The producer the bus publishes with: idempotent, so a retried send after a lost ack writes no duplicate. */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/**
 * A transactional producer (idempotent, one request in flight). Beginning a
 * transaction right after the previous commit is often answered
 * CONCURRENT_TRANSACTIONS for a few ms; a short first retry keeps that from
 * costing 200 ms.
 */
/** How long a ThreatRelay transactional producer may keep a transaction open before the broker aborts it. */
export const TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * An open transaction at the same offset longer than this is hanging: longer than the transaction
 * timeout every ThreatRelay transactional producer uses, `TRANSACTION_TIMEOUT_MS` (see
 * services/admin/hanging.ts; `monitoring.hangingAfterSeconds` in the config).
 */
export const HANGING_AFTER_MS = DEFAULTS.hangingAfterSeconds * 1000;

export function createTransactionalProducer(
  kafka: Kafka,
  transactionalId: string,
  transactionTimeoutMs = TRANSACTION_TIMEOUT_MS,
): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: transactionTimeoutMs,
    allowAutoTopicCreation: false,
    retry: { retries: 6, initialRetryTime: 25, maxRetryTime: 2000 },
  });
}

/** Creates the topics that do not exist yet; returns the ones it created. */
export async function ensureTopics(
  admin: Admin,
  topics: string[],
  settings: {
    partitions: number;
    replicationFactor: number;
    configEntries?: { name: string; value: string }[];
  },
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = [...new Set(topics)].filter((t) => !existing.has(t));
  if (missing.length === 0) return [];
  // kafkajs's own waitForLeaders gives up on the first "unknown topic" answer from a broker
  // whose metadata is still catching up; the loop below waits for leaders itself.
  await admin.createTopics({
    waitForLeaders: false,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: settings.partitions,
      replicationFactor: settings.replicationFactor,
      ...(settings.configEntries ? { configEntries: settings.configEntries } : {}),
    })),
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const meta = await admin.fetchTopicMetadata({ topics: missing }).catch(() => undefined);
    if (
      meta?.topics.every(
        (t) => t.partitions.length === settings.partitions && t.partitions.every((p) => p.leader >= 0),
      )
    ) {
      return missing;
    }
    if (Date.now() > deadline) throw new Error(`topics ${missing.join(', ')} have no leaders after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PartitionMarks {
  topic: string;
  partition: number;
  /** The last stable offset: a read_committed consumer reads no further (the first open transaction's start). */
  lastStable: string;
  high: string;
}

/**
 * Each partition's last stable offset and high watermark. kafkajs has no public
 * call for both: its admin lists offsets with the protocol's default isolation,
 * read_committed, so `fetchTopicOffsets(...).high` is the last stable offset
 * (platform/lag-read.ts reads both from a fetch). This asks through two cluster clients of
 * `kafka`'s own (same brokers, TLS, SASL), one listing offsets read_committed
 * and one read_uncommitted. They are kafkajs's internal client: kafkajs is
 * pinned, and test/integration/hanging-transactions.test.ts checks both
 * against a broker.
 */
export async function partitionMarks(kafka: Kafka, topics: string[]): Promise<PartitionMarks[]> {
  const committed = internalCluster(kafka, READ_COMMITTED);
  const uncommitted = internalCluster(kafka, READ_UNCOMMITTED);
  await Promise.all([committed.connect(), uncommitted.connect()]);
  try {
    const out: PartitionMarks[] = [];
    for (const topic of topics) {
      await committed.addTargetTopic(topic);
      await uncommitted.addTargetTopic(topic);
      const partitions = committed
        .findTopicPartitionMetadata(topic)
        .map((p) => ({ partition: p.partitionId }));
      const request = [{ topic, fromBeginning: false, partitions }];
      const [stable] = await committed.fetchTopicsOffset(request);
      const [high] = await uncommitted.fetchTopicsOffset(request);
      for (const { partition, offset } of stable?.partitions ?? []) {
        const h = high?.partitions.find((m) => m.partition === partition);
        if (h) out.push({ topic, partition, lastStable: offset, high: h.offset });
      }
    }
    return out;
  } finally {
    await Promise.all([committed.disconnect(), uncommitted.disconnect()]);
  }
}

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

/**
 * kafkajs's internal cluster client, built by `kafka`'s own factory (same
 * brokers, TLS, SASL) with the isolation level its offset lookups use. kafkajs
 * is pinned; test/integration/hanging-transactions.test.ts and
 * test/integration/lag.test.ts check what is used of it against a broker.
 */
export function internalCluster(kafka: Kafka, isolationLevel: 0 | 1): IsolatedCluster {
  const create = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  const factory = create && (kafka as unknown as Record<symbol, unknown>)[create];
  if (typeof factory !== 'function')
    throw new Error('this kafkajs version offers no offset lookup by isolation level');
  return (factory as (o: object) => IsolatedCluster)({ isolationLevel, allowAutoTopicCreation: false });
}

/** A record as kafkajs's fetch decodes it, with its record batch's header. */
export interface FetchedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

/** One partition of a fetch answer. */
export interface FetchedPartition {
  partition: number;
  highWatermark: string;
  lastStableOffset: string;
  abortedTransactions: { producerId: string; firstOffset: string }[] | null;
  messages: FetchedRecord[];
}

/** The part of a kafkajs broker connection a fetch of raw records uses. */
export interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: 0 | 1;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
}

/** The part of kafkajs's internal cluster client the bus uses. */
export interface IsolatedCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<InternalBroker>;
}

/** Readiness is a real broker round trip, not an open socket. */
export async function brokerRoundTrip(admin: Admin): Promise<{ clusterId: string; brokers: number }> {
  const cluster = await admin.describeCluster();
  return { clusterId: cluster.clusterId, brokers: cluster.brokers.length };
}

/**
 * A record's headers as kafkajs can write them again (a dead letter keeps
 * its original's): kafkajs cannot write a null header value, so those are
 * left out and named in `nulls` for the caller to record.
 */
export function writableHeaders(message: Pick<KafkaMessage, 'headers'>): {
  headers: Record<string, Buffer | string | (Buffer | string)[]>;
  nulls: string[];
} {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  const nulls: string[] = [];
  const source = message.headers as Record<string, HeaderValue | HeaderValue[]> | null | undefined;
  if (source === null || typeof source !== 'object') return { headers, nulls };
  for (const [name, value] of Object.entries(source)) {
    const values = (Array.isArray(value) ? value : [value]).filter(
      (v): v is Buffer | string => Buffer.isBuffer(v) || typeof v === 'string',
    );
    if (values.length === 0) nulls.push(name);
    else headers[name] = values.length === 1 ? values[0]! : values;
    if (values.length > 0 && Array.isArray(value) && values.length < value.length) nulls.push(name);
  }
  return { headers, nulls };
}

/** A Kafka record timestamp as an ISO string, or undefined when it is not a representable time. */
export function recordTime(message: Pick<KafkaMessage, 'timestamp'>): string | undefined {
  const ms = Number(message.timestamp);
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date.toISOString() : undefined;
}

/** Rejects with `onTimeout()` when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fails fast when a service would connect as another org's or role's user: the broker would refuse
 * it anyway, but only at its first transaction or group join, long after it reported ready.
 */
export function checkOwnUser(config: Config, org: string, role: KafkaRole): void {
  const username = config.kafka.sasl?.username;
  const user = config.kafka.users.find((u) => u.username === username);
  if (user && (user.org !== org || user.role !== role)) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `kafka.sasl.username "${username}" is ${user.org}'s ${user.role} user; ${org}'s ${role} must connect as its own`,
    );
  }
}

/** How a long-lived consumer comes back after kafkajs gave up on it. */
export interface CrashRestart {
  /** Names the consumer in the log: `<what> crashed; restarting in 5 s`. */
  what: string;
  logger: Logger;
  /** Whether the crashed consumer is still the one its owner runs (an older one's crash is ignored). */
  isCurrent(): boolean;
  /** The owner forgets the crashed consumer; it is disconnected. */
  forget(): void;
  /** Whether a restart is still wanted when the pause ends (not stopped or disabled meanwhile). */
  wanted(): boolean;
  restart(): Promise<void>;
  /** What to add to the log line for this error, e.g. a hint at its likely cause. */
  details?(error: Error): Record<string, unknown>;
}

/**
 * kafkajs gives up on a consumer after an error it does not retry itself (a
 * bug in handling a batch, a write the broker refused): a long-lived consumer
 * starts again after a pause rather than stop for good.
 */
export function restartAfterCrash(consumer: Consumer, restart: CrashRestart): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || !restart.isCurrent()) return;
    restart.logger.error(
      { err: payload.error, ...restart.details?.(payload.error) },
      `${restart.what} crashed; restarting in 5 s`,
    );
    restart.forget();
    void consumer.disconnect().catch(() => undefined);
    setTimeout(() => {
      if (restart.wanted()) {
        restart
          .restart()
          .catch((err: unknown) => restart.logger.error({ err }, `${restart.what} restart failed`));
      }
    }, 5000).unref();
  });
}
