import { createHash } from 'node:crypto';
import { tlpRank, type Report } from './rules';
import type { DedupDecision } from './types';

/**
 * The embedded store's rows, in a fixed binary layout rather than msgpack:
 * a store entry is one event row and one key row, and what each byte costs
 * is multiplied by every event of the window. Ids are stored as raw bytes
 * (a UUID is 16, an indicator key 32), times as float64 epoch ms.
 *
 * event key:   16-byte eventId, then the org id (ASCII)
 * event value: expiresAt | position digest (6) | decision kind (1) |
 *              1 and the batch tag (8), or 0 | for `corroborated`/`revoked`:
 *              the sources (an org list)
 * key key:     the 32-byte indicator key
 * key value:   per source: expiresAt, org id length (1), org id, TLP rank
 *              (1); the row expires with its latest source. The length
 *              byte's high bit says the TLP byte follows: rows written
 *              before reports kept their TLP lack it, and read as red
 *              (rules.ts, `tlpRank`).
 * batch key:   8-byte tag (digest of the webhook id)
 * batch value: expiresAt | size u32 | webhook id (UTF-8)
 *
 * Times are epoch ms in 6 bytes (exact until the year 10889).
 *
 * An org list is a count byte, then per org its length byte and ASCII bytes
 * (org ids are at most 64 characters of [a-z0-9-], checked before storing).
 */

const KINDS = ['new', 'republished', 'corroborated', 'revoked', 'revocation-unknown'] as const;
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

export function encodeEvent(row: EventRow): Buffer {
  const head = Buffer.allocUnsafe(HEAD);
  writeTime(head, row.expiresAt, 0);
  row.position.copy(head, TIME_BYTES);
  head[HEAD - 1] = KIND_CODE.get(row.decision.kind)!;
  const parts: Buffer[] = [head, Buffer.of(row.batch ? 1 : 0)];
  if (row.batch) parts.push(row.batch);
  if (row.decision.kind === 'corroborated') parts.push(writeOrgs(row.decision.sources));
  if (row.decision.kind === 'revoked') parts.push(writeOrgs(row.decision.remainingSources));
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
  if (kind === 'corroborated') decision = { kind, sources: readOrgs(buf, rest) };
  else if (kind === 'revoked') decision = { kind, remainingSources: readOrgs(buf, rest) };
  else decision = { kind };
  return { expiresAt, position, decision, ...(batch ? { batch } : {}) };
}

/** Set in a source's length byte when its TLP rank byte follows the org id. */
const WITH_TLP = 0x80;

/** A key row: its sources (org → report). */
export function encodeKey(sources: ReadonlyMap<string, Report>): Buffer {
  const parts: Buffer[] = [];
  for (const [org, report] of sources) {
    const head = Buffer.allocUnsafe(TIME_BYTES + 1);
    writeTime(head, report.expiresAt, 0);
    head[TIME_BYTES] = org.length | WITH_TLP;
    parts.push(head, Buffer.from(org, 'latin1'), Buffer.of(report.tlp));
  }
  return Buffer.concat(parts);
}

/** The length of the source entry at `i`, and its org id's length. */
function entryAt(buf: Buffer, i: number): { size: number; orgLength: number; withTlp: boolean } {
  const byte = buf[i + TIME_BYTES]!;
  const withTlp = (byte & WITH_TLP) !== 0;
  const orgLength = byte & ~WITH_TLP;
  return { size: TIME_BYTES + 1 + orgLength + (withTlp ? 1 : 0), orgLength, withTlp };
}

/** What a source written without its TLP ranks as: red, never revealed under a weaker marking. */
const UNKNOWN_TLP_RANK = tlpRank(undefined);

export function decodeKey(buf: Buffer): [string, Report][] {
  const sources: [string, Report][] = [];
  for (let i = 0; i < buf.length;) {
    const { size, orgLength, withTlp } = entryAt(buf, i);
    const orgStart = i + TIME_BYTES + 1;
    const tlp = withTlp ? buf[orgStart + orgLength]! : UNKNOWN_TLP_RANK;
    sources.push([
      buf.toString('latin1', orgStart, orgStart + orgLength),
      { expiresAt: readTime(buf, i), tlp },
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
