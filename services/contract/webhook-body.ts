import type { ThreatEvent } from './model';
import type { Warning } from './warninglists';

/** The event types a receiver sees. */
export type DeliveryKind = 'indicator.published' | 'indicator.corroborated' | 'indicator.revoked';

/** What a receiver gets in the `native` format: one JSON body per webhook request, each event with its own eventId. */
export interface NativeEvent {
  type: DeliveryKind;
  eventId: string;
  key: string;
  source: { org: string; submitter: string };
  producedAt: string;
  indicator?: Record<string, unknown>;
  /** For `indicator.corroborated`: every org that has reported this key so far. */
  sources?: string[];
  sourceCount?: number;
  revocation?: Record<string, unknown>;
  /** For `indicator.revoked`: the orgs whose reports of the key still stand (empty: withdrawn by all). */
  remainingSources?: string[];
}

/** The JSON body of one `native` webhook request. */
export interface WebhookBody {
  subscription: string;
  events: NativeEvent[];
}

/**
 * The native JSON of one event. `warnings` (the reader's, see warnings.ts)
 * go in `indicator.warnings`, in place of whatever the record claimed.
 */
export function toNative(
  event: ThreatEvent,
  as?: NativeEvent['type'],
  sources?: string[],
  warnings?: Warning[],
): NativeEvent {
  const base = { eventId: event.eventId, source: event.source, producedAt: event.producedAt };
  const p = event.payload;
  if (p.kind === 'IndicatorPublished') {
    const type = as ?? 'indicator.published';
    return {
      type,
      key: p.key,
      ...base,
      indicator: { ...p.indicator, ...(warnings ? { warnings } : {}) },
      ...(sources ? { sources, sourceCount: sources.length } : {}),
    };
  }
  const { kind: _kind, key, ...revocation } = p;
  return {
    type: 'indicator.revoked',
    key,
    ...base,
    revocation,
    ...(sources ? { remainingSources: sources } : {}),
  };
}
