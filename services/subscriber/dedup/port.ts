import { join } from 'node:path';
import type { Config, SubscriptionConfig } from '../../platform/config/config';
import { isThreatRelayError, ThreatRelayError } from '../../contract/errors';
import { routeOf, type ThreatEvent } from '../../contract/model';
import type { DeliveryKind } from '../../contract/webhook-body';
import { createDedupStore, type BatchMark, type DedupOutcome, type DedupStore } from './';

/** What the dedup store decided for one record; `deliver` says what, if anything, goes out. */
export interface DeliveryDecision {
  deliver: DeliveryKind | undefined;
  /** Corroborations: every org reporting the key; revocations: the orgs that still report it. */
  sources?: string[];
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

/**
 * What each store outcome means for delivery. A repeat (the same record read
 * again after a crash) is acted on exactly like the original, so nothing
 * recorded but not delivered is lost.
 */
export function deliveryDecisionFor(outcome: DedupOutcome, corroborations: boolean): DeliveryDecision {
  switch (outcome.kind) {
    case 'new':
      return { deliver: 'indicator.published', outcome: 'new' };
    case 'revoked':
      // Names the orgs that still report the key: the receiver learns whether it is withdrawn for good.
      return { deliver: 'indicator.revoked', sources: outcome.remainingSources, outcome: 'revoked' };
    case 'corroborated':
      return corroborations
        ? { deliver: 'indicator.corroborated', sources: outcome.sources, outcome: 'corroborated' }
        : { deliver: undefined, outcome: 'corroborated' };
    case 'duplicate':
    case 'republished':
    case 'revocation-unknown':
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
        kind: p.kind === 'IndicatorPublished' ? 'published' : 'revoked',
        tlp: routeOf(p).tlp,
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
