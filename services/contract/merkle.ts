import { createHash } from 'node:crypto';

/**
 * A Merkle tree over a transaction's record values, hashed as RFC 6962 does
 * (leaf = SHA-256(0x00 || value), node = SHA-256(0x01 || left || right), the
 * left subtree the largest power of two below n), so one signature over the
 * root stands for every record and each record is checked on its own with
 * its audit path (RFC 9162, 2.1.3.2).
 */

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

export function leafHash(value: Buffer): Buffer {
  return createHash('sha256').update(LEAF).update(value).digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

export interface MerkleTree {
  root: Buffer;
  /** The audit path of each leaf, bottom up. */
  paths: Buffer[][];
}

/** The root and every leaf's audit path, each subtree hashed once. */
export function buildTree(values: readonly Buffer[]): MerkleTree {
  if (values.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  const paths: Buffer[][] = values.map(() => []);
  const subtree = (from: number, to: number): Buffer => {
    if (to - from === 1) return leafHash(values[from]!);
    let k = 1;
    while (k * 2 < to - from) k *= 2;
    const left = subtree(from, from + k);
    const right = subtree(from + k, to);
    for (let i = from; i < from + k; i++) paths[i]!.push(right);
    for (let i = from + k; i < to; i++) paths[i]!.push(left);
    return nodeHash(left, right);
  };
  return { root: subtree(0, values.length), paths };
}

/**
 * The root a leaf and its audit path lead to, or undefined when the path
 * cannot belong to leaf `index` of a tree of `size` leaves (too long, too
 * short, an index outside the tree).
 */
export function rootFromPath(
  leaf: Buffer,
  index: number,
  size: number,
  path: readonly Buffer[],
): Buffer | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}
