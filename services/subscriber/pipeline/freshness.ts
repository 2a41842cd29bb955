import type { RecordChecks } from '../../contract/record-read';
import type { SubscriberSettings, SubscriptionConfig } from '../../platform/config/config';

/** A subscription's freshness limits: its dedup window, and the network's allowed clock skew. */
export function freshnessFor(
  settings: SubscriberSettings,
  subscription: SubscriptionConfig,
): RecordChecks['freshness'] {
  return {
    maxAgeMs: subscription.dedup.windowDays * 86_400_000,
    maxSkewMs: settings.maxClockSkewSeconds * 1000,
  };
}
