import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import {
  batchMessage,
  decodeBatchProof,
  encodeBatchProof,
  signBatch,
  VerifiedRoots,
  type BatchProof,
} from '../../../services/contract/batch-signature';
import { signingKeyOf, singleKeySigner, type Signer } from '../../../services/contract/keyring';
import { buildTree } from '../../../services/contract/merkle';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';

/**
 * Batch signatures: the statement's bytes are written out here by hand and
 * checked with node:crypto's own Ed25519 verify, the root with RFC 6962's
 * recursive definition, not with the code under test.
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
const values = (n: number, tag = 'r'): Buffer[] =>
  Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`));

const pairA = generateSigningKeyPair();
const pairB = generateSigningKeyPair();
const signerA: Signer = {
  org: 'twitter',
  key: signingKeyOf({ id: 'tw-a', publicKey: pairA.publicKey }),
  privateKey: loadPrivateKey(pairA.privateKeyPem),
};
const keyB = signingKeyOf({ id: 'tw-b', publicKey: pairB.publicKey });
const keys = [signerA.key, keyB];

function statement(org: string, keyId: string, size: number, root: Buffer): Buffer {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(size);
  return Buffer.concat([
    Buffer.from('threatrelay batch statement v2\0', 'ascii'),
    Buffer.from(org),
    Buffer.from([0]),
    Buffer.from(keyId),
    Buffer.from([0]),
    n,
    root,
  ]);
}

describe('batch statement v2', () => {
  it('signs the org, the key id, the tree size and the RFC 6962 root, as node:crypto verifies', () => {
    const v = values(5);
    const [proof] = signBatch(v, signerA);
    const publicKey = createPublicKey(signerA.privateKey);
    expect(verify(null, statement('twitter', 'tw-a', 5, mth(v)), publicKey, proof!.signature)).toBe(true);
  });

  it.each([
    ['another org', statement('google', 'tw-a', 5, mth(values(5)))],
    ['another key id', statement('twitter', 'tw-b', 5, mth(values(5)))],
    ['another tree size', statement('twitter', 'tw-a', 6, mth(values(5)))],
    ['the v1 statement of the same root', batchMessage('twitter', mth(values(5)))],
  ])('is a signature that does not verify for %s', (_name, other) => {
    const [proof] = signBatch(values(5), signerA);
    expect(verify(null, other, createPublicKey(signerA.privateKey), proof!.signature)).toBe(false);
  });
});

describe('batch proof header', () => {
  it('writes format 2 with the key id after the signature, and reads it back', () => {
    const proofs = signBatch(values(3), signerA);
    const bytes = encodeBatchProof(proofs[2]!);
    expect(bytes[0]).toBe(2);
    expect(bytes.readUInt32BE(1)).toBe(2);
    expect(bytes.readUInt32BE(5)).toBe(3);
    expect(bytes[9]).toBe(1);
    expect(bytes.subarray(10 + 32 + 64).toString('ascii')).toBe('tw-a');
    expect(decodeBatchProof(bytes)).toEqual(proofs[2]);
  });

  it('still reads format 1, which names no key', () => {
    const tree = buildTree(values(2));
    const proof: BatchProof = { index: 1, size: 2, path: tree.paths[1]!, signature: Buffer.alloc(64, 1) };
    const bytes = encodeBatchProof(proof);
    expect(bytes[0]).toBe(1);
    expect(decodeBatchProof(bytes)).toEqual(proof);
  });

  it.each([
    [
      'format 2 without a key id',
      (b: Buffer) => Buffer.concat([Buffer.from([2]), b.subarray(1, b.length - 4)]),
    ],
    ['a key id with a NUL', (b: Buffer) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([0])])],
    ['format 1 with trailing bytes', (b: Buffer) => Buffer.concat([Buffer.from([1]), b.subarray(1)])],
    [
      'a key id of 65 bytes',
      (b: Buffer) => Buffer.concat([b.subarray(0, b.length - 4), Buffer.alloc(65, 0x61)]),
    ],
    ['format 3', (b: Buffer) => Buffer.concat([Buffer.from([3]), b.subarray(1)])],
  ])('refuses %s as malformed', (_name, change) => {
    const bytes = encodeBatchProof(signBatch(values(2), signerA)[0]!);
    expect(decodeBatchProof(change(bytes))).toBeUndefined();
  });
});

describe('VerifiedRoots', () => {
  const roundTrip = (p: BatchProof): BatchProof => decodeBatchProof(encodeBatchProof(p))!;

  it('accepts each record of a format-2 batch with the key it names, verifying the root once', () => {
    const v = values(7);
    const roots = new VerifiedRoots();
    signBatch(v, signerA).forEach((p, i) =>
      expect(roots.verify('twitter', keys, v[i]!, roundTrip(p))).toEqual({ ok: true, key: signerA.key }),
    );
    expect(roots.size).toBe(1);
  });

  it('refuses a record naming a key its org does not list', () => {
    const v = values(2);
    const proof = { ...signBatch(v, signerA)[0]!, keyId: 'tw-c' };
    expect(new VerifiedRoots().verify('twitter', keys, v[0]!, proof)).toEqual({
      ok: false,
      reason: 'the record names key tw-c, which twitter does not list',
    });
  });

  it('refuses a statement signed by another listed key than the one the record names', () => {
    const v = values(2);
    const proof = { ...signBatch(v, signerA)[0]!, keyId: 'tw-b' };
    expect(new VerifiedRoots().verify('twitter', keys, v[0]!, proof).ok).toBe(false);
  });

  it('verifies a format-1 proof with whichever of the org keys signed its v1 statement', () => {
    const v = values(3);
    const tree = buildTree(v);
    const signature = sign(null, batchMessage('twitter', tree.root), loadPrivateKey(pairB.privateKeyPem));
    const proof: BatchProof = { index: 1, size: 3, path: tree.paths[1]!, signature };
    expect(new VerifiedRoots().verify('twitter', keys, v[1]!, proof)).toEqual({ ok: true, key: keyB });
  });

  it('refuses, with the batch already verified, a record whose (index, size) its path does not fit', () => {
    const v = values(8);
    const roots = new VerifiedRoots();
    const proofs = signBatch(v, signerA);
    proofs.forEach((p, i) => expect(roots.verify('twitter', keys, v[i]!, p).ok).toBe(true));
    // Leaf 0's first path step reaches a verified node: a walk that stopped there would not see the size.
    expect(roots.verify('twitter', keys, v[0]!, { ...proofs[0]!, size: 1000 }).ok).toBe(false);
    expect(roots.verify('twitter', keys, v[0]!, { ...proofs[0]!, size: 5 }).ok).toBe(false);
    expect(roots.size).toBe(1);
  });

  it('refuses, with the batch already verified, a size the path fits but the statement did not sign', () => {
    // Leaf 4 of 5 and leaf 2 of 3 have the same path shape: one left sibling, then the root.
    const v = values(5);
    const roots = new VerifiedRoots();
    const proofs = signBatch(v, signerA);
    proofs.forEach((p, i) => expect(roots.verify('twitter', keys, v[i]!, p).ok).toBe(true));
    expect(roots.verify('twitter', keys, v[4]!, { ...proofs[4]!, index: 2, size: 3 })).toEqual({
      ok: false,
      reason: "the record's Merkle proof does not lead to a root twitter signed",
    });
  });

  it('never lets a node verified under one key vouch for a record naming another', () => {
    const v = values(4);
    const roots = new VerifiedRoots();
    const proofs = signBatch(v, signerA);
    expect(roots.verify('twitter', keys, v[0]!, proofs[0]!).ok).toBe(true);
    expect(roots.verify('twitter', keys, v[1]!, { ...proofs[1]!, keyId: 'tw-b' }).ok).toBe(false);
  });

  it('signs a lone record as a tree of one, whose root is its leaf', () => {
    const signer = singleKeySigner('google', loadPrivateKey(pairA.privateKeyPem));
    const [proof] = signBatch([Buffer.from('only')], signer);
    expect(proof!.path).toEqual([]);
    expect(new VerifiedRoots().verify('google', [signer.key], Buffer.from('only'), proof!).ok).toBe(true);
  });
});
