import { createHash, randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import type { Indicator, ThreatEvent } from '../../../services/contract/model';
import { signedRecord } from '../../../services/contract/record';
import { orgPublicKeys } from '../../../services/contract/keyring';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';
import type { OrgConfig } from '../../../services/platform/config/config';
import { verifyRecord, type RecordChecks } from '../../../services/contract/record-read';
import { JAVA } from '../../fixtures/pdq-reference';

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
