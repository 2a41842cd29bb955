import { buildPublishedEvents } from '../../../../services/producer/ingest/build-events';
import {
  attachRecordWarnings,
  refuseRejected,
  warninglistPolicy,
  warningsOf,
} from '../../../../services/producer/ingest/warnings';
import { indicatorInputSchema } from '../../../../services/contract/indicator';
import { WarninglistIndex } from '../../../../services/contract/warninglists';
import type { OrgConfig } from '../../../../services/platform/config/config';

const index = new WarninglistIndex([
  {
    id: 'rfc1918',
    file: {
      name: 'RFC 1918',
      version: 5,
      description: '',
      type: 'cidr',
      matching_attributes: ['ip-dst'],
      list: ['10.0.0.0/8'],
    },
  },
]);

function events(values: string[]): ReturnType<typeof buildPublishedEvents> {
  const inputs = values.map((value) =>
    indicatorInputSchema.parse({
      type: 'ipv4',
      value,
      category: 'c2',
      tlp: 'green',
      confidence: 50,
      severity: 'low',
    }),
  );
  return buildPublishedEvents(inputs, { org: 'acme', submitter: 'soc', idempotencyKey: undefined }, true);
}

function org(warninglists?: OrgConfig['warninglists']): OrgConfig {
  return {
    id: 'acme',
    name: 'acme',
    kind: 'company',
    keys: [],
    pdq: { minQuality: 50 },
    maxTlp: 'amber',
    ...(warninglists ? { warninglists } : {}),
  };
}

describe('producer warninglist policy', () => {
  it('lists each item its own warnings, in order', () => {
    const policy = warninglistPolicy(index, org());
    expect(warningsOf(policy, events(['203.0.113.9', '10.1.1.1']))).toEqual([
      [],
      [{ list: 'rfc1918', version: 5 }],
    ]);
  });

  it('never warns about an exception', () => {
    const policy = warninglistPolicy(index, org({ reject: [], exceptions: ['10.1.1.1'] }));
    expect(warningsOf(policy, events(['10.1.1.1']))).toEqual([[]]);
  });

  it('refuses a rejected list naming the item and the list', () => {
    const policy = warninglistPolicy(index, org({ reject: ['rfc1918'], exceptions: [] }));
    const found = warningsOf(policy, events(['203.0.113.9', '10.1.1.1']));
    expect(() => refuseRejected(policy, found, (i) => `${i}.value`)).toThrow(
      expect.objectContaining({
        code: 'TR_INVALID_VALUE',
        details: [{ path: '1.value', message: expect.stringContaining('"rfc1918" (version 5)') }],
      }),
    );
  });

  it('only informs when the org rejects no list', () => {
    const policy = warninglistPolicy(index, org());
    expect(() => refuseRejected(policy, warningsOf(policy, events(['10.1.1.1'])), String)).not.toThrow();
  });

  it('sets warnings on indicators that carry the field', () => {
    const payloads = [
      { kind: 'IndicatorPublished', indicator: { warnings: [] as { list: string; version: number }[] } },
      { kind: 'IndicatorRevoked' },
    ];
    attachRecordWarnings(payloads, [[{ list: 'rfc1918', version: 5 }], undefined]);
    expect(payloads[0]!.indicator!.warnings).toEqual([{ list: 'rfc1918', version: 5 }]);
  });
});
