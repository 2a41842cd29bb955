import { uuidV5 } from '../../contract/ids';
import { isThreatRelayError } from '../../contract/errors';
import { backoffDelay } from '../../platform/backoff';
import { parseRetryAfter } from '../../platform/http';
import { contextObjectIds } from '../../stix/bundle';
import { fail } from '../context';
import { isRecord } from '../../platform/json';
import { digest, type LineProblem, type SourceRecord } from './read';

/**
 * Sending records to a producer until each one is accepted, rejected with
 * its reason, or failed. /v1/indicators is all or nothing per request, so a
 * 400 does not fail the batch: its `details` name the bad items, those lines
 * are rejected, and the rest is sent again (validation runs in stages, so
 * this can take a few rounds).
 */

export interface AcceptedLine {
  line: number;
  eventId: string;
  key: string;
}

/** What happened to each line so far. */
export interface Outcome {
  accepted: AcceptedLine[];
  /** One entry per problem; a line with two problems appears twice. */
  rejected: LineProblem[];
  /** Lines not published because the producer stayed unavailable or answered unexpectedly. */
  failed: LineProblem[];
}

export interface Sender {
  base: URL;
  apiKey: string;
  maxAttempts: number;
  maxRetryWaitMs: number;
  sleep(ms: number): Promise<void>;
  fileDigest: string;
  /** STIX only: every object of the bundle, for the context each chunk needs. */
  objects: unknown[];
  outcome: Outcome;
}

/** How a sender retries unless the caller says otherwise: 10 attempts, waits of at most a minute. */
export function retryDefaults(options: {
  maxAttempts?: number;
  maxRetryWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}): Pick<Sender, 'maxAttempts' | 'maxRetryWaitMs' | 'sleep'> {
  return {
    maxAttempts: options.maxAttempts ?? 10,
    maxRetryWaitMs: options.maxRetryWaitMs ?? 60_000,
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
  };
}

interface ErrorAnswer {
  error?: { code?: string; message?: string; details?: { path: string; message: string }[] };
}

export type Answer =
  | { kind: 'accepted'; body: Record<string, unknown> }
  | { kind: 'invalid'; status: number; body: ErrorAnswer }
  | { kind: 'failed'; reason: string };

/** Waits between tries of a request the producer may pass later, unless it says how long (Retry-After). */
const RETRY_BACKOFF = { initialMs: 500, maxMs: 30_000 };
/** Statuses the same request can pass later; everything else is final. */
const RETRYABLE = new Set([429, 502, 503, 504]);
/** Statuses that every batch would get: stop at the first instead of failing each line alike. */
const FATAL = new Set([401, 403, 404, 405, 415]);

function describeError(status: number, body: ErrorAnswer): string {
  const e = body.error;
  return e ? `${status} ${e.code ?? ''}: ${e.message ?? ''}`.trim() : `HTTP ${status}`;
}

type Attempt = { answer: Answer } | { retry: string; waitMs?: number };

async function attempt(s: Sender, route: string, text: string, idempotencyKey: string): Promise<Attempt> {
  try {
    const res = await fetch(new URL(route, s.base), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${s.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: text,
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 202) return { answer: { kind: 'accepted', body } };
    const reason = describeError(res.status, body as ErrorAnswer);
    if (FATAL.has(res.status)) fail(`the producer refused the request: ${reason}`);
    if (res.status === 400 || res.status === 413)
      return { answer: { kind: 'invalid', status: res.status, body } };
    if (!RETRYABLE.has(res.status)) return { answer: { kind: 'failed', reason } };
    const seconds = parseRetryAfter(res.headers.get('retry-after'));
    return { retry: reason, ...(seconds === undefined ? {} : { waitMs: seconds * 1000 }) };
  } catch (err) {
    if (isThreatRelayError(err, 'TR_USAGE')) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { retry: `cannot reach ${s.base.origin}: ${cause ?? (err as Error).message}` };
  }
}

/**
 * One request, retried while the answer says it may pass later. Its
 * Idempotency-Key comes from the file, the batch's first line and the exact
 * body: running the same file again sends the same keys, so the producer
 * answers from its idempotency cache with the same eventIds.
 */
export async function post(s: Sender, route: string, body: unknown, firstLine: number): Promise<Answer> {
  const text = JSON.stringify(body);
  const idempotencyKey = `publish-${digest(`${s.fileDigest}\n${firstLine}\n${digest(text)}`).slice(0, 48)}`;
  for (let n = 1; ; n++) {
    const a = await attempt(s, route, text, idempotencyKey);
    if ('answer' in a) return a.answer;
    if (n >= s.maxAttempts) return { kind: 'failed', reason: `${a.retry} (gave up after ${n} attempts)` };
    await s.sleep(Math.min(s.maxRetryWaitMs, a.waitMs ?? backoffDelay(RETRY_BACKOFF, n)));
  }
}

function reject(s: Sender, line: number, path: string, reason: string): void {
  s.outcome.rejected.push({ line, path, reason });
}

function failAll(s: Sender, records: SourceRecord[], reason: string): void {
  for (const r of records) s.outcome.failed.push({ line: r.line, path: '(request)', reason });
}

/** Takes a 202's receipts; a record the answer says nothing about is failed, never lost in silence. */
function confirm(
  s: Sender,
  records: SourceRecord[],
  body: Record<string, unknown>,
  rejected: number[] = [],
): void {
  const receipts = (Array.isArray(body.receipts) ? body.receipts : []) as ({ index: number } & Omit<
    AcceptedLine,
    'line'
  >)[];
  const told = new Set(rejected);
  for (const r of receipts) {
    const record = records[r.index];
    if (!record) continue;
    told.add(r.index);
    s.outcome.accepted.push({ line: record.line, eventId: r.eventId, key: r.key });
  }
  const silent = records.filter((_, i) => !told.has(i));
  failAll(s, silent, 'the producer answered 202 without a receipt for this record');
}

/** A 400 about the request, not an item (too many items, too large): send each half on its own. */
async function halve(
  records: SourceRecord[],
  send: (records: SourceRecord[]) => Promise<void>,
): Promise<void> {
  const half = Math.ceil(records.length / 2);
  await send(records.slice(0, half));
  await send(records.slice(half));
}

type Detail = { path: string; message: string };

/** 400 details name items by position (`3.tlp`, `3` for the item itself); the rest are about the request. */
function detailsByItem(
  details: Detail[],
  count: number,
): { byItem: Map<number, Detail[]>; unplaced: Detail[] } {
  const byItem = new Map<number, Detail[]>();
  const unplaced = details.filter((d) => {
    const m = /^(\d+)(?:\.(.*))?$/.exec(d.path);
    const index = m ? Number(m[1]) : NaN;
    if (!(index < count)) return true;
    byItem.set(index, [...(byItem.get(index) ?? []), { path: m![2] ?? '(line)', message: d.message }]);
    return false;
  });
  return { byItem, unplaced };
}

/** Sends records to /v1/indicators until each is accepted or rejected. */
export async function sendIndicators(s: Sender, records: SourceRecord[]): Promise<void> {
  let pending = records;
  while (pending.length > 0) {
    const answer = await post(
      s,
      '/v1/indicators',
      pending.map((r) => r.item),
      pending[0]!.line,
    );
    if (answer.kind === 'failed') return failAll(s, pending, answer.reason);
    if (answer.kind === 'accepted') return confirm(s, pending, answer.body);
    const { byItem, unplaced } = detailsByItem(answer.body.error?.details ?? [], pending.length);
    if (unplaced.length > 0 || byItem.size === 0) {
      if (pending.length > 1) return halve(pending, (half) => sendIndicators(s, half));
      const reason = describeError(answer.status, answer.body);
      for (const d of unplaced.length > 0 ? unplaced : [{ path: '(line)', message: reason }]) {
        reject(s, pending[0]!.line, d.path, d.message);
      }
      return;
    }
    for (const [index, problems] of byItem) {
      for (const p of problems) reject(s, pending[index]!.line, p.path, p.message);
    }
    pending = pending.filter((_, i) => !byItem.has(i));
  }
}

const BUNDLE_NAMESPACE = Buffer.from('4b1e0f5a2c3d4e6f8a9b0c1d2e3f4a5b', 'hex');

/** A bundle of the chunk's indicator objects and the context they need, its id the same on every run. */
function stixBundle(s: Sender, records: SourceRecord[]): Record<string, unknown> {
  const indicators = records.map((r) => r.item).filter(isRecord);
  const context = contextObjectIds(indicators, s.objects);
  // Never another indicator: it is published by its own chunk.
  const contextObjects = s.objects.filter(
    (o) => isRecord(o) && o.type !== 'indicator' && typeof o.id === 'string' && context.has(o.id),
  );
  return {
    type: 'bundle',
    id: `bundle--${uuidV5(BUNDLE_NAMESPACE, `${s.fileDigest}\n${records[0]!.line}\n${records.length}`)}`,
    objects: [...records.map((r) => r.item), ...contextObjects],
  };
}

type Rejection = { index: number; path: string; reason?: string; message?: string };

/** A 400's details as per-object rejections, or undefined when they do not all name an object of the chunk. */
function stixDetails(details: Detail[], count: number): Rejection[] | undefined {
  const placed = details.every((d) => /^objects\.\d+/.test(d.path) && Number(d.path.split('.')[1]) < count);
  if (!placed || details.length === 0) return undefined;
  return details.map((d) => ({
    index: Number(d.path.split('.')[1]),
    path: d.path,
    // 400 details carry the object id in front of the reason, which the line number replaces.
    reason: d.message.replace(/^[a-z0-9-]+--[0-9a-f-]+: /i, '').replace(/^\(no id\): /, ''),
  }));
}

/** Sends indicator objects as bundles with the context they need; /v1/stix answers per object. */
export async function sendStix(s: Sender, records: SourceRecord[]): Promise<void> {
  const answer = await post(s, '/v1/stix', stixBundle(s, records), records[0]!.line);
  if (answer.kind === 'failed') return failAll(s, records, answer.reason);
  let rejections: Rejection[];
  if (answer.kind === 'accepted') {
    rejections = (Array.isArray(answer.body.rejected) ? answer.body.rejected : []) as Rejection[];
    confirm(
      s,
      records,
      answer.body,
      rejections.map((r) => r.index),
    );
  } else {
    const placed = stixDetails(answer.body.error?.details ?? [], records.length);
    if (!placed) {
      if (records.length > 1) return halve(records, (half) => sendStix(s, half));
      return reject(s, records[0]!.line, '(object)', describeError(answer.status, answer.body));
    }
    rejections = placed;
  }
  for (const r of rejections) {
    if (r.index >= records.length) continue;
    const path = r.path.split('.').slice(2).join('.') || '(object)';
    reject(s, records[r.index]!.line, path, r.reason ?? r.message ?? '');
  }
}
