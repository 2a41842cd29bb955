import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { auditSteps, buildTree, leafHash, rootFromPath, walkPath } from '../../../services/contract/merkle';

/**
 * The root is checked against the Merkle Tree Hash written straight from RFC
 * 6962's recursive definition here, not against the code under test.
 */
const sha = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
function mth(d: Buffer[]): Buffer {
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return sha(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
const values = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`record ${i}`));

describe('Merkle tree (RFC 6962)', () => {
  it('hashes the empty-prefix leaf as SHA-256(0x00 || value)', () => {
    // printf '\x00' | sha256sum : the leaf of an empty value (RFC 6962 test vectors use it).
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
  });

  it('gives the RFC root for every size from 1 to 70', () => {
    for (let n = 1; n <= 70; n++) expect(buildTree(values(n)).root.equals(mth(values(n)))).toBe(true);
  });

  it("leads every leaf's path back to the root, and no other leaf's", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (n, pick) => {
        const v = values(n);
        const tree = buildTree(v);
        const i = pick % n;
        expect(rootFromPath(leafHash(v[i]!), i, n, tree.paths[i]!)?.equals(tree.root)).toBe(true);
        if (n > 1) {
          const j = (i + 1) % n;
          expect(rootFromPath(leafHash(v[i]!), j, n, tree.paths[i]!)?.equals(tree.root) ?? false).toBe(false);
        }
      }),
      { numRuns: 200, seed: 20261127 },
    );
  });

  it('refuses a path of the wrong length and an index outside the tree', () => {
    const v = values(5);
    const tree = buildTree(v);
    const leaf = leafHash(v[2]!);
    expect(rootFromPath(leaf, 2, 5, [...tree.paths[2]!, tree.root])).toBeUndefined();
    expect(rootFromPath(leaf, 2, 5, tree.paths[2]!.slice(1))).toBeUndefined();
    expect(rootFromPath(leaf, 5, 5, tree.paths[2]!)).toBeUndefined();
    expect(rootFromPath(leaf, -1, 5, tree.paths[2]!)).toBeUndefined();
  });

  it('gives leaf i of n the path length of the RFC 6962 audit path, and no other length fits', () => {
    // PATH(m, D[n]) from RFC 6962 2.1.1, counted: one node per split down to the leaf.
    const pathLength = (m: number, n: number): number => {
      if (n === 1) return 0;
      let k = 1;
      while (k * 2 < n) k *= 2;
      return 1 + (m < k ? pathLength(m, k) : pathLength(m - k, n - k));
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.nat(), (n, pick) => {
        const i = pick % n;
        expect(auditSteps(i, n)?.length).toBe(pathLength(i, n));
      }),
      { numRuns: 500, seed: 20261208 },
    );
    expect(auditSteps(5, 5)).toBeUndefined();
    expect(auditSteps(0.5, 5)).toBeUndefined();
  });

  it('refuses an (index, size) its path does not fit even when the first node is already known', () => {
    const v = values(8);
    const tree = buildTree(v);
    const known = (): boolean => true;
    expect(walkPath(leafHash(v[0]!), 0, 8, tree.paths[0]!, known)?.known).toBe(true);
    expect(walkPath(leafHash(v[0]!), 0, 1000, tree.paths[0]!, known)).toBeUndefined();
    expect(walkPath(leafHash(v[0]!), 0, 4, tree.paths[0]!, known)).toBeUndefined();
  });

  it('places each node a walk computes at the leaves it covers', () => {
    const v = values(6);
    const tree = buildTree(v);
    const walked = walkPath(leafHash(v[4]!), 4, 6, tree.paths[4]!, () => false)!;
    expect(walked.nodes.map((n) => [n.start, n.end])).toEqual([
      [4, 6],
      [0, 6],
    ]);
    expect(walked.nodes.at(-1)!.hash.equals(mth(v))).toBe(true);
  });
});
