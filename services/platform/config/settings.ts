import { z } from 'zod';
import { DEFAULTS } from './defaults';

/** The settings sections of the config file (producer, subscriber, taxii, console, monitoring); see schema.ts. */

/** An id of the file (an org, a key's name, a user): lowercase, digits, `_` and `-`. */
export const id = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be 1-63 chars of a-z, 0-9, _ or -, starting with a letter or digit',
  );

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

export const producerSettingsSchema = z.strictObject({
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

export const subscriberSettingsSchema = z.strictObject({
  /**
   * How far in the future a record's `producedAt` may lie before it is dead-lettered as stale (the
   * orgs' clocks differ a little, never by much). Records older than a subscription's dedup window
   * are stale too. Default 300 s.
   */
  maxClockSkewSeconds: z.number().int().min(0).max(3600).default(DEFAULTS.maxClockSkewSeconds),
});

export const taxiiReaderSchema = z.strictObject({
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

export const taxiiSettingsSchema = z.strictObject({
  /** Who may pull each org's TAXII 2.1 collections. Default none (no org's TAXII server can start). */
  readers: z.array(taxiiReaderSchema).default([]),
  /** Failed authentications (missing or wrong reader credentials) per client address: see `authFailureFields`. */
  ...authFailureFields,
  /** Most objects one page holds: a larger `limit` is lowered to it. Default 1,000. */
  maxPageSize: z.number().int().min(1).max(10_000).default(DEFAULTS.taxiiMaxPageSize),
  /** Objects in a page when the request gives no `limit`. Default 100. */
  defaultPageSize: z.number().int().min(1).max(10_000).default(DEFAULTS.taxiiDefaultPageSize),
  /**
   * The TAXII servers' public base URL (`https://taxii.example.org`), as readers reach them
   * through their TLS proxy: discovery names the API root under it. Default none: discovery
   * names the API root by its path alone, which TAXII 2.1 allows. Never taken from the request's
   * `Host` header, which the client chooses.
   */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Records produced longer ago than this many days are refused as stale (`TR_STALE`), like a
   * subscription's dedup window. Default 30, the topics' default retention.
   */
  windowDays: z.number().int().min(1).max(3650).default(DEFAULTS.retentionDays),
});

/** How an operator's password is stored in `console.operators[].passwordHash` (services/console/auth.ts makes it). */
export const OPERATOR_PASSWORD_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

export const consoleSettingsSchema = z.strictObject({
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

export const monitoringSettingsSchema = z.strictObject({
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
