import { createHash } from 'node:crypto';
import { tlpRank, type Report } from './rules';
import type { DedupDecision, Labels, MaterialField, OpinionEntry, SourceReport } from './types';

/**
 * The embedded store's rows, in a fixed binary layout rather than msgpack:
 * a store entry is one event row and one key row, and what each byte costs
 * is multiplied by every event of the window. Ids are stored as raw bytes
 * (a UUID is 16, an indicator key 32), times as float64 epoch ms.
 *
 * event key:   16-byte eventId, then the org id (ASCII)
 * event value: expiresAt | position digest (6) | decision kind (1) |
 *              1 and the batch tag (8), or 0 | for `corroborated`/`revoked`:
 *              the sources (an org list) | for `corroborated` and `updated`:
 *              a u16 length and JSON of the rest of the decision (labels,
 *              escalation, changes: rare next to `new`, so readable beats
 *              small there)
 * key key:     the 32-byte indicator key
 * key value:   per source: expiresAt, org id length (1), org id, TLP rank
 *              (1); the row expires with its latest source. The length
 *              byte's high bit says the TLP byte follows: rows written
 *              before reports kept their TLP lack it, and read as red
 *              (rules.ts, `tlpRank`). Bit 0x40 says the report's labels
 *              follow the TLP byte (LABEL_BYTES: category, severity,
 *              confidence, validUntil or all ones for none, the digests of
 *              description and tags); rows written before lack them.
 * opinion key: the 32-byte indicator key
 * opinion value: expiresAt | JSON of the key's sightings (types.ts,
 *              OpinionEntry[]): few per key, and read whole each time
 * batch key:   8-byte tag (digest of the webhook id)
 * batch value: expiresAt | size u32 | webhook id (UTF-8)
 *
 * Times are epoch ms in 6 bytes (exact until the year 10889).
 *
 * An org list is a count byte, then per org its length byte and ASCII bytes
 * (org ids are at most 64 characters of [a-z0-9-], checked before storing).
 */

// Appended only: stored rows keep their codes.
const KINDS = [
  'new',
  'republished',
  'corroborated',
  'revoked',
  'revocation-unknown',
  'updated',
  'sighted',
  'sighting-unknown',
] as const;
const KIND_CODE = new Map<DedupDecision['kind'], number>(KINDS.map((k, i) => [k, i]));

/**
 * A collision of position digests would make a second copy of an event look
 * like a re-read (delivered again under the same eventId); of batch tags,
 * regroup a re-read batch under another webhook id. Never a loss.
 */
const POSITION_BYTES = 6;
const TAG_BYTES = 8;
const TIME_BYTES = 6;
const HEAD = TIME_BYTES + POSITION_BYTES + 1;

const writeTime = (buf: Buffer, ms: number, at: number): void => void buf.writeUIntBE(ms, at, TIME_BYTES);
const readTime = (buf: Buffer, at: number): number => buf.readUIntBE(at, TIME_BYTES);

export function eventRowKey(org: string, eventId: string): Buffer {
  return Buffer.concat([Buffer.from(eventId.replace(/-/g, ''), 'hex'), Buffer.from(org, 'latin1')]);
}

export function keyRowKey(key: string): Buffer {
  return Buffer.from(key, 'hex');
}

export function positionDigest(position: string): Buffer {
  return createHash('sha256').update(position).digest().subarray(0, POSITION_BYTES);
}

export function batchTag(webhookId: string): Buffer {
  return createHash('sha256').update(webhookId).digest().subarray(0, TAG_BYTES);
}

export interface EventRow {
  expiresAt: number;
  position: Buffer;
  decision: DedupDecision;
  /** The tag of the batch the event went out in (`markBatch`). */
  batch?: Buffer;
}

function writeOrgs(orgs: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.of(orgs.length)];
  for (const org of orgs) parts.push(Buffer.of(org.length), Buffer.from(org, 'latin1'));
  return Buffer.concat(parts);
}

function readOrgs(buf: Buffer, at: number): string[] {
  const count = buf[at]!;
  const orgs: string[] = [];
  let i = at + 1;
  for (let n = 0; n < count; n++) {
    const len = buf[i]!;
    orgs.push(buf.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return orgs;
}

function orgsEnd(buf: Buffer, at: number): number {
  let i = at + 1;
  for (let n = 0; n < buf[at]!; n++) i += 1 + buf[i]!;
  return i;
}

function writeJson(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16BE(json.length, 0);
  return Buffer.concat([length, json]);
}

function readJson<T>(buf: Buffer, at: number): T | undefined {
  if (at + 2 > buf.length) return undefined;
  const length = buf.readUInt16BE(at);
  return JSON.parse(buf.toString('utf8', at + 2, at + 2 + length)) as T;
}

export function encodeEvent(row: EventRow): Buffer {
  const head = Buffer.allocUnsafe(HEAD);
  writeTime(head, row.expiresAt, 0);
  row.position.copy(head, TIME_BYTES);
  head[HEAD - 1] = KIND_CODE.get(row.decision.kind)!;
  const parts: Buffer[] = [head, Buffer.of(row.batch ? 1 : 0)];
  if (row.batch) parts.push(row.batch);
  const d = row.decision;
  if (d.kind === 'corroborated') {
    parts.push(writeOrgs(d.sources), writeJson({ reports: d.reports, escalates: d.escalates }));
  }
  if (d.kind === 'updated') parts.push(writeJson({ changed: d.changed, previous: d.previous }));
  if (d.kind === 'sighted') parts.push(writeJson(d.opinion));
  if (d.kind === 'revoked') parts.push(writeOrgs(d.remainingSources));
  return Buffer.concat(parts);
}

export function decodeEvent(buf: Buffer): EventRow {
  const expiresAt = readTime(buf, 0);
  const position = buf.subarray(TIME_BYTES, TIME_BYTES + POSITION_BYTES);
  const kind = KINDS[buf[HEAD - 1]!]!;
  const hasBatch = buf[HEAD] === 1;
  const batch = hasBatch ? buf.subarray(HEAD + 1, HEAD + 1 + TAG_BYTES) : undefined;
  const rest = HEAD + 1 + (hasBatch ? TAG_BYTES : 0);
  let decision: DedupDecision;
  if (kind === 'corroborated') {
    const sources = readOrgs(buf, rest);
    const more = readJson<{ reports: SourceReport[]; escalates: boolean }>(buf, orgsEnd(buf, rest));
    decision = {
      kind,
      sources,
      // A row written before decisions kept labels: the orgs only, ranked red, never escalating.
      reports: more?.reports ?? sources.map((org) => ({ org, tlp: UNKNOWN_TLP_RANK, labels: null })),
      escalates: more?.escalates ?? false,
    };
  } else if (kind === 'updated') {
    const more = readJson<{ changed: MaterialField[]; previous: Labels }>(buf, rest)!;
    decision = { kind, changed: more.changed, previous: more.previous };
  } else if (kind === 'sighted') {
    decision = { kind, opinion: readJson<OpinionEntry[]>(buf, rest) ?? [] };
  } else if (kind === 'revoked') decision = { kind, remainingSources: readOrgs(buf, rest) };
  else decision = { kind };
  return { expiresAt, position, decision, ...(batch ? { batch } : {}) };
}

/** Set in a source's length byte when its TLP rank byte follows the org id. */
const WITH_TLP = 0x80;
/** Set in a source's length byte when its labels follow the TLP byte. */
const WITH_LABELS = 0x40;
const LABEL_BYTES = 3 + TIME_BYTES + 8;
const NO_TIME = 2 ** (8 * TIME_BYTES) - 1;

function writeLabels(l: Labels): Buffer {
  const buf = Buffer.allocUnsafe(LABEL_BYTES);
  buf[0] = l.category;
  buf[1] = l.severity;
  buf[2] = l.confidence;
  writeTime(buf, l.validUntil ?? NO_TIME, 3);
  buf.writeUInt32BE(l.description, 3 + TIME_BYTES);
  buf.writeUInt32BE(l.tags, 7 + TIME_BYTES);
  return buf;
}

function readLabels(buf: Buffer, at: number): Labels {
  const validUntil = readTime(buf, at + 3);
  return {
    category: buf[at]!,
    severity: buf[at + 1]!,
    confidence: buf[at + 2]!,
    validUntil: validUntil === NO_TIME ? null : validUntil,
    description: buf.readUInt32BE(at + 3 + TIME_BYTES),
    tags: buf.readUInt32BE(at + 7 + TIME_BYTES),
  };
}

/** A key row: its sources (org → report). */
export function encodeKey(sources: ReadonlyMap<string, Report>): Buffer {
  const parts: Buffer[] = [];
  for (const [org, report] of sources) {
    const head = Buffer.allocUnsafe(TIME_BYTES + 1);
    writeTime(head, report.expiresAt, 0);
    head[TIME_BYTES] = org.length | WITH_TLP | (report.labels ? WITH_LABELS : 0);
    parts.push(head, Buffer.from(org, 'latin1'), Buffer.of(report.tlp));
    if (report.labels) parts.push(writeLabels(report.labels));
  }
  return Buffer.concat(parts);
}

/** The length of the source entry at `i`, and its org id's length. */
function entryAt(
  buf: Buffer,
  i: number,
): { size: number; orgLength: number; withTlp: boolean; withLabels: boolean } {
  const byte = buf[i + TIME_BYTES]!;
  const withTlp = (byte & WITH_TLP) !== 0;
  const withLabels = (byte & WITH_LABELS) !== 0;
  const orgLength = byte & ~(WITH_TLP | WITH_LABELS);
  const size = TIME_BYTES + 1 + orgLength + (withTlp ? 1 : 0) + (withLabels ? LABEL_BYTES : 0);
  return { size, orgLength, withTlp, withLabels };
}

/** What a source written without its TLP ranks as: red, never revealed under a weaker marking. */
const UNKNOWN_TLP_RANK = tlpRank(undefined);

export function decodeKey(buf: Buffer): [string, Report][] {
  const sources: [string, Report][] = [];
  for (let i = 0; i < buf.length;) {
    const { size, orgLength, withTlp, withLabels } = entryAt(buf, i);
    const orgStart = i + TIME_BYTES + 1;
    const tlp = withTlp ? buf[orgStart + orgLength]! : UNKNOWN_TLP_RANK;
    const labels = withLabels ? readLabels(buf, orgStart + orgLength + 1) : undefined;
    sources.push([
      buf.toString('latin1', orgStart, orgStart + orgLength),
      { expiresAt: readTime(buf, i), tlp, ...(labels ? { labels } : {}) },
    ]);
    i += size;
  }
  return sources;
}

/** When a key row expires: with its latest source. */
export function keyExpiresAt(buf: Buffer): number {
  let latest = 0;
  for (let i = 0; i < buf.length; i += entryAt(buf, i).size) latest = Math.max(latest, readTime(buf, i));
  return latest;
}

export function encodeBatch(expiresAt: number, webhookId: string, size: number): Buffer {
  const head = Buffer.allocUnsafe(TIME_BYTES + 4);
  writeTime(head, expiresAt, 0);
  head.writeUInt32BE(size, TIME_BYTES);
  return Buffer.concat([head, Buffer.from(webhookId, 'utf8')]);
}

export function decodeBatch(buf: Buffer): { webhookId: string; size: number } {
  return { size: buf.readUInt32BE(TIME_BYTES), webhookId: buf.toString('utf8', TIME_BYTES + 4) };
}

/** When an event or batch row expires: its first field. */
export const rowExpiresAt = (row: Buffer): number => readTime(row, 0);

export function encodeOpinion(expiresAt: number, opinion: readonly OpinionEntry[]): Buffer {
  const head = Buffer.allocUnsafe(TIME_BYTES);
  writeTime(head, expiresAt, 0);
  return Buffer.concat([head, Buffer.from(JSON.stringify(opinion), 'utf8')]);
}

export function decodeOpinion(buf: Buffer): OpinionEntry[] {
  return JSON.parse(buf.toString('utf8', TIME_BYTES)) as OpinionEntry[];
}
