/**
 * The soak's ledger: from what producers acknowledged (202 receipts), what
 * receivers verified (2xx answers to requests whose Standard Webhooks
 * signature checked out) and what the dead-letter topics hold, decide for
 * every subscription whether each entitled event arrived exactly once or was
 * dead-lettered with a reason. Pure: no Kafka, no HTTP, so the rules are
 * unit-tested on their own (test/unit/soak/ledger.test.ts).
 *
 * Expectations follow the entitlement and dedup rules of docs/trust-model.md and
 * docs/receiving.md, written out here
 * independently of the subscriber's code:
 * - entitled: community TLPs (clear < green < amber) up to the org's maxTlp;
 *   amber+strict and red only when the org is a named recipient;
 * - every indicator of the workload has its own key, so dedup drops none of
 *   them and each entitled eventId is expected exactly once;
 * - the small shared set (`shared`) is the exception, where dedup decides:
 *   each org reports the same keys once (`first`) and then once more
 *   (`again`, a re-publication). Per key and subscription exactly one first
 *   report is expected (`indicator.published`), or all of them (one
 *   published, the others `indicator.corroborated`) when the subscription
 *   asks for corroborations; a re-publication is never expected.
 */

export type Tlp = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';
const COMMUNITY: readonly Tlp[] = ['clear', 'green', 'amber'];

export interface AcceptedEvent {
  eventId: string;
  key: string;
  org: string;
  tlp: Tlp;
  recipients: string[];
  /** Only for the shared set: an org's first report of a shared key, or its re-publication. */
  shared?: 'first' | 'again';
}

export interface LedgerSubscription {
  id: string;
  org: string;
  maxTlp: 'clear' | 'green' | 'amber';
  corroborations: boolean;
  /** Native bodies say the event type; STIX bundles do not. */
  format: 'native' | 'stix21';
}

export interface DeliveredEvent {
  eventId: string;
  key: string;
  /** undefined for STIX. */
  type?: string;
}

/** One webhook request a receiver answered. */
export interface WebhookRequest {
  webhookId: string;
  status: number;
  verified: boolean;
  events: DeliveredEvent[];
}

export interface DeadLetterRecord {
  eventId: string | undefined;
  code: string;
  reason: string;
}

export interface LedgerRow {
  subscription: string;
  accepted: number;
  entitled: number;
  delivered: number;
  deadLettered: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  /** 2xx answers to a webhook-id already answered 2xx: retries the receiver dedups by webhook-id. */
  redelivered: number;
  /** Requests whose signature did not verify, and dead letters without a code or reason. */
  malformed: number;
  /** Up to a few examples of each problem, for the report. */
  examples: string[];
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export function entitled(sub: Pick<LedgerSubscription, 'org' | 'maxTlp'>, e: AcceptedEvent): boolean {
  if (e.tlp === 'amber+strict' || e.tlp === 'red') return e.recipients.includes(sub.org);
  return COMMUNITY.indexOf(e.tlp) <= COMMUNITY.indexOf(sub.maxTlp);
}

const EXAMPLES = 5;

export function ledgerRow(
  sub: LedgerSubscription,
  accepted: readonly AcceptedEvent[],
  requests: readonly WebhookRequest[],
  deadLetters: readonly DeadLetterRecord[],
): LedgerRow {
  const examples: string[] = [];
  const note = (what: string): void => {
    if (examples.length < EXAMPLES) examples.push(what);
  };
  const byId = new Map(accepted.map((e) => [e.eventId, e]));
  let malformed = 0;
  let redelivered = 0;

  // eventId → the distinct webhook-ids that delivered it, and how often it appeared in one body.
  const webhookIds = new Map<string, Set<string>>();
  const answered = new Set<string>();
  let repeatedInBody = 0;
  for (const r of requests) {
    if (!r.verified) {
      malformed += 1;
      note(`request ${r.webhookId}: signature did not verify`);
      continue;
    }
    if (r.status < 200 || r.status >= 300) continue;
    if (answered.has(r.webhookId)) {
      redelivered += 1;
      continue;
    }
    answered.add(r.webhookId);
    const inBody = new Set<string>();
    for (const ev of r.events) {
      if (inBody.has(ev.eventId)) {
        repeatedInBody += 1;
        note(`${ev.eventId} twice in request ${r.webhookId}`);
      }
      inBody.add(ev.eventId);
      const ids = webhookIds.get(ev.eventId) ?? new Set<string>();
      ids.add(r.webhookId);
      webhookIds.set(ev.eventId, ids);
    }
  }

  const dead = new Map<string, DeadLetterRecord>();
  for (const d of deadLetters) {
    if (!d.code || !d.reason || !d.eventId) {
      malformed += 1;
      note(`dead letter without eventId, code or reason: ${JSON.stringify(d)}`);
      continue;
    }
    dead.set(d.eventId, d);
  }

  let entitledCount = 0;
  let deliveredCount = 0;
  let deadCount = 0;
  let lost = 0;
  let duplicated = repeatedInBody;
  let unexpected = 0;

  const outcome = (eventId: string): 'delivered' | 'dead' | 'none' =>
    webhookIds.has(eventId) ? 'delivered' : dead.has(eventId) ? 'dead' : 'none';
  const countDuplicates = (eventId: string): void => {
    const ids = webhookIds.get(eventId);
    if (ids && ids.size > 1) {
      duplicated += ids.size - 1;
      note(`${eventId} delivered under ${ids.size} webhook-ids`);
    }
    if (ids && dead.has(eventId)) {
      duplicated += 1;
      note(`${eventId} delivered and dead-lettered`);
    }
  };

  // Workload events: one key each, so each entitled eventId is expected once.
  const sharedFirsts = new Map<string, AcceptedEvent[]>();
  for (const e of accepted) {
    if (!entitled(sub, e)) continue;
    if (e.shared === 'first') {
      sharedFirsts.set(e.key, [...(sharedFirsts.get(e.key) ?? []), e]);
      continue;
    }
    if (e.shared === 'again') continue;
    entitledCount += 1;
    const o = outcome(e.eventId);
    if (o === 'delivered') deliveredCount += 1;
    else if (o === 'dead') deadCount += 1;
    else {
      lost += 1;
      note(`${e.eventId} (${e.org}, ${e.tlp}) lost`);
    }
    countDuplicates(e.eventId);
  }

  // Shared keys: one first report expected per key, or every org's with corroborations.
  for (const [key, firsts] of sharedFirsts) {
    const expected = sub.corroborations ? firsts.length : 1;
    entitledCount += expected;
    const outcomes = firsts.map((e) => outcome(e.eventId));
    const delivered = outcomes.filter((o) => o === 'delivered').length;
    const deadLettered = outcomes.filter((o) => o === 'dead').length;
    deliveredCount += Math.min(delivered, expected);
    deadCount += Math.min(deadLettered, Math.max(0, expected - delivered));
    const got = delivered + deadLettered;
    if (got < expected) {
      lost += expected - got;
      note(`shared key ${key.slice(0, 12)}…: ${got} of ${expected} reports arrived`);
    } else if (got > expected) {
      unexpected += got - expected;
      note(`shared key ${key.slice(0, 12)}…: ${got} reports arrived, ${expected} expected`);
    }
    for (const e of firsts) countDuplicates(e.eventId);
  }

  // Anything delivered that is not an entitled, expected event.
  for (const eventId of webhookIds.keys()) {
    const e = byId.get(eventId);
    if (!e) {
      unexpected += 1;
      note(`${eventId}: delivered but no producer acknowledged it`);
    } else if (!entitled(sub, e)) {
      unexpected += 1;
      note(`${eventId} (${e.org}, ${e.tlp} for ${e.recipients.join(',') || 'all'}): not entitled`);
    } else if (e.shared === 'again') {
      unexpected += 1;
      note(`${eventId}: a re-publication was delivered`);
    }
  }
  for (const eventId of dead.keys()) {
    const e = byId.get(eventId);
    if (!e || !entitled(sub, e)) {
      unexpected += 1;
      note(`${eventId}: dead-lettered but ${e ? 'not entitled' : 'never acknowledged'}`);
    }
  }

  return {
    subscription: sub.id,
    accepted: accepted.length,
    entitled: entitledCount,
    delivered: deliveredCount,
    deadLettered: deadCount,
    lost,
    duplicated,
    unexpected,
    redelivered,
    malformed,
    examples,
  };
}

export function rowPasses(row: LedgerRow): boolean {
  return row.lost === 0 && row.duplicated === 0 && row.unexpected === 0 && row.malformed === 0;
}

/**
 * The corroboration check for a native subscription that asks for them: per
 * shared key, exactly one `indicator.published` and one
 * `indicator.corroborated` for each other org's first report.
 */
export function corroborationCheck(
  sub: LedgerSubscription,
  accepted: readonly AcceptedEvent[],
  requests: readonly WebhookRequest[],
): Check {
  const name = `corroborations at ${sub.id}`;
  const firsts = new Map<string, string>();
  for (const e of accepted) if (e.shared === 'first' && entitled(sub, e)) firsts.set(e.eventId, e.key);
  const perKey = new Map<string, { published: number; corroborated: number }>();
  const seen = new Set<string>();
  for (const r of requests) {
    if (!r.verified || r.status < 200 || r.status >= 300) continue;
    for (const ev of r.events) {
      const key = firsts.get(ev.eventId);
      if (!key || seen.has(ev.eventId)) continue;
      seen.add(ev.eventId);
      const counts = perKey.get(key) ?? { published: 0, corroborated: 0 };
      if (ev.type === 'indicator.published') counts.published += 1;
      if (ev.type === 'indicator.corroborated') counts.corroborated += 1;
      perKey.set(key, counts);
    }
  }
  const keys = new Set(firsts.values());
  const orgsPerKey = accepted.filter((e) => e.shared === 'first').length / Math.max(keys.size, 1);
  const bad = [...keys].filter((k) => {
    const c = perKey.get(k);
    return !c || c.published !== 1 || c.corroborated !== orgsPerKey - 1;
  });
  return {
    name,
    ok: keys.size > 0 && bad.length === 0,
    detail:
      keys.size === 0
        ? 'no shared keys were published'
        : `${keys.size - bad.length}/${keys.size} shared keys: 1 published + ${orgsPerKey - 1} corroborated`,
  };
}

/** The table as printed: one row per subscription. */
export function formatTable(rows: readonly LedgerRow[]): string {
  const header = [
    'subscription',
    'accepted',
    'entitled',
    'delivered',
    'dead-lettered',
    'lost',
    'duplicated',
    'unexpected',
    'redelivered',
  ];
  const lines = rows.map((r) => [
    r.subscription,
    ...[
      r.accepted,
      r.entitled,
      r.delivered,
      r.deadLettered,
      r.lost,
      r.duplicated,
      r.unexpected,
      r.redelivered,
    ].map(String),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}
