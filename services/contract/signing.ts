import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { ThreatRelayError } from './errors';

/**
 * Ed25519 signatures over Kafka record values. The producer signs with its
 * org's private key (PKCS#8 PEM, held only by that org); subscribers verify
 * with the org's public key from the config (the raw 32-byte key in base64,
 * short enough to read in YAML).
 */

export function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new ThreatRelayError('TR_CONFIG', 'the signing key is not a PKCS#8 PEM private key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ThreatRelayError('TR_CONFIG', `the signing key is ${key.asymmetricKeyType}, not ed25519`);
  }
  return key;
}

export function publicKeyFromBase64(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) {
    throw new ThreatRelayError('TR_CONFIG', `an Ed25519 public key is 32 bytes, this one is ${bytes.length}`);
  }
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') },
    format: 'jwk',
  });
}

export function publicKeyToBase64(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url').toString('base64');
}

export function generateSigningKeyPair(): { privateKeyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKeyToBase64(publicKey),
  };
}

/** base64 Ed25519 signature of `value`. */
export function signValue(value: Buffer, privateKey: KeyObject): string {
  return sign(null, value, privateKey).toString('base64');
}

export function verifyValue(value: Buffer, signatureBase64: string, publicKey: KeyObject): boolean {
  const signature = Buffer.from(signatureBase64, 'base64');
  if (signature.length !== 64) return false;
  return verify(null, value, publicKey, signature);
}
