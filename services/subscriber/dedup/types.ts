import { ThreatRelayError } from '../../contract/errors';
import { SIGHTING_KINDS, type SightingKind, type Tlp } from '../../contract/model';
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
   * The same org reported the key again with a material change (`changed`,
   * against `previous`, the labels it last reported): deliver
   * `indicator.updated`. A change below the bar leaves `previous` as it was.
   */
  | { kind: 'updated'; changed: MaterialField[]; previous: Labels }
  /**
   * Another org reported a known key. `sources` are the orgs with a live
   * report of it the event may name, this one included, sorted; `reports`
   * their labels, in the same order. `escalates`: its category differs from,
   * or its severity is above, every other live report's, so it is delivered
   * even to a subscription that turned corroborations off.
   */
  | { kind: 'corroborated'; sources: string[]; reports: SourceReport[]; escalates: boolean }
  /**
   * The org withdrew a key this subscription received from it: deliver. When
   * `remainingSources` is empty the key is forgotten, so a later report is new.
   */
  | { kind: 'revoked'; remainingSources: string[] }
  /** A revocation for a key this subscription never got (or no longer holds) from that org: drop. */
  | { kind: 'revocation-unknown' }
  /** A sighting of a key the subscription holds: deliver `indicator.sighted` with the opinion so far. */
  | { kind: 'sighted'; opinion: OpinionEntry[] }
  /** A sighting of a key the subscription does not hold: drop, so a sighting reveals no indicator. */
  | { kind: 'sighting-unknown' };

/**
 * One org's sightings of one kind on a key. `counted` are those a status
 * counts: one per org and kind per hour (SIGHTING_HOUR_MS), so one org
 * repeating itself cannot outvote another.
 */
export interface OpinionEntry {
  org: string;
  kind: SightingKind;
  counted: number;
  /** Epoch ms of the last counted sighting. */
  countedAt: number;
}

/** Sightings of one org and kind closer together than this count once toward the status. */
export const SIGHTING_HOUR_MS = 60 * 60 * 1000;

/**
 * What a store remembers of an org's report, per key: small numbers only, so
 * both stores (and the redis store's Lua script) compare them alike. Free
 * text is a 32-bit digest: enough to see that it changed.
 */
export interface Labels {
  /** Index in the model's CATEGORIES. */
  category: number;
  /** Index in SEVERITIES, low (0) to critical (3). */
  severity: number;
  confidence: number;
  /** Epoch ms, or null. */
  validUntil: number | null;
  /** Digest of the description (0 for none). */
  description: number;
  /** Digest of the sorted tags (0 for none). */
  tags: number;
}

/** What makes a re-publication an update, in the order events list them. */
export const MATERIAL_FIELDS = [
  'category',
  'severity',
  'confidence',
  'validUntil',
  'description',
  'tags',
] as const;
export type MaterialField = (typeof MATERIAL_FIELDS)[number];
/** A confidence change below this is no update. */
export const CONFIDENCE_STEP = 10;

/** One org's live report as a corroboration names it; `labels` null for a report kept before labels were. */
export interface SourceReport {
  org: string;
  /** TLP rank (rules.ts, `tlpRank`). */
  tlp: number;
  labels: Labels | null;
}

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
  kind: 'published' | 'revoked' | 'sighted';
  /** For `sighted`: what the org says it saw. */
  sightingKind?: SightingKind;
  /**
   * The TLP of the report (a revocation carries its original's): an event
   * names other orgs' reports only when they were no more restricted than it
   * (rules.ts, `revealedOrgs`).
   */
  tlp: Tlp;
  /** A report's labels (absent for revocations): what tells an update from a republish, and escalations. */
  labels?: Labels;
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
  if (input.kind === 'sighted' && !SIGHTING_KINDS.includes(input.sightingKind!)) bad('sightingKind');
  const l = input.labels;
  if (l) {
    const byte = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 255;
    const word = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
    if (!byte(l.category) || !byte(l.severity) || !byte(l.confidence)) bad('labels');
    if (!word(l.description) || !word(l.tags)) bad('labels');
    if (l.validUntil !== null && !(Number.isInteger(l.validUntil) && l.validUntil >= 0))
      bad('labels.validUntil');
  }
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
