import { isStixBundle, type DemoDelivery } from '../../receiver/receiver';
import type { NativeEvent } from '../../contract/webhook-body';
import { printable } from '../printable';
import { countDeliveries } from './feed';
import type { DevNetwork } from './types';

/** What `threatrelay dev` prints: the banner, one line per delivered event, the summary. */

const TAG_WIDTH = 21;
const KIND_WIDTH = 23;

function describeEvent(tag: string, e: NativeEvent): string {
  const ind = (e.indicator ?? e.revocation ?? {}) as Record<string, unknown>;
  const what =
    ind.type === null || ind.type === undefined
      ? `key ${e.key.slice(0, 16)}…`
      : `${String(ind.type).padEnd(15)} ${String(ind.value)}${ind.platform ? ` (${String(ind.platform)})` : ''}`;
  const why =
    e.type === 'indicator.corroborated'
      ? `; now reported by ${(e.sources ?? []).join(', ')}`
      : e.type === 'indicator.revoked'
        ? `; reason: ${String(ind.reason)}`
        : '';
  return `  ${tag}${e.type.padEnd(KIND_WIDTH)} ${what}  from ${e.source.org}, tlp:${String(ind.tlp)}${why}`;
}

function describeBundle(tag: string, objects: Record<string, unknown>[]): string[] {
  // A bundle carries its own marking definitions and identities; resolve
  // the references against those, as any STIX consumer would.
  const names = new Map(objects.map((o) => [String(o.id), String(o.name)]));
  return objects
    .filter((o) => o.type === 'indicator')
    .map((o) => {
      const kind = o.revoked === true ? 'stix indicator, revoked' : 'stix indicator';
      const tlp = ((o.object_marking_refs as string[] | undefined) ?? [])
        .map((ref) => names.get(ref) ?? ref)
        .join(' ');
      return `  ${tag}${kind.padEnd(KIND_WIDTH)} ${String(o.pattern)}  ${tlp}, from ${names.get(String(o.created_by_ref)) ?? '?'}`;
    });
}

/** One line per event (native) or per indicator object (STIX) of a verified webhook request. */
export function describeDelivery(delivery: DemoDelivery): string[] {
  const tag = `[${delivery.subscription}]`.padEnd(TAG_WIDTH);
  const { body } = delivery;
  const lines = isStixBundle(body)
    ? describeBundle(tag, body.objects)
    : body.events.map((e) => describeEvent(tag, e));
  // Values and reasons come from Kafka records: escaped for the terminal.
  return lines.map(printable);
}

export function summarize(network: DevNetwork): string[] {
  const counts = countDeliveries(network.deliveries);
  return network.config.subscriptions.map((s) => {
    const c = counts[s.id];
    const parts = (['indicator.published', 'indicator.corroborated', 'indicator.revoked'] as const)
      .filter((kind) => c?.[kind])
      .map((kind) => `${c![kind]} ${kind.slice('indicator.'.length)}`);
    const what = parts.length ? parts.join(', ') : 'nothing';
    const how = s.format === 'stix21' ? ' (STIX indicator objects)' : '';
    return `  ${s.id.padEnd(TAG_WIDTH - 2)}${what}${how}, in ${c?.requests ?? 0} signed request(s)`;
  });
}

export function printBanner(network: DevNetwork, print: (line: string) => void): void {
  const { config } = network;
  const row = (label: string, rest: string): void => print(`  ${label.padEnd(21)}${rest}`);
  print('\nThreatRelay demo network is up:');
  row('Kafka', `${config.kafka.brokers.join(',')}   topics ${config.kafka.topicPrefix}.*`);
  row('demo receiver', `${network.receiverUrl}/hooks/<subscription>   verifies every signature`);
  for (const [org, p] of Object.entries(network.producers)) {
    row(`producer ${org}`, `${p.url}   API key ${network.apiKeys[org]}`);
  }
  for (const [org, s] of Object.entries(network.subscribers)) {
    row(`subscriber ${org}`, `${s.url}   /readyz /metrics   ${s.subscriptions.join(', ')}`);
  }
  for (const [org, t] of Object.entries(network.taxii)) {
    const r = network.taxiiReaders[org]!;
    row(`TAXII 2.1 ${org}`, `${t.discoveryUrl}   user ${r.username}  password ${r.password}`);
  }
  const c = network.console;
  row('operator console', `${c.url}/   user ${c.username}  password ${c.password}`);
  const [org, producer] = Object.entries(network.producers)[0] ?? [];
  if (org && producer) {
    print(
      `\nPublish your own:\n  curl -s -X POST ${producer.url}/v1/indicators -H 'authorization: Bearer ${network.apiKeys[org]}' \\\n` +
        `    -H 'content-type: application/json' -d '{"type":"domain","value":"vote-by-text[.]com","category":"disinformation","tlp":"green"}'`,
    );
  }
  print(
    '\nEach [subscription] line below is one event of a webhook request whose signature the receiver verified.\n',
  );
}
