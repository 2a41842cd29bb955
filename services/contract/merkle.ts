import { hash } from 'node:crypto';

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
  return hash('sha256', Buffer.concat([LEAF, value]), 'buffer');
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return hash('sha256', Buffer.concat([NODE, left, right]), 'buffer');
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
  const walked = walkPath(leaf, index, size, path, () => false);
  return walked?.known ? undefined : walked?.nodes.at(-1);
}

/**
 * Walks a leaf's audit path up (RFC 9162, 2.1.3.2), keeping every node it
 * computes, and stops early at the first node `isKnown` vouches for (a node
 * of a tree whose root was already verified: the rest of the path can only
 * lead to that root). Undefined when the path cannot belong to leaf `index`
 * of a tree of `size` leaves.
 */
export function walkPath(
  leaf: Buffer,
  index: number,
  size: number,
  path: readonly Buffer[],
  isKnown: (node: Buffer) => boolean,
): { nodes: Buffer[]; known: boolean } | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const nodes: Buffer[] = [];
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
    nodes.push(r);
    if (isKnown(r)) return { nodes, known: true };
  }
  if (sn !== 0) return undefined;
  if (nodes.length === 0) nodes.push(r);
  return { nodes, known: false };
}
