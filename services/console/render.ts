import type { PartitionStatus } from '../platform/lag';
import type { ConsoleModel, RateSeries, SubscriptionView } from './state';

/**
 * The console's HTML, rendered on the server: the whole page for a GET, and
 * the same sections again as fragments for the event stream, which the page's
 * one script swaps in. Everything from Kafka (header values, reasons, org
 * ids) goes through `esc`.
 */

export function esc(text: unknown): string {
  return String(text ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const time = (iso: string | undefined): string =>
  iso ? `<time datetime="${esc(iso)}">${esc(iso.slice(11, 19))}</time>` : '—';

/** A bar chart of a series as inline SVG, with its numbers in the accessible name. */
export function sparkline(series: RateSeries, label: string, now = Date.now()): string {
  const points = series.points(now);
  const max = Math.max(1, ...points);
  const total = points.reduce((a, b) => a + b, 0);
  const w = 4;
  const h = 28;
  const bars = points
    .map((n, i) => {
      const bh = n === 0 ? 0 : Math.max(2, Math.round((n / max) * h));
      return `<rect x="${i * w}" y="${h - bh}" width="${w - 1}" height="${bh}"></rect>`;
    })
    .join('');
  const seconds = series.bucketMs / 1000;
  const name = `${label}: ${total} in the last ${Math.round((points.length * seconds) / 60)} min, per ${seconds} s oldest first: ${points.join(', ')}`;
  return `<svg class="chart" role="img" aria-label="${esc(name)}" width="${points.length * w}" height="${h}" viewBox="0 0 ${points.length * w} ${h}"><title>${esc(name)}</title>${bars}</svg> <span class="total">${total}</span>`;
}

function statusSection(m: ConsoleModel): string {
  return m.kafka.ok
    ? `<p>Kafka answered at ${time(m.kafka.at)}.</p>`
    : `<p class="bad">${esc(m.kafka.problem ?? 'waiting for the first sample')}.</p>`;
}

function orgsSection(m: ConsoleModel): string {
  const rows = m.orgs
    .map(
      (o) =>
        `<tr><th scope="row">${esc(o.id)}</th><td>${esc(o.name)}</td><td>${esc(o.kind)}</td><td>${esc(o.roles.join(', ') || '—')}</td><td>${esc(o.maxTlp)}</td></tr>`,
    )
    .join('');
  return `<table><caption>Orgs in the config</caption><thead><tr><th scope="col">org</th><th scope="col">name</th><th scope="col">kind</th><th scope="col">role</th><th scope="col">max community TLP</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const seconds = (n: number): string => (n === 0 ? '—' : `${n} s`);

/** A stall or a hanging transaction, or the dash: what needs the operator's eye in a subscription row. */
function stallCell(s: SubscriptionView): string {
  const stalled = s.partitions.filter((p) => p.stalledSince !== undefined);
  const hanging = s.partitions.filter((p) => p.hanging !== undefined);
  const since = stalled.map((p) => p.stalledSince!).sort()[0];
  const parts = [
    ...(since
      ? [`<span class="bad">stalled since ${time(since)}</span> (${stalled.length} partition(s))`]
      : []),
    ...(hanging.length > 0
      ? [`<span class="bad">${hanging.length} partition(s) held by a hanging transaction</span>`]
      : []),
  ];
  return `<td data-stalled-since="${esc(since ?? '')}" data-hanging="${hanging.length}">${parts.join('<br>') || '—'}</td>`;
}

function hangingText(p: PartitionStatus): string {
  const h = p.hanging;
  if (!h) return '—';
  const who = h.transactionalId
    ? `transactional id <code>${esc(h.transactionalId)}</code>`
    : `transactional id unknown (${esc(h.unknownBecause ?? 'not looked up')})`;
  return `<span class="bad">hanging since ${time(h.since)}</span> at offset ${esc(h.startOffset)}, ${who}${h.producerId ? `, producer id ${esc(h.producerId)}` : ''}`;
}

/** Per partition, on demand: the same numbers `threatrelay subscription status` prints. */
function partitionsDetail(s: SubscriptionView): string {
  const rows = s.partitions
    .map(
      (p) =>
        `<tr data-partition="${esc(`${p.topic}/${p.partition}`)}"><th scope="row">${esc(p.topic)}/${p.partition}</th><td>${esc(p.position)}</td><td>${esc(p.end)}</td><td data-behind="${p.behind}">${p.behind}</td><td data-oldest-waiting="${p.oldestWaitingSeconds}">${seconds(p.oldestWaitingSeconds)}</td><td data-stalled-since="${esc(p.stalledSince ?? '')}">${time(p.stalledSince)}</td><td data-hanging="${p.hanging ? esc(p.hanging.transactionalId ?? 'unknown') : ''}">${hangingText(p)}</td><td>${time(p.lastDeliveryAt)}</td><td>${time(p.lastCommitAt)}</td></tr>`,
    )
    .join('');
  return `<details data-partitions="${esc(s.id)}"><summary>${esc(s.id)}: ${s.partitions.length} partition(s)</summary><table><caption>Per partition: where the group resumes (position), how far it can read (end: the last stable offset), records not yet processed</caption><thead><tr><th scope="col">partition</th><th scope="col">position</th><th scope="col">end</th><th scope="col">behind</th><th scope="col">oldest waiting</th><th scope="col">stalled since</th><th scope="col">hanging transaction</th><th scope="col">last delivery</th><th scope="col">last commit</th></tr></thead><tbody>${rows || '<tr><td colspan="9">Not sampled yet.</td></tr>'}</tbody></table></details>`;
}

function subscriptionRow(s: SubscriptionView, now: number): string {
  const oldest = s.partitions.reduce((n, p) => Math.max(n, p.oldestWaitingSeconds), 0);
  return `<tr data-subscription="${esc(s.id)}"><th scope="row">${esc(s.id)}</th><td>${esc(s.org)}</td><td class="state state-${esc(s.state)}" data-state="${esc(s.state)}">${esc(s.state)}<br><small>${esc(s.stateDetail)}</small></td><td data-lag="${s.lag ?? ''}">${s.lag ?? '—'}</td><td data-oldest-waiting="${oldest}">${seconds(oldest)}</td>${stallCell(s)}<td data-last-delivery="${esc(s.lastDeliveryAt ?? '')}">${time(s.lastDeliveryAt)}</td><td data-last-commit="${esc(s.lastCommitAt ?? '')}">${time(s.lastCommitAt)}</td><td>${s.lastError ? `${time(s.lastError.at)} ${esc(s.lastError.text)}` : '—'}</td><td>${s.deadLetters.count}</td><td>${sparkline(s.committed, `${s.id} committed records`, now)}</td></tr><tr class="partitions"><td colspan="11">${partitionsDetail(s)}</td></tr>`;
}

function subscriptionsSection(m: ConsoleModel, now: number): string {
  const rows = [...m.subscriptions.values()].map((s) => subscriptionRow(s, now)).join('');
  return `<table><caption>Subscriptions: state; behind (records not yet processed, all partitions); the oldest waiting record's age; stalls; the last delivery a receiver accepted and the last offset commit seen; committed records over the window</caption><thead><tr><th scope="col">subscription</th><th scope="col">org</th><th scope="col">state</th><th scope="col">behind</th><th scope="col">oldest waiting</th><th scope="col">stalled</th><th scope="col">last delivery</th><th scope="col">last commit</th><th scope="col">last error</th><th scope="col">dead letters</th><th scope="col">committed</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function deadLettersSection(m: ConsoleModel): string {
  const withLetters = [...m.subscriptions.values()].filter((s) => s.deadLetters.count > 0);
  if (withLetters.length === 0) return '<p>No dead letters.</p>';
  return withLetters
    .map((s) => {
      const rows = s.deadLetters.byCode
        .map(
          (c) =>
            `<tr><th scope="row"><code>${esc(c.code)}</code></th><td>${c.count}</td><td>${time(c.latestAt)}</td><td class="reason">${esc(c.latestReason)}</td></tr>`,
        )
        .join('');
      return `<section class="dlq" data-dlq="${esc(s.id)}" aria-labelledby="dlq-${esc(s.id)}"><h3 id="dlq-${esc(s.id)}">${esc(s.id)}: ${s.deadLetters.count} dead letter(s)</h3><table><caption>Latest reason by code</caption><thead><tr><th scope="col">code</th><th scope="col">count</th><th scope="col">latest</th><th scope="col">latest reason</th></tr></thead><tbody>${rows}</tbody></table><button type="button" data-replay="${esc(s.id)}" data-count="${s.deadLetters.replayable}"${s.deadLetters.replayable === 0 ? ' disabled' : ''}>Replay the ${s.deadLetters.replayable} delivery failure(s) of ${esc(s.id)}</button></section>`;
    })
    .join('');
}

function producersSection(m: ConsoleModel, now: number): string {
  const rows = [...m.producers.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([org, series]) =>
        `<tr><th scope="row">${esc(org)}</th><td>${sparkline(series, `${org} events`, now)}</td></tr>`,
    )
    .join('');
  return `<table><caption>Events published per source org (copies to several recipients count once)</caption><thead><tr><th scope="col">source org</th><th scope="col">events</th></tr></thead><tbody>${rows || '<tr><td colspan="2">No events in the window.</td></tr>'}</tbody></table>`;
}

function eventsSection(m: ConsoleModel): string {
  const rows = [...m.events]
    .reverse()
    .map(
      (e) =>
        `<tr data-event="${esc(e.eventId)}" data-verified="${e.verified}"><td>${time(e.producedAt)}</td><th scope="row">${esc(e.sourceOrg)}</th><td>${esc(e.kind)}</td><td>${esc(e.type ?? '—')}</td><td>${esc(e.category ?? '—')}</td><td class="tlp tlp-${esc(e.tlp ?? 'none')}">${esc(e.tlp ? `TLP:${e.tlp.toUpperCase()}` : '—')}</td><td>${esc(e.recipients.join(', ') || '—')}</td><td>${e.verified ? 'yes' : '<strong>no</strong>'}</td></tr>`,
    )
    .join('');
  return `<table><caption>Recent events, newest first (never an indicator's value)</caption><thead><tr><th scope="col">produced</th><th scope="col">source org</th><th scope="col">event</th><th scope="col">type</th><th scope="col">category</th><th scope="col">TLP</th><th scope="col">recipients</th><th scope="col">signature verified</th></tr></thead><tbody>${rows || '<tr><td colspan="8">No events in the window.</td></tr>'}</tbody></table>`;
}

/** The page's live sections by element id: what the event stream sends when one changes. */
export function renderSections(m: ConsoleModel, now = Date.now()): Record<string, string> {
  return {
    status: statusSection(m),
    orgs: orgsSection(m),
    subscriptions: subscriptionsSection(m, now),
    deadletters: deadLettersSection(m),
    producers: producersSection(m, now),
    events: eventsSection(m),
  };
}

export function renderPage(m: ConsoleModel, windowMinutes: number, now = Date.now()): string {
  const s = renderSections(m, now);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ThreatRelay operator console</title>
<link rel="stylesheet" href="console.css">
<script src="console.js" defer></script>
</head>
<body>
<header>
<h1>ThreatRelay operator console</h1>
<div id="status" aria-live="polite">${s.status}</div>
<p id="live" data-live="off">Live updates: connecting…</p>
</header>
<main>
<section aria-labelledby="h-subscriptions"><h2 id="h-subscriptions">Subscriptions</h2><div id="subscriptions">${s.subscriptions}</div></section>
<section aria-labelledby="h-deadletters"><h2 id="h-deadletters">Dead letters</h2>
<p id="replay-result" role="status" aria-live="polite"></p>
<div id="deadletters">${s.deadletters}</div></section>
<section aria-labelledby="h-producers"><h2 id="h-producers">Throughput per producer, last ${windowMinutes} min</h2>
<p>Counted from the community and direct topics. An event whose signature does not verify with the key of the org its header names is counted under <em>(unverified)</em>.</p>
<div id="producers">${s.producers}</div></section>
<section aria-labelledby="h-events"><h2 id="h-events">Recent events</h2><div id="events">${s.events}</div></section>
<section aria-labelledby="h-orgs"><h2 id="h-orgs">Orgs</h2><div id="orgs">${s.orgs}</div></section>
</main>
</body>
</html>
`;
}
