import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { DEFAULTS } from './defaults';
import { CATEGORIES, INDICATOR_TYPES } from '../../contract/model';

/**
 * The one config file of a ThreatRelay network (YAML). It is validated once at
 * start, every problem reported with its path, before anything touches Kafka.
 * Secrets are written as `${ENV_VAR}` and filled in from the environment; the
 * file itself holds only public keys and SHA-256 hashes of API keys.
 */

/**
 * What a Kafka user is for: publishing an org's events, consuming what the org is entitled to for its
 * subscriptions, or reading the same into the org's TAXII server (`threatrelay taxii`).
 */
export const KAFKA_ROLES = ['producer', 'subscriber', 'taxii'] as const;
export type KafkaRole = (typeof KAFKA_ROLES)[number];

/** A whole value that is one environment variable reference. */
const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The variable a value names when it is exactly `${NAME}`, else undefined. */
export function envReference(value: unknown): string | undefined {
  return typeof value === 'string' ? ENV_REFERENCE.exec(value)?.[1] : undefined;
}

const id = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be 1-63 chars of a-z, 0-9, _ or -, starting with a letter or digit',
  );

const kafkaSchema = z.strictObject({
  /** Bootstrap servers. Default: `KAFKA_BROKERS` (comma-separated), else `127.0.0.1:9092`. */
  brokers: z
    .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port'))
    .min(1)
    .optional(),
  /** Prefix of every topic and consumer group name. Default `threatrelay`. */
  topicPrefix: z
    .string()
    .regex(/^[a-zA-Z0-9._-]+$/)
    .default(DEFAULTS.topicPrefix),
  /** Partitions of every topic the bus creates (a number, or `${VAR}` holding one). Default 3. */
  partitions: z.coerce.number().int().min(1).max(1000).default(DEFAULTS.partitions),
  /** Replication factor of every topic (a number, or `${VAR}` holding one). Default 1 (a single local broker). */
  replicationFactor: z.coerce.number().int().min(1).max(7).default(DEFAULTS.replicationFactor),
  /**
   * How long the community, direct and DLQ topics keep records (`retention.ms`), in days; `provision`
   * sets it on new topics and brings existing ones back to it. Default 30, dedup's default window.
   */
  retentionDays: z.coerce.number().int().min(1).max(3650).default(DEFAULTS.retentionDays),
  /** TLS to the brokers. Default off. */
  ssl: z.boolean().default(false),
  /**
   * SASL credentials of the principal this process connects as: each service
   * its own (`${KAFKA_USERNAME}` / `${KAFKA_PASSWORD}` set per process), the
   * operator's super user for `provision`, `dlq` and `subscription`. Default none.
   */
  sasl: z
    .strictObject({
      mechanism: z.enum(['scram-sha-256', 'scram-sha-512', 'plain']),
      username: z.string().min(1),
      password: z.string().min(1),
    })
    .optional(),
  /**
   * The SCRAM users `threatrelay provision` creates, and whose ACLs it keeps
   * as the role and org imply (see services/admin/acl.ts). A password is
   * the name of an environment variable, `${LIKE_THIS}`, read by `provision`
   * alone: a service needs only its own credentials, never another org's.
   */
  users: z
    .array(
      z.strictObject({
        username: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be 1-100 chars of a-z, 0-9, ., _ or -'),
        org: id,
        role: z.enum(KAFKA_ROLES),
        password: z
          .string()
          .regex(
            ENV_REFERENCE,
            'must be ${ENV_VAR}: a Kafka password is read from the environment by `provision`, never written here',
          ),
      }),
    )
    .default([]),
});

const orgSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  kind: z.enum(['company', 'government']),
  /** Raw 32-byte Ed25519 public key, base64. Subscribers verify this org's records with it. */
  publicKey: z
    .string()
    .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be a base64 raw 32-byte Ed25519 public key')
    .optional(),
  /** The most restrictive community TLP this org may read. Default `amber`. */
  maxTlp: z.enum(['clear', 'green', 'amber']).default('amber'),
});

const apiKeySchema = z.strictObject({
  /** Shown in logs and `source.submitter`: the team the key belongs to. */
  name: id,
  org: id,
  /** Lowercase hex SHA-256 of the API key; the key itself is never stored. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars (SHA-256 of the key)'),
  scopes: z
    .array(z.enum(['publish', 'revoke']))
    .min(1)
    .default(['publish', 'revoke']),
});

const filterSchema = z
  .strictObject({
    types: z.array(z.enum(INDICATOR_TYPES)).optional(),
    categories: z.array(z.enum(CATEGORIES)).optional(),
    minConfidence: z.number().int().min(0).max(100).optional(),
    tags: z.array(z.string().min(1)).optional(),
    sourceOrgs: z.array(id).optional(),
  })
  .default({});

const subscriptionSchema = z.strictObject({
  id,
  org: id,
  webhook: z.strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    /** Standard Webhooks secrets (`whsec_` + base64 of at least 16 random bytes); several during rotation. */
    secrets: z
      .array(
        z.string().refine((s) => {
          try {
            new Webhook(s);
            return Buffer.from(s.replace(/^whsec_/, ''), 'base64').length >= 16;
          } catch {
            return false;
          }
        }, 'must be a Standard Webhooks secret: whsec_ followed by base64 of at least 16 random bytes'),
      )
      .min(1),
    /** Allow targets on loopback/private networks (local dev and tests only). Default false. */
    allowPrivateNetworks: z.boolean().default(false),
    /** Request timeout. Default 10 s; at most 25 s, under the consumer group's 30 s session timeout. */
    timeoutMs: z.number().int().min(100).max(25_000).default(DEFAULTS.webhookTimeoutMs),
  }),
  filter: filterSchema,
  /** Events per webhook request. Default 100. */
  batchSize: z.number().int().min(1).max(1000).default(DEFAULTS.webhookBatchSize),
  format: z.enum(['native', 'stix21']).default('native'),
  /** Whether another org's report of a known key is delivered as `indicator.corroborated`. Default false. */
  corroborations: z.boolean().default(false),
  dedup: z
    .strictObject({
      /**
       * `embedded`: on local disk (the subscriber's data dir), one instance per group. `redis`: shared by
       * every instance of a scaled group. `none`: deliver every entitled record. Default `embedded`.
       */
      store: z.enum(['embedded', 'redis', 'none']).default('embedded'),
      /** For `redis`: `redis://host:port/db`. */
      redisUrl: z
        .string()
        .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
        .optional(),
      /** How long a key and an eventId are remembered, unless validUntil ends it sooner. Default 30 days. */
      windowDays: z.number().int().min(1).max(365).default(DEFAULTS.dedupWindowDays),
    })
    .refine((d) => d.store !== 'redis' || d.redisUrl !== undefined, {
      message: 'redisUrl is required when store is redis',
      path: ['redisUrl'],
    })
    .default({ store: 'embedded', windowDays: DEFAULTS.dedupWindowDays }),
  /** Webhook retries: exponential backoff with jitter, Retry-After honored up to maxDelayMs. */
  retry: z
    .strictObject({
      /** Default 500 ms. */
      initialDelayMs: z.number().int().min(10).max(60_000).default(DEFAULTS.retry.initialDelayMs),
      /** Default 60 s. */
      maxDelayMs: z.number().int().min(100).max(3_600_000).default(DEFAULTS.retry.maxDelayMs),
      /** After this long the batch is dead-lettered. Default 1 h. */
      maxElapsedMs: z
        .number()
        .int()
        .min(1000)
        .max(7 * 24 * 3_600_000)
        .default(DEFAULTS.retry.maxElapsedMs),
    })
    .default({ ...DEFAULTS.retry }),
});

/**
 * Failed authentications per client address, the same fields for the producer's API keys, the
 * console's operators and the TAXII servers' readers (a token bucket per address, per process):
 * an address may fail `authFailureBurst` times at once and regains `authFailuresPerMinute` a
 * minute; with none left, every request from it is answered 429 with Retry-After, without its
 * credentials being checked, until a failure is regained. A success gives nothing back.
 */
const authFailureFields = {
  /** Failures an address regains per minute. Default 30. */
  authFailuresPerMinute: z.number().int().min(1).default(DEFAULTS.authFailuresPerMinute),
  /** Failures an address may make at once. Default `authFailuresPerMinute`. */
  authFailureBurst: z.number().int().min(1).optional(),
};

const producerSettingsSchema = z.strictObject({
  /** Largest request body accepted. Default 1 MiB. */
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(DEFAULTS.bodyLimitBytes),
  /** Most indicators in one request. Default 1,000. */
  maxBatchItems: z.number().int().min(1).max(100_000).default(DEFAULTS.maxBatchItems),
  /** Requests per minute per API key (token bucket, per producer instance). Default 600. */
  rateLimitPerMinute: z.number().int().min(1).default(DEFAULTS.rateLimitPerMinute),
  /** Failed authentications (a missing or unknown API key) per client address: see `authFailureFields`. */
  ...authFailureFields,
  /** How long a request waits for Kafka before answering 503. Default 10 s. */
  produceTimeoutMs: z.number().int().min(100).max(120_000).default(DEFAULTS.produceTimeoutMs),
  /**
   * Bytes of answers the Idempotency-Key replay cache keeps (per producer instance, for 24 h;
   * the oldest are forgotten first, and a retry of a forgotten request publishes again with the
   * same eventIds, which subscribers drop). Default 64 MiB.
   */
  idempotencyCacheBytes: z
    .number()
    .int()
    .min(0)
    .max(4 * 1024 * 1024 * 1024)
    .default(DEFAULTS.idempotencyCacheBytes),
});

const subscriberSettingsSchema = z.strictObject({
  /**
   * How far in the future a record's `producedAt` may lie before it is dead-lettered as stale (the
   * orgs' clocks differ a little, never by much). Records older than a subscription's dedup window
   * are stale too. Default 300 s.
   */
  maxClockSkewSeconds: z.number().int().min(0).max(3600).default(DEFAULTS.maxClockSkewSeconds),
});

const taxiiReaderSchema = z.strictObject({
  /** The HTTP Basic username (and what logs call the reader); unique in the file. */
  name: id,
  /** The org whose TAXII server this credential opens: its collections, nothing else. */
  org: id,
  /**
   * Lowercase hex SHA-256 of the reader's secret (the Basic password, or the Bearer token), hashed like
   * API keys: secrets are high-entropy (`threatrelay keys taxii --org ID`), so a plain SHA-256 suffices.
   */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars (SHA-256 of the secret)'),
});

const taxiiSettingsSchema = z.strictObject({
  /** Who may pull each org's TAXII 2.1 collections. Default none (no org's TAXII server can start). */
  readers: z.array(taxiiReaderSchema).default([]),
  /** Failed authentications (missing or wrong reader credentials) per client address: see `authFailureFields`. */
  ...authFailureFields,
  /** Most objects one page holds: a larger `limit` is lowered to it. Default 1,000. */
  maxPageSize: z.number().int().min(1).max(10_000).default(DEFAULTS.taxiiMaxPageSize),
  /** Objects in a page when the request gives no `limit`. Default 100. */
  defaultPageSize: z.number().int().min(1).max(10_000).default(DEFAULTS.taxiiDefaultPageSize),
  /**
   * Records produced longer ago than this many days are refused as stale (`TR_STALE`), like a
   * subscription's dedup window. Default 30, the topics' default retention.
   */
  windowDays: z.number().int().min(1).max(3650).default(DEFAULTS.retentionDays),
});

/** How an operator's password is stored in `console.operators[].passwordHash` (services/console/auth.ts makes it). */
export const OPERATOR_PASSWORD_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

const consoleSettingsSchema = z.strictObject({
  /**
   * Who may sign in to `threatrelay console` (HTTP Basic). The password is stored as
   * `scrypt$N$r$p$<salt base64>$<hash base64>`, never in plain: `threatrelay keys operator`
   * prints a new password and its entry. Default none (nobody can sign in).
   */
  operators: z
    .array(
      z.strictObject({
        username: id,
        passwordHash: z
          .string()
          .regex(
            OPERATOR_PASSWORD_HASH,
            'must be scrypt$N$r$p$salt$hash, as `threatrelay keys operator` prints',
          ),
      }),
    )
    .default([]),
  /** Failed sign-ins (missing or wrong operator credentials) per client address: see `authFailureFields`. */
  ...authFailureFields,
  /** How often the console reads offsets, group states and DLQ ends from Kafka, in ms. Default 2 s. */
  sampleIntervalMs: z.number().int().min(250).max(60_000).default(DEFAULTS.consoleSampleIntervalMs),
  /** How far back its charts and recent events reach, in minutes. Default 10. */
  windowMinutes: z.number().int().min(1).max(120).default(DEFAULTS.consoleWindowMinutes),
});

const monitoringSettingsSchema = z.strictObject({
  /**
   * A partition is stalled when records wait and its committed offset has not moved for this many
   * seconds (subscribers' and TAXII servers' /metrics, the console, `threatrelay subscription
   * status`). Default 60.
   */
  stalledAfterSeconds: z.number().int().min(1).max(86_400).default(DEFAULTS.stalledAfterSeconds),
  /**
   * An open transaction holding a partition at the same offset this many seconds is reported as
   * hanging. Default 40: longer than the 30 s transaction timeout of every producer of the bus.
   */
  hangingAfterSeconds: z.number().int().min(1).max(86_400).default(DEFAULTS.hangingAfterSeconds),
  /** How often subscribers and TAXII servers read their groups' progress into /metrics, in ms. Default 5 s. */
  sampleIntervalMs: z.number().int().min(250).max(300_000).default(DEFAULTS.progressSampleIntervalMs),
});

export const configSchema = z.strictObject({
  kafka: kafkaSchema.default({
    topicPrefix: DEFAULTS.topicPrefix,
    partitions: DEFAULTS.partitions,
    replicationFactor: DEFAULTS.replicationFactor,
    retentionDays: DEFAULTS.retentionDays,
    ssl: false,
    users: [],
  }),
  producer: producerSettingsSchema.default({
    bodyLimitBytes: DEFAULTS.bodyLimitBytes,
    maxBatchItems: DEFAULTS.maxBatchItems,
    rateLimitPerMinute: DEFAULTS.rateLimitPerMinute,
    authFailuresPerMinute: DEFAULTS.authFailuresPerMinute,
    produceTimeoutMs: DEFAULTS.produceTimeoutMs,
    idempotencyCacheBytes: DEFAULTS.idempotencyCacheBytes,
  }),
  subscriber: subscriberSettingsSchema.default({ maxClockSkewSeconds: DEFAULTS.maxClockSkewSeconds }),
  /** The TAXII 2.1 servers (`threatrelay taxii --org ID`): reader credentials and paging. */
  taxii: taxiiSettingsSchema.default({
    readers: [],
    authFailuresPerMinute: DEFAULTS.authFailuresPerMinute,
    maxPageSize: DEFAULTS.taxiiMaxPageSize,
    defaultPageSize: DEFAULTS.taxiiDefaultPageSize,
    windowDays: DEFAULTS.retentionDays,
  }),
  console: consoleSettingsSchema.default({
    operators: [],
    authFailuresPerMinute: DEFAULTS.authFailuresPerMinute,
    sampleIntervalMs: DEFAULTS.consoleSampleIntervalMs,
    windowMinutes: DEFAULTS.consoleWindowMinutes,
  }),
  /** Lag, stalls and hanging transactions: docs/monitoring.md. */
  monitoring: monitoringSettingsSchema.default({
    stalledAfterSeconds: DEFAULTS.stalledAfterSeconds,
    hangingAfterSeconds: DEFAULTS.hangingAfterSeconds,
    sampleIntervalMs: DEFAULTS.progressSampleIntervalMs,
  }),
  orgs: z.array(orgSchema).min(1),
  apiKeys: z.array(apiKeySchema).default([]),
  subscriptions: z.array(subscriptionSchema).default([]),
});

export type Config = z.infer<typeof configSchema> & { kafka: { brokers: string[] } };
export type OrgConfig = z.infer<typeof orgSchema>;
export type SubscriptionConfig = z.infer<typeof subscriptionSchema>;
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;
export type ProducerSettings = z.infer<typeof producerSettingsSchema>;
export type SubscriberSettings = z.infer<typeof subscriberSettingsSchema>;
export type TaxiiSettings = z.infer<typeof taxiiSettingsSchema>;
export type TaxiiReaderConfig = z.infer<typeof taxiiReaderSchema>;
export type ConsoleSettings = z.infer<typeof consoleSettingsSchema>;
export type MonitoringSettings = z.infer<typeof monitoringSettingsSchema>;
