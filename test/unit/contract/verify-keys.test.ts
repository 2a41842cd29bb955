import { createHash, randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import { VerifiedRoots } from '../../../services/contract/batch-signature';
import {
  orgPublicKeys,
  signingKeyOf,
  type Signer,
  type SigningKeyEntry,
} from '../../../services/contract/keyring';
import type { ThreatEvent } from '../../../services/contract/model';
import { signedBatch, signedRecord } from '../../../services/contract/record';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';
import { verifySigned } from '../../../services/contract/record-read';

/**
 * What a reader accepts from an org that rotated its key and revoked the old
 * one: each record is judged by the key that signed it and the instant the
 * record says it was produced.
 */
const codec = loadEventCodec();
const oldPair = generateSigningKeyPair();
const newPair = generateSigningKeyPair();
const HOUR = 3_600_000;
const ROTATED = Date.parse('2026-12-01T00:00:00Z');
const OLD = {
  id: 'tw-2025',
  publicKey: oldPair.publicKey,
  notAfter: new Date(ROTATED + 24 * HOUR).toISOString(),
};
const NEW = { id: 'tw-2026', publicKey: newPair.publicKey, notBefore: new Date(ROTATED).toISOString() };

const keysWith = (old: SigningKeyEntry) => orgPublicKeys([{ id: 'twitter', keys: [old, NEW] }]);

/** A signer as the key's holder has it: the id, and no validity of its own to stop it. */
const holderOf = (entry: { id: string; publicKey: string }, pem: string): Signer => ({
  org: 'twitter',
  key: signingKeyOf({ id: entry.id, publicKey: entry.publicKey }),
  privateKey: loadPrivateKey(pem),
});

function event(producedAt: number): ThreatEvent {
  const value = `rotation-${randomUUID().slice(0, 8)}.example.com`;
  return {
    eventId: randomUUID(),
    schemaVersion: 2,
    producedAt: new Date(producedAt).toISOString(),
    source: { org: 'twitter', submitter: 'soc' },
    canonicalizationVersion: 2,
    payload: {
      kind: 'IndicatorPublished',
      key: createHash('sha256').update(`domain:${value}`).digest('hex'),
      indicator: {
        type: 'domain',
        value,
        platform: null,
        category: 'disinformation',
        tlp: 'clear',
        recipients: [],
        confidence: 80,
        severity: 'high',
        validFrom: new Date(producedAt).toISOString(),
        validUntil: null,
        threatActor: null,
        campaign: null,
        tags: [],
        description: null,
        references: [],
        firstSeen: null,
        quality: null,
        variants: [],
        warnings: [],
      },
    },
  };
}

const asMessage = (r: {
  key: string;
  value: Buffer;
  headers: Record<string, string | Buffer>;
}): KafkaMessage =>
  ({
    key: Buffer.from(r.key),
    value: r.value,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset: '0',
  }) as unknown as KafkaMessage;

function batchBy(signer: Signer, producedAt: number): KafkaMessage {
  return asMessage(signedBatch([event(producedAt)], codec, signer)[0]!);
}

function verdict(orgKeys: ReturnType<typeof keysWith>, message: KafkaMessage): string {
  const v = verifySigned({ codec, orgKeys, verifiedRoots: new VerifiedRoots() }, message);
  return v.ok ? 'ok' : `${v.code}: ${v.reason}`;
}

describe('a reader of an org that rotates its signing key', () => {
  const oldSigner = holderOf(OLD, oldPair.privateKeyPem);
  const newSigner = holderOf(NEW, newPair.privateKeyPem);

  it('accepts records of the old key and of the new one during the overlap', () => {
    expect(verdict(keysWith(OLD), batchBy(oldSigner, ROTATED + HOUR))).toBe('ok');
    expect(verdict(keysWith(OLD), batchBy(newSigner, ROTATED + HOUR))).toBe('ok');
  });

  it('refuses a record the old key signed after the overlap ended', () => {
    expect(verdict(keysWith(OLD), batchBy(oldSigner, ROTATED + 25 * HOUR))).toBe(
      `TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter, valid only until ${OLD.notAfter}, by a record produced at ${new Date(ROTATED + 25 * HOUR).toISOString()}`,
    );
  });

  it('refuses a record the new key signed before its notBefore', () => {
    expect(verdict(keysWith(OLD), batchBy(newSigner, ROTATED - HOUR))).toMatch(
      /^TR_SIGNATURE_INVALID: signed with key tw-2026 of twitter, valid only from/,
    );
  });

  it('refuses what a revoked key signed from revokedAt on, and keeps accepting what it signed before', () => {
    const revoked = keysWith({ ...OLD, revokedAt: new Date(ROTATED + 2 * HOUR).toISOString() });
    expect(verdict(revoked, batchBy(oldSigner, ROTATED + 3 * HOUR))).toMatch(
      /^TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter, revoked at 2026-12-01T02:00:00.000Z/,
    );
    expect(verdict(revoked, batchBy(oldSigner, ROTATED + HOUR))).toBe('ok');
  });

  it('refuses a record that names the new key but was signed with the old one', () => {
    const forged = { ...oldSigner, key: newSigner.key };
    expect(verdict(keysWith(OLD), batchBy(forged, ROTATED + HOUR))).toBe(
      "TR_SIGNATURE_INVALID: the record's Merkle proof does not lead to a root twitter signed",
    );
  });

  it('verifies a single-signature (v1) record with whichever listed key signed it, inside its validity', () => {
    const byNew = asMessage(signedRecord(event(ROTATED + HOUR), codec, newSigner.privateKey));
    expect(verdict(keysWith(OLD), byNew)).toBe('ok');
    const lateByOld = asMessage(signedRecord(event(ROTATED + 25 * HOUR), codec, oldSigner.privateKey));
    expect(verdict(keysWith(OLD), lateByOld)).toMatch(
      /^TR_SIGNATURE_INVALID: signed with key tw-2025 of twitter/,
    );
  });
});
