import type { SightingKind, ThreatEvent } from './model';
import type { Warning } from './warninglists';

/** The event types a receiver sees. */
export type DeliveryKind =
  | 'indicator.published'
  | 'indicator.corroborated'
  | 'indicator.updated'
  | 'indicator.revoked'
  | 'indicator.sighted';

/** What the orgs that sighted a key say of it so far, as one subscription may know it. */
export interface OpinionView {
  /** confirmed: true positives and no false positive; disputed: both; false_positive: only those; else unconfirmed. */
  status: 'confirmed' | 'disputed' | 'false_positive' | 'unconfirmed';
  /** Counted sightings per kind (one per org and kind per hour). */
  counts: Record<SightingKind, number>;
  /** The same, per sighting org. */
  orgs: Record<string, Partial<Record<SightingKind, number>>>;
}

/** One org's report of a key, as a receiver sees it in `indicator.corroborated`. */
export interface SourceLabels {
  org: string;
  tlp: string;
  /** Absent for a report a store kept before it kept labels. */
  category?: string;
  severity?: string;
  confidence?: number;
  validUntil?: string | null;
}

/** The labels an `indicator.updated` compares against: what the org reported before. */
export interface PreviousLabels {
  category: string;
  severity: string;
  confidence: number;
  validUntil: string | null;
}

/** What the dedup store adds to an event beyond its own fields. */
export interface DeliveryDetail {
  /** `indicator.corroborated` and `indicator.revoked`: the orgs that report the key (that the event may name). */
  sources?: string[];
  /** `indicator.corroborated`: those orgs' reports, in the same order. */
  reports?: SourceLabels[];
  /** `indicator.updated`: the material fields that changed, and their values before. */
  changed?: string[];
  previous?: PreviousLabels;
  /** `indicator.sighted`: the opinion on the key so far. */
  opinion?: OpinionView;
}

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
  /** For `indicator.corroborated`: each of those orgs with the labels of its report. */
  reports?: SourceLabels[];
  /** For `indicator.updated`: which material fields changed (category, severity, confidence, validUntil, description, tags). */
  changed?: string[];
  /** For `indicator.updated`: category, severity, confidence and validUntil as the org reported them before. */
  previous?: PreviousLabels;
  /** For `indicator.sighted`: what the sighting org saw (org is `source.org`). */
  sighting?: Record<string, unknown>;
  /** For `indicator.sighted`: the opinion on the key so far, this sighting included. */
  opinion?: OpinionView;
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
  detail: DeliveryDetail = {},
  warnings?: Warning[],
): NativeEvent {
  const base = { eventId: event.eventId, source: event.source, producedAt: event.producedAt };
  const p = event.payload;
  const { sources } = detail;
  if (p.kind === 'Sighting') {
    const { kind: _kind, key, sightingKind, ...rest } = p;
    return {
      type: 'indicator.sighted',
      key,
      ...base,
      sighting: { kind: sightingKind, ...rest },
      ...(detail.opinion ? { opinion: detail.opinion } : {}),
    };
  }
  if (p.kind === 'IndicatorPublished') {
    const type = as ?? 'indicator.published';
    return {
      type,
      key: p.key,
      ...base,
      indicator: { ...p.indicator, ...(warnings ? { warnings } : {}) },
      ...(sources ? { sources, sourceCount: sources.length } : {}),
      ...(detail.reports ? { reports: detail.reports } : {}),
      ...(detail.changed ? { changed: detail.changed } : {}),
      ...(detail.previous ? { previous: detail.previous } : {}),
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
