import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ThreatRelayError } from './errors';
import { publicKeyFromBase64, publicKeyToBase64 } from './signing';

/**
 * An org's signing keys and when each may sign. An org lists several keys so
 * it can rotate without a moment where readers refuse its records, and can
 * revoke one that leaked. A reader accepts a record signed with a key only
 * when the record's own `producedAt` lies in that key's validity: from
 * `notBefore` (inclusive) to `notAfter` (exclusive), and before `revokedAt`.
 * Times are milliseconds since the epoch; an absent bound is open.
 */
export interface SigningKey {
  /** What a record names to say which key signed it (batch signatures, format 2). */
  id: string;
  publicKey: KeyObject;
  notBefore?: number;
  notAfter?: number;
  revokedAt?: number;
}

/** Every publishing org's keys, by org id: what readers verify records with. */
export type OrgKeys = ReadonlyMap<string, readonly SigningKey[]>;

/** What a key id may be: short, printable, and never holding the statement's 0x00 separator. */
export const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The id of a key listed without one (and of the single `publicKey` form):
 * the first 16 hex digits of SHA-256 of the raw 32-byte public key, so every
 * reader and the producer derive the same id from the key alone.
 */
export function derivedKeyId(publicKeyBase64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex').slice(0, 16);
}

/** A key as the config lists it: base64 public key, ISO-8601 bounds. */
export interface SigningKeyEntry {
  id: string;
  publicKey: string;
  notBefore?: string | undefined;
  notAfter?: string | undefined;
  revokedAt?: string | undefined;
}

export function signingKeyOf(entry: SigningKeyEntry): SigningKey {
  const key: SigningKey = { id: entry.id, publicKey: publicKeyFromBase64(entry.publicKey) };
  for (const name of ['notBefore', 'notAfter', 'revokedAt'] as const) {
    const iso = entry[name];
    if (iso !== undefined) key[name] = Date.parse(iso);
  }
  return key;
}

/** The keys of every org that lists one, by org id. */
export function orgPublicKeys(orgs: readonly { id: string; keys: readonly SigningKeyEntry[] }[]): OrgKeys {
  return new Map(orgs.filter((o) => o.keys.length > 0).map((o) => [o.id, o.keys.map(signingKeyOf)]));
}

/**
 * Why `key` could not sign a record `org` produced at `producedAt`, if it
 * could not. A revoked key is refused from `revokedAt` on even inside its
 * interval: revocation is what an org does when the key leaked.
 */
export function keyValidityProblem(key: SigningKey, org: string, producedAt: number): string | undefined {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const named = `key ${key.id} of ${org}`;
  if (Number.isNaN(producedAt)) return `the record has no valid producedAt to check ${named} against`;
  if (key.revokedAt !== undefined && producedAt >= key.revokedAt) {
    return `signed with ${named}, revoked at ${iso(key.revokedAt)}, by a record produced at ${iso(producedAt)}`;
  }
  if (key.notBefore !== undefined && producedAt < key.notBefore) {
    return `signed with ${named}, valid only from ${iso(key.notBefore)}, by a record produced at ${iso(producedAt)}`;
  }
  if (key.notAfter !== undefined && producedAt >= key.notAfter) {
    return `signed with ${named}, valid only until ${iso(key.notAfter)}, by a record produced at ${iso(producedAt)}`;
  }
  return undefined;
}

/** The key an org's producer signs with: its private half and the config entry of its public half. */
export interface Signer {
  org: string;
  key: SigningKey;
  privateKey: KeyObject;
}

/**
 * Why `signer` may not sign records produced at these instants, if it may
 * not: the producer refuses to sign what every reader would refuse, so a
 * request it accepts is never lost to an expired or revoked key.
 */
export function signerProblem(signer: Signer, producedAt: readonly number[]): string | undefined {
  for (const at of producedAt) {
    const problem = keyValidityProblem(signer.key, signer.org, at);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The producer's signer: its private key and the entry of `org.keys` holding
 * its public half, found by the key itself so the producer needs no key id of
 * its own. Throws TR_CONFIG when the config does not list the key, or lists
 * it revoked or expired: nothing it signed could be read.
 */
export function signerFor(
  org: { id: string; keys: readonly SigningKeyEntry[] },
  privateKey: KeyObject,
  now = Date.now(),
): Signer {
  const own = Buffer.from(publicKeyToBase64(createPublicKey(privateKey)), 'base64');
  const entry = org.keys.find((k) => Buffer.from(k.publicKey, 'base64').equals(own));
  if (!entry) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `the signing key (id ${derivedKeyId(own.toString('base64'))} when derived) is not among the keys of org "${org.id}" in the config`,
    );
  }
  const key = signingKeyOf(entry);
  const ended = [key.revokedAt, key.notAfter].some((end) => end !== undefined && now >= end);
  if (ended) {
    throw new ThreatRelayError('TR_CONFIG', `cannot sign: ${keyValidityProblem(key, org.id, now)!}`);
  }
  return { org: org.id, key, privateKey };
}

/** An org's signer with the single-key form's key: derived id, open validity (tools, tests, benches). */
export function singleKeySigner(org: string, privateKey: KeyObject): Signer {
  const publicKey = publicKeyToBase64(createPublicKey(privateKey));
  return { org, key: signingKeyOf({ id: derivedKeyId(publicKey), publicKey }), privateKey };
}
