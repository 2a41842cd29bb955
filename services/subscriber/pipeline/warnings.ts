import type { Warning } from '../../contract/warninglists';
import type { SubscriptionConfig } from '../../platform/config/config';

/** The first list of the subscription's `warninglists.drop` the indicator is on, if any. */
export function droppedBy(
  filter: SubscriptionConfig['filter'],
  warnings: readonly Warning[],
): string | undefined {
  const drop = filter.warninglists?.drop;
  if (!drop) return undefined;
  return warnings.find((w) => drop.includes(w.list))?.list;
}
