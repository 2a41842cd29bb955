import { ThreatRelayError, type ErrorDetail } from '../../contract/errors';
import type { ThreatEvent } from '../../contract/model';
import type { Warning, WarninglistIndex } from '../../contract/warninglists';
import type { OrgConfig } from '../../platform/config/config';

/**
 * The producer's side of warninglists: every published item is looked up in
 * the snapshot; by default its receipt just lists the matches (inform), a
 * list the org names in `warninglists.reject` refuses the whole request
 * (block), and a value in `warninglists.exceptions` is never warned about.
 */

export interface WarninglistPolicy {
  index: WarninglistIndex;
  reject: ReadonlySet<string>;
  /** Lowercased: exceptions are compared with the canonical value, ignoring case. */
  exceptions: ReadonlySet<string>;
}

export function warninglistPolicy(index: WarninglistIndex, org: OrgConfig): WarninglistPolicy {
  return {
    index,
    reject: new Set(org.warninglists?.reject ?? []),
    exceptions: new Set((org.warninglists?.exceptions ?? []).map((e) => e.trim().toLowerCase())),
  };
}

/** The warnings of each event, in order; undefined for a revocation, which states no value to warn about. */
export function warningsOf(
  policy: WarninglistPolicy,
  events: readonly ThreatEvent[],
): (Warning[] | undefined)[] {
  return events.map((event) => {
    if (event.payload.kind !== 'IndicatorPublished') return undefined;
    const { type, value } = event.payload.indicator;
    if (policy.exceptions.has(value.toLowerCase())) return [];
    return policy.index.warnings(type, value);
  });
}

/**
 * Refuses the request when an item is on a list the org rejects: one detail
 * per item and list, at the item's value path, so the publisher knows which
 * item to take out and why. Nothing is published.
 */
export function refuseRejected(
  policy: WarninglistPolicy,
  warnings: readonly (Warning[] | undefined)[],
  valuePath: (index: number) => string,
): void {
  if (policy.reject.size === 0) return;
  const details: ErrorDetail[] = warnings.flatMap((found, index) =>
    (found ?? [])
      .filter((w) => policy.reject.has(w.list))
      .map((w) => ({
        path: valuePath(index),
        message: `is on warninglist "${w.list}" (version ${w.version}), which this org rejects`,
      })),
  );
  if (details.length > 0) {
    throw new ThreatRelayError(
      'TR_INVALID_VALUE',
      'one or more values are on a warninglist this org rejects',
      {
        details,
      },
    );
  }
}

/**
 * Puts each item's warnings on its record (schema v3), so a reader sees what
 * the producer found without a snapshot of its own, and merges it with its own.
 */
export function attachRecordWarnings<P extends { kind: string; indicator?: { warnings: Warning[] } }>(
  payloads: readonly P[],
  warnings: readonly (Warning[] | undefined)[],
): void {
  payloads.forEach((payload, index) => {
    const found = warnings[index];
    if (payload.indicator && found) payload.indicator.warnings = found;
  });
}
