import { sign, verify, type KeyObject } from 'node:crypto';
import { buildTree, leafHash, walkPath } from './merkle';

/**
 * Record signatures, version 2: one Ed25519 signature per Kafka transaction
 * over the Merkle root of its record values, and in each record its leaf
 * index, the tree size, its audit path and that root signature. A record
 * stays verifiable on its own (dead letters, replay, forwarding); a reader
 * verifies each distinct root once and then only hashes a path per record.
 *
 * Header `threatrelay-batch-signature`, binary:
 *   1 byte format (1) | u32 BE index | u32 BE size | 1 byte path length n |
 *   n × 32-byte path hashes | 64-byte Ed25519 signature
 * The signature covers `threatrelay batch root v1`, 0x00, the org id, 0x00
 * and the 32-byte root: bound to one org, never mistaken for a v1 record
 * signature.
 */

const FORMAT = 1;
const FIXED = 1 + 4 + 4 + 1;
const SIGNATURE_BYTES = 64;
const HASH_BYTES = 32;
/** A path longer than this would need a tree of more than 2^40 records. */
const MAX_PATH = 40;
const CONTEXT = Buffer.from('threatrelay batch root v1\u0000');

export interface BatchProof {
  index: number;
  size: number;
  path: Buffer[];
  signature: Buffer;
}

export function batchMessage(org: string, root: Buffer): Buffer {
  return Buffer.concat([CONTEXT, Buffer.from(org, 'utf8'), Buffer.from([0]), root]);
}

/** One proof per value, in order; a single signature over the root. */
export function signBatch(values: readonly Buffer[], org: string, key: KeyObject): BatchProof[] {
  const tree = buildTree(values);
  const signature = sign(null, batchMessage(org, tree.root), key);
  return tree.paths.map((path, index) => ({ index, size: values.length, path, signature }));
}

export function encodeBatchProof(proof: BatchProof): Buffer {
  const out = Buffer.alloc(FIXED + proof.path.length * HASH_BYTES + SIGNATURE_BYTES);
  out.writeUInt8(FORMAT, 0);
  out.writeUInt32BE(proof.index, 1);
  out.writeUInt32BE(proof.size, 5);
  out.writeUInt8(proof.path.length, 9);
  proof.path.forEach((h, i) => h.copy(out, FIXED + i * HASH_BYTES));
  proof.signature.copy(out, FIXED + proof.path.length * HASH_BYTES);
  return out;
}

/** Undefined for anything that is not exactly one well-formed proof. */
export function decodeBatchProof(bytes: Buffer): BatchProof | undefined {
  if (bytes.length < FIXED + SIGNATURE_BYTES || bytes.readUInt8(0) !== FORMAT) return undefined;
  const n = bytes.readUInt8(9);
  if (n > MAX_PATH || bytes.length !== FIXED + n * HASH_BYTES + SIGNATURE_BYTES) return undefined;
  const path = Array.from({ length: n }, (_, i) =>
    bytes.subarray(FIXED + i * HASH_BYTES, FIXED + (i + 1) * HASH_BYTES),
  );
  return {
    index: bytes.readUInt32BE(1),
    size: bytes.readUInt32BE(5),
    path,
    signature: bytes.subarray(FIXED + n * HASH_BYTES),
  };
}

/**
 * The tree nodes this process has verified, by org: bounded, least recently
 * used out first, shared by every subscription of a process. A root is
 * checked against its Ed25519 signature once; after that every node on the
 * paths that led to it is known good too, so the next record of the batch
 * stops hashing at the first known node (about two hashes per record).
 * Only nodes of a tree whose root signature verified are ever remembered.
 */
export class VerifiedRoots {
  private readonly nodes = new Map<string, true>();
  private roots = 0;

  constructor(private readonly capacity = 100_000) {}

  /** Whether `value` is a record of a batch `org` signed, per its proof. */
  verify(org: string, key: KeyObject, value: Buffer, proof: BatchProof): boolean {
    const idOf = (node: Buffer): string => `${org}\u0000${node.toString('base64')}`;
    const walked = walkPath(leafHash(value), proof.index, proof.size, proof.path, (node) =>
      this.nodes.has(idOf(node)),
    );
    if (!walked) return false;
    if (!walked.known) {
      if (!verify(null, batchMessage(org, walked.nodes.at(-1)!), key, proof.signature)) return false;
      this.roots += 1;
    }
    for (const node of walked.nodes) this.remember(idOf(node));
    return true;
  }

  private remember(id: string): void {
    this.nodes.delete(id);
    this.nodes.set(id, true);
    if (this.nodes.size > this.capacity) this.nodes.delete(this.nodes.keys().next().value!);
  }

  /** Forgets every verified node: a fresh process's state. */
  clear(): void {
    this.nodes.clear();
    this.roots = 0;
  }

  /** Roots whose signature this cache verified (a test and bench measure). */
  get size(): number {
    return this.roots;
  }
}
