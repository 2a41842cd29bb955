import type { SubscriptionConfig } from '../../platform/config/config';
import { identityOf, type ThreatEvent } from '../../contract/model';

/**
 * The subscription's own filter: which types, categories, confidence, tags
 * and sources it asked for. Revocations pass the type and source checks only:
 * they carry no category or confidence, and a receiver that got an indicator
 * must be able to learn it was withdrawn. Sightings pass: they reach only
 * keys the subscription already delivered, which passed this filter then.
 */
export function passesFilter(filter: SubscriptionConfig['filter'], event: ThreatEvent): boolean {
  const p = event.payload;
  if (p.kind === 'Sighting') return true;
  if (filter.sourceOrgs && !filter.sourceOrgs.includes(event.source.org)) return false;
  const type = identityOf(p).type;
  if (filter.types && type !== null && !filter.types.includes(type)) return false;
  if (p.kind === 'IndicatorRevoked') return true;
  const ind = p.indicator;
  if (filter.categories && !filter.categories.includes(ind.category)) return false;
  if (filter.minConfidence !== undefined && ind.confidence < filter.minConfidence) return false;
  if (filter.tags && !filter.tags.some((t) => ind.tags.includes(t))) return false;
  return true;
}
