import type { ThreatEvent } from '../shared/model';

/** What a receiver gets: one JSON body per webhook request, each event with its own eventId. */
export interface NativeEvent {
  type: 'indicator.published' | 'indicator.revoked';
  eventId: string;
  key: string;
  source: { org: string; submitter: string };
  producedAt: string;
  indicator?: Record<string, unknown>;
  revocation?: Record<string, unknown>;
}

export interface WebhookBody {
  subscription: string;
  events: NativeEvent[];
}

export function toNative(event: ThreatEvent): NativeEvent {
  const base = { eventId: event.eventId, source: event.source, producedAt: event.producedAt };
  const p = event.payload;
  if (p.kind === 'IndicatorPublished') {
    return { type: 'indicator.published', key: p.key, ...base, indicator: { ...p.indicator } };
  }
  const { kind: _kind, key, ...revocation } = p;
  return { type: 'indicator.revoked', key, ...base, revocation };
}
