import { replayClassOf } from '../subscriber';
import type { IndicatorType, Tlp } from '../contract/model';
import type { PartitionStatus } from '../platform/lag';
import { eventScope } from '../contract/identity';

/**
 * What the console knows, kept in memory and rebuilt from Kafka at every
 * start: the console has no database of its own. Pure data and pure
 * functions; the readers in this folder fill it, `render.ts` draws it.
 */

/** Counts per time bucket over a sliding window: the small charts. */
export class RateSeries {
  private readonly counts: number[];
  private head: number;

  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
    start: number = Date.now(),
  ) {
    this.counts = new Array<number>(buckets).fill(0);
    this.head = Math.floor(start / bucketMs);
  }

  /** Adds `n` to the bucket of time `at`; too old to fit is ignored, later moves the window. */
  add(n: number, at: number = Date.now()): void {
    const bucket = Math.floor(at / this.bucketMs);
    this.advance(bucket);
    const age = this.head - bucket;
    if (age < 0 || age >= this.buckets) return;
    this.counts[((bucket % this.buckets) + this.buckets) % this.buckets]! += n;
  }

  /** Oldest first, one count per bucket, the last one being the bucket of `now`. */
  points(now: number = Date.now()): number[] {
    this.advance(Math.floor(now / this.bucketMs));
    const out: number[] = [];
    for (let b = this.head - this.buckets + 1; b <= this.head; b += 1) {
      out.push(this.counts[((b % this.buckets) + this.buckets) % this.buckets]!);
    }
    return out;
  }

  private advance(bucket: number): void {
    if (bucket <= this.head) return;
    const steps = Math.min(bucket - this.head, this.buckets);
    for (let i = 1; i <= steps; i += 1) {
      const b = this.head + i;
      this.counts[((b % this.buckets) + this.buckets) % this.buckets] = 0;
    }
    this.head = bucket;
  }
}

export type SubscriptionState = 'consuming' | 'disabled' | 'stopped' | 'unknown';

export interface DeadLetterCode {
  code: string;
  count: number;
  latestReason: string;
  latestAt: string;
}

export interface DeadLetterSummary {
  count: number;
  /** Delivery failures no replay has handled yet: what the page's replay button sends (dlq/policy.ts). */
  replayable: number;
  /** Most recent first. */
  byCode: DeadLetterCode[];
  /** The newest few, newest first. */
  latest: { at: string; code: string; reason: string; source: string }[];
}

export interface SubscriptionView {
  id: string;
  org: string;
  format: string;
  state: SubscriptionState;
  /** Why: the switch's reason when disabled, the group's state otherwise. */
  stateDetail: string;
  /** Records not yet processed over every partition (platform/lag.ts); undefined before the first sample. */
  lag: number | undefined;
  /** Each source partition as of the last sample: position, end, behind, stall, hanging transaction. */
  partitions: PartitionStatus[];
  /** When the console last saw the group's committed offsets advance. */
  lastCommitAt: string | undefined;
  /** The last webhook batch the receiver accepted, as the subscriber wrote it with its offset commits. */
  lastDeliveryAt: string | undefined;
  lastError: { at: string; text: string } | undefined;
  deadLetters: DeadLetterSummary;
  /** Committed records per bucket: delivered, filtered, deduplicated or dead-lettered. */
  committed: RateSeries;
  /** Sum of committed positions at the last sample, to turn the next one into a delta. */
  lastPosition: number | undefined;
}

/**
 * One event as the console shows it. There is no field for the indicator's
 * value or key: the console never holds them, so no page or event stream can
 * leak a TLP:AMBER+STRICT or TLP:RED value.
 */
export interface RecentEvent {
  eventId: string;
  kind: 'published' | 'revoked' | 'sighted' | 'unreadable';
  type: IndicatorType | null;
  category: string | null;
  sourceOrg: string;
  tlp: Tlp | null;
  /** Direct topics it was addressed to (amber+strict, red), as org ids. */
  recipients: string[];
  producedAt: string;
  /** The signature verifies with the public key of the org `sourceOrg` names, and the record agrees. */
  verified: boolean;
}

export interface ConsoleModel {
  startedAt: number;
  orgs: { id: string; name: string; kind: string; roles: string[]; maxTlp: string }[];
  subscriptions: Map<string, SubscriptionView>;
  /** Events per source org (distinct events: a record copied to several direct topics counts once). */
  producers: Map<string, RateSeries>;
  /** Newest last, at most `RECENT_EVENTS`. */
  events: RecentEvent[];
  kafka: { ok: boolean; at: string | undefined; problem: string | undefined };
}

export const RECENT_EVENTS = 50;

/** Most event scopes `addRecentEvent` remembers, the oldest forgotten first. */
export const SEEN_EVENTS = 10_000;

/**
 * What makes two records the same event: its eventId within its source org,
 * as everywhere else on the bus, so one org cannot shadow another's event by
 * reusing its eventId. A record that does not verify is kept apart from every
 * verified one: the org its header names is only what its writer claimed.
 */
export function recentEventScope(e: Pick<RecentEvent, 'eventId' | 'sourceOrg' | 'verified'>): string {
  const scope = eventScope({ org: e.sourceOrg, eventId: e.eventId });
  return e.verified ? scope : `(unverified) ${scope}`;
}

/**
 * Adds `e` to the recent events unless it is another copy of one seen lately
 * (the same event on several direct topics): a copy still on the list adds
 * its recipients to it. `seen` holds the scopes seen lately, at most
 * `SEEN_EVENTS`. Returns whether `e` was new.
 */
export function addRecentEvent(
  model: Pick<ConsoleModel, 'events'>,
  seen: Set<string>,
  e: RecentEvent,
): boolean {
  const scope = recentEventScope(e);
  if (seen.has(scope)) {
    // Every event on the list is among those seen (the list is shorter and drops its oldest first).
    const copy = model.events.find((x) => recentEventScope(x) === scope);
    if (copy) for (const r of e.recipients) if (!copy.recipients.includes(r)) copy.recipients.push(r);
    return false;
  }
  seen.add(scope);
  if (seen.size > SEEN_EVENTS) seen.delete(seen.values().next().value!);
  model.events.push(e);
  if (model.events.length > RECENT_EVENTS) model.events.shift();
  return true;
}

export function emptyDeadLetters(): DeadLetterSummary {
  return { count: 0, replayable: 0, byCode: [], latest: [] };
}

/** Dead letters grouped by code, most recent code first, with the newest reason of each. */
export function summarizeDeadLetters(
  entries: readonly {
    at: string;
    code: string;
    reason: string;
    source: { topic: string; partition: number; offset: string };
    replayed?: boolean;
  }[],
  latest = 5,
): DeadLetterSummary {
  const byCode = new Map<string, DeadLetterCode>();
  for (const e of entries) {
    const c = byCode.get(e.code) ?? { code: e.code, count: 0, latestReason: e.reason, latestAt: e.at };
    c.count += 1;
    if (e.at >= c.latestAt) {
      c.latestAt = e.at;
      c.latestReason = e.reason;
    }
    byCode.set(e.code, c);
  }
  const newest = [...entries].sort((a, b) => b.at.localeCompare(a.at));
  return {
    count: entries.length,
    replayable: entries.filter((e) => !e.replayed && replayClassOf(e.code) === 'delivery').length,
    byCode: [...byCode.values()].sort((a, b) => b.latestAt.localeCompare(a.latestAt)),
    latest: newest.slice(0, latest).map((e) => ({
      at: e.at,
      code: e.code,
      reason: e.reason,
      source: `${e.source.topic}/${e.source.partition}@${e.source.offset}`,
    })),
  };
}

/** The state a subscription is in, from its switch and its consumer group. */
export function subscriptionState(
  sw: { disabled: boolean; reason: string; at: string } | undefined,
  group: { state: string; members: number } | undefined,
): { state: SubscriptionState; detail: string } {
  if (sw?.disabled) return { state: 'disabled', detail: `${sw.reason} (${sw.at})` };
  if (!group) return { state: 'unknown', detail: 'group not described yet' };
  if (group.members > 0) {
    return { state: 'consuming', detail: `${group.members} member(s), group ${group.state}` };
  }
  return { state: 'stopped', detail: `no member in the group (${group.state})` };
}
