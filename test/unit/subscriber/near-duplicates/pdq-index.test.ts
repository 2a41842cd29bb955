/**
 * The PDQ index against a brute-force scan written independently (BigInt XOR
 * and a count of set bits), on random and clustered sets, at the threshold's
 * edges, with variants, removals and rebuilds; and on Meta's reference
 * hashes of one photo and its seven dihedral transforms.
 */
import fc from 'fast-check';
import { PdqIndex } from '../../../../services/subscriber/near-duplicates';
import type { NearDuplicate, ProbeStrategy } from '../../../../services/subscriber/near-duplicates';
import { BRIDGE_FILES, JAVA, PYTHON } from '../../../fixtures/pdq-reference';

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomHash(rand: () => number): string {
  let hex = '';
  for (let i = 0; i < 64; i++) hex += Math.floor(rand() * 16).toString(16);
  return hex;
}

/** `hash` with exactly `bits` distinct bits flipped. */
function flip(hash: string, bits: number, rand: () => number): string {
  let v = BigInt(`0x${hash}`);
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(Math.floor(rand() * 256));
  for (const bit of chosen) v ^= 1n << BigInt(bit);
  return v.toString(16).padStart(64, '0');
}

/** Set bits per byte value, counted one bit at a time: independent of the index's word popcount. */
const BYTE_BITS = Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let b = 0; b < 8; b++) n += (v >> b) & 1;
  return n;
});

function distance(a: string, b: string): number {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  let d = 0;
  for (let i = 0; i < 32; i++) d += BYTE_BITS[x[i] ^ y[i]];
  return d;
}

/** The answer by definition: every ref with a stored hash within r, at its nearest, nearest first. */
function bruteForce(
  rows: { hash: string; ref: string }[],
  query: string,
  r: number,
): NearDuplicate<string>[] {
  const best = new Map<string, number>();
  for (const { hash, ref } of rows) {
    const d = distance(hash, query);
    if (d <= r && (best.get(ref) ?? Infinity) > d) best.set(ref, d);
  }
  return [...best].map(([ref, d]) => ({ ref, distance: d }));
}

/** Order-free comparison: ties between refs may come in any order. */
function sorted(matches: NearDuplicate<string>[]): NearDuplicate<string>[] {
  return [...matches].sort((a, b) => a.distance - b.distance || a.ref.localeCompare(b.ref));
}

function build(rows: { hash: string; ref: string }[], capacity?: number): PdqIndex<string> {
  return PdqIndex.fromRows(rows, capacity);
}

describe('PdqIndex against a brute-force scan', () => {
  const rand = prng(24);
  const random = Array.from({ length: 3000 }, (_, i) => ({ hash: randomHash(rand), ref: `r${i}` }));
  const randomIndex = build(random);
  // Queries near stored hashes (0 to 48 bits off) and unrelated ones.
  const queries = Array.from({ length: 120 }, (_, i) =>
    i % 4 === 3 ? randomHash(rand) : flip(random[i * 7].hash, i % 49, rand),
  );

  it.each([0, 1, 8, 15, 16, 17, 31, 32, 47, 48, 64, 100, 128, 255])(
    'answers a random set like the scan at maxDistance %i, probing',
    (r) => {
      // Past two bits a slice, probing visits most buckets: a sample of the queries is enough there.
      for (const q of r < 48 ? queries : queries.slice(0, 12)) {
        expect(sorted(randomIndex.query(q, r, 'probe'))).toEqual(sorted(bruteForce(random, q, r)));
      }
    },
  );

  it.each(['auto', 'scan'] as ProbeStrategy[])(
    'answers a random set like the scan at 31 with strategy %s',
    (s) => {
      for (const q of queries) {
        expect(sorted(randomIndex.query(q, 31, s))).toEqual(sorted(bruteForce(random, q, 31)));
      }
    },
  );

  it('answers a clustered set like the scan: re-encodes 0 to 40 bits from a few originals', () => {
    const r = prng(7);
    const originals = Array.from({ length: 40 }, () => randomHash(r));
    const rows = originals.flatMap((o, c) =>
      Array.from({ length: 50 }, (_, i) => ({ hash: flip(o, (i * 13) % 41, r), ref: `c${c}-${i}` })),
    );
    const index = build(rows);
    for (const o of originals) {
      for (const bits of [0, 5, 16, 31]) {
        const q = flip(o, bits, r);
        expect(sorted(index.query(q, 31))).toEqual(sorted(bruteForce(rows, q, 31)));
      }
    }
  });

  it('finds a hash exactly 31 bits away and not one exactly 32 bits away', () => {
    const r = prng(31);
    const anchor = randomHash(r);
    const index = build([{ hash: anchor, ref: 'anchor' }]);
    const at31 = flip(anchor, 31, r);
    const at32 = flip(anchor, 32, r);
    expect(index.query(at31, 31)).toEqual([{ ref: 'anchor', distance: 31 }]);
    expect(index.query(at32, 31)).toEqual([]);
    expect(index.query(at32, 32)).toEqual([{ ref: 'anchor', distance: 32 }]);
  });

  it('finds hashes 31 bits away whatever slices the flipped bits fall in', () => {
    // Two bits in 15 slices and one in the last: only one slice is within one bit.
    const r = prng(99);
    for (let trial = 0; trial < 200; trial++) {
      const anchor = randomHash(r);
      const spared = Math.floor(r() * 16);
      let v = BigInt(`0x${anchor}`);
      for (let slice = 0; slice < 16; slice++) {
        const base = slice * 16;
        v ^= 1n << BigInt(base + 3);
        if (slice !== spared) v ^= 1n << BigInt(base + 11);
      }
      const query = v.toString(16).padStart(64, '0');
      expect(build([{ hash: anchor, ref: 'a' }]).query(query, 31, 'probe')).toEqual([
        { ref: 'a', distance: 31 },
      ]);
    }
  });

  it('reports a ref once, at the distance of its nearest variant', () => {
    const r = prng(3);
    const anchor = randomHash(r);
    const variant = randomHash(r);
    const index = build([
      { hash: anchor, ref: 'image' },
      { hash: variant, ref: 'image' },
    ]);
    expect(index.query(flip(variant, 6, r), 31)).toEqual([{ ref: 'image', distance: 6 }]);
    expect(index.query(anchor, 255)).toEqual([{ ref: 'image', distance: 0 }]);
    expect(index.size).toBe(2);
    expect(index.refCount).toBe(1);
  });

  it('orders answers nearest first', () => {
    const r = prng(5);
    const base = randomHash(r);
    const rows = [20, 3, 11].map((bits, i) => ({ hash: flip(base, bits, r), ref: `d${i}` }));
    const got = build(rows)
      .query(base, 31)
      .map((m) => m.distance);
    expect(got).toEqual([3, 11, 20]);
  });

  it('keeps one entry when the same hash is added twice for the same ref', () => {
    const index = new PdqIndex<string>();
    const h = randomHash(prng(1));
    index.add(h, 'x');
    index.add(h, 'x');
    expect(index.size).toBe(1);
  });

  it('forgets a ref with its variants and keeps the others sharing its buckets', () => {
    const r = prng(11);
    const anchor = randomHash(r);
    // Same slices as the anchor bar a few bits: they share buckets, so unlinking walks chains.
    const rows = [
      { hash: flip(anchor, 2, r), ref: 'before' },
      { hash: anchor, ref: 'gone' },
      { hash: flip(anchor, 3, r), ref: 'gone' },
      { hash: flip(anchor, 1, r), ref: 'after' },
    ];
    const index = build(rows);
    expect(index.remove('gone')).toBe(2);
    expect(index.remove('gone')).toBe(0);
    const left = rows.filter((row) => row.ref !== 'gone');
    expect(sorted(index.query(anchor, 31))).toEqual(sorted(bruteForce(left, anchor, 31)));
    expect([...index.rows()]).toEqual(left);
  });

  it('stays exact through a random sequence of adds and removes, reusing freed slots', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ remove: fc.boolean(), ref: fc.integer({ min: 0, max: 30 }), bits: fc.nat(40) }),
          {
            maxLength: 120,
          },
        ),
        fc.integer(),
        (ops, seed) => {
          const r = prng(seed);
          const center = randomHash(r);
          const index = new PdqIndex<string>(16);
          let model: { hash: string; ref: string }[] = [];
          for (const op of ops) {
            const ref = `r${op.ref}`;
            if (op.remove) {
              index.remove(ref);
              model = model.filter((row) => row.ref !== ref);
            } else {
              const hash = flip(center, op.bits, r);
              index.add(hash, ref);
              if (!model.some((row) => row.ref === ref && row.hash === hash)) model.push({ hash, ref });
            }
          }
          const q = flip(center, 10, r);
          expect(sorted(index.query(q, 31, 'probe'))).toEqual(sorted(bruteForce(model, q, 31)));
          expect(index.size).toBe(model.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stays exact with compacted, recently added and removed entries mixed', () => {
    const r = prng(13);
    const rows = random.slice(0, 1500);
    const index = build(rows);
    const added = queries.slice(0, 40).map((q, i) => ({ hash: flip(q, i % 20, r), ref: `new${i}` }));
    for (const row of added) index.add(row.hash, row.ref);
    for (let i = 0; i < 1500; i += 3) index.remove(`r${i}`);
    index.remove('new5');
    const model = [...rows, ...added].filter(
      (row) => row.ref !== 'new5' && !(row.ref.startsWith('r') && Number(row.ref.slice(1)) % 3 === 0),
    );
    for (const q of queries) {
      expect(sorted(index.query(q, 31, 'probe'))).toEqual(sorted(bruteForce(model, q, 31)));
    }
    index.compact();
    for (const q of queries) {
      expect(sorted(index.query(q, 31, 'probe'))).toEqual(sorted(bruteForce(model, q, 31)));
    }
    expect(index.size).toBe(model.length);
  });

  it('compacts by itself as adds and removes pile up, keeping every entry', () => {
    const index = new PdqIndex<string>(16);
    const rows = random.concat(
      random.slice(0, 2500).map((row) => ({ hash: flip(row.hash, 7, rand), ref: `v${row.ref}` })),
    );
    for (const row of rows) index.add(row.hash, row.ref);
    for (let i = 0; i < 2500; i++) index.remove(`vr${i}`);
    expect(index.size).toBe(random.length);
    expect(sorted(index.query(random[42].hash, 31))).toEqual(sorted(bruteForce(random, random[42].hash, 31)));
    expect([...index.rows()]).toEqual(random);
  });

  it('rebuilds from its rows with the same answers', () => {
    const rebuilt = PdqIndex.fromRows(randomIndex.rows());
    for (const q of queries.slice(0, 30)) expect(rebuilt.query(q, 31)).toEqual(randomIndex.query(q, 31));
    expect(rebuilt.size).toBe(random.length);
  });

  it('grows past its initial capacity without losing entries', () => {
    const small = build(random.slice(0, 500), 16);
    expect(small.size).toBe(500);
    expect([...small.rows()].map((row) => row.hash)).toEqual(random.slice(0, 500).map((row) => row.hash));
  });

  it('refuses a hash that is not 64 lowercase hex characters', () => {
    const index = new PdqIndex<string>();
    expect(() => index.add('F'.repeat(64), 'x')).toThrow(/not 64 lowercase hex/);
    expect(() => index.query('abc', 31)).toThrow(/not 64 lowercase hex/);
  });

  it('refuses a negative or fractional maxDistance', () => {
    const index = new PdqIndex<string>();
    expect(() => index.query('a'.repeat(64), -1)).toThrow(/maxDistance -1/);
    expect(() => index.query('a'.repeat(64), 1.5)).toThrow(/maxDistance 1.5/);
  });
});

describe('PdqIndex on the reference photos of facebook/ThreatExchange', () => {
  it('matches every transform hashed by another hasher through the original report’s variants', () => {
    // One report: the Java hash of the original, the Java hashes of its 7 transforms as variants.
    const index = PdqIndex.fromRows(BRIDGE_FILES.map((f) => ({ hash: JAVA[f], ref: 'bridge' })));
    for (const f of BRIDGE_FILES) {
      const [match] = index.query(PYTHON[f], 31);
      expect(match?.ref).toBe('bridge');
      expect(match?.distance).toBe(distance(PYTHON[f], JAVA[f]));
    }
  });

  it('matches only the upright photo when the report carries no variants', () => {
    const index = PdqIndex.fromRows([{ hash: JAVA['bridge-1-original'], ref: 'bridge' }]);
    const matched = BRIDGE_FILES.filter((f) => index.query(PYTHON[f], 31).length > 0);
    expect(matched).toEqual(['bridge-1-original']);
  });

  it('agrees with the scan on the reference hashes at every threshold', () => {
    const rows = BRIDGE_FILES.flatMap((f) => [
      { hash: JAVA[f], ref: `java-${f}` },
      { hash: PYTHON[f], ref: `python-${f}` },
    ]);
    const index = build(rows);
    for (const r of [0, 4, 10, 31, 106, 134, 256]) {
      for (const f of BRIDGE_FILES) {
        expect(sorted(index.query(JAVA[f], r, 'probe'))).toEqual(sorted(bruteForce(rows, JAVA[f], r)));
      }
    }
  });
});
