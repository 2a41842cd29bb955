import { randomBytes, randomUUID } from 'node:crypto';
import { hashOperatorPassword, newOperatorPassword } from '../console/auth';
import { apiKeyHash, envReference, newApiKey, newTaxiiSecret } from '../platform/config/config';
import { repoRoot } from '../platform/paths';
import { generateSigningKeyPair } from '../contract/signing';
import { brokerServices, readComposeStack } from './compose-file';
import { composeVariables, type ComposeVariable, type ComposeVariableKind } from './compose-variables';

/**
 * The `.env` of the operator's docker compose stack (`threatrelay keys
 * compose-env`): every variable docker-compose.yml interpolates, each with a
 * fresh value, plus the API keys whose hashes the config holds, for the
 * operator to hand out.
 */

export * from './compose-file';
export { composeVariables, type ComposeVariable, type ComposeVariableKind } from './compose-variables';

export interface ComposeEnvOptions {
  /** The folder holding docker-compose.yml and config/compose.yaml. Default: this repository. */
  root?: string;
  /**
   * Compose profiles to turn on (COMPOSE_PROFILES), e.g. `['ha']`. The
   * replication factor is then min(3, brokers those profiles run). Default none.
   */
  profiles?: string[];
  /** When the file says it was written. Default now. */
  now?: Date;
}

export interface ComposeEnv {
  variables: ComposeVariable[];
  /** Every variable's value, by name. */
  values: Record<string, string>;
  /** The .env file: a comment line above each `NAME=value`. */
  text: string;
}
/** A Kafka cluster id as `kafka-storage random-uuid` makes one: a version-4 UUID in base64url, never starting with '-'. */
export function kafkaClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
/** A .env line: quoted (single quotes: no escapes, no interpolation) unless the value is plain. */
function dotenvLine(name: string, value: string): string {
  if (/^[A-Za-z0-9_./+=:,@-]*$/.test(value)) return `${name}=${value}`;
  if (value.includes("'") || value.endsWith('\\') || value.includes('\n')) {
    throw new Error(`${name}: cannot write this value in single quotes`);
  }
  return `${name}='${value}'`;
}

/** A fresh value for every variable; key pairs and API keys come with their public halves and hashes. */
function freshValues(
  variables: ComposeVariable[],
  profiles: string[],
  setting: (v: ComposeVariable) => string,
): Record<string, string> {
  const values: Record<string, string> = {};
  const ownedBy = (kind: ComposeVariableKind, owner: string | undefined): ComposeVariable | undefined =>
    variables.find((x) => x.kind === kind && x.owner === owner);
  for (const v of variables) {
    if (v.name in values) continue;
    switch (v.kind) {
      case 'compose-profiles':
        values[v.name] = profiles.join(',');
        break;
      case 'setting':
        values[v.name] = setting(v);
        break;
      case 'kafka-cluster-id':
        values[v.name] = kafkaClusterId();
        break;
      case 'kafka-admin-password':
      case 'kafka-user-password':
      case 'password':
        values[v.name] = randomBytes(24).toString('base64url');
        break;
      case 'signing-key':
      case 'public-key': {
        // The signing key pairs with the org's key valid now; another listed key gets its
        // public half alone, since nothing in a fresh stack signs with it.
        const publicKey =
          v.kind === 'public-key'
            ? v
            : variables.find((x) => x.kind === 'public-key' && x.owner === v.owner && x.signs)!;
        const signing = publicKey.signs ? ownedBy('signing-key', v.owner) : undefined;
        const pair = generateSigningKeyPair();
        values[publicKey.name] = pair.publicKey;
        // .env holds the PEM on one line; the producer turns `\n` back into newlines.
        if (signing) values[signing.name] = pair.privateKeyPem.trim().replace(/\n/g, '\\n');
        break;
      }
      case 'api-key-hash':
      case 'api-key': {
        const hash = ownedBy('api-key-hash', v.owner)!;
        const key = newApiKey(v.owner!);
        values[hash.name] = apiKeyHash(key);
        values[hash.name.slice(0, -'_SHA256'.length)] = key;
        break;
      }
      case 'webhook-secret':
        values[v.name] = `whsec_${randomBytes(24).toString('base64')}`;
        break;
      case 'taxii-reader-hash':
      case 'taxii-reader-password': {
        // Paired by name, so an org may have several readers.
        const hash = v.kind === 'taxii-reader-hash' ? v.name : `${v.name}_SHA256`;
        const password = newTaxiiSecret(v.owner!);
        values[hash] = apiKeyHash(password);
        values[hash.slice(0, -'_SHA256'.length)] = password;
        break;
      }
      case 'operator-password-hash':
      case 'operator-password': {
        const hash = ownedBy('operator-password-hash', v.owner)!;
        const password = newOperatorPassword();
        values[hash.name] = hashOperatorPassword(password);
        values[hash.name.slice(0, -'_HASH'.length)] = password;
        break;
      }
    }
  }
  return values;
}

/**
 * A complete, fresh .env for the compose stack: new signing key pairs, API
 * keys and TAXII reader passwords with their hashes, webhook secrets, Kafka
 * and Redis passwords and a Kafka cluster id; settings at docker-compose.yml's
 * defaults.
 */
export function generateComposeEnv(options: ComposeEnvOptions = {}): ComposeEnv {
  const stack = readComposeStack(options.root ?? repoRoot());
  const now = options.now ?? new Date();
  const variables = composeVariables(stack, now);
  const profiles = options.profiles ?? [];
  const brokers = brokerServices(stack.compose).filter((name) => {
    const p = stack.compose.services[name]!.profiles;
    return !p?.length || p.some((x) => profiles.includes(x));
  });
  const rfVariable = envReference(stack.config.kafka?.replicationFactor);
  const values = freshValues(variables, profiles, (v) =>
    v.name === rfVariable ? String(Math.min(3, brokers.length)) : v.default!,
  );
  const lines = [
    `# The ThreatRelay compose stack's secrets and settings, written by compose-env on ${now.toISOString()}.`,
    '# Keep it private (chmod 600; .gitignore and .dockerignore leave it out). Every variable is',
    '# described in .env.example. docker compose reads this file from the project folder.',
  ];
  let kind: ComposeVariableKind | undefined;
  for (const v of variables) {
    if (v.kind !== kind) lines.push('');
    kind = v.kind;
    lines.push(`# ${v.description}`, dotenvLine(v.name, values[v.name]!));
  }
  return { variables, values, text: `${lines.join('\n')}\n` };
}
