import type { KafkaMessage } from 'kafkajs';
import type { EventCodec } from './avro/codec';
import { decodeBatchProof, VerifiedRoots, type KeyVerdict } from './batch-signature';
import { canonicalize } from './canonical';
import { HEADERS } from './definitions';
import { entitlementProblem, type Reader } from './entitlement';
import { isThreatRelayError, type ErrorCode } from './errors';
import { headerBytes, headerText, readHeader, type HeaderRead } from './headers';
import { identityKey } from './identity';
import { keyValidityProblem, type OrgKeys, type SigningKey } from './keyring';
import { identityOf, routeOf, type ThreatEvent } from './model';
import { PDQ_DEFAULT_MIN_QUALITY, pdqQualityProblem } from './pdq';
import { verifyValue } from './signing';

/** What a reader needs to decide whether a record is what it claims and meant for it. */
export interface RecordChecks {
  codec: EventCodec;
  /** The signing keys of the publishing orgs, by org id, each with its validity. */
  orgKeys: OrgKeys;
  /** The reading org: entitlement is checked against it. */
  org: Reader;
  /** Each publishing org's `pdq.minQuality`, by org id; an org not listed has the default, 50. */
  pdqFloors?: ReadonlyMap<string, number>;
  /** Verified batch roots; default one cache per process, shared by its subscriptions. */
  verifiedRoots?: VerifiedRoots;
  /** Records produced longer ago than `maxAgeMs` or more than `maxSkewMs` ahead are stale. */
  freshness: { maxAgeMs: number; maxSkewMs: number };
  /**
   * What readers of the same records share: the checks that depend only on a
   * record's bytes, by topic, partition and offset. Default one per process.
   */
  readRecords?: ReadRecords;
}

export type Verdict = { ok: true; event: ThreatEvent } | { ok: false; code: ErrorCode; reason: string };

const reject = (code: ErrorCode, reason: string): Verdict => ({ ok: false, code, reason });

/**
 * Everything a reader checks before it believes a record, in order: signed
 * by a known org, decodable and well-formed (the codec checks closed sets
 * and id shapes), claiming the org that signed it, naming the identity its
 * own fields give, fresh, and entitled to the reading org. A failure is a
 * verdict with its code, never an exception, so the caller dead-letters it
 * and the partition moves on. Reasons never quote indicator values: they
 * go to logs and DLQ headers, and a value may be TLP:RED.
 */
export function verifyRecord(
  checks: RecordChecks,
  message: KafkaMessage,
  options: { now?: number; skipFreshness?: boolean; position?: { topic: string; partition: number } } = {},
): Verdict {
  const read = options.position
    ? (checks.readRecords ?? PROCESS_RECORDS).verdict(options.position, message, () =>
        readProblem(checks, message),
      )
    : readProblem(checks, message);
  if (!read.ok) return read;
  const { event } = read;
  if (!options.skipFreshness) {
    const stale = freshnessProblem(event, checks.freshness, options.now ?? Date.now());
    if (stale) return reject('TR_STALE', stale);
  }
  const route = routeOf(event.payload);
  const problem = entitlementProblem(checks.org, route.tlp, route.recipients);
  if (problem) return reject('TR_FORBIDDEN', problem);
  return { ok: true, event };
}

/** Signature, decoding and identity: everything about a record that is the same for every reader. */
function readProblem(checks: RecordChecks, message: KafkaMessage): Verdict {
  const signed = verifySigned(checks, message);
  if (!signed.ok) return signed;
  return identityProblem(signed.event) ?? qualityProblem(checks, signed.event) ?? signed;
}

/**
 * A pdq report below its own org's quality floor: the producer refuses it,
 * so a record that has one comes from a producer that did not check.
 */
function qualityProblem(checks: RecordChecks, event: ThreatEvent): Verdict | undefined {
  if (event.payload.kind !== 'IndicatorPublished') return undefined;
  const org = event.source.org;
  const floor = checks.pdqFloors?.get(org) ?? PDQ_DEFAULT_MIN_QUALITY;
  const problem = pdqQualityProblem(event.payload.indicator.quality, floor, org);
  return problem ? reject('TR_PDQ_INVALID', `payload.indicator.quality ${problem}`) : undefined;
}

const SHARED_HEADERS = [HEADERS.sourceOrg, HEADERS.signature, HEADERS.batchSignature] as const;

/**
 * The verdicts of the reader-independent checks of the records a process
 * read last, so its subscriptions, each its own consumer group reading the
 * same topics, verify and decode a record once instead of once each. Bounded
 * (oldest out first); a record is found by topic, partition and offset and
 * used only when its value and signature headers are byte for byte the ones
 * checked. Verdicts and their events are shared: nothing downstream may
 * change them.
 */
export class ReadRecords {
  private readonly entries = new Map<string, { message: KafkaMessage; verdict: Verdict }>();

  constructor(private readonly capacity = 20_000) {}

  verdict(
    position: { topic: string; partition: number },
    message: KafkaMessage,
    check: () => Verdict,
  ): Verdict {
    const id = `${position.topic}\u0000${position.partition}\u0000${message.offset}`;
    const known = this.entries.get(id);
    if (known && sameBytes(known.message, message)) return known.verdict;
    const verdict = check();
    if (known) this.entries.delete(id);
    else if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { message, verdict });
    return verdict;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forgets every verdict: a fresh process's state. */
  clear(): void {
    this.entries.clear();
  }
}

function sameBytes(a: KafkaMessage, b: KafkaMessage): boolean {
  if (!equalBytes(a.value, b.value)) return false;
  for (const name of SHARED_HEADERS) {
    const x = a.headers?.[name];
    const y = b.headers?.[name];
    if (Array.isArray(x) || Array.isArray(y)) return false;
    if (!equalBytes(x, y)) return false;
  }
  return true;
}

function equalBytes(x: Buffer | string | null | undefined, y: Buffer | string | null | undefined): boolean {
  if (x == null || y == null) return x == y;
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  return x.equals(y);
}

const PROCESS_RECORDS = new ReadRecords();

/**
 * The first checks, which need no reading org: the record is signed by the
 * org it names (v1 or v2 signature), decodes, and its `source.org` is that
 * org. The operator console shows records on this alone.
 */
export function verifySigned(
  checks: Pick<RecordChecks, 'codec' | 'orgKeys' | 'verifiedRoots'>,
  message: KafkaMessage,
): Verdict {
  const value = message.value;
  if (!value) return reject('TR_CODEC_MALFORMED', 'record has no value');
  // Every header a member wrote is read without trusting its shape: absent,
  // null-valued, binary or repeated, each is an answer, never an exception.
  for (const name of [HEADERS.sourceOrg, HEADERS.signature, HEADERS.batchSignature]) {
    const problem = headerProblem(readHeader(message, name), name);
    if (problem) return reject('TR_SIGNATURE_INVALID', problem);
  }
  const sourceOrg = headerText(message, HEADERS.sourceOrg);
  if (!sourceOrg) return reject('TR_SIGNATURE_INVALID', 'record is not signed');
  const keys = checks.orgKeys.get(sourceOrg);
  if (!keys) return reject('TR_SIGNATURE_INVALID', 'no public key for the source org the record names');
  const signer = signingKey(checks, message, value, sourceOrg, keys);
  if (!signer.ok) return reject('TR_SIGNATURE_INVALID', signer.reason);
  let event: ThreatEvent;
  try {
    event = checks.codec.decode(value);
  } catch (err) {
    if (!isThreatRelayError(err)) throw err;
    return reject(err.code, err.message);
  }
  if (event.source.org !== sourceOrg) {
    return reject(
      'TR_SIGNATURE_INVALID',
      `record claims source ${event.source.org} but is signed by ${sourceOrg}`,
    );
  }
  // The signed value says when it was produced; the key must have been good then.
  const expired = keyValidityProblem(signer.key, sourceOrg, Date.parse(event.producedAt));
  if (expired) return reject('TR_SIGNATURE_INVALID', expired);
  return { ok: true, event };
}

/** Why a signature-bearing header cannot be read as one value, if it cannot. */
function headerProblem(read: HeaderRead, name: string): string | undefined {
  if (read.kind === 'repeated') return `the ${name} header appears ${read.count} times`;
  if (read.kind === 'null') return `the ${name} header has a null value`;
  return undefined;
}

/** The process's verified batch roots: one cache for every subscription of the process. */
const PROCESS_ROOTS = new VerifiedRoots();

/**
 * Empties the process-wide caches the subscriptions share (verdicts and
 * verified roots), as in a process just started: benches that compare
 * subscribers reading the same records one after another in one process call
 * it between cases, so no case is measured on another's verified records.
 */
export function forgetSharedChecks(): void {
  PROCESS_RECORDS.clear();
  PROCESS_ROOTS.clear();
}

/**
 * Which of the named org's keys signed the record. A v2 record carries its
 * transaction's Merkle proof and root signature (format 2 names the key; a
 * format 1 proof and a v1 record's own signature are tried with each of the
 * org's keys). Either way the bytes must come from the org the record names.
 */
function signingKey(
  checks: Pick<RecordChecks, 'verifiedRoots'>,
  message: KafkaMessage,
  value: Buffer,
  org: string,
  keys: readonly SigningKey[],
): KeyVerdict {
  const batch = headerBytes(message, HEADERS.batchSignature);
  if (batch) {
    const proof = decodeBatchProof(batch);
    if (!proof) return { ok: false, reason: 'the batch signature header is malformed' };
    return (checks.verifiedRoots ?? PROCESS_ROOTS).verify(org, keys, value, proof);
  }
  const signature = headerText(message, HEADERS.signature);
  if (!signature) return { ok: false, reason: 'record is not signed' };
  const key = keys.find((k) => verifyValue(value, signature, k.publicKey));
  return key ? { ok: true, key } : { ok: false, reason: `signature does not verify for ${org}` };
}

/**
 * The key is re-derived from the record's own type, platform and value, and
 * the value must already be canonical: otherwise one org could publish a
 * decoy under the key of a real indicator and make another org's report of
 * it a "corroboration". A revocation by key alone names no value to check;
 * it can only withdraw its own org's report.
 */
function identityProblem(event: ThreatEvent): Verdict | undefined {
  const { type, platform, value } = identityOf(event.payload);
  if (type === null || value === null) return undefined;
  let canonical: string;
  try {
    canonical = canonicalize(type, value, platform);
  } catch (err) {
    if (!isThreatRelayError(err)) throw err;
    return reject('TR_VALUE_NOT_CANONICAL', `the ${type} value is not valid for its type`);
  }
  if (canonical !== value) {
    return reject('TR_VALUE_NOT_CANONICAL', `the ${type} value is not in canonical form`);
  }
  if (identityKey(event.canonicalizationVersion, type, platform, value) !== event.payload.key) {
    return reject(
      'TR_KEY_MISMATCH',
      `key is not the one the record's ${type} value gives under canonicalization version ${event.canonicalizationVersion}`,
    );
  }
  return undefined;
}

function freshnessProblem(
  event: ThreatEvent,
  limits: RecordChecks['freshness'],
  now: number,
): string | undefined {
  const produced = Date.parse(event.producedAt);
  if (produced < now - limits.maxAgeMs) {
    return `produced at ${event.producedAt}, longer ago than the ${Math.round(limits.maxAgeMs / 86_400_000)}-day dedup window`;
  }
  if (produced > now + limits.maxSkewMs) {
    return `produced at ${event.producedAt}, more than ${limits.maxSkewMs / 1000} s in the future`;
  }
  return undefined;
}
