import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { derivedKeyId, KEY_ID } from '../../contract/keyring';
import { DEFAULTS } from './defaults';
import type { taxiiReaderSchema } from './settings';
import {
  consoleSettingsSchema,
  id,
  monitoringSettingsSchema,
  producerSettingsSchema,
  subscriberSettingsSchema,
  taxiiSettingsSchema,
} from './settings';
import { CATEGORIES, INDICATOR_TYPES } from '../../contract/model';

/**
 * The one config file of a ThreatRelay network (YAML). It is validated once at
 * start, every problem reported with its path, before anything touches Kafka.
 * Secrets are written as `${ENV_VAR}` and filled in from the environment; the
 * file itself holds only public keys and SHA-256 hashes of API keys.
 */

/**
 * What a Kafka user is for: publishing an org's events, consuming what the org is entitled to for its
 * subscriptions, reading the same into the org's TAXII server (`threatrelay taxii`), or reading what
 * the operator console shows (`console`; its `org` is the operating org, the grants are the same
 * whatever it is).
 */
export const KAFKA_ROLES = ['producer', 'subscriber', 'taxii', 'console'] as const;
export type KafkaRole = (typeof KAFKA_ROLES)[number];

/** A whole value that is one environment variable reference. */
const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The variable a value names when it is exactly `${NAME}`, else undefined. */
export function envReference(value: unknown): string | undefined {
  return typeof value === 'string' ? ENV_REFERENCE.exec(value)?.[1] : undefined;
}

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

/** A warninglist's id: its folder name in MISP/misp-warninglists and its file name in the snapshot. */
const warninglistId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be a warninglist id, like rfc1918 or url-shortener');

const publicKeySchema = z
  .string()
  .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be a base64 raw 32-byte Ed25519 public key');

/** An instant in a key's validity: ISO-8601 with a time zone (`2026-12-08T02:00:00Z`). */
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time with a time zone' });

/**
 * One of an org's signing keys and when it may sign (docs/key-rotation.md). A
 * reader accepts a record signed with it only when the record's `producedAt`
 * is at or after `notBefore`, before `notAfter`, and before `revokedAt`.
 */
const signingKeySchema = z
  .strictObject({
    /**
     * What records name (1-64 of A-Z, a-z, 0-9, `.`, `_`, `-`). Default: derived from the key, the
     * first 16 hex digits of SHA-256 of its 32 raw bytes.
     */
    id: z.string().regex(KEY_ID, 'must be 1-64 chars of A-Z, a-z, 0-9, ., _ or -').optional(),
    /** Raw 32-byte Ed25519 public key, base64. */
    publicKey: publicKeySchema,
    /** From when the key may sign. Default: open (any time before `notAfter`). */
    notBefore: instant.optional(),
    /** Until when (exclusive) the key may sign; `keys rotate` sets it after the overlap. Default: open. */
    notAfter: instant.optional(),
    /**
     * When the key was compromised: records produced from then on are refused even inside the
     * interval. Default: never revoked.
     */
    revokedAt: instant.optional(),
  })
  .refine((k) => !k.notBefore || !k.notAfter || Date.parse(k.notBefore) < Date.parse(k.notAfter), {
    message: 'must be after notBefore',
    path: ['notAfter'],
  });

const orgSchema = z
  .strictObject({
    id,
    name: z.string().min(1).max(200),
    kind: z.enum(['company', 'government']),
    /**
     * The single-key form: raw 32-byte Ed25519 public key, base64. It stands for one entry of
     * `keys` with the derived id and an open validity. Give `publicKey` or `keys`, not both.
     */
    publicKey: publicKeySchema.optional(),
    /** The org's signing keys (several while rotating). Default none: the org cannot publish. */
    keys: z.array(signingKeySchema).optional(),
    /** The most restrictive community TLP this org may read. Default `amber`. */
    maxTlp: z.enum(['clear', 'green', 'amber']).default('amber'),
    /** How this org's PDQ image hashes are held. Default `{ minQuality: 50 }`. */
    pdq: z
      .strictObject({
        /**
         * The lowest `quality` (0-100) a `pdq` report of this org may carry: lower is refused at the
         * API and dead-lettered by readers. Default 50, Meta's reference floor.
         */
        minQuality: z.number().int().min(0).max(100).default(DEFAULTS.pdqMinQuality),
      })
      .default({ minQuality: DEFAULTS.pdqMinQuality }),
    /**
     * The category of an indicator imported from MISP when no tag and no MISP
     * category names one (docs/misp.md). Default `other`.
     */
    mispDefaultCategory: z.enum(CATEGORIES).optional(),
    /**
     * What this org's producer does with an indicator on a MISP warninglist (docs/warninglists.md).
     * Default: inform only (every receipt lists its item's warnings), reject none, no exceptions.
     */
    warninglists: z
      .strictObject({
        /** Lists (ids from the snapshot's manifest) whose match refuses the request with a 400 naming the item and list. Default none. */
        reject: z.array(warninglistId).default([]),
        /** Values never warned about or refused (compared with the canonical value, ignoring case). Default none. */
        exceptions: z.array(z.string().min(1).max(2048)).default([]),
      })
      .optional(),
  })
  .refine((o) => o.publicKey === undefined || o.keys === undefined, {
    message: 'give publicKey (one key) or keys, not both',
    path: ['keys'],
  })
  // One shape for every reader: `keys`, each with its id.
  .transform(({ publicKey, keys, ...org }) => ({
    ...org,
    keys: (keys ?? (publicKey === undefined ? [] : [{ publicKey }])).map((k) => ({
      ...k,
      id: k.id ?? derivedKeyId(k.publicKey),
    })),
  }));

export const API_SCOPES = ['publish', 'revoke', 'sight'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const apiKeySchema = z.strictObject({
  /** Shown in logs and `source.submitter`: the team the key belongs to. */
  name: id,
  org: id,
  /** Lowercase hex SHA-256 of the API key; the key itself is never stored. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars (SHA-256 of the key)'),
  /** `publish` (indicators, STIX), `revoke`, `sight` (sightings; not in the default). Default publish and revoke. */
  scopes: z.array(z.enum(API_SCOPES)).min(1).default(['publish', 'revoke']),
});

const filterSchema = z
  .strictObject({
    types: z.array(z.enum(INDICATOR_TYPES)).optional(),
    categories: z.array(z.enum(CATEGORIES)).optional(),
    minConfidence: z.number().int().min(0).max(100).optional(),
    tags: z.array(z.string().min(1)).optional(),
    sourceOrgs: z.array(id).optional(),
    /**
     * Indicators on any of `drop` (warninglist ids, as the reader's own snapshot finds them) are not
     * delivered; each is counted in `threatrelay_filtered_total` with reason `warninglist:<id>`.
     * Default none: warnings are delivered with the event, nothing is dropped.
     */
    warninglists: z.strictObject({ drop: z.array(warninglistId).min(1) }).optional(),
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
  /**
   * Whether another org's report of a known key is delivered as
   * `indicator.corroborated`. Default true: every org's word reaches the
   * receiver. Off, a later report still goes out when its category differs
   * from, or its severity is above, every report delivered for the key.
   */
  corroborations: z.boolean().default(true),
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
  /** The MISP warninglists every producer and reader of this network loads. */
  warninglists: z
    .strictObject({
      /** A snapshot folder (`manifest.json` and the lists); default the snapshot the bus ships, `config/warninglists/`. */
      dir: z.string().min(1).optional(),
    })
    .default({}),
});

export { OPERATOR_PASSWORD_HASH } from './settings';

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
