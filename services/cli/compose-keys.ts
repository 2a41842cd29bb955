import { envReference } from '../platform/config/config';
import { COMPOSE_CONFIG_FILE, type RawOrg, type RawSigningKey } from './compose-file';

/**
 * An org's public keys as config/compose.yaml gives them, in either form:
 * the single `publicKey`, or a `keys` list while it rotates
 * (docs/key-rotation.md). compose-env pairs the org's signing key with the
 * key the org signs with now; the others get a public half alone.
 */

export interface OrgPublicKeyRef {
  /** What the config writes: `${VARIABLE}`, or the base64 key itself. */
  value: string;
  /** The id the config gives the key, if any (readers derive the others'). */
  id?: string;
  /** The org's producer signs with this key's private half: the newest key valid now. */
  signs: boolean;
}

export interface OrgKeysInConfig {
  keys: OrgPublicKeyRef[];
  /** Why compose-env cannot make the private key the org's producer signs with, if it cannot. */
  signingProblem?: string;
}

/** A bound of a key's validity in milliseconds; an absent bound is open, an unreadable one never holds. */
function bound(iso: string | undefined, open: number): number {
  return iso === undefined ? open : Date.parse(iso);
}

function validAt(key: RawSigningKey, at: number): boolean {
  return (
    bound(key.notBefore, -Infinity) <= at &&
    at < bound(key.notAfter, Infinity) &&
    at < bound(key.revokedAt, Infinity)
  );
}

/**
 * The key an org signs with at `now`: among the keys valid then, the one
 * valid from the latest instant (after `keys rotate`, the key it added),
 * the later listed on a tie.
 */
function signingIndex(keys: readonly RawSigningKey[], now: number): number | undefined {
  let best: number | undefined;
  keys.forEach((key, i) => {
    if (key.publicKey === undefined || !validAt(key, now)) return;
    if (best === undefined || bound(key.notBefore, -Infinity) >= bound(keys[best]!.notBefore, -Infinity)) {
      best = i;
    }
  });
  return best;
}

export function orgKeysInConfig(org: RawOrg, now: Date): OrgKeysInConfig {
  if (org.keys === undefined) {
    if (org.publicKey === undefined) {
      return { keys: [], signingProblem: 'its config entry has no publicKey (or keys)' };
    }
    const single = { value: org.publicKey, signs: true };
    return { keys: [single], ...literalProblem(single) };
  }
  const at = signingIndex(org.keys, now.getTime());
  const keys = org.keys.flatMap((key, i): OrgPublicKeyRef[] =>
    key.publicKey === undefined
      ? []
      : [{ value: key.publicKey, signs: i === at, ...(key.id === undefined ? {} : { id: key.id }) }],
  );
  const signing = keys.find((k) => k.signs);
  if (!signing) {
    return {
      keys,
      signingProblem: `none of its keys in ${COMPOSE_CONFIG_FILE} is valid at ${now.toISOString()} (notBefore, notAfter, revokedAt)`,
    };
  }
  return { keys, ...literalProblem(signing) };
}

/** A key written out in the config has a private half only its owner holds: compose-env cannot make it. */
function literalProblem(key: OrgPublicKeyRef): { signingProblem?: string } {
  if (envReference(key.value)) return {};
  const named = key.id === undefined ? 'the key it signs with' : `key ${key.id}, the one it signs with now,`;
  return {
    signingProblem: `${named} is written out in ${COMPOSE_CONFIG_FILE}, not a \${VARIABLE}, so compose-env cannot make its private half`,
  };
}
