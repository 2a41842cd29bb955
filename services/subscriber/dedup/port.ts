import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config, SubscriptionConfig } from '../../platform/config/config';
import { isThreatRelayError, ThreatRelayError } from '../../contract/errors';
import { routeOf, type ThreatEvent } from '../../contract/model';
import {
  CATEGORIES,
  SEVERITIES,
  SIGHTING_KINDS,
  TLP_LEVELS,
  type Indicator,
  type SightingKind,
} from '../../contract/model';
import type { DeliveryDetail, DeliveryKind, OpinionView, SourceLabels } from '../../contract/webhook-body';
import { createDedupStore, type BatchMark, type DedupOutcome, type DedupStore } from './';
import type { Labels, OpinionEntry, SourceReport } from './types';

/** What the dedup store decided for one record; `deliver` says what, if anything, goes out. */
export interface DeliveryDecision {
  deliver: DeliveryKind | undefined;
  /** Corroborations: every org reporting the key and their labels; revocations: the orgs that still report it; updates: what changed. */
  detail?: DeliveryDetail;
  /** Why nothing is delivered (metric label). */
  outcome: string;
  /** A re-read of a record already handed to a webhook batch: that batch, to send again as it was. */
  batch?: BatchMark;
}

/**
 * The consumer's view of the dedup store. `position` (`topic/partition/offset`)
 * tells a re-read after a crash from a second copy of the event.
 */
export type DedupPort = (event: ThreatEvent, position: string) => Promise<DeliveryDecision>;

/** A 32-bit digest of free text: enough for a store to see that it changed. */
function digest(text: string | null): number {
  return text === null || text === '' ? 0 : createHash('sha256').update(text).digest().readUInt32BE(0);
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** What the store remembers of a report (types.ts, Labels). */
export function labelsOf(i: Indicator): Labels {
  return {
    category: CATEGORIES.indexOf(i.category),
    severity: SEVERITIES.indexOf(i.severity),
    confidence: i.confidence,
    validUntil: i.validUntil === null ? null : Date.parse(i.validUntil),
    description: digest(i.description),
    // Order carries no meaning in tags; \n cannot be in one.
    tags: digest([...i.tags].sort().join('\n')),
  };
}

/** The opinion a receiver sees: counted sightings per kind and per org, and the status they make. */
export function opinionView(entries: readonly OpinionEntry[]): OpinionView {
  const counts = Object.fromEntries(SIGHTING_KINDS.map((k) => [k, 0])) as Record<SightingKind, number>;
  const orgs: OpinionView['orgs'] = {};
  for (const e of entries) {
    counts[e.kind] += e.counted;
    orgs[e.org] = { ...orgs[e.org], [e.kind]: e.counted };
  }
  const tp = counts.true_positive > 0;
  const fp = counts.false_positive > 0;
  const status = tp && fp ? 'disputed' : tp ? 'confirmed' : fp ? 'false_positive' : 'unconfirmed';
  return { status, counts, orgs };
}

function sourceLabels(report: SourceReport): SourceLabels {
  const l = report.labels;
  return {
    org: report.org,
    tlp: TLP_LEVELS[report.tlp] ?? 'red',
    ...(l
      ? {
          category: CATEGORIES[l.category] ?? 'other',
          severity: SEVERITIES[l.severity] ?? 'low',
          confidence: l.confidence,
          validUntil: iso(l.validUntil),
        }
      : {}),
  };
}

/**
 * What each store outcome means for delivery. A repeat (the same record read
 * again after a crash) is acted on exactly like the original, so nothing
 * recorded but not delivered is lost. With corroborations off, a report that
 * escalates (a new category, a higher severity) still goes out: a benign
 * first report must not hide a harmful later one.
 */
export function deliveryDecisionFor(outcome: DedupOutcome, corroborations: boolean): DeliveryDecision {
  switch (outcome.kind) {
    case 'new':
      return { deliver: 'indicator.published', outcome: 'new' };
    case 'revoked':
      // Names the orgs that still report the key: the receiver learns whether it is withdrawn for good.
      return {
        deliver: 'indicator.revoked',
        detail: { sources: outcome.remainingSources },
        outcome: 'revoked',
      };
    case 'corroborated':
      return corroborations || outcome.escalates
        ? {
            deliver: 'indicator.corroborated',
            detail: { sources: outcome.sources, reports: outcome.reports.map(sourceLabels) },
            outcome: 'corroborated',
          }
        : { deliver: undefined, outcome: 'corroborated' };
    case 'updated': {
      const p = outcome.previous;
      const previous = {
        category: CATEGORIES[p.category] ?? 'other',
        severity: SEVERITIES[p.severity] ?? 'low',
        confidence: p.confidence,
        validUntil: iso(p.validUntil),
      };
      return {
        deliver: 'indicator.updated',
        detail: { changed: outcome.changed, previous },
        outcome: 'updated',
      };
    }
    case 'sighted':
      return {
        deliver: 'indicator.sighted',
        detail: { opinion: opinionView(outcome.opinion) },
        outcome: 'sighted',
      };
    case 'duplicate':
    case 'republished':
    case 'revocation-unknown':
    case 'sighting-unknown':
      return { deliver: undefined, outcome: outcome.kind };
  }
}

/**
 * The port over one subscription's store: the record's fields as the store
 * takes them, the store's outcome as a delivery decision. A record the store
 * refuses is the record's fault (`TR_DEDUP_REJECTED`: dead-lettered);
 * anything else is the store's (`TR_DEDUP_UNAVAILABLE`: retried without commit).
 */
export function dedupPort(
  store: Pick<DedupStore, 'record'>,
  subscription: Pick<SubscriptionConfig, 'id' | 'corroborations'>,
): DedupPort {
  return async (event: ThreatEvent, position: string) => {
    const p = event.payload;
    let outcome: DedupOutcome;
    try {
      outcome = await store.record({
        eventId: event.eventId,
        key: p.key,
        org: event.source.org,
        kind: p.kind === 'IndicatorPublished' ? 'published' : p.kind === 'Sighting' ? 'sighted' : 'revoked',
        ...(p.kind === 'Sighting' ? { sightingKind: p.sightingKind } : {}),
        tlp: routeOf(p).tlp,
        ...(p.kind === 'IndicatorPublished' ? { labels: labelsOf(p.indicator) } : {}),
        position,
        validUntil:
          p.kind === 'IndicatorPublished' && p.indicator.validUntil
            ? Date.parse(p.indicator.validUntil)
            : null,
      });
    } catch (cause) {
      // A record the store refuses is the record's fault: dead-lettered. Anything else is the store's:
      // retried without commit.
      if (isThreatRelayError(cause, 'TR_DEDUP_REJECTED')) throw cause;
      throw new ThreatRelayError('TR_DEDUP_UNAVAILABLE', `dedup store of ${subscription.id} failed`, {
        cause,
      });
    }
    const decision = deliveryDecisionFor(outcome, subscription.corroborations);
    return outcome.kind !== 'duplicate' && outcome.batch ? { ...decision, batch: outcome.batch } : decision;
  };
}

export interface OpenedDedup {
  port: DedupPort;
  markBatch: DedupStore['markBatch'];
  /** Resolves once what was recorded so far survives a crash of the machine (DedupStore.durable). */
  durable(): Promise<void>;
  /** Resolves when the store answers at all. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the store the subscription's `dedup` config names; undefined for `none`. */
export function openDedup(
  config: Config,
  subscription: SubscriptionConfig,
  dataDir: string,
): OpenedDedup | undefined {
  const d = subscription.dedup;
  if (d.store === 'none') return undefined;
  const store =
    d.store === 'embedded'
      ? createDedupStore({
          kind: 'embedded',
          path: join(dataDir, 'dedup'),
          name: subscription.id,
          windowDays: d.windowDays,
        })
      : createDedupStore({
          kind: 'redis',
          url: d.redisUrl!,
          // {…}: the subscription's keys share one Redis Cluster slot, as the store's script needs.
          prefix: `${config.kafka.topicPrefix}:dedup:{${subscription.id}}:`,
          windowDays: d.windowDays,
        });
  const port = dedupPort(store, subscription);
  return {
    port,
    markBatch: (events, mark) => store.markBatch(events, mark),
    durable: () => store.durable(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
