import { createHash, randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../../services/contract/avro/codec';
import type { ErrorCode } from '../../../../services/contract/errors';
import type { Indicator, ThreatEvent } from '../../../../services/contract/model';
import { signedRecord } from '../../../../services/contract/record';
import {
  generateSigningKeyPair,
  loadPrivateKey,
  publicKeyFromBase64,
} from '../../../../services/contract/signing';
import type { OrgConfig } from '../../../../services/platform/config/config';
import { verifyRecord, type RecordChecks } from '../../../../services/subscriber/pipeline/verify';

/**
 * The reader's re-derivations, one rule per test, on records a hostile but
 * validly signing member could write. Keys are recomputed here with
 * node:crypto from the identity rule, not with the code under test.
 */
const codec = loadEventCodec();
const twitter = generateSigningKeyPair();
const google = generateSigningKeyPair();
const fbi: OrgConfig = { id: 'fbi', name: 'FBI', kind: 'government', maxTlp: 'amber' };
const DAY = 86_400_000;
const checks: RecordChecks = {
  codec,
  org: fbi,
  orgKeys: new Map([
    ['twitter', publicKeyFromBase64(twitter.publicKey)],
    ['google', publicKeyFromBase64(google.publicKey)],
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
