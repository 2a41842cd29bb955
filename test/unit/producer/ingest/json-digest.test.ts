import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { jsonDigest } from '../../../../services/producer/ingest/json-digest';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Fixed seed and run count: a failure prints the seed, and the same seed replays it. */
const RUNS = { seed: 14_2026, numRuns: 500 };

describe('jsonDigest', () => {
  it('is the SHA-256 of JSON.stringify for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonDigest(v)).toBe(sha256(JSON.stringify(v)));
      }),
      RUNS,
    );
  });

  it('writes what JSON.stringify writes for undefined, functions and toJSON', () => {
    const value = {
      a: undefined,
      b: [undefined, () => 1, 2],
      c: new Date(0),
      d: { toJSON: () => ({ e: 1 }) },
      f: Number.NaN,
      '"q"': 'x',
    };
    expect(jsonDigest(value)).toBe(sha256(JSON.stringify(value)));
  });

  it('hashes a value nested 100,000 levels deep without overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = i % 2 === 0 ? [deep] : { x: deep };
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonDigest(deep)).toMatch(/^[0-9a-f]{64}$/);
    let other: unknown = 'bottom!';
    for (let i = 0; i < 100_000; i++) other = i % 2 === 0 ? [other] : { x: other };
    expect(jsonDigest(other)).not.toBe(jsonDigest(deep));
  });
});
