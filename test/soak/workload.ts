import { createHash } from 'node:crypto';
import type { AcceptedEvent, Tlp } from './ledger';

/**
 * What the soak's producers publish, and the client that publishes it the
 * way docs/publishing.md tells a client to: one Idempotency-Key per request, and after a
 * 503, a 429, a connection error or an answer that never came, the same
 * request again with the same key until a 202.
 */

/** mulberry32: the same workload for the same seed. */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlannedItem {
  tlp: Tlp;
  recipients: string[];
  shared?: 'first' | 'again';
}

export interface PlannedRequest {
  org: string;
  idempotencyKey: string;
  /** One indicator object (a single-indicator request) or an array. */
  body: unknown;
  items: PlannedItem[];
}

const TLPS: [Tlp, number][] = [
  ['clear', 0.25],
  ['green', 0.25],
  ['amber', 0.25],
  ['amber+strict', 0.125],
  ['red', 0.125],
];

function pickTlp(r: () => number): Tlp {
  let x = r();
  for (const [tlp, p] of TLPS) {
    if (x < p) return tlp;
    x -= p;
  }
  return 'clear';
}

function pickRecipients(r: () => number, pool: readonly string[]): string[] {
  const chosen = pool.filter(() => r() < 0.4);
  return chosen.length > 0 ? chosen : [pool[Math.floor(r() * pool.length)]!];
}

/** Mixed sizes: a tenth single-indicator requests, most small, some up to 800. */
function pickBatchSize(r: () => number): number {
  const x = r();
  if (x < 0.1) return 1;
  if (x < 0.6) return 2 + Math.floor(r() * 19);
  if (x < 0.92) return 21 + Math.floor(r() * 180);
  return 201 + Math.floor(r() * 600);
}

function indicator(runId: string, org: string, n: number, item: PlannedItem): Record<string, unknown> {
  // Every indicator its own key: a sha256 or a domain no other indicator of any run has.
  const base =
    n % 4 === 3
      ? { type: 'domain', value: `s${n}-${org}-${runId}.example.com`, category: 'phishing' }
      : {
          type: 'sha256',
          value: createHash('sha256').update(`${runId}/${org}/${n}`).digest('hex'),
          category: 'malware',
        };
  return {
    ...base,
    tlp: item.tlp,
    ...(item.recipients.length > 0 ? { recipients: item.recipients } : {}),
    confidence: 50 + (n % 50),
  };
}

export interface WorkloadOptions {
  runId: string;
  orgs: readonly string[];
  count: number;
  /** Who amber+strict and red indicators may name. */
  recipientPool: readonly string[];
  seed: number;
}

/** Each org's requests in order; `count` indicators in all, split evenly. */
export function planWorkload(options: WorkloadOptions): Map<string, PlannedRequest[]> {
  const plan = new Map<string, PlannedRequest[]>();
  for (const [o, org] of options.orgs.entries()) {
    const r = rng(options.seed + o);
    const total =
      Math.floor(options.count / options.orgs.length) + (o < options.count % options.orgs.length ? 1 : 0);
    const requests: PlannedRequest[] = [];
    for (let n = 0; n < total;) {
      const size = Math.min(pickBatchSize(r), total - n);
      const items: PlannedItem[] = [];
      const bodies: Record<string, unknown>[] = [];
      for (let i = 0; i < size; i++, n++) {
        const tlp = pickTlp(r);
        const named = tlp === 'amber+strict' || tlp === 'red';
        const item = { tlp, recipients: named ? pickRecipients(r, options.recipientPool) : [] };
        items.push(item);
        bodies.push(indicator(options.runId, org, n, item));
      }
      requests.push({
        org,
        idempotencyKey: `soak-${options.runId}-${org}-${requests.length}`,
        body: size === 1 ? bodies[0] : bodies,
        items,
      });
    }
    plan.set(org, requests);
  }
  return plan;
}

/**
 * The shared set: every org reports the same `keys` domains (TLP:CLEAR, one
 * request), and then, once all have, reports them again (a re-publication).
 */
export function sharedRequests(
  runId: string,
  org: string,
  keys: number,
  round: 'first' | 'again',
): PlannedRequest {
  const items: PlannedItem[] = Array.from({ length: keys }, () => ({
    tlp: 'clear',
    recipients: [],
    shared: round,
  }));
  return {
    org,
    idempotencyKey: `soak-${runId}-${org}-shared-${round}`,
    body: items.map((_, i) => ({
      // Each org in its own spelling of the same indicator: one key after canonicalization.
      type: 'domain',
      value: org.length % 2 === 0 ? `SHARED-${i}-${runId}.Example.COM` : `shared-${i}-${runId}[.]example.com`,
      category: 'disinformation',
      tlp: 'clear',
    })),
    items,
  };
}

export interface Receipt {
  index: number;
  eventId: string;
  key: string;
  records: { topic: string; partition: number; offset: string }[];
}

export interface ClientStats {
  requests: number;
  attempts: number;
  /** Answers by status ('timeout' and 'error' for none). */
  answers: Record<string, number>;
}

export interface Endpoint {
  url: string;
  apiKey: string;
}

export interface SendOptions {
  /** Probability that an attempt's answer is given up on after a few ms: a lost answer. */
  lostAnswerRate: number;
  r: () => number;
  deadline: number;
  stats: ClientStats;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** Sends one planned request until it is accepted; throws at the deadline or on an answer that is not retryable. */
export async function publishUntilAccepted(
  endpoint: Endpoint,
  request: PlannedRequest,
  options: SendOptions,
): Promise<Receipt[]> {
  const { stats, r } = options;
  stats.requests += 1;
  const body = JSON.stringify(request.body);
  for (let attempt = 1; ; attempt++) {
    if (Date.now() > options.deadline) {
      throw new Error(`${request.org} ${request.idempotencyKey}: not accepted before the deadline`);
    }
    stats.attempts += 1;
    const lose = r() < options.lostAnswerRate;
    const timeoutMs = lose ? 5 + Math.floor(r() * 100) : 60_000;
    let status: string;
    let retryAfterMs: number | undefined;
    try {
      const res = await fetch(`${endpoint.url}/v1/indicators`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${endpoint.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': request.idempotencyKey,
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      status = String(res.status);
      if (res.status === 202) {
        stats.answers[status] = (stats.answers[status] ?? 0) + 1;
        const receipts = (JSON.parse(text) as { receipts: Receipt[] }).receipts;
        if (receipts.length !== request.items.length) {
          throw new Error(
            `${request.idempotencyKey}: ${receipts.length} receipts for ${request.items.length}`,
          );
        }
        return receipts;
      }
      if (!RETRYABLE.has(res.status)) {
        stats.answers[status] = (stats.answers[status] ?? 0) + 1;
        throw new Error(
          `${request.org} ${request.idempotencyKey}: answered ${res.status}: ${text.slice(0, 500)}`,
        );
      }
      const ra = Number(res.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra, 5) * 1000;
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'TimeoutError' && name !== 'TypeError' && name !== 'AbortError') throw err;
      status = name === 'TimeoutError' ? 'timeout' : 'error';
    }
    stats.answers[status] = (stats.answers[status] ?? 0) + 1;
    const backoff = retryAfterMs ?? Math.min(5000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + r() / 2);
    await new Promise((res) => setTimeout(res, backoff));
  }
}

/** The ledger's view of what a 202 accepted. */
export function acceptedEvents(org: string, request: PlannedRequest, receipts: Receipt[]): AcceptedEvent[] {
  return receipts.map((rc) => {
    const item = request.items[rc.index]!;
    return {
      eventId: rc.eventId,
      key: rc.key,
      org,
      tlp: item.tlp,
      recipients: item.recipients,
      ...(item.shared ? { shared: item.shared } : {}),
    };
  });
}
