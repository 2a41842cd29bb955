import type { Indicator } from '../../../../services/contract/model';
import { WarninglistIndex, readerWarnings } from '../../../../services/contract/warninglists';

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
  {
    id: 'url-shortener',
    file: {
      name: 'shorteners',
      version: 27,
      description: '',
      type: 'hostname',
      matching_attributes: ['url'],
      list: ['bit.ly'],
    },
  },
]);

function indicator(type: Indicator['type'], value: string): Indicator {
  return {
    type,
    value,
    platform: null,
    category: 'c2',
    tlp: 'green',
    recipients: [],
    confidence: 50,
    severity: 'low',
    validFrom: '2026-12-08T00:00:00.000Z',
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
  };
}

describe("a reader's warnings", () => {
  it('come from its own lists when the record claims nothing', () => {
    expect(readerWarnings(index, indicator('ipv4', '10.0.0.9'))).toEqual([{ list: 'rfc1918', version: 5 }]);
  });

  it('cannot be stripped by a record claiming an empty list', () => {
    expect(readerWarnings(index, { ...indicator('ipv4', '10.0.0.9'), warnings: [] })).toEqual([
      { list: 'rfc1918', version: 5 },
    ]);
  });

  it('keep a claim about a list version the reader does not hold', () => {
    expect(
      readerWarnings(index, {
        ...indicator('ipv4', '203.0.113.1'),
        warnings: [{ list: 'rfc1918', version: 4 }],
      }),
    ).toEqual([{ list: 'rfc1918', version: 4 }]);
  });
});
