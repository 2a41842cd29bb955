import type { Indicator } from '../../contract/model';
import { mergeWarnings, type Warning, type WarninglistIndex } from '../../contract/warninglists';
import type { SubscriptionConfig } from '../../platform/config/config';

/**
 * The reader's warnings for a published indicator: what its own snapshot
 * finds, merged with what the record claims (records carry `warnings` from
 * schema v3 on; older ones claim nothing), so a source that leaves a warning
 * out cannot keep it from a receiver.
 */
export function readerWarnings(
  index: WarninglistIndex,
  indicator: Indicator & { warnings?: readonly Warning[] },
): Warning[] {
  return mergeWarnings(
    indicator.warnings ?? [],
    index.warnings(indicator.type, indicator.value),
    index.versions,
  );
}

/** The first list of the subscription's `warninglists.drop` the indicator is on, if any. */
export function droppedBy(
  filter: SubscriptionConfig['filter'],
  warnings: readonly Warning[],
): string | undefined {
  const drop = filter.warninglists?.drop;
  if (!drop) return undefined;
  return warnings.find((w) => drop.includes(w.list))?.list;
}
