import { createHash } from 'node:crypto';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import { isThreatRelayError } from '../../../services/contract/errors';
import {
  derivedKeyId,
  keyValidityProblem,
  signerFor,
  signingKeyOf,
  type SigningKey,
} from '../../../services/contract/keyring';
import type { ThreatEvent } from '../../../services/contract/model';
import { signedBatch } from '../../../services/contract/record';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';

const pair = generateSigningKeyPair();
const other = generateSigningKeyPair();
const T = Date.parse('2026-12-08T00:00:00Z');
const HOUR = 3_600_000;

describe('key validity', () => {
  const key: SigningKey = {
    ...signingKeyOf({ id: 'k1', publicKey: pair.publicKey }),
    notBefore: T,
    notAfter: T + 10 * HOUR,
  };

  it('accepts from notBefore on, and refuses just before it', () => {
    expect(keyValidityProblem(key, 'google', T)).toBeUndefined();
    expect(keyValidityProblem(key, 'google', T - 1)).toBe(
      'signed with key k1 of google, valid only from 2026-12-08T00:00:00.000Z, by a record produced at 2026-12-07T23:59:59.999Z',
    );
  });

  it('refuses from notAfter on, and accepts just before it', () => {
    expect(keyValidityProblem(key, 'google', T + 10 * HOUR - 1)).toBeUndefined();
    expect(keyValidityProblem(key, 'google', T + 10 * HOUR)).toMatch(
      /valid only until 2026-12-08T10:00:00.000Z/,
    );
  });

  it('refuses from revokedAt on even inside the interval, and accepts what came before', () => {
    const revoked = { ...key, revokedAt: T + 2 * HOUR };
    expect(keyValidityProblem(revoked, 'google', T + 2 * HOUR - 1)).toBeUndefined();
    expect(keyValidityProblem(revoked, 'google', T + 2 * HOUR)).toMatch(
      /revoked at 2026-12-08T02:00:00.000Z/,
    );
  });

  it('keeps an open interval open on both sides', () => {
    const open = signingKeyOf({ id: 'k0', publicKey: pair.publicKey });
    expect(keyValidityProblem(open, 'google', 0)).toBeUndefined();
    expect(keyValidityProblem(open, 'google', T * 2)).toBeUndefined();
  });

  it('refuses a record whose producedAt is no instant', () => {
    expect(keyValidityProblem(key, 'google', Number.NaN)).toMatch(/no valid producedAt/);
  });

  it('derives a key id from the raw public key as SHA-256, first 16 hex digits', () => {
    const raw = Buffer.from(pair.publicKey, 'base64');
    expect(derivedKeyId(pair.publicKey)).toBe(createHash('sha256').update(raw).digest('hex').slice(0, 16));
  });
});

describe('the producer signer', () => {
  const org = (keys: { id: string; publicKey: string; notAfter?: string; revokedAt?: string }[]) => ({
    id: 'google',
    keys,
  });

  it('finds its config entry by its public half', () => {
    const signer = signerFor(
      org([
        { id: 'old', publicKey: other.publicKey },
        { id: 'new', publicKey: pair.publicKey },
      ]),
      loadPrivateKey(pair.privateKeyPem),
    );
    expect(signer.key.id).toBe('new');
  });

  it('refuses to start with a key the config does not list', () => {
    expect(() =>
      signerFor(org([{ id: 'old', publicKey: other.publicKey }]), loadPrivateKey(pair.privateKeyPem)),
    ).toThrow(/is not among the keys of org "google"/);
  });

  it('refuses to start with a revoked or an expired key', () => {
    const key = loadPrivateKey(pair.privateKeyPem);
    const revoked = org([{ id: 'k', publicKey: pair.publicKey, revokedAt: '2026-12-08T00:00:00Z' }]);
    expect(() => signerFor(revoked, key, T)).toThrow(/cannot sign: .*revoked/);
    const expired = org([{ id: 'k', publicKey: pair.publicKey, notAfter: '2026-12-08T00:00:00Z' }]);
    expect(() => signerFor(expired, key, T)).toThrow(/cannot sign: .*valid only until/);
  });

  it('refuses to sign a batch produced after its key ended, instead of writing records readers refuse', () => {
    const signer = {
      org: 'google',
      key: { ...signingKeyOf({ id: 'k', publicKey: pair.publicKey }), notAfter: T },
      privateKey: loadPrivateKey(pair.privateKeyPem),
    };
    const event: ThreatEvent = {
      eventId: '6f1c7f8e-4a43-4a3e-9c57-2d6fd0a0b1c2',
      schemaVersion: 2,
      producedAt: new Date(T).toISOString(),
      source: { org: 'google', submitter: 'soc' },
      canonicalizationVersion: 2,
      payload: {
        kind: 'IndicatorRevoked',
        key: 'a'.repeat(64),
        type: null,
        value: null,
        platform: null,
        tlp: 'clear',
        recipients: [],
        reason: 'false positive',
      },
    };
    let thrown: unknown;
    try {
      signedBatch([event], loadEventCodec(), signer);
    } catch (err) {
      thrown = err;
    }
    expect(isThreatRelayError(thrown, 'TR_CONFIG')).toBe(true);
    expect((thrown as Error).message).toMatch(
      /^refusing to sign: signed with key k of google, valid only until/,
    );
  });
});
