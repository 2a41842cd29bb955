import {
  pdqDistance,
  pdqHashProblem,
  pdqProblems,
  pdqQualityProblem,
  popcount32,
} from '../../../services/contract/pdq';
import { BRIDGE_FILES, JAVA, PYTHON } from '../../fixtures/pdq-reference';

/** Set bits counted one at a time over the bytes: independent of the SWAR popcount. */
function bitsApart(a: string, b: string): number {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  let d = 0;
  for (let i = 0; i < x.length; i++) for (let v = x[i]! ^ y[i]!; v; v >>= 1) d += v & 1;
  return d;
}

describe('PDQ rules and distance', () => {
  it('counts the bits of a 32-bit word like a bit-by-bit count', () => {
    for (const x of [0, 1, 0xffffffff, 0x80000000, 0x12345678, 0xdeadbeef, 0x55555555]) {
      expect(popcount32(x)).toBe(
        x
          .toString(2)
          .split('')
          .filter((c) => c === '1').length,
      );
    }
  });

  it('measures the reference hashers 4 to 10 bits apart on each bridge photo', () => {
    for (const f of BRIDGE_FILES) {
      const d = pdqDistance(JAVA[f], PYTHON[f]);
      expect(d).toBe(bitsApart(JAVA[f], PYTHON[f]));
      expect(d).toBeGreaterThanOrEqual(4);
      expect(d).toBeLessThanOrEqual(10);
    }
  });

  it('measures a photo and its rotation far beyond the match threshold', () => {
    expect(pdqDistance(JAVA['bridge-1-original'], JAVA['bridge-2-rotate-90'])).toBeGreaterThan(100);
  });

  it.each([
    ['0'.repeat(64), 'is degenerate: every bit is 0'],
    ['f'.repeat(64), 'is degenerate: every bit is 1'],
    ['A'.repeat(64), 'must be lowercase hex'],
    ['a'.repeat(63), 'must be 64 hex characters; got 63'],
    [`${'a'.repeat(63)}z`, 'must be 64 hex characters; found a non-hex character'],
  ])('refuses %s: %s', (hash, message) => {
    expect(pdqHashProblem(hash)).toBe(message);
  });

  it('accepts a reference hash', () => {
    expect(pdqHashProblem(JAVA['bridge-3-rotate-180'])).toBeNull();
  });

  it('names every problem of a report at once, under the given path', () => {
    const problems = pdqProblems(
      {
        type: 'pdq',
        value: JAVA['bridge-1-original'],
        quality: 120,
        variants: [JAVA['bridge-1-original'], 'xyz'],
      },
      'payload.indicator',
    );
    expect(problems).toEqual([
      { path: 'payload.indicator.quality', message: 'must be an integer from 0 to 100' },
      {
        path: 'payload.indicator.variants.1',
        message: 'must be 64 hex characters; found a non-hex character',
      },
      { path: 'payload.indicator.variants.0', message: 'equals the hash itself' },
    ]);
  });

  it('has no floor problem for a report without quality or at the floor', () => {
    expect(pdqQualityProblem(null, 50, 'facebook')).toBeNull();
    expect(pdqQualityProblem(50, 50, 'facebook')).toBeNull();
    expect(pdqQualityProblem(49, 50, 'facebook')).toBe(
      "is 49, below facebook's floor of 50 (pdq.minQuality)",
    );
  });
});
