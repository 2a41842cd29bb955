import { sign, verify } from 'node:crypto';
import type { SigningKey, Signer } from './keyring';
import { buildTree, leafHash, walkPath, type WalkedNode } from './merkle';

/**
 * Record signatures, version 2: one Ed25519 signature per Kafka transaction
 * over the Merkle root of its record values, and in each record its leaf
 * index, the tree size, its audit path and that root signature. A record
 * stays verifiable on its own (dead letters, replay, forwarding); a reader
 * verifies each distinct root once and then only hashes a path per record.
 *
 * Header `threatrelay-batch-signature`, binary:
 *   1 byte format | u32 BE index | u32 BE size | 1 byte path length n |
 *   n × 32-byte path hashes | 64-byte Ed25519 signature | format 2 only: the
 *   key id (1–64 ASCII bytes, the rest of the header)
 * Format 2 signs statement v2: `threatrelay batch statement v2`, 0x00, the
 * org id, 0x00, the key id, 0x00, the tree size (u32 BE), the 32-byte root.
 * Format 1 (written before keys rotated) signs statement v1: `threatrelay
 * batch root v1`, 0x00, the org id, 0x00, the root; it binds neither the key
 * nor the size, so it proves only that the value is in a tree the org signed.
 * Each prefix keeps a statement from ever being mistaken for the other or for
 * a v1 record signature.
 */

const FIXED = 1 + 4 + 4 + 1;
const SIGNATURE_BYTES = 64;
const HASH_BYTES = 32;
const MAX_KEY_ID = 64;
/** A path longer than this would need a tree of more than 2^40 records. */
const MAX_PATH = 40;
const STATEMENT_V1 = Buffer.from('threatrelay batch root v1\u0000');
const STATEMENT_V2 = Buffer.from('threatrelay batch statement v2\u0000');
const KEY_ID_BYTES = /^[A-Za-z0-9._-]+$/;

export interface BatchProof {
  index: number;
  size: number;
  path: Buffer[];
  signature: Buffer;
  /** Format 2: the id of the org's key that signed the statement. Absent in format 1. */
  keyId?: string;
}

/** Statement v1 (format 1 proofs): the org and the root. */
export function batchMessage(org: string, root: Buffer): Buffer {
  return Buffer.concat([STATEMENT_V1, Buffer.from(org, 'utf8'), Buffer.from([0]), root]);
}

/** Statement v2 (format 2 proofs): the org, the key id, the tree size and the root. */
export function batchStatement(org: string, keyId: string, size: number, root: Buffer): Buffer {
  const sizeBytes = Buffer.alloc(4);
  sizeBytes.writeUInt32BE(size);
  return Buffer.concat([
    STATEMENT_V2,
    Buffer.from(org, 'utf8'),
    Buffer.from([0]),
    Buffer.from(keyId, 'ascii'),
    Buffer.from([0]),
    sizeBytes,
    root,
  ]);
}

/** One proof per value, in order; a single signature over statement v2. */
export function signBatch(values: readonly Buffer[], signer: Signer): BatchProof[] {
  const tree = buildTree(values);
  const statement = batchStatement(signer.org, signer.key.id, values.length, tree.root);
  const signature = sign(null, statement, signer.privateKey);
  return tree.paths.map((path, index) => ({
    index,
    size: values.length,
    path,
    signature,
    keyId: signer.key.id,
  }));
}

export function encodeBatchProof(proof: BatchProof): Buffer {
  const keyId = proof.keyId === undefined ? Buffer.alloc(0) : Buffer.from(proof.keyId, 'ascii');
  const out = Buffer.alloc(FIXED + proof.path.length * HASH_BYTES + SIGNATURE_BYTES + keyId.length);
  out.writeUInt8(proof.keyId === undefined ? 1 : 2, 0);
  out.writeUInt32BE(proof.index, 1);
  out.writeUInt32BE(proof.size, 5);
  out.writeUInt8(proof.path.length, 9);
  proof.path.forEach((h, i) => h.copy(out, FIXED + i * HASH_BYTES));
  proof.signature.copy(out, FIXED + proof.path.length * HASH_BYTES);
  keyId.copy(out, FIXED + proof.path.length * HASH_BYTES + SIGNATURE_BYTES);
  return out;
}

/** Undefined for anything that is not exactly one well-formed proof. */
export function decodeBatchProof(bytes: Buffer): BatchProof | undefined {
  if (bytes.length < FIXED + SIGNATURE_BYTES) return undefined;
  const format = bytes.readUInt8(0);
  const n = bytes.readUInt8(9);
  if ((format !== 1 && format !== 2) || n > MAX_PATH) return undefined;
  const signed = FIXED + n * HASH_BYTES + SIGNATURE_BYTES;
  const keyIdLength = bytes.length - signed;
  if (format === 1 ? keyIdLength !== 0 : keyIdLength < 1 || keyIdLength > MAX_KEY_ID) return undefined;
  const keyId = bytes.subarray(signed).toString('latin1');
  if (format === 2 && !KEY_ID_BYTES.test(keyId)) return undefined;
  const path = Array.from({ length: n }, (_, i) =>
    bytes.subarray(FIXED + i * HASH_BYTES, FIXED + (i + 1) * HASH_BYTES),
  );
  return {
    index: bytes.readUInt32BE(1),
    size: bytes.readUInt32BE(5),
    path,
    signature: bytes.subarray(FIXED + n * HASH_BYTES, signed),
    ...(format === 2 ? { keyId } : {}),
  };
}

/** Which of an org's keys signed a record, or why none did. */
export type KeyVerdict = { ok: true; key: SigningKey } | { ok: false; reason: string };

/**
 * The tree nodes this process has verified, by org, key and tree size, each
 * at its place in the tree: bounded, least recently used out first, shared
 * by every subscription of a process. A root is checked against its Ed25519
 * signature once; after that every node on the paths that led to it is known
 * good too, so the next record of the batch stops hashing at the first known
 * node (about two hashes per record). A node is known only at the leaf range
 * it was verified for, in a tree of the size that was signed, so a record
 * cannot borrow a verified node with an (index, size) its path does not fit.
 * Only nodes of a tree whose root signature verified are ever remembered.
 */
export class VerifiedRoots {
  /** Node id → the id of the key whose signature vouched for it. */
  private readonly nodes = new Map<string, string>();
  private roots = 0;

  constructor(private readonly capacity = 100_000) {}

  /** Which of `keys` signed the batch `value` is a record of, per its proof. */
  verify(org: string, keys: readonly SigningKey[], value: Buffer, proof: BatchProof): KeyVerdict {
    const candidates = proof.keyId === undefined ? keys : keys.filter((k) => k.id === proof.keyId);
    if (candidates.length === 0) {
      return { ok: false, reason: `the record names key ${proof.keyId}, which ${org} does not list` };
    }
    // Format 1 names no key: its nodes are shared by whichever key verifies them.
    const scope = `${org}\u0000${proof.keyId ?? ''}\u0000${proof.size}\u0000`;
    const idOf = (node: WalkedNode): string =>
      `${scope}${node.start}-${node.end}\u0000${node.hash.toString('base64')}`;
    let knownBy: string | undefined;
    const walked = walkPath(leafHash(value), proof.index, proof.size, proof.path, (node) => {
      knownBy = this.nodes.get(idOf(node));
      return knownBy !== undefined;
    });
    const refused = {
      ok: false as const,
      reason: `the record's Merkle proof does not lead to a root ${org} signed`,
    };
    if (!walked) return refused;
    const root = walked.nodes.at(-1)!.hash;
    const key = walked.known
      ? candidates.find((k) => k.id === knownBy)
      : candidates.find((k) =>
          verify(null, statementFor(org, k.id, proof, root), k.publicKey, proof.signature),
        );
    if (!key) return refused;
    if (!walked.known) this.roots += 1;
    for (const node of walked.nodes) this.remember(idOf(node), key.id);
    return { ok: true, key };
  }

  private remember(id: string, keyId: string): void {
    this.nodes.delete(id);
    this.nodes.set(id, keyId);
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

function statementFor(org: string, keyId: string, proof: BatchProof, root: Buffer): Buffer {
  return proof.keyId === undefined ? batchMessage(org, root) : batchStatement(org, keyId, proof.size, root);
}
