import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { isRecord } from '../json';
import { DEFAULTS } from '../../contract/definitions';
import { ThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { CATEGORIES, INDICATOR_TYPES } from '../../contract/model';

/**
 * The one config file of a ThreatRelay network (YAML). It is validated once at
 * start, every problem reported with its path, before anything touches Kafka.
 * Secrets are written as `${ENV_VAR}` and filled in from the environment; the
 * file itself holds only public keys and SHA-256 hashes of API keys.
 */

/** What a Kafka user is for: publishing an org's events, or consuming what the org is entitled to. */
export const KAFKA_ROLES = ['producer', 'subscriber'] as const;
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
  /**
   * Failed authentications (a missing or unknown API key) one client address may make per minute
   * (token bucket, per producer instance); past that every request from the address is answered
   * 429 with Retry-After until the bucket refills. Default 30.
   */
  authFailuresPerMinute: z.number().int().min(1).default(DEFAULTS.authFailuresPerMinute),
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
  /** How often the console reads offsets, group states and DLQ ends from Kafka, in ms. Default 2 s. */
  sampleIntervalMs: z.number().int().min(250).max(60_000).default(DEFAULTS.consoleSampleIntervalMs),
  /** How far back its charts and recent events reach, in minutes. Default 10. */
  windowMinutes: z.number().int().min(1).max(120).default(DEFAULTS.consoleWindowMinutes),
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
    maxPageSize: DEFAULTS.taxiiMaxPageSize,
    defaultPageSize: DEFAULTS.taxiiDefaultPageSize,
    windowDays: DEFAULTS.retentionDays,
  }),
  console: consoleSettingsSchema.default({
    operators: [],
    sampleIntervalMs: DEFAULTS.consoleSampleIntervalMs,
    windowMinutes: DEFAULTS.consoleWindowMinutes,
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

/** Every problem in a zod error as `{ path, message }`, paths dotted (`orgs.1.id`). */
export function zodDetails(error: z.ZodError, prefix: (string | number)[] = []): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/** Replaces `${NAME}` in every string of the parsed YAML; each missing variable is a problem at its path. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  problems: ErrorDetail[],
): unknown {
  if (typeof value === 'string') {
    // Kafka users' passwords stay references until `provision` resolves them (resolveUserPasswords).
    if (path.length === 4 && path[0] === 'kafka' && path[1] === 'users' && path[3] === 'password')
      return value;
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') {
        problems.push({
          path: path.join('.') || '(root)',
          message: `environment variable ${name} is not set`,
        });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, String(i)], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], problems)]),
    );
  }
  return value;
}

function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  return [...new Set(values.filter((v) => (seen.has(v) ? true : (seen.add(v), false))))];
}

/** Checks that need the whole file: unique ids and references to known orgs. */
function crossCheck(config: z.infer<typeof configSchema>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const orgIds = new Set(config.orgs.map((o) => o.id));
  for (const dup of duplicates(config.orgs.map((o) => o.id))) {
    problems.push({ path: 'orgs', message: `duplicate org id "${dup}"` });
  }
  for (const dup of duplicates(config.subscriptions.map((s) => s.id))) {
    problems.push({ path: 'subscriptions', message: `duplicate subscription id "${dup}"` });
  }
  for (const dup of duplicates(config.console.operators.map((o) => o.username))) {
    problems.push({ path: 'console.operators', message: `duplicate operator "${dup}"` });
  }
  for (const dup of duplicates(config.apiKeys.map((k) => k.name))) {
    problems.push({ path: 'apiKeys', message: `duplicate API key name "${dup}"` });
  }
  for (const dup of duplicates(config.apiKeys.map((k) => k.sha256))) {
    problems.push({ path: 'apiKeys', message: `two API keys share the hash ${dup.slice(0, 12)}…` });
  }
  config.apiKeys.forEach((k, i) => {
    if (!orgIds.has(k.org)) problems.push({ path: `apiKeys.${i}.org`, message: `unknown org "${k.org}"` });
  });
  const readers = config.taxii.readers;
  for (const dup of duplicates(readers.map((r) => r.name))) {
    problems.push({ path: 'taxii.readers', message: `duplicate TAXII reader name "${dup}"` });
  }
  for (const dup of duplicates(readers.map((r) => r.sha256))) {
    problems.push({
      path: 'taxii.readers',
      message: `two TAXII readers share the hash ${dup.slice(0, 12)}…`,
    });
  }
  readers.forEach((r, i) => {
    if (!orgIds.has(r.org))
      problems.push({ path: `taxii.readers.${i}.org`, message: `unknown org "${r.org}"` });
  });
  if (config.taxii.defaultPageSize > config.taxii.maxPageSize) {
    problems.push({ path: 'taxii.defaultPageSize', message: 'must not be larger than taxii.maxPageSize' });
  }
  const { users, sasl } = config.kafka;
  for (const dup of duplicates(users.map((u) => u.username))) {
    problems.push({ path: 'kafka.users', message: `duplicate Kafka username "${dup}"` });
  }
  users.forEach((u, i) => {
    const org = config.orgs.find((o) => o.id === u.org);
    if (!org) problems.push({ path: `kafka.users.${i}.org`, message: `unknown org "${u.org}"` });
    else if (u.role === 'producer' && !org.publicKey) {
      problems.push({
        path: `kafka.users.${i}.role`,
        message: `org "${u.org}" has no publicKey, so nothing it published could be verified`,
      });
    }
  });
  if (users.length > 0 && !sasl?.mechanism.startsWith('scram')) {
    problems.push({
      path: 'kafka.sasl',
      message: 'kafka.users needs kafka.sasl with a SCRAM mechanism: provision creates SCRAM users',
    });
  }
  config.subscriptions.forEach((s, i) => {
    if (!orgIds.has(s.org))
      problems.push({ path: `subscriptions.${i}.org`, message: `unknown org "${s.org}"` });
    (s.filter.sourceOrgs ?? []).forEach((o, j) => {
      if (!orgIds.has(o)) {
        problems.push({ path: `subscriptions.${i}.filter.sourceOrgs.${j}`, message: `unknown org "${o}"` });
      }
    });
  });
  return problems;
}

/**
 * The part of the config one process uses. A service resolves only its own
 * part's `${VARIABLES}`, so it is given only its own secrets: a producer
 * needs no webhook secret, a subscriber no other org's, the receiver no
 * Kafka credentials and no dedup store's, the console no API-key hashes and no dedup store's.
 * Without a scope (provision, dlq, dev, tests) the whole file is resolved and checked.
 */
export type ConfigScope =
  | { role: 'producer'; org: string }
  | { role: 'subscriber'; org: string }
  | { role: 'taxii'; org: string }
  | { role: 'receiver' }
  | { role: 'console' };

function scoped(raw: unknown, scope: ConfigScope | undefined): unknown {
  if (!scope || !isRecord(raw)) return raw;
  const ofOrg = (list: unknown, org: string): unknown =>
    Array.isArray(list) ? list.filter((item) => isRecord(item) && item.org === org) : list;
  const withoutDedup = (subs: unknown): unknown =>
    Array.isArray(subs)
      ? subs.map((sub: unknown) => {
          if (!isRecord(sub)) return sub;
          const { dedup: _dedup, ...rest } = sub;
          return rest;
        })
      : subs;
  const out = { ...raw };
  // Only an org's TAXII server reads reader credentials, and only its own org's.
  if (isRecord(raw.taxii)) {
    out.taxii = { ...raw.taxii, readers: scope.role === 'taxii' ? ofOrg(raw.taxii.readers, scope.org) : [] };
  }
  // Only the console checks operators' passwords; no other service is given their hashes.
  if (scope.role !== 'console') delete out.console;
  if (scope.role === 'console') {
    // The operator's view: every subscription (a replay delivers with its webhook secrets, bypassing
    // dedup, so no dedup store's credentials), the operator's Kafka user, no API keys.
    out.apiKeys = [];
    out.subscriptions = withoutDedup(raw.subscriptions);
  } else if (scope.role === 'taxii') {
    out.subscriptions = [];
    out.apiKeys = [];
  } else if (scope.role === 'producer') {
    out.subscriptions = [];
    out.apiKeys = ofOrg(raw.apiKeys, scope.org);
  } else if (scope.role === 'subscriber') {
    out.subscriptions = ofOrg(raw.subscriptions, scope.org);
    out.apiKeys = [];
  } else {
    // The receiver only checks signatures: no Kafka, no dedup store.
    out.apiKeys = [];
    if (isRecord(raw.kafka)) {
      const { sasl: _sasl, users: _users, ...kafka } = raw.kafka;
      out.kafka = kafka;
    }
    out.subscriptions = withoutDedup(raw.subscriptions);
  }
  return out;
}

/** Validates an already-parsed config object. Throws TR_CONFIG listing every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, scope?: ConfigScope): Config {
  const problems: ErrorDetail[] = [];
  const substituted = substituteEnv(scoped(raw, scope), env, [], problems);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) {
    // A value whose variable is missing is already reported; its empty stand-in would only add noise.
    const unset = new Set(problems.map((p) => p.path));
    problems.push(...zodDetails(parsed.error).filter((d) => !unset.has(d.path)));
  } else problems.push(...crossCheck(parsed.data));
  if (problems.length > 0 || !parsed.success) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `invalid config: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
      { details: problems },
    );
  }
  const brokers =
    parsed.data.kafka.brokers ??
    (env.KAFKA_BROKERS ? env.KAFKA_BROKERS.split(',').map((b) => b.trim()) : ['127.0.0.1:9092']);
  return { ...parsed.data, kafka: { ...parsed.data.kafka, brokers } };
}

/**
 * The passwords of `kafka.users`, read from the environment variables the
 * config names. Throws TR_CONFIG listing every variable missing or too weak.
 */
export function resolveUserPasswords(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const problems: ErrorDetail[] = [];
  const passwords = new Map<string, string>();
  config.kafka.users.forEach((u, i) => {
    const name = envReference(u.password)!;
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push({
        path: `kafka.users.${i}.password`,
        message: `environment variable ${name} is not set`,
      });
    } else if (value.length < 16) {
      problems.push({
        path: `kafka.users.${i}.password`,
        message: `${name} is shorter than 16 characters`,
      });
    } else passwords.set(u.username, value);
  });
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `cannot create the Kafka users: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
      { details: problems },
    );
  }
  return passwords;
}

/** Reads and validates the YAML config file at `path`. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, scope?: ConfigScope): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ThreatRelayError('TR_CONFIG', `cannot read config file ${path}`, { cause });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => ({
      path: `line ${e.linePos?.[0].line ?? '?'}`,
      message: e.message,
    }));
    throw new ThreatRelayError('TR_CONFIG', `config file ${path} is not valid YAML`, { details });
  }
  return parseConfig(doc.toJS(), env, scope);
}

/** How an API key is stored in `apiKeys[].sha256`: lowercase hex SHA-256 of the key. */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new TAXII reader secret for `org`: `trt_<org>_` and base64url of 24 random bytes. Only its hash is stored. */
export function newTaxiiSecret(org: string): string {
  return `trt_${org}_${randomBytes(24).toString('base64url')}`;
}

/** A new API key for `org`: `trk_<org>_` and base64url of 24 random bytes. Only its hash is stored. */
export function newApiKey(org: string): string {
  return `trk_${org}_${randomBytes(24).toString('base64url')}`;
}

export function orgById(config: Config, orgId: string): OrgConfig | undefined {
  return config.orgs.find((o) => o.id === orgId);
}
