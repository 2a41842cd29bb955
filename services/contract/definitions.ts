/**
 * Names and defaults shared by every service: Kafka header names, topic name
 * parts and the defaults the config falls back to. One place, so a producer
 * and a subscriber can never disagree on a header's spelling.
 */

/** Kafka record headers. */
export const HEADERS = {
  /** Record signatures v1: base64 Ed25519 signature of the record value by the source org's key. */
  signature: 'threatrelay-signature',
  /** Record signatures v2: the record's Merkle proof and its transaction's root signature (batch-signature.ts). */
  batchSignature: 'threatrelay-batch-signature',
  /** The source org id; tells the subscriber which public key to verify with. */
  sourceOrg: 'threatrelay-source-org',
  /** The event id, so tools can find a record without decoding it. */
  eventId: 'threatrelay-event-id',
  /** Dead letters: why, and where the record came from. */
  dlqReason: 'threatrelay-dlq-reason',
  dlqCode: 'threatrelay-dlq-code',
  dlqTopic: 'threatrelay-dlq-source-topic',
  dlqPartition: 'threatrelay-dlq-source-partition',
  dlqOffset: 'threatrelay-dlq-source-offset',
  dlqAt: 'threatrelay-dlq-at',
  /** Headers of the original that had a null value, comma-separated: kafkajs cannot write those again. */
  dlqNullHeaders: 'threatrelay-dlq-null-headers',
} as const;

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
  pdqMinQuality: 50,
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
} as const;

export const CLIENT_ID = 'threatrelay';
