import { isStixBundle, type DemoDelivery } from '../../receiver/receiver';
import type { DeliveryKind } from '../../contract/webhook-body';
import { SAMPLE_FEED, SAMPLE_FEED_EXPECTED, type DeliveryCounts, type FeedStep } from '../sample-feed';
import type { DevNetwork } from './types';

/** The sample feed the demo publishes, and what each subscription has received of it. */

export interface FeedResult {
  step: FeedStep;
  status: number;
  body: unknown;
}

function describeItem(item: Record<string, unknown>): string {
  const platform = item.platform ? ` (${String(item.platform)})` : '';
  const recipients = item.recipients ? ` for ${(item.recipients as string[]).join(', ')}` : '';
  return `    ${String(item.type).padEnd(15)} ${String(item.value)}${platform}  tlp:${String(item.tlp)}${recipients}`;
}

/** Posts the sample feed step by step: each one is acknowledged by Kafka before the next, so the order is the story's. */
export async function publishSampleFeed(
  network: DevNetwork,
  print: (line: string) => void = console.log,
  signal?: AbortSignal,
): Promise<FeedResult[]> {
  const results: FeedResult[] = [];
  for (const step of SAMPLE_FEED) {
    signal?.throwIfAborted();
    const producer = network.producers[step.org];
    if (!producer) {
      print(`${step.org}: no producer in this network; step skipped`);
      continue;
    }
    print(`${step.org} ${step.route.endsWith('/revoke') ? 'revokes' : 'publishes'}: ${step.note}`);
    for (const item of step.items) print(describeItem(item));
    const res = await fetch(`${producer.url}${step.route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${network.apiKeys[step.org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(step.items),
      ...(signal ? { signal } : {}),
    });
    const body: unknown = await res.json().catch(() => undefined);
    results.push({ step, status: res.status, body });
    print(
      res.status === 202
        ? `    → 202: Kafka acknowledged ${step.items.length}`
        : `    → ${res.status}: ${JSON.stringify(body)}`,
    );
  }
  return results;
}

/** What each subscription has received so far; a STIX indicator object counts as published, or revoked when it says so. */
export function countDeliveries(
  deliveries: DemoDelivery[],
): Record<string, DeliveryCounts & { requests: number }> {
  const counts: Record<string, DeliveryCounts & { requests: number }> = {};
  for (const d of deliveries) {
    const c = (counts[d.subscription] ??= { requests: 0 });
    c.requests++;
    const { body } = d;
    const kinds: DeliveryKind[] = isStixBundle(body)
      ? body.objects
          .filter((o) => o.type === 'indicator')
          .map((o) => (o.revoked === true ? 'indicator.revoked' : 'indicator.published'))
      : body.events.map((e) => e.type);
    for (const kind of kinds) c[kind] = (c[kind] ?? 0) + 1;
  }
  return counts;
}

function reached(got: DeliveryCounts | undefined, want: DeliveryCounts): boolean {
  return (Object.entries(want) as [DeliveryKind, number][]).every(([kind, n]) => (got?.[kind] ?? 0) >= n);
}

/**
 * Waits until every subscription has received at least what `expected` says;
 * false when `timeoutMs` passed (or `signal` aborted) first.
 */
export async function waitForDeliveries(
  network: DevNetwork,
  expected: Record<string, DeliveryCounts> = SAMPLE_FEED_EXPECTED,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = countDeliveries(network.deliveries);
    if (Object.entries(expected).every(([sub, want]) => reached(counts[sub], want))) return true;
    if (Date.now() > deadline || signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
