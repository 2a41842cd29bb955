import { createPrivateKey } from 'node:crypto';
import {
  generateSigningKeyPair,
  loadPrivateKey,
  publicKeyFromBase64,
  signValue,
  verifyValue,
} from '../../../services/contract/signing';

/**
 * RFC 8032 section 7.1, TEST 2 (one-byte message 0x72): the expected
 * signature comes from the RFC, not from the code under test.
 */
const RFC8032_SECRET = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const RFC8032_PUBLIC = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';
const RFC8032_SIGNATURE =
  '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
  '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';

function rfcPrivateKeyPem(): string {
  // PKCS#8 wrapping of a raw Ed25519 seed: fixed 16-byte prefix + 32-byte seed.
  const der = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    Buffer.from(RFC8032_SECRET, 'hex'),
  ]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

describe('Ed25519 record signatures', () => {
  it('matches the RFC 8032 test vector', () => {
    const sig = signValue(Buffer.from([0x72]), loadPrivateKey(rfcPrivateKeyPem()));
    expect(Buffer.from(sig, 'base64').toString('hex')).toBe(RFC8032_SIGNATURE);
    const pub = publicKeyFromBase64(Buffer.from(RFC8032_PUBLIC, 'hex').toString('base64'));
    expect(verifyValue(Buffer.from([0x72]), sig, pub)).toBe(true);
  });

  it('rejects a signature over other bytes, by another key, or of the wrong length', () => {
    const a = generateSigningKeyPair();
    const b = generateSigningKeyPair();
    const value = Buffer.from('record');
    const sig = signValue(value, loadPrivateKey(a.privateKeyPem));
    expect(verifyValue(value, sig, publicKeyFromBase64(a.publicKey))).toBe(true);
    expect(verifyValue(Buffer.from('recorD'), sig, publicKeyFromBase64(a.publicKey))).toBe(false);
    expect(verifyValue(value, sig, publicKeyFromBase64(b.publicKey))).toBe(false);
    expect(verifyValue(value, sig.slice(0, 20), publicKeyFromBase64(a.publicKey))).toBe(false);
  });

  it('refuses a non-Ed25519 or malformed private key with a config error', () => {
    expect(() => loadPrivateKey('not a pem')).toThrow(/PKCS#8/);
  });
});
