import type { ThreatEvent } from '../../contract/model';
import type { SubscriptionConfig } from '../../platform/config/config';
import { toStixBundle } from '../../stix/export';
import type { Warning } from '../../contract/warninglists';

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

/** The JSON body of one webhook request: native events, or one STIX 2.1 bundle whose id is the webhook id. */
export function webhookBody(
  subscription: Pick<SubscriptionConfig, 'id' | 'format'>,
  items: readonly {
    event: ThreatEvent;
    as: DeliveryKind;
    sources?: string[] | undefined;
    warnings?: Warning[] | undefined;
  }[],
  webhookId: string,
): string {
  if (subscription.format === 'stix21') {
    return JSON.stringify(
      toStixBundle(
        items.map((i) => i.event),
        webhookId,
        items.map((i) => i.warnings),
      ),
    );
  }
  const body: WebhookBody = {
    subscription: subscription.id,
    events: items.map((i) => toNative(i.event, i.as, i.sources, i.warnings)),
  };
  return JSON.stringify(body);
}
