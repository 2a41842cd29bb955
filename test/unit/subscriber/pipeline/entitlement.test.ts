import type { OrgConfig } from '../../../../services/platform/config/config';
import { communityLevels } from '../../../../services/contract/names';
import { entitlementProblem } from '../../../../services/subscriber/pipeline/entitlement';
import { passesFilter } from '../../../../services/subscriber/pipeline/filter';
import type { Indicator, ThreatEvent, Tlp } from '../../../../services/contract/model';

const fbi: OrgConfig = { id: 'fbi', name: 'FBI', kind: 'government', maxTlp: 'amber' };
const greenOnly: OrgConfig = { id: 'smallco', name: 'Small Co', kind: 'company', maxTlp: 'green' };

describe('entitlement', () => {
  it('lets a named recipient read red and amber+strict, and nobody else', () => {
    expect(entitlementProblem(fbi, 'red', ['fbi'])).toBeUndefined();
    expect(entitlementProblem(fbi, 'amber+strict', ['dhs', 'fbi'])).toBeUndefined();
    expect(entitlementProblem(fbi, 'red', ['dhs'])).toMatch(/not a named recipient/);
  });

  it('never entitles an unknown TLP, whatever its spelling', () => {
    for (const tlp of ['RED', 'white', '', 'amber+strict ']) {
      expect(entitlementProblem(fbi, tlp as Tlp, [])).toMatch(/not a TLP 2.0 level/);
    }
  });

  it('caps community levels at the org maxTlp', () => {
    expect(entitlementProblem(greenOnly, 'green', [])).toBeUndefined();
    expect(entitlementProblem(greenOnly, 'amber', [])).toMatch(/up to tlp green/);
    expect(communityLevels(greenOnly)).toEqual(['clear', 'green']);
    expect(communityLevels(fbi)).toEqual(['clear', 'green', 'amber']);
  });
});

function event(overrides: Partial<Indicator> = {}): ThreatEvent {
  return {
    eventId: 'e1',
    schemaVersion: 2,
    producedAt: '2026-11-03T00:00:00.000Z',
    source: { org: 'facebook', submitter: 'fb' },
    canonicalizationVersion: 1,
    payload: {
      kind: 'IndicatorPublished',
      key: 'k',
      indicator: {
        type: 'domain',
        value: 'example.com',
        platform: null,
        category: 'disinformation',
        tlp: 'green',
        recipients: [],
        confidence: 60,
        severity: 'medium',
        validFrom: '2026-11-03T00:00:00.000Z',
        validUntil: null,
        threatActor: null,
        campaign: null,
        tags: ['election'],
        description: null,
        references: [],
        firstSeen: null,
        quality: null,
        variants: [],
        warnings: [],
        ...overrides,
      },
    },
  };
}

describe('subscription filter', () => {
  it.each([
    [{}, true],
    [{ types: ['url'] }, false],
    [{ types: ['domain'] }, true],
    [{ categories: ['phishing'] }, false],
    [{ minConfidence: 61 }, false],
    [{ minConfidence: 60 }, true],
    [{ tags: ['malware', 'election'] }, true],
    [{ tags: ['malware'] }, false],
    [{ sourceOrgs: ['google'] }, false],
    [{ sourceOrgs: ['facebook'] }, true],
  ] as const)('filter %j passes: %s', (filter, expected) => {
    expect(passesFilter(filter as never, event())).toBe(expected);
  });
});
