import {
  acceptsTaxii,
  decodeNext,
  encodeNext,
  isTaxiiContentType,
  matches,
  parseObjectQuery,
  timestampMicros,
} from '../../../services/taxii/query';
import type { Head, StoredVersion } from '../../../services/taxii/store';

const options = { defaultLimit: 100, maxLimit: 1000, defaultVersions: 'last' as const };

describe('TAXII media types', () => {
  it.each([
    [undefined, true],
    ['application/taxii+json;version=2.1', true],
    ['application/taxii+json; version="2.1"', true],
    ['application/taxii+json', true],
    ['*/*', true],
    ['text/html, application/*;q=0.8', true],
    ['application/json', false],
    ['application/taxii+json;version=2.0', false],
    ['application/stix+json;version=2.1', false],
    ['application/taxii+json;version=2.1;q=0', false],
  ])('Accept %j is acceptable: %s', (accept, ok) => {
    expect(acceptsTaxii(accept)).toBe(ok);
  });

  it('takes only TAXII 2.1 bodies', () => {
    expect(isTaxiiContentType('application/taxii+json;version=2.1')).toBe(true);
    expect(isTaxiiContentType('application/json')).toBe(false);
    expect(isTaxiiContentType(undefined)).toBe(false);
  });
});

describe('TAXII query parameters', () => {
  it('reads timestamps to the microsecond', () => {
    expect(timestampMicros('2026-11-03T12:00:00Z', 'added_after')).toBe(
      Date.parse('2026-11-03T12:00:00Z') * 1000,
    );
    expect(timestampMicros('2026-11-03T12:00:00.123456789Z', 'x') % 1_000_000).toBe(123456);
    expect(() => timestampMicros('2026-11-03', 'added_after')).toThrow(/added_after must be a timestamp/);
  });

  it('round-trips next and refuses a token it did not give out', () => {
    expect(decodeNext(encodeNext(1_790_000_000_000_123))).toBe(1_790_000_000_000_123);
    expect(() => decodeNext('bm9wZQ')).toThrow(/next is not a value this server gave out/);
  });

  it('starts after the later of added_after and next, and caps limit', () => {
    const q = parseObjectQuery(
      { added_after: '1970-01-01T00:00:01Z', next: encodeNext(5_000_000), limit: '5000' },
      options,
    );
    expect([q.after, q.limit]).toEqual([5_000_000, 1000]);
  });

  it.each([
    ['limit', '0'],
    ['limit', '-1'],
    ['limit', 'ten'],
    ['match[version]', 'newest'],
    ['page', '2'],
  ])('refuses %s=%s with a 400', (name, value) => {
    expect(() => parseObjectQuery({ [name]: value }, options)).toThrow(
      expect.objectContaining({ status: 400 }) as Error,
    );
  });

  it('selects versions by first, last, all and timestamp', () => {
    const v = (position: number, version: string): StoredVersion => ({
      collection: 'clear',
      position,
      id: 'indicator--1',
      type: 'indicator',
      version,
      json: '{}',
    });
    const first = v(1, '2026-01-01T00:00:00.000Z');
    const last = v(2, '2026-01-02T00:00:00.000Z');
    const head: Head = {
      first: { version: first.version, position: 1 },
      last: { version: last.version, position: 2 },
    };
    const pick = (query: Record<string, string>): boolean[] =>
      [first, last].map((x) => matches(parseObjectQuery(query, options), x, head));
    expect(pick({})).toEqual([false, true]);
    expect(pick({ 'match[version]': 'first' })).toEqual([true, false]);
    expect(pick({ 'match[version]': 'all' })).toEqual([true, true]);
    expect(pick({ 'match[version]': '2026-01-01T00:00:00Z' })).toEqual([true, false]);
    expect(pick({ 'match[version]': 'all', 'match[type]': 'identity' })).toEqual([false, false]);
    expect(pick({ 'match[version]': 'all', 'match[spec_version]': '2.0' })).toEqual([false, false]);
    expect(pick({ 'match[version]': 'all', 'match[id]': 'indicator--2,indicator--1' })).toEqual([true, true]);
  });
});
