import type { Indicator, IndicatorType, Sighting, ThreatEvent } from '../../../services/contract/model';
import { stixIndicatorId, stixPattern, toStixBundle } from '../../../services/stix/export';
import { TLP2_MARKING_IDS } from '../../../services/stix/markings';
import { oraclePython, stixValidationErrors } from '../../../testkit/stix-validator';
import { JAVA } from '../../fixtures/pdq-reference';

function published(
  type: IndicatorType,
  value: string,
  extra: Partial<Indicator> = {},
  org = 'facebook',
): ThreatEvent {
  return {
    eventId: `0b6f5c2e-3d0a-4f7e-9a51-${Math.floor(Math.random() * 1e12)
      .toString(16)
      .padStart(12, '0')}`,
    schemaVersion: 2,
    producedAt: '2026-11-03T14:00:00.000Z',
    source: { org, submitter: `${org}-secops` },
    canonicalizationVersion: 1,
    payload: {
      kind: 'IndicatorPublished',
      key: 'a'.repeat(64),
      indicator: {
        type,
        value,
        platform: null,
        category: 'disinformation',
        tlp: 'green',
        recipients: [],
        confidence: 80,
        severity: 'high',
        validFrom: '2026-11-01T00:00:00.000Z',
        validUntil: '2026-12-01T00:00:00.000Z',
        threatActor: null,
        campaign: null,
        tags: ['election'],
        description: 'seen pushing fake polling-place changes',
        references: ['https://transparency.example.com/report/42'],
        firstSeen: null,
        quality: null,
        variants: [],
        warnings: [],
        ...extra,
      },
    },
  };
}

/** The reference bridge photo and its 90-degree rotation (facebook/ThreatExchange, pdq/java/README.md). */
const PDQ = JAVA['bridge-1-original'];
const PDQ_ROTATED = JAVA['bridge-2-rotate-90'];

const CASES: [IndicatorType, string, Partial<Indicator>, string][] = [
  ['domain', 'vote-count-live.com', {}, "[domain-name:value = 'vote-count-live.com']"],
  ['url', "https://x.example/it's", {}, "[url:value = 'https://x.example/it\\'s']"],
  ['ipv4', '203.0.113.9', {}, "[ipv4-addr:value = '203.0.113.9']"],
  ['cidr', '2001:db8::/32', {}, "[ipv6-addr:value = '2001:db8::/32']"],
  ['sha256', 'ab'.repeat(32), {}, `[file:hashes.'SHA-256' = '${'ab'.repeat(32)}']`],
  ['md5', 'cd'.repeat(16), {}, `[file:hashes.MD5 = '${'cd'.repeat(16)}']`],
  ['email', 'clerk@county-vote.example', {}, "[email-addr:value = 'clerk@county-vote.example']"],
  [
    'social_account',
    'precinct_watch_bot',
    { platform: 'twitter' },
    "[user-account:account_login = 'precinct_watch_bot' AND user-account:account_type = 'twitter']",
  ],
  ['asn', 'AS64500', {}, '[autonomous-system:number = 64500]'],
  ['pdq', 'f'.repeat(64), { category: 'manipulated_media' }, `[file:hashes.PDQ = '${'f'.repeat(64)}']`],
  [
    'pdq',
    PDQ,
    { category: 'manipulated_media', quality: 100, variants: [PDQ_ROTATED] },
    `[file:hashes.PDQ = '${PDQ}']`,
  ],
];

describe('STIX 2.1 export', () => {
  it.each(CASES)('maps %s to its pattern', (type, value, extra, pattern) => {
    expect(stixPattern(type, value, extra.platform ?? null)).toBe(pattern);
  });

  it('carries a pdq report’s quality and variants as custom properties', () => {
    const bundle = toStixBundle(
      [published('pdq', PDQ, { category: 'manipulated_media', quality: 87, variants: [PDQ_ROTATED] })],
      'pdq',
    );
    const indicator = bundle.objects.find((o) => o.type === 'indicator')!;
    expect(indicator.x_threatrelay_pdq_quality).toBe(87);
    expect(indicator.x_threatrelay_pdq_variants).toEqual([PDQ_ROTATED]);
  });

  it('leaves the pdq properties out when a report has neither', () => {
    const indicator = toStixBundle([published('domain', 'a.example')], 'd').objects.find(
      (o) => o.type === 'indicator',
    )!;
    expect(Object.keys(indicator).filter((k) => k.startsWith('x_threatrelay_pdq'))).toEqual([]);
  });

  it('marks each indicator with its TLP 2.0 marking and includes that definition and the source identity', () => {
    const bundle = toStixBundle(
      [published('domain', 'a.example', { tlp: 'red', recipients: ['fbi'] })],
      'msg_1',
    );
    const indicator = bundle.objects.find((o) => o.type === 'indicator')!;
    expect(indicator.object_marking_refs).toEqual([TLP2_MARKING_IDS.red]);
    expect(bundle.objects.some((o) => o.id === TLP2_MARKING_IDS.red)).toBe(true);
    expect(bundle.objects.some((o) => o.id === indicator.created_by_ref && o.type === 'identity')).toBe(true);
  });

  it('names the same STIX object for a revocation as for the original, and marks it revoked', () => {
    const original = published('domain', 'a.example');
    const revoked: ThreatEvent = {
      ...original,
      eventId: '5d8e1c9a-0b7f-4e4a-8f21-6a0c2b9d7e11',
      payload: {
        kind: 'IndicatorRevoked',
        key: 'a'.repeat(64),
        type: 'domain',
        value: 'a.example',
        platform: null,
        tlp: 'green',
        recipients: [],
        reason: 'false positive',
      },
    };
    const [a, b] = [toStixBundle([original], 'm1'), toStixBundle([revoked], 'm2')].map((bundle) =>
      bundle.objects.find((o) => o.type === 'indicator')!,
    );
    expect(a!.id).toBe(stixIndicatorId('facebook', 'a'.repeat(64)));
    expect(b!.id).toBe(a!.id);
    expect(b!.revoked).toBe(true);
  });

  it('produces bundles the OASIS STIX 2.1 validator accepts', () => {
    const python = oraclePython();
    const bundles = [
      toStixBundle(
        CASES.map(([type, value, extra]) => published(type, value, extra)),
        'all-types',
      ),
      toStixBundle(
        (['clear', 'green', 'amber', 'amber+strict', 'red'] as const).map((tlp) =>
          published(
            'domain',
            `${tlp.replace('+', '-')}.example.com`,
            { tlp, recipients: tlp.includes('r') && tlp !== 'green' && tlp !== 'clear' ? ['fbi'] : [] },
            'google',
          ),
        ),
        'all-tlps',
      ),
    ];
    expect(stixValidationErrors(python, bundles)).toEqual([[], []]);
  }, 180_000);

  describe('sightings', () => {
    const sighting = (sightingKind: Sighting['sightingKind'], note: string | null = null): ThreatEvent => ({
      eventId: '6b1f0a3c-2d4e-4f5a-8b6c-7d8e9f0a1b2c',
      schemaVersion: 4,
      producedAt: '2026-11-04T09:30:00.000Z',
      source: { org: 'fbi', submitter: 'cyber' },
      canonicalizationVersion: 2,
      payload: {
        kind: 'Sighting',
        key: 'a'.repeat(64),
        sightingKind,
        count: 3,
        firstSeen: '2026-11-03T22:00:00.000Z',
        lastSeen: '2026-11-04T08:45:00.000Z',
        where: 'mail gateway',
        note,
        tlp: 'amber',
        recipients: [],
        to: ['facebook'],
      },
    });
    const only = (event: ThreatEvent, type: string): Record<string, unknown> =>
      toStixBundle([event], 'b').objects.find((o) => o.type === type)!;

    it("makes a true positive a sighting of the addressed org's indicator, sighted where the sighter is", () => {
      const object = only(sighting('true_positive'), 'sighting');
      expect(object).toMatchObject({
        sighting_of_ref: stixIndicatorId('facebook', 'a'.repeat(64)),
        count: 3,
        first_seen: '2026-11-03T22:00:00.000Z',
        last_seen: '2026-11-04T08:45:00.000Z',
      });
      expect(object.where_sighted_refs).toEqual([
        toStixBundle([sighting('seen')], 'b').objects.find((o) => o.type === 'identity')!.id,
      ]);
    });

    it('makes a false positive a strongly-disagree opinion with the note as explanation', () => {
      expect(only(sighting('false_positive', 'a parked page'), 'opinion')).toMatchObject({
        opinion: 'strongly-disagree',
        explanation: 'a parked page',
        object_refs: [stixIndicatorId('facebook', 'a'.repeat(64))],
      });
    });

    it('makes an expired sighting a disagree opinion', () => {
      expect(only(sighting('expired'), 'opinion')).toMatchObject({ opinion: 'disagree' });
    });

    it('refers to the indicators of the orgs the reader knows reported the key', () => {
      const bundle = toStixBundle([sighting('seen')], 'b', [], () => ['google', 'twitter']);
      expect(bundle.objects.filter((o) => o.type === 'sighting').map((o) => o.sighting_of_ref)).toEqual([
        stixIndicatorId('google', 'a'.repeat(64)),
        stixIndicatorId('twitter', 'a'.repeat(64)),
      ]);
    });

    it('produces sightings and opinions the OASIS STIX 2.1 validator accepts', () => {
      const kinds = ['seen', 'true_positive', 'false_positive', 'expired'] as const;
      const bundle = toStixBundle(
        kinds.map((k, i) => ({ ...sighting(k, 'why'), eventId: `6b1f0a3c-2d4e-4f5a-8b6c-7d8e9f0a1b2${i}` })),
        'sightings',
      );
      expect(stixValidationErrors(oraclePython(), [bundle])).toEqual([[]]);
    }, 180_000);
  });
});
