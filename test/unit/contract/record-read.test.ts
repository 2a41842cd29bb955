import { createHash, randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import type { ErrorCode } from '../../../services/contract/errors';
import type { Indicator, ThreatEvent } from '../../../services/contract/model';
import { signedBatch, signedRecord } from '../../../services/contract/record';
import { VerifiedRoots } from '../../../services/contract/batch-signature';
import { HEADERS } from '../../../services/contract/definitions';
import {
  orgPublicKeys,
  signingKeyOf,
  type Signer,
  type SigningKeyEntry,
} from '../../../services/contract/keyring';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';
import type { OrgConfig } from '../../../services/platform/config/config';
import { JAVA } from '../../fixtures/pdq-reference';
import {
  ReadRecords,
  verifyRecord,
  verifySigned,
  type RecordChecks,
} from '../../../services/contract/record-read';

/**
 * The reader's re-derivations, one rule per test, on records a hostile but
 * validly signing member could write. Keys are recomputed here with
 * node:crypto from the identity rule, not with the code under test.
 */
const codec = loadEventCodec();
const twitter = generateSigningKeyPair();
const google = generateSigningKeyPair();
const fbi: OrgConfig = {
  id: 'fbi',
  name: 'FBI',
  kind: 'government',
  maxTlp: 'amber',
  keys: [],
  pdq: { minQuality: 50 },
};
const TWITTER_KEY = { id: 'twitter-2026', publicKey: twitter.publicKey };
const DAY = 86_400_000;
const checks: RecordChecks = {
  codec,
  org: fbi,
  orgKeys: orgPublicKeys([
    { id: 'twitter', keys: [TWITTER_KEY] },
    { id: 'google', keys: [{ id: 'google-2026', publicKey: google.publicKey }] },
  ]),
  freshness: { maxAgeMs: 30 * DAY, maxSkewMs: 300_000 },
};

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function published(overrides: Partial<Indicator> = {}, event: Partial<ThreatEvent> = {}): ThreatEvent {
  const indicator: Indicator = {
    type: 'domain',
    value: 'evil-campaign.example.com',
    platform: null,
    category: 'disinformation',
    tlp: 'clear',
    recipients: [],
    confidence: 80,
    severity: 'high',
    validFrom: new Date().toISOString(),
    validUntil: null,
    threatActor: null,
    campaign: null,
    tags: [],
    description: null,
    references: [],
    firstSeen: null,
    quality: null,
    variants: [],
    warnings: [],
    ...overrides,
  };
  const key =
    indicator.platform !== null
      ? sha256(`${indicator.type}:${indicator.platform}:${indicator.value}`)
      : sha256(`${indicator.type}:${indicator.value}`);
  return {
    eventId: randomUUID(),
    schemaVersion: 2,
    producedAt: new Date().toISOString(),
    source: { org: 'twitter', submitter: 'soc' },
    canonicalizationVersion: 2,
    payload: { kind: 'IndicatorPublished', key, indicator },
    ...event,
  };
}

function message(event: ThreatEvent, signer = twitter.privateKeyPem): KafkaMessage {
  const r = signedRecord(event, codec, loadPrivateKey(signer));
  return {
    key: Buffer.from(r.key),
    value: r.value,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset: '0',
    timestamp: String(Date.now()),
    attributes: 0,
    size: 0,
  } as unknown as KafkaMessage;
}

function codeOf(event: ThreatEvent, now?: number): ErrorCode | 'ok' {
  const v = verifyRecord(checks, message(event), now === undefined ? {} : { now });
  return v.ok ? 'ok' : v.code;
}

function withPayload(event: ThreatEvent, change: (e: ThreatEvent) => void): ThreatEvent {
  const copy = structuredClone(event);
  change(copy);
  return copy;
}

/** Signed as twitter's key `twitter-2026`, with `signer`'s private key (a forger's, when not twitter's). */
function batchMessages(events: ThreatEvent[], signer = twitter.privateKeyPem): KafkaMessage[] {
  const as = { org: 'twitter', key: signingKeyOf(TWITTER_KEY), privateKey: loadPrivateKey(signer) };
  return signedBatch(events, codec, as).map(
    (r) =>
      ({
        key: Buffer.from(r.key),
        value: r.value,
        headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
        offset: '0',
      }) as unknown as KafkaMessage,
  );
}

const proofOf = (m: KafkaMessage): Buffer => m.headers![HEADERS.batchSignature] as Buffer;
const withProof = (m: KafkaMessage, proof: Buffer): KafkaMessage =>
  ({ ...m, headers: { ...m.headers, [HEADERS.batchSignature]: proof } }) as unknown as KafkaMessage;
const reasonOf = (m: KafkaMessage): string => {
  const v = verifyRecord({ ...checks, verifiedRoots: new VerifiedRoots() }, m);
  return v.ok ? 'ok' : `${v.code}: ${v.reason}`;
};

describe('verifyRecord: batch signatures (v2)', () => {
  const five = (): ThreatEvent[] =>
    Array.from({ length: 5 }, (_, i) => published({ value: `batch-${i}.example.com` }));

  it('accepts every record of a signed batch, checking the root signature once', () => {
    const roots = new VerifiedRoots();
    const messages = batchMessages(five());
    for (const m of messages) expect(verifyRecord({ ...checks, verifiedRoots: roots }, m).ok).toBe(true);
    expect(roots.size).toBe(1);
  });

  it('dead-letters a record whose audit path was changed', () => {
    const m = batchMessages(five())[2]!;
    const proof = Buffer.from(proofOf(m));
    proof[12] ^= 0x01; // a bit of the first path hash
    expect(reasonOf(withProof(m, proof))).toMatch(/^TR_SIGNATURE_INVALID: the record's Merkle proof/);
  });

  it('dead-letters a record that claims another leaf index', () => {
    const m = batchMessages(five())[2]!;
    const proof = Buffer.from(proofOf(m));
    proof.writeUInt32BE(3, 1);
    expect(reasonOf(withProof(m, proof))).toMatch(/^TR_SIGNATURE_INVALID: the record's Merkle proof/);
  });

  it("dead-letters a batch whose root another org signed, under this org's name", () => {
    const m = batchMessages(five(), google.privateKeyPem)[0]!;
    expect(reasonOf(m)).toMatch(
      /^TR_SIGNATURE_INVALID: the record's Merkle proof does not lead to a root twitter signed/,
    );
  });

  it('dead-letters a valid path under a root whose signature is bad', () => {
    const m = batchMessages(five())[1]!;
    const proof = Buffer.from(proofOf(m));
    proof[proof.length - TWITTER_KEY.id.length - 1] ^= 0x80; // the signature's last byte, before the key id
    expect(reasonOf(withProof(m, proof))).toMatch(/^TR_SIGNATURE_INVALID/);
  });

  it('dead-letters a record moved into another batch', () => {
    const a = batchMessages(five());
    const b = batchMessages(five());
    expect(reasonOf(withProof(a[0]!, proofOf(b[0]!)))).toMatch(
      /^TR_SIGNATURE_INVALID: the record's Merkle proof/,
    );
  });

  it('dead-letters a malformed or doubled batch header', () => {
    const m = batchMessages(five())[0]!;
    expect(reasonOf(withProof(m, proofOf(m).subarray(0, 20)))).toBe(
      'TR_SIGNATURE_INVALID: the batch signature header is malformed',
    );
    const doubled = { ...m, headers: { ...m.headers, [HEADERS.batchSignature]: [proofOf(m), proofOf(m)] } };
    expect(reasonOf(doubled as unknown as KafkaMessage)).toBe(
      `TR_SIGNATURE_INVALID: the ${HEADERS.batchSignature} header appears 2 times`,
    );
  });

  it('refuses a changed record even when the cache already holds its batch', () => {
    const roots = new VerifiedRoots();
    const messages = batchMessages(five());
    for (const m of messages) expect(verifyRecord({ ...checks, verifiedRoots: roots }, m).ok).toBe(true);
    const other = batchMessages(five())[3]!;
    const changedValue = { ...messages[3]!, value: other.value } as KafkaMessage;
    const changedPath = withProof(messages[3]!, Buffer.from(proofOf(messages[3]!)).fill(7, 10, 42));
    for (const m of [changedValue, changedPath]) {
      expect(verifyRecord({ ...checks, verifiedRoots: roots }, m)).toMatchObject({
        ok: false,
        code: 'TR_SIGNATURE_INVALID',
      });
    }
    expect(roots.size).toBe(1);
  });

  it('keeps verifying a record on its own, with a cold cache (a dead letter read back, a replay)', () => {
    const m = batchMessages(five())[4]!;
    expect(reasonOf(m)).toBe('ok');
  });
});

describe('verifyRecord: what a reader re-derives', () => {
  it('accepts an honest record', () => {
    expect(codeOf(published())).toBe('ok');
  });

  it('dead-letters a key that belongs to another value (dedup poisoning)', () => {
    const decoy = withPayload(published({ value: 'harmless.example.com' }), (e) => {
      e.payload.key = sha256('domain:evil-campaign.example.com');
    });
    expect(codeOf(decoy)).toBe('TR_KEY_MISMATCH');
  });

  it('dead-letters a value that is not in canonical form', () => {
    const shouty = withPayload(published({ value: 'Evil-Campaign.Example.COM' }), (e) => {
      e.payload.key = sha256('domain:Evil-Campaign.Example.COM');
    });
    expect(codeOf(shouty)).toBe('TR_VALUE_NOT_CANONICAL');
  });

  it('dead-letters a value that is not valid for its type', () => {
    expect(codeOf(published({ type: 'ipv4', value: '999.1.1.1' }))).toBe('TR_VALUE_NOT_CANONICAL');
  });

  it('keys a version-2 account by platform, so one handle on two platforms is two indicators', () => {
    const onTwitter = published({ type: 'social_account', value: 'badactor2020', platform: 'twitter' });
    const onFacebook = published({ type: 'social_account', value: 'badactor2020', platform: 'facebook' });
    expect(codeOf(onTwitter)).toBe('ok');
    expect(codeOf(onFacebook)).toBe('ok');
    expect(onTwitter.payload.key).not.toBe(onFacebook.payload.key);
  });

  it('checks a version-1 record by version-1 rules: the key of an account has no platform', () => {
    const v1 = withPayload(
      published({ type: 'social_account', value: 'badactor2020', platform: 'twitter' }),
      (e) => {
        e.canonicalizationVersion = 1;
        e.payload.key = sha256('social_account:badactor2020');
      },
    );
    expect(codeOf(v1)).toBe('ok');
    const v1WithV2Key = withPayload(v1, (e) => {
      e.payload.key = sha256('social_account:twitter:badactor2020');
    });
    expect(codeOf(v1WithV2Key)).toBe('TR_KEY_MISMATCH');
  });

  it.each([
    ['an empty eventId', (e: ThreatEvent) => (e.eventId = '')],
    ['a 3,000-character eventId', (e: ThreatEvent) => (e.eventId = 'a'.repeat(3000))],
    ['an uppercase eventId', (e: ThreatEvent) => (e.eventId = e.eventId.toUpperCase())],
    [
      'an unknown TLP',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.tlp = 'RED' as never),
    ],
    [
      'an unknown type',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.type = 'dns' as never),
    ],
    [
      'an unknown category',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.category = 'x' as never),
    ],
    [
      'an unknown platform',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.platform = 'myspace' as never),
    ],
    [
      'confidence 101',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.confidence = 101),
    ],
    [
      'red without recipients',
      (e: ThreatEvent) => ((e.payload as { indicator: Indicator }).indicator.tlp = 'red'),
    ],
    ['an unknown canonicalization version', (e: ThreatEvent) => (e.canonicalizationVersion = 9)],
    ['a key that is not hex', (e: ThreatEvent) => (e.payload.key = 'k')],
  ])('dead-letters a record with %s as TR_RECORD_INVALID', (_name, change) => {
    expect(codeOf(withPayload(published(), change))).toBe('TR_RECORD_INVALID');
  });

  it('dead-letters a record whose signature or source-org header appears twice', () => {
    const event = published();
    for (const name of [HEADERS.signature, HEADERS.sourceOrg]) {
      const m = message(event);
      const one = m.headers![name] as Buffer;
      // Even two copies of the right value: which one a reader took would decide what it believes.
      m.headers![name] = [one, one];
      expect(verifyRecord(checks, m)).toEqual({
        ok: false,
        code: 'TR_SIGNATURE_INVALID',
        reason: `the ${name} header appears 2 times`,
      });
    }
  });

  it('dead-letters a record claiming another source than its signer', () => {
    const forged = published({}, { source: { org: 'google', submitter: 'soc' } });
    expect(verifyRecord(checks, message(forged, twitter.privateKeyPem))).toMatchObject({
      ok: false,
      code: 'TR_SIGNATURE_INVALID',
    });
  });

  it('dead-letters a record older than the dedup window as stale', () => {
    const old = published({}, { producedAt: new Date(Date.now() - 31 * DAY).toISOString() });
    expect(codeOf(old)).toBe('TR_STALE');
    expect(codeOf(published({}, { producedAt: new Date(Date.now() - 29 * DAY).toISOString() }))).toBe('ok');
  });

  it('dead-letters a record from more than the allowed skew in the future as stale', () => {
    expect(codeOf(published({}, { producedAt: new Date(Date.now() + 10 * 60_000).toISOString() }))).toBe(
      'TR_STALE',
    );
    expect(codeOf(published({}, { producedAt: new Date(Date.now() + 4 * 60_000).toISOString() }))).toBe('ok');
  });

  it('lets a replay skip freshness, and nothing else', () => {
    const old = published({}, { producedAt: new Date(Date.now() - 90 * DAY).toISOString() });
    expect(verifyRecord(checks, message(old), { skipFreshness: true }).ok).toBe(true);
  });

  it('never quotes the value in a reason (it may be TLP:RED)', () => {
    const decoy = withPayload(published({ value: 'secret-red-value.example.com' }), (e) => {
      e.payload.key = sha256('domain:x.example.com');
    });
    const v = verifyRecord(checks, message(decoy));
    expect(v.ok).toBe(false);
    expect(JSON.stringify(v)).not.toContain('secret-red-value');
  });
});

describe('verifyRecord: checks shared by the subscriptions of a process (ReadRecords)', () => {
  const at = { topic: 'tr.community.clear', partition: 1 };

  it('checks a record once for every reader of its position, and each reader still applies its own entitlement', () => {
    const shared = new ReadRecords();
    let checked = 0;
    const counting = (m: KafkaMessage) =>
      shared.verdict(at, m, () => {
        checked += 1;
        return verifyRecord(checks, m);
      });
    const m = message(published({ tlp: 'amber' }));
    expect(counting(m).ok).toBe(true);
    expect(counting({ ...m } as KafkaMessage).ok).toBe(true);
    expect(checked).toBe(1);
    const company: OrgConfig = {
      id: 'acme',
      name: 'Acme',
      kind: 'company',
      maxTlp: 'green',
      keys: [],
      pdq: { minQuality: 50 },
    };
    expect(verifyRecord({ ...checks, readRecords: shared, org: company }, m, { position: at })).toMatchObject(
      {
        ok: false,
        code: 'TR_FORBIDDEN',
      },
    );
    expect(verifyRecord({ ...checks, readRecords: shared }, m, { position: at }).ok).toBe(true);
  });

  it('never serves a verdict for other bytes at the same position: a changed value or signature is checked again', () => {
    const shared = new ReadRecords();
    const m = message(published());
    const tampered = Buffer.from(m.value!);
    tampered[tampered.length - 1] ^= 1;
    const opts = { position: at };
    expect(verifyRecord({ ...checks, readRecords: shared }, m, opts).ok).toBe(true);
    expect(
      verifyRecord({ ...checks, readRecords: shared }, { ...m, value: tampered } as KafkaMessage, opts),
    ).toMatchObject({ ok: false, code: 'TR_SIGNATURE_INVALID' });
    const other = message(published(), google.privateKeyPem);
    expect(
      verifyRecord(
        { ...checks, readRecords: shared },
        { ...m, headers: other.headers } as KafkaMessage,
        opts,
      ),
    ).toMatchObject({ ok: false, code: 'TR_SIGNATURE_INVALID' });
    // And the original is still good afterwards.
    expect(verifyRecord({ ...checks, readRecords: shared }, m, opts).ok).toBe(true);
  });

  it('holds at most its capacity, oldest out first', () => {
    const shared = new ReadRecords(3);
    const m = message(published());
    let checked = 0;
    const check = (offset: number) =>
      shared.verdict(at, { ...m, offset: String(offset) } as KafkaMessage, () => {
        checked += 1;
        return { ok: true, event: published() };
      });
    for (const o of [1, 2, 3, 4]) check(o);
    expect(shared.size).toBe(3);
    check(4);
    expect(checked).toBe(4);
    check(1);
    expect(checked).toBe(5);
  });
});

describe('verifyRecord: headers a member may write but kafkajs never does', () => {
  const withHeaders = (m: KafkaMessage, headers: Record<string, unknown>): KafkaMessage =>
    ({ ...m, headers: { ...m.headers, ...headers } }) as unknown as KafkaMessage;

  it.each([HEADERS.batchSignature, HEADERS.signature, HEADERS.sourceOrg])(
    'refuses a null %s header with a verdict instead of throwing',
    (name) => {
      const m = withHeaders(message(published()), { [name]: null });
      expect(reasonOf(m)).toBe(`TR_SIGNATURE_INVALID: the ${name} header has a null value`);
    },
  );
});

/**
 * What a reader accepts from an org that rotated its key and revoked the old
 * one: each record is judged by the key that signed it and the instant the
 * record says it was produced.
 */
describe('a reader across a key rotation', () => {
  const oldPair = generateSigningKeyPair();
  const newPair = generateSigningKeyPair();
  const HOUR = 3_600_000;
  const ROTATED = Date.parse('2026-12-01T00:00:00Z');
  const OLD = {
    id: 'tw-2025',
    publicKey: oldPair.publicKey,
    notAfter: new Date(ROTATED + 24 * HOUR).toISOString(),
  };
  const NEW = { id: 'tw-2026', publicKey: newPair.publicKey, notBefore: new Date(ROTATED).toISOString() };

  const keysWith = (old: SigningKeyEntry) => orgPublicKeys([{ id: 'twitter', keys: [old, NEW] }]);

  /** A signer as the key's holder has it: the id, and no validity of its own to stop it. */
  const holderOf = (entry: { id: string; publicKey: string }, pem: string): Signer => ({
    org: 'twitter',
    key: signingKeyOf({ id: entry.id, publicKey: entry.publicKey }),
    privateKey: loadPrivateKey(pem),
  });

  function event(producedAt: number): ThreatEvent {
    const value = `rotation-${randomUUID().slice(0, 8)}.example.com`;
    return {
      eventId: randomUUID(),
      schemaVersion: 2,
      producedAt: new Date(producedAt).toISOString(),
      source: { org: 'twitter', submitter: 'soc' },
      canonicalizationVersion: 2,
      payload: {
        kind: 'IndicatorPublished',
        key: createHash('sha256').update(`domain:${value}`).digest('hex'),
        indicator: {
          type: 'domain',
          value,
          platform: null,
          category: 'disinformation',
          tlp: 'clear',
          recipients: [],
          confidence: 80,
          severity: 'high',
          validFrom: new Date(producedAt).toISOString(),
          validUntil: null,
          threatActor: null,
          campaign: null,
          tags: [],
          description: null,
          references: [],
          firstSeen: null,
          quality: null,
          variants: [],
          warnings: [],
        },
      },
    };
  }

  const asMessage = (r: {
    key: string;
    value: Buffer;
    headers: Record<string, string | Buffer>;
  }): KafkaMessage =>
    ({
      key: Buffer.from(r.key),
      value: r.value,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
      offset: '0',
    }) as unknown as KafkaMessage;

  function batchBy(signer: Signer, producedAt: number): KafkaMessage {
    return asMessage(signedBatch([event(producedAt)], codec, signer)[0]!);
  }

  function verdict(orgKeys: ReturnType<typeof keysWith>, message: KafkaMessage): string {
    const v = verifySigned({ codec, orgKeys, verifiedRoots: new VerifiedRoots() }, message);
    return v.ok ? 'ok' : `${v.code}: ${v.reason}`;
  }

  describe('a reader of an org that rotates its signing key', () => {
    const oldSigner = holderOf(OLD, oldPair.privateKeyPem);
    const newSigner = holderOf(NEW, newPair.privateKeyPem);

    it('accepts records of the old key and of the new one during the overlap', () => {
      expect(verdict(keysWith(OLD), batchBy(oldSigner, ROTATED + HOUR))).toBe('ok');
      expect(verdict(keysWith(OLD), batchBy(newSigner, ROTATED + HOUR))).toBe('ok');
    });

    it('refuses a record the old key signed after the overlap ended', () => {
      expect(verdict(keysWith(OLD), batchBy(oldSigner, ROTATED + 25 * HOUR))).toBe(
        `TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter, valid only until ${OLD.notAfter}, by a record produced at ${new Date(ROTATED + 25 * HOUR).toISOString()}`,
      );
    });

    it('refuses a record the new key signed before its notBefore', () => {
      expect(verdict(keysWith(OLD), batchBy(newSigner, ROTATED - HOUR))).toMatch(
        /^TR_SIGNATURE_INVALID: signed with key tw-2026 of twitter, valid only from/,
      );
    });

    it('refuses what a revoked key signed from revokedAt on, and keeps accepting what it signed before', () => {
      const revoked = keysWith({ ...OLD, revokedAt: new Date(ROTATED + 2 * HOUR).toISOString() });
      expect(verdict(revoked, batchBy(oldSigner, ROTATED + 3 * HOUR))).toMatch(
        /^TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter, revoked at 2026-12-01T02:00:00.000Z/,
      );
      expect(verdict(revoked, batchBy(oldSigner, ROTATED + HOUR))).toBe('ok');
    });

    it('refuses a record that names the new key but was signed with the old one', () => {
      const forged = { ...oldSigner, key: newSigner.key };
      expect(verdict(keysWith(OLD), batchBy(forged, ROTATED + HOUR))).toBe(
        "TR_SIGNATURE_INVALID: the record's Merkle proof does not lead to a root twitter signed",
      );
    });

    it('verifies a single-signature (v1) record with whichever listed key signed it, inside its validity', () => {
      const byNew = asMessage(signedRecord(event(ROTATED + HOUR), codec, newSigner.privateKey));
      expect(verdict(keysWith(OLD), byNew)).toBe('ok');
      const lateByOld = asMessage(signedRecord(event(ROTATED + 25 * HOUR), codec, oldSigner.privateKey));
      expect(verdict(keysWith(OLD), lateByOld)).toMatch(
        /^TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter/,
      );
    });
  });
});

describe('sightings', () => {
  const sighting = (org: string, tlp: 'green' | 'red' = 'green'): ThreatEvent => ({
    eventId: randomUUID(),
    schemaVersion: 4,
    producedAt: new Date().toISOString(),
    source: { org, submitter: 'soc' },
    canonicalizationVersion: 2,
    payload: {
      kind: 'Sighting',
      key: sha256('domain:vote-count-live.com'),
      sightingKind: 'false_positive',
      count: 1,
      firstSeen: null,
      lastSeen: null,
      where: null,
      note: 'a parked page',
      tlp,
      recipients: tlp === 'red' ? ['google'] : [],
      to: ['google'],
    },
  });

  it('accepts a sighting signed by its own org', () => {
    expect(codeOf(sighting('twitter'))).toBe('ok');
  });

  it('refuses a sighting one org signed in the name of another', () => {
    expect(codeOf(sighting('google'))).toBe('TR_SIGNATURE_INVALID');
  });

  it('refuses a red sighting the org is not a named recipient of', () => {
    expect(codeOf(sighting('twitter', 'red'))).toBe('TR_FORBIDDEN');
  });

  it('refuses a sighting older than the freshness bound', () => {
    const old = { ...sighting('twitter'), producedAt: new Date(Date.now() - 40 * DAY).toISOString() };
    expect(codeOf(old)).toBe('TR_STALE');
  });
});

describe('pdq reports from a member that skipped its producer', () => {
  /**
   * A reader holds pdq reports to the API's rules whatever their signature
   * says: records a validly signing member wrote without its producer's checks
   * are dead letters with TR_PDQ_INVALID, and the reason names the field.
   */
  const codec = loadEventCodec();
  const twitter = generateSigningKeyPair();
  const fbi: OrgConfig = {
    id: 'fbi',
    name: 'FBI',
    kind: 'government',
    maxTlp: 'amber',
    keys: [],
    pdq: { minQuality: 50 },
  };
  const checks: RecordChecks = {
    codec,
    org: fbi,
    orgKeys: orgPublicKeys([{ id: 'twitter', keys: [{ id: 'twitter-2026', publicKey: twitter.publicKey }] }]),
    pdqFloors: new Map([['twitter', 70]]),
    freshness: { maxAgeMs: 86_400_000, maxSkewMs: 300_000 },
  };
  const HASH = JAVA['bridge-1-original'];
  const ROTATED = JAVA['bridge-2-rotate-90'];

  function published(overrides: Partial<Indicator>): ThreatEvent {
    const indicator: Indicator = {
      type: 'pdq',
      value: HASH,
      platform: null,
      category: 'manipulated_media',
      tlp: 'green',
      recipients: [],
      confidence: 80,
      severity: 'high',
      validFrom: '2026-11-03T00:00:00.000Z',
      validUntil: null,
      threatActor: null,
      campaign: null,
      tags: [],
      description: null,
      references: [],
      firstSeen: null,
      quality: 90,
      variants: [ROTATED],
      warnings: [],
      ...overrides,
    };
    return {
      eventId: randomUUID(),
      schemaVersion: 3,
      producedAt: new Date().toISOString(),
      source: { org: 'twitter', submitter: 'soc' },
      canonicalizationVersion: 2,
      payload: {
        kind: 'IndicatorPublished',
        key: createHash('sha256').update(`${indicator.type}:${indicator.value}`).digest('hex'),
        indicator,
      },
    };
  }

  function verdict(event: ThreatEvent, over: Partial<RecordChecks> = {}): string {
    const r = signedRecord(event, codec, loadPrivateKey(twitter.privateKeyPem));
    const message = {
      key: Buffer.from(r.key),
      value: r.value,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
      offset: '0',
    } as unknown as KafkaMessage;
    const v = verifyRecord({ ...checks, ...over }, message);
    return v.ok ? 'ok' : `${v.code}: ${v.reason}`;
  }

  describe('verifyRecord: pdq reports', () => {
    it('accepts a pdq report with quality at its org’s floor and a variant', () => {
      expect(verdict(published({ quality: 70 }))).toBe('ok');
    });

    it('accepts a pdq report without quality or variants', () => {
      expect(verdict(published({ quality: null, variants: [] }))).toBe('ok');
    });

    it('dead-letters quality below the source org’s floor', () => {
      expect(verdict(published({ quality: 69 }))).toBe(
        "TR_PDQ_INVALID: payload.indicator.quality is 69, below twitter's floor of 70 (pdq.minQuality)",
      );
    });

    it('holds an org without a configured floor to the default of 50', () => {
      expect(verdict(published({ quality: 49 }), { pdqFloors: new Map() })).toMatch(
        /^TR_PDQ_INVALID: .*floor of 50/,
      );
    });

    it('dead-letters quality above 100', () => {
      expect(verdict(published({ quality: 101 }))).toMatch(
        /^TR_PDQ_INVALID: .*payload\.indicator\.quality must be an integer from 0 to 100/,
      );
    });

    it('dead-letters an all-zero hash', () => {
      const zero = '0'.repeat(64);
      expect(verdict(published({ value: zero, variants: [] }))).toMatch(
        /^TR_PDQ_INVALID: .*payload\.indicator\.value is degenerate: every bit is 0/,
      );
    });

    it('dead-letters an all-one variant', () => {
      expect(verdict(published({ variants: ['f'.repeat(64)] }))).toMatch(
        /^TR_PDQ_INVALID: .*payload\.indicator\.variants\.0 is degenerate: every bit is 1/,
      );
    });

    it('dead-letters more than 7 variants', () => {
      const eight = Object.values(JAVA)
        .slice(1)
        .concat(['0123456789abcdef'.repeat(4)]);
      expect(verdict(published({ variants: eight }))).toMatch(/^TR_PDQ_INVALID: .*must be at most 7/);
    });

    it('dead-letters a variant equal to the hash', () => {
      expect(verdict(published({ variants: [HASH] }))).toMatch(
        /^TR_PDQ_INVALID: .*variants\.0 equals the hash itself/,
      );
    });

    it('dead-letters a repeated variant', () => {
      expect(verdict(published({ variants: [ROTATED, ROTATED] }))).toMatch(
        /^TR_PDQ_INVALID: .*variants\.1 repeats variants\.0/,
      );
    });

    it('dead-letters an uppercase or short variant', () => {
      expect(verdict(published({ variants: [ROTATED.toUpperCase()] }))).toMatch(
        /variants\.0 must be lowercase hex/,
      );
      expect(verdict(published({ variants: [ROTATED.slice(2)] }))).toMatch(
        /variants\.0 must be 64 hex characters; got 62/,
      );
    });

    it('dead-letters quality or variants on another type', () => {
      const domain = published({ type: 'domain', value: 'example.com', quality: 80, variants: [ROTATED] });
      expect(verdict(domain)).toMatch(
        /^TR_PDQ_INVALID: .*quality is only allowed for type pdq, not domain.*variants are only allowed for type pdq/,
      );
    });

    it('reports a record broken beyond the PDQ rules as not well-formed', () => {
      const event = published({ value: '0'.repeat(64), variants: [], confidence: 101 });
      expect(verdict(event)).toMatch(/^TR_RECORD_INVALID: .*confidence.*degenerate/);
    });
  });
});
