import { PDQ_DEFAULT_MIN_QUALITY } from '../../contract/pdq';

/**
 * Every default the config falls back to, in one place: the schema applies
 * them, and the few callers that run without a loaded config (the CLI's
 * flags, benches) read them here.
 */
export const DEFAULTS = {
  topicPrefix: 'threatrelay',
  partitions: 3,
  replicationFactor: 1,
  /** How long the community, direct and DLQ topics keep records: as long as dedup remembers them. */
  retentionDays: 30,
  /** How long the producer waits for Kafka before answering 503. */
  produceTimeoutMs: 10_000,
  httpPort: 8080,
  bodyLimitBytes: 1024 * 1024,
  maxBatchItems: 1000,
  rateLimitPerMinute: 600,
  /** Failed authentications a client address may make per minute before it gets 429s. */
  authFailuresPerMinute: 30,
  /** What the producer's Idempotency-Key replay cache may hold: 64 MiB of answers. */
  idempotencyCacheBytes: 64 * 1024 * 1024,
  webhookTimeoutMs: 10_000,
  webhookBatchSize: 100,
  dedupWindowDays: 30,
  /** An org's floor for a pdq report's quality (Meta's reference: discard below 50). */
  pdqMinQuality: PDQ_DEFAULT_MIN_QUALITY,
  /** How far a record's producedAt may lie in the future before it counts as stale. */
  maxClockSkewSeconds: 300,
  /** TAXII: most objects per page, and the page size when a request names none. */
  taxiiMaxPageSize: 1000,
  taxiiDefaultPageSize: 100,
  /** Webhook retries: exponential backoff with full jitter from 500 ms, waits of at most 60 s, given up after 1 h. */
  retry: { initialDelayMs: 500, maxDelayMs: 60_000, maxElapsedMs: 3_600_000 },
  /** The operator console: how often it samples Kafka, and how far back its charts reach. */
  consoleSampleIntervalMs: 2000,
  consoleWindowMinutes: 10,
  consolePort: 8095,
  taxiiPort: 8096,
  /** Progress (docs/monitoring.md): records waiting this long with the committed offset unmoved is a stall. */
  stalledAfterSeconds: 60,
  /** How often subscribers and TAXII servers read their groups' progress into /metrics. */
  progressSampleIntervalMs: 5000,
  /** An open transaction held at one offset longer than this is hanging: the producers' 30 s timeout, and 10 s more. */
  hangingAfterSeconds: 40,
} as const;
