import { envReference } from '../platform/config/config';
import {
  COMPOSE_CONFIG_FILE,
  COMPOSE_FILE,
  composeReferences,
  readComposeStack,
  stringsOf,
  type ComposeDocument,
  type ComposeReference,
  type ComposeService,
  type ComposeStack,
  type RawConfig,
} from './compose-file';
import { orgKeysInConfig, type OrgPublicKeyRef } from './compose-keys';

/**
 * What each variable of the compose stack's `.env` is. Nothing here lists
 * the variables: they are read from docker-compose.yml (every `${VAR}` it
 * uses) and what each one is comes from where it is used,
 * in config/compose.yaml (an org's publicKey or keys, an API key's sha256, a TAXII
 * reader's sha256, a subscription's webhook secret, a Kafka user's password)
 * or in docker-compose.yml (the environment key it sets, its `${VAR:-default}`).
 * A variable used in neither way is an error, not a guess.
 */

export type ComposeVariableKind =
  /** A plain setting with the default docker-compose.yml gives it. */
  | 'setting'
  /** Compose's own COMPOSE_PROFILES. */
  | 'compose-profiles'
  | 'kafka-cluster-id'
  /** The super user `admin`'s password (brokers, provision). */
  | 'kafka-admin-password'
  /** A `kafka.users` entry's password. */
  | 'kafka-user-password'
  /** Another service password (Redis). */
  | 'password'
  /** An org's Ed25519 private key, PKCS#8 PEM on one line with `\n` escapes. */
  | 'signing-key'
  /** An org's Ed25519 public key, raw 32 bytes in base64. */
  | 'public-key'
  /** An API key itself: no container reads it; the operator hands it out. */
  | 'api-key'
  | 'api-key-hash'
  | 'webhook-secret'
  /** scrypt hash of a console operator's password, and the password itself (for the operator only). */
  | 'operator-password-hash'
  | 'operator-password'
  /** SHA-256 of a TAXII reader's password, and the password itself (handed to the org, no container reads it). */
  | 'taxii-reader-hash'
  | 'taxii-reader-password';

export interface ComposeVariable {
  name: string;
  kind: ComposeVariableKind;
  /** One line: what it is (the comment above it in .env). */
  description: string;
  /** The org, subscription or Kafka user it belongs to, if any. */
  owner?: string;
  /** For settings: docker-compose.yml's default. */
  default?: string;
  /** For an org's public key: the org's producer signs with its private half (the key valid now). */
  signs?: boolean;
}
/** The org a `producer --org X` / `subscriber --org X` command runs as. */
function commandOrg(service: ComposeService): string | undefined {
  const i = service.command?.indexOf('--org') ?? -1;
  return i >= 0 ? service.command![i + 1] : undefined;
}

const KIND_ORDER: ComposeVariableKind[] = [
  'compose-profiles',
  'setting',
  'kafka-cluster-id',
  'kafka-admin-password',
  'kafka-user-password',
  'signing-key',
  'public-key',
  'api-key-hash',
  'api-key',
  'webhook-secret',
  'operator-password-hash',
  'operator-password',
  'taxii-reader-hash',
  'taxii-reader-password',
  'password',
];

/** What a variable is from the environment key it sets in a service, if that tells. */
function fromEnvironmentKey(
  serviceName: string,
  service: ComposeService,
  key: string,
  ref: ComposeReference,
): ComposeVariable | undefined {
  const org = commandOrg(service);
  if (key === 'THREATRELAY_SIGNING_KEY' && org) {
    return {
      name: ref.name,
      kind: 'signing-key',
      owner: org,
      description: `${org}'s Ed25519 private key (PKCS#8 PEM on one line, \\n escaped), held by ${org}'s producer (${serviceName}) alone.`,
    };
  }
  if (key === 'KAFKA_CLUSTER_ID') {
    return {
      name: ref.name,
      kind: 'kafka-cluster-id',
      description:
        'Kafka cluster id (22 chars: base64url of a random UUID, as `kafka-storage.sh random-uuid` prints), the same for every broker.',
    };
  }
  if (
    key === 'KAFKA_ADMIN_PASSWORD' ||
    (key === 'KAFKA_PASSWORD' && service.environment?.KAFKA_USERNAME === 'admin')
  ) {
    return {
      name: ref.name,
      kind: 'kafka-admin-password',
      description:
        'Password of the Kafka super user admin (at least 12 of A-Z a-z 0-9 . _ ~ + / = -), set when a broker first formats its data; only the brokers and provision get it.',
    };
  }
  if (ref.default !== undefined) {
    return {
      name: ref.name,
      kind: 'setting',
      default: ref.default,
      description: `${key} of the services (default ${ref.default || 'empty'}).`,
    };
  }
  if (/_PASSWORD$/.test(key)) {
    return {
      name: ref.name,
      kind: 'password',
      owner: serviceName,
      description: `${key}: a service password (base64url of 24 random bytes), given only to the service that checks it and those that connect to it.`,
    };
  }
  return undefined;
}

function publicKeyDescription(org: string, key: OrgPublicKeyRef, keysForm: boolean): string {
  if (!keysForm) {
    return `${org}'s Ed25519 public key (raw 32 bytes, base64): subscribers verify ${org}'s records with it.`;
  }
  const what = `${org}'s Ed25519 public key${key.id === undefined ? '' : ` ${key.id}`} (raw 32 bytes, base64)`;
  return key.signs
    ? `${what}, the one valid now: ${org}'s producer signs with its private half, subscribers verify ${org}'s records with it.`
    : `${what}, not the one ${org} signs with now: subscribers verify what it signed within its validity; compose-env keeps no private half of it.`;
}

/** What config/compose.yaml says a variable is: an org's public key, an API key's hash, a webhook secret, a Kafka password. */
function configVariables(config: RawConfig, now: Date): Map<string, ComposeVariable> {
  const fromConfig = new Map<string, ComposeVariable>();
  const note = (value: string | undefined, what: Omit<ComposeVariable, 'name'>): void => {
    const name = envReference(value);
    if (name) fromConfig.set(name, { name, ...what });
  };
  for (const org of config.orgs ?? []) {
    for (const key of orgKeysInConfig(org, now).keys) {
      note(key.value, {
        kind: 'public-key',
        owner: org.id,
        signs: key.signs,
        description: publicKeyDescription(org.id, key, org.keys !== undefined),
      });
    }
  }
  for (const key of config.apiKeys ?? []) {
    note(key.sha256, {
      kind: 'api-key-hash',
      owner: key.org,
      description: `SHA-256 (lowercase hex) of ${key.org}'s API key ${key.name}; ${key.org}'s producer accepts the key by it.`,
    });
  }
  for (const s of config.subscriptions ?? []) {
    for (const secret of s.webhook?.secrets ?? []) {
      note(secret, {
        kind: 'webhook-secret',
        owner: s.id,
        description: `Standard Webhooks secret (whsec_ + base64 of 24 random bytes) of subscription ${s.id}: ${s.org}'s subscriber signs its deliveries with it, its endpoint (the receiver) verifies them.`,
      });
    }
  }
  for (const r of config.taxii?.readers ?? []) {
    note(r.sha256, {
      kind: 'taxii-reader-hash',
      owner: r.org,
      description: `SHA-256 (lowercase hex) of the password of ${r.org}'s TAXII reader ${r.name}; ${r.org}'s TAXII server lets the reader in by it.`,
    });
  }
  for (const o of config.console?.operators ?? []) {
    note(o.passwordHash, {
      kind: 'operator-password-hash',
      owner: o.username,
      description: `scrypt hash of console operator ${o.username}'s password (\`threatrelay keys operator\`): the console checks sign-ins against it.`,
    });
  }
  for (const u of config.kafka?.users ?? []) {
    note(u.password, {
      kind: 'kafka-user-password',
      owner: u.username,
      description: `Kafka SCRAM password of ${u.username} (${u.org}'s ${u.role} principal): provision creates the user, its service connects with it.`,
    });
  }
  return fromConfig;
}

type Variables = Map<string, ComposeVariable>;

function add(byName: Variables, v: ComposeVariable): void {
  if (!byName.has(v.name)) byName.set(v.name, v);
}

/** Every ${VAR} docker-compose.yml uses in an environment, and what the key it sets says it is. */
function addEnvironmentVariables(byName: Variables, compose: ComposeDocument, fromConfig: Variables): void {
  const unexplained = new Map<string, string>();
  for (const [serviceName, service] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (typeof value !== 'string') continue;
      for (const ref of composeReferences(value)) {
        const v = fromConfig.get(ref.name) ?? fromEnvironmentKey(serviceName, service, key, ref);
        if (v) add(byName, v);
        else if (!unexplained.has(ref.name))
          unexplained.set(ref.name, `services.${serviceName}.environment.${key}`);
      }
    }
  }
  for (const [name, where] of unexplained) {
    if (!byName.has(name)) {
      throw new Error(
        `${COMPOSE_FILE}: ${where} uses \${${name}}, which compose-env cannot tell how to generate`,
      );
    }
  }
}

/** References outside `environment:` (commands): settings with defaults, or variables already known. */
function addCommandSettings(byName: Variables, compose: ComposeDocument): void {
  for (const ref of stringsOf(compose).flatMap(composeReferences)) {
    if (byName.has(ref.name)) continue;
    if (ref.default === undefined) {
      throw new Error(`${COMPOSE_FILE} uses \${${ref.name}} outside an environment, with no default`);
    }
    add(byName, {
      name: ref.name,
      kind: 'setting',
      default: ref.default,
      description: `${ref.name} (default ${ref.default}).`,
    });
  }
}

/** The API keys themselves, next to their hashes (FACEBOOK_API_KEY beside FACEBOOK_API_KEY_SHA256). */
function addApiKeys(byName: Variables): void {
  for (const v of [...byName.values()].filter((x) => x.kind === 'api-key-hash')) {
    if (!v.name.endsWith('_SHA256'))
      throw new Error(`API-key hash variable ${v.name} does not end in _SHA256`);
    add(byName, {
      name: v.name.slice(0, -'_SHA256'.length),
      kind: 'api-key',
      owner: v.owner!,
      description: `${v.owner}'s API key itself. No container reads it: hand it to ${v.owner}'s team (\`THREATRELAY_API_KEY\` for \`threatrelay publish\`), then delete it from here.`,
    });
  }
}

/** Each console operator's password itself, next to its hash (X_PASSWORD beside X_PASSWORD_HASH). */
function addOperatorPasswords(byName: Variables): void {
  for (const v of [...byName.values()].filter((x) => x.kind === 'operator-password-hash')) {
    if (!v.name.endsWith('_HASH'))
      throw new Error(`operator password hash variable ${v.name} does not end in _HASH`);
    add(byName, {
      name: v.name.slice(0, -'_HASH'.length),
      kind: 'operator-password',
      owner: v.owner!,
      description: `Console operator ${v.owner}'s password itself. No container reads it: the operator signs in to the console with it.`,
    });
  }
}

/** Each TAXII reader's password itself, next to its hash (X_PASSWORD beside X_PASSWORD_SHA256). */
function addTaxiiReaderPasswords(byName: Variables, config: RawConfig): void {
  for (const v of [...byName.values()].filter((x) => x.kind === 'taxii-reader-hash')) {
    if (!v.name.endsWith('_SHA256'))
      throw new Error(`TAXII reader hash variable ${v.name} does not end in _SHA256`);
    const reader = config.taxii?.readers?.find((r) => envReference(r.sha256) === v.name);
    add(byName, {
      name: v.name.slice(0, -'_SHA256'.length),
      kind: 'taxii-reader-password',
      owner: v.owner!,
      description: `The password of ${v.owner}'s TAXII reader ${reader?.name ?? ''} itself. No container reads it: hand it to ${v.owner} for its threat-intelligence platform (HTTP Basic as ${reader?.name ?? 'the reader'}, or Bearer), then delete it from here.`,
    });
  }
}

function addComposeProfiles(byName: Variables, compose: ComposeDocument): void {
  if (!Object.values(compose.services).some((s) => s.profiles?.length)) return;
  const profiles = [...new Set(Object.values(compose.services).flatMap((s) => s.profiles ?? []))];
  add(byName, {
    name: 'COMPOSE_PROFILES',
    kind: 'compose-profiles',
    default: '',
    description: `Compose profiles to run (${profiles.join(', ')}); empty: the default stack.`,
  });
}

/** Each producer's signing key needs its org's key valid `now` to be a variable compose-env sets. */
function checkSigningKeys(byName: Variables, config: RawConfig, now: Date): void {
  for (const v of byName.values()) {
    if (v.kind !== 'signing-key') continue;
    const org = config.orgs?.find((o) => o.id === v.owner);
    const problem = org
      ? orgKeysInConfig(org, now).signingProblem
      : `${COMPOSE_CONFIG_FILE} has no org ${v.owner}`;
    if (problem) throw new Error(`${v.name} signs for ${v.owner}: ${problem}`);
  }
}

/**
 * What each variable of the stack is, derived from where docker-compose.yml
 * and config/compose.yaml use it. `now` picks, for an org listing several
 * keys, the one its producer's signing key pairs with.
 */
export function composeVariables(
  stack: ComposeStack = readComposeStack(),
  now: Date = new Date(),
): ComposeVariable[] {
  const { compose, config } = stack;
  const byName: Variables = new Map();
  const fromConfig = configVariables(config, now);
  addEnvironmentVariables(byName, compose, fromConfig);
  addCommandSettings(byName, compose);
  // Every secret the config names must reach the containers through docker-compose.yml.
  for (const name of fromConfig.keys()) {
    if (!byName.has(name))
      throw new Error(`${COMPOSE_CONFIG_FILE} uses \${${name}}, which ${COMPOSE_FILE} sets nowhere`);
  }
  addApiKeys(byName);
  addOperatorPasswords(byName);
  addTaxiiReaderPasswords(byName, config);
  checkSigningKeys(byName, config, now);
  const rf = envReference(config.kafka?.replicationFactor);
  if (rf && byName.get(rf)?.kind === 'setting') {
    byName.get(rf)!.description =
      'Replication factor of every topic, and of Kafka internal topics: 1 with the single broker, 3 with the `ha` profile.';
  }
  addComposeProfiles(byName, compose);
  return [...byName.values()].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
}
