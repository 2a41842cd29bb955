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
 * The subtree each step of leaf `index`'s audit path climbs to, bottom up, in
 * a tree of `size` leaves: its leaf range [start, end) and whether the path's
 * hash at that step is the left sibling. Derived from RFC 6962's own split
 * (the left subtree holds the largest power of two below the range's size),
 * so the number of steps is the only path length leaf `index` of a tree of
 * `size` can have. Undefined for an index outside the tree.
 */
export interface PathStep {
  start: number;
  end: number;
  siblingOnLeft: boolean;
}

export function auditSteps(index: number, size: number): PathStep[] | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return undefined;
  }
  const steps: PathStep[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    let k = 1;
    while (k * 2 < end - start) k *= 2;
    const middle = start + k;
    steps.push({ start, end, siblingOnLeft: index >= middle });
    if (index < middle) end = middle;
    else start = middle;
  }
  return steps.reverse();
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
  return walked?.known ? undefined : walked?.nodes.at(-1)?.hash;
}

/** A node a walk computed, with the leaves it covers: where in the tree it stands. */
export interface WalkedNode {
  hash: Buffer;
  start: number;
  end: number;
}

/**
 * Walks a leaf's audit path up, keeping every node it computes with its
 * place in the tree, and stops early at the first node `isKnown` vouches for
 * (a node of a tree whose root was already verified, at the same place: the
 * rest of the path can only lead to that root). The path's length is checked
 * against (index, size) before any hashing, so a walk that stops early still
 * never accepts a pair the path does not fit. Undefined when the path cannot
 * belong to leaf `index` of a tree of `size` leaves.
 */
export function walkPath(
  leaf: Buffer,
  index: number,
  size: number,
  path: readonly Buffer[],
  isKnown: (node: WalkedNode) => boolean,
): { nodes: WalkedNode[]; known: boolean } | undefined {
  const steps = auditSteps(index, size);
  if (!steps || steps.length !== path.length) return undefined;
  if (steps.length === 0) return { nodes: [{ hash: leaf, start: 0, end: 1 }], known: false };
  let hash = leaf;
  const nodes: WalkedNode[] = [];
  for (const [i, step] of steps.entries()) {
    const sibling = path[i]!;
    hash = step.siblingOnLeft ? nodeHash(sibling, hash) : nodeHash(hash, sibling);
    const node = { hash, start: step.start, end: step.end };
    nodes.push(node);
    if (isKnown(node)) return { nodes, known: true };
  }
  return { nodes, known: false };
}
