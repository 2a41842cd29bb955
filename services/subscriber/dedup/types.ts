import { ThreatRelayError } from '../../contract/errors';
import type { Tlp } from '../../contract/model';
import { ORG_ID_PATTERN, UUID_PATTERN } from '../../contract/well-formed';

/**
 * The dedup store of one subscription, shared by every instance of its
 * consumer group. It answers one question per event — what this event means
 * for this subscription — and remembers the answer.
 *
 * Crash safety: the consumer calls `record` before delivering and commits the
 * Kafka offset only after delivery. If `record` simply marked the eventId as
 * seen, a crash between `record` and delivery would make the re-read record a
 * "duplicate" and the indicator would never arrive: accepted data lost. So
 * `record` stores its first outcome per eventId, together with where that copy
 * of the event was read (`position`):
 *
 * - the same eventId read again at the SAME position is a re-read of a record
 *   whose offset was never committed (crash, rebalance, offset reset): the
 *   store returns the original outcome with `repeat: true` and changes
 *   nothing, and the consumer acts on it again (redelivers when the original
 *   was delivered). Receivers dedup by eventId, so the worst case is a
 *   repeated delivery, never a lost one;
 * - the same eventId at ANOTHER position is a second copy of the event (a
 *   retry anywhere upstream): `duplicate`, dropped. Every copy of an event
 *   has the same key, so lands in the same partition in order: after a crash
 *   the first copy is re-read (and redelivered) before any later copy.
 *
 * This needs no second "commit" call after delivery, so there is no window in
 * which the store and the delivery can disagree.
 */

/** What an event means for the subscription, the first time it is recorded. */
export type DedupDecision =
  /** The first live report of the key: deliver as `indicator.published`. */
  | { kind: 'new' }
  /**
   * The same org reported the key again under a new eventId (an update, e.g.
   * new confidence or validUntil). Its expiry is refreshed; nothing is
   * delivered, because the receiver already holds the indicator from this
   * source and a second `published` for it would read as a new indicator.
   */
  | { kind: 'republished' }
  /**
   * Another org reported a known key. `sources` are all orgs with a live
   * report of it, this one included, sorted; the consumer delivers
   * `indicator.corroborated` or drops it, per subscription.
   */
  | { kind: 'corroborated'; sources: string[] }
  /**
   * The org withdrew a key this subscription received from it: deliver. When
   * `remainingSources` is empty the key is forgotten, so a later report is new.
   */
  | { kind: 'revoked'; remainingSources: string[] }
  /** A revocation for a key this subscription never got (or no longer holds) from that org: drop. */
  | { kind: 'revocation-unknown' };

/** The webhook batch an event went out in (`markBatch`), so a re-read can send exactly that batch again. */
export interface BatchMark {
  webhookId: string;
  /** How many events the batch held. */
  size: number;
}

export type DedupOutcome =
  /** A second copy of an event already recorded from another position: drop. */
  | { kind: 'duplicate' }
  /**
   * `repeat` is true when this exact record was recorded before and the outcome is the original one;
   * `batch` then names the webhook batch it was handed to, if it got that far.
   */
  | (DedupDecision & { repeat: boolean; batch?: BatchMark });

export interface DedupInput {
  /** Remembered per source org: one org can never shadow another org's event by reusing its eventId. */
  eventId: string;
  /** The indicator key (lowercase hex SHA-256 of `type:canonicalValue`). */
  key: string;
  /** The source org of the event. */
  org: string;
  kind: 'published' | 'revoked';
  /**
   * The TLP of the report (a revocation carries its original's): an event
   * names other orgs' reports only when they were no more restricted than it
   * (rules.ts, `revealedOrgs`).
   */
  tlp: Tlp;
  /**
   * Where this copy of the event was read, the same string every time the same
   * record is read again, e.g. `topic/partition/offset`. Opaque to the store.
   */
  position: string;
  /**
   * The indicator's `validUntil` in epoch ms, or null. A report is forgotten at
   * the earlier of this and the dedup window. Ignored for revocations.
   */
  validUntil?: number | null;
}

/**
 * What a store writes must have its exact shape before it gets there: a
 * hostile record could otherwise hand the store a key it cannot hold and
 * fail every attempt to move past it. The reader checks these on decode
 * already; the stores check again because they are what would stall.
 */
export function assertStorable(input: DedupInput): void {
  const bad = (field: string): never => {
    throw new ThreatRelayError('TR_DEDUP_REJECTED', `dedup input ${field} has not the shape a store keeps`);
  };
  if (!UUID_PATTERN.test(input.eventId)) bad('eventId');
  if (!/^[0-9a-f]{64}$/.test(input.key)) bad('key');
  if (!ORG_ID_PATTERN.test(input.org)) bad('org');
  if (input.position.length > 512) bad('position');
  if (input.validUntil != null && !Number.isFinite(input.validUntil)) bad('validUntil');
}

export interface DedupStore {
  /**
   * Atomic check-and-set for one event: no two callers, in this process or in
   * another instance of the group, see the same state. Resolves once the new
   * state is committed: every later call sees it and it survives a crash of
   * this process (`embedded`: an lmdb commit, not yet flushed to disk, see
   * `durable`; `redis`: in the server, as durable as its persistence
   * settings). `now` (epoch ms) is for tests of expiry.
   */
  record(input: DedupInput, now?: number): Promise<DedupOutcome>;
  /**
   * Resolves once everything recorded and marked so far would also survive a
   * crash of the machine (`embedded`: lmdb's disk flush; `redis`: at once,
   * the server's persistence decides). The consumer waits for it before it
   * commits an offset past records, so one flush serves every record since
   * the last commit instead of one per `record`.
   */
  durable(): Promise<void>;
  /**
   * Remembers which webhook batch these events are about to go out in, before
   * the POST: after a crash between the POST and the offset commit, a re-read
   * regroups exactly these events and sends them under the same webhook-id,
   * which receivers recognise, instead of under a new one. Events the store
   * does not hold are ignored.
   */
  markBatch(events: readonly Pick<DedupInput, 'org' | 'eventId'>[], mark: BatchMark): Promise<void>;
  /** Resolves when the store answers at all: tells a store that is down from one record it refuses. */
  ping(): Promise<void>;
  /** Releases the store's resources; idempotent. */
  close(): Promise<void>;
}
