import { passesFilter } from '../../../../services/subscriber/pipeline/filter';
import type { Indicator, ThreatEvent } from '../../../../services/contract/model';

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
