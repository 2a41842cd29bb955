import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { hashOperatorPassword, newOperatorPassword } from '../../console/auth';
import { apiKeyHash, newApiKey, newTaxiiSecret } from '../../platform/config/config';
import { generateSigningKeyPair } from '../../contract/signing';

/** The demo network's secrets, generated afresh on every run from the ids its config file names. */

/** The variable-name part of an id: `dhs-all` → `DHS_ALL` (the convention config/demo-network.yaml documents). */
export function envName(id: string): string {
  return id.toUpperCase().replace(/-/g, '_');
}

/**
 * The org and subscription ids of the file, read before validation because
 * the values to validate are generated from them. A file too broken to read
 * yields none, and loadConfig then reports what is wrong with it.
 */
function idsIn(path: string): { orgs: string[]; subscriptions: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch {
    return { orgs: [], subscriptions: [] };
  }
  const ids = (list: unknown): string[] =>
    Array.isArray(list)
      ? list.map((item) => (item as { id?: unknown } | null)?.id).filter((i) => typeof i === 'string')
      : [];
  const doc = (raw ?? {}) as { orgs?: unknown; subscriptions?: unknown };
  return { orgs: ids(doc.orgs), subscriptions: ids(doc.subscriptions) };
}

export interface GeneratedSecrets {
  /** The variables the config file refers to: public keys, API-key hashes, webhook secrets. */
  env: Record<string, string>;
  /** Each org's private key (PEM), for its producer. */
  signingKeys: Record<string, string>;
  /** Each org's plain API key. */
  apiKeys: Record<string, string>;
  /** Each org's TAXII reader password (reader `<org>-taxii`). */
  taxiiPasswords: Record<string, string>;
  /** The console operator's plain password (its hash is in `env`). */
  consolePassword: string;
}

export function generateSecrets(path: string): GeneratedSecrets {
  const { orgs, subscriptions } = idsIn(path);
  const consolePassword = newOperatorPassword();
  const out: GeneratedSecrets = {
    env: { CONSOLE_OPERATOR_PASSWORD_HASH: hashOperatorPassword(consolePassword) },
    signingKeys: {},
    apiKeys: {},
    taxiiPasswords: {},
    consolePassword,
  };
  for (const org of orgs) {
    const pair = generateSigningKeyPair();
    const apiKey = newApiKey(org);
    out.signingKeys[org] = pair.privateKeyPem;
    out.apiKeys[org] = apiKey;
    out.env[`${envName(org)}_PUBLIC_KEY`] = pair.publicKey;
    out.env[`${envName(org)}_API_KEY_SHA256`] = apiKeyHash(apiKey);
    const taxiiPassword = newTaxiiSecret(org);
    out.taxiiPasswords[org] = taxiiPassword;
    out.env[`${envName(org)}_TAXII_SHA256`] = apiKeyHash(taxiiPassword);
  }
  for (const id of subscriptions) {
    out.env[`${envName(id)}_WEBHOOK_SECRET`] = `whsec_${randomBytes(24).toString('base64')}`;
  }
  return out;
}
