/**
 * Names shared by every service: Kafka header names and the client id. One
 * place, so a producer and a subscriber can never disagree on a header's
 * spelling. The defaults the config falls back to are in platform/config.
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
  /**
   * A replay mark, not a dead letter: the DLQ `partition:offset` of a letter
   * a replay has handled, so the next replay does not send it again.
   */
  dlqReplayed: 'threatrelay-dlq-replayed',
} as const;

export const CLIENT_ID = 'threatrelay';
