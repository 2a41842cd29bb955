import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { apiKeyHash, envReference } from '../platform/config/config';
import { repoRoot } from '../platform/paths';
import { generateSigningKeyPair } from '../contract/signing';

/**
 * The `.env` of the operator's docker compose stack (`threatrelay keys
 * compose-env`): every variable docker-compose.yml interpolates, each with a
 * fresh value, plus the API keys whose hashes the config holds, for the
 * operator to hand out.
 *
 * Nothing here lists the variables: they are read from docker-compose.yml
 * (every `${VAR}` it uses) and what each one is comes from where it is used,
 * in config/compose.yaml (an org's publicKey, an API key's sha256, a
 * subscription's webhook secret, a Kafka user's password) or in
 * docker-compose.yml (the environment key it sets, its `${VAR:-default}`).
 * A variable used in neither way is an error, not a guess.
 */

export const COMPOSE_FILE = 'docker-compose.yml';
export const COMPOSE_CONFIG_FILE = 'config/compose.yaml';

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
  | 'webhook-secret';

export interface ComposeVariable {
  name: string;
  kind: ComposeVariableKind;
  /** One line: what it is (the comment above it in .env). */
  description: string;
  /** The org, subscription or Kafka user it belongs to, if any. */
  owner?: string;
  /** For settings: docker-compose.yml's default. */
  default?: string;
}

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

/** A `${...}` reference in a compose file. */
export interface ComposeReference {
  name: string;
  /** `${NAME:-x}` / `${NAME-x}`: the default. */
  default?: string;
  /** `${NAME:?msg}` / `${NAME?msg}`: compose refuses to start without it. */
  required?: boolean;
}

// `$$` is an escaped dollar; otherwise ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}.
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** Every `${...}` reference in `text` (compose's interpolation syntax), in order, repeats included. */
export function composeReferences(text: string): ComposeReference[] {
  const out: ComposeReference[] = [];
  for (const m of text.matchAll(REFERENCE)) {
    if (m[0] === '$$') continue;
    const [, name, op, arg] = m;
    out.push({
      name: name!,
      ...(op?.endsWith('-') ? { default: arg ?? '' } : {}),
      ...(op?.endsWith('?') ? { required: true } : {}),
    });
  }
  return out;
}

/**
 * Compose's interpolation of one string (`$$` → `$`). Throws for a
 * `${NAME:?msg}` that is unset, as compose does; an unset plain `${NAME}` is
 * '' (compose warns).
 */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(REFERENCE, (whole, name: string | undefined, op?: string, arg?: string) => {
    if (whole === '$$') return '$';
    const value = env[name!];
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('-')) return unset ? (arg ?? '') : value!;
    if (op?.endsWith('?') && unset) throw new Error(`${name} is required: ${arg ?? ''}`);
    return value ?? '';
  });
}

/** Reads a .env file as compose does for the values this module writes (plain, 'single-' or "double-quoted"). */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`not a NAME=value line: ${line}`);
    let value = m[2]!;
    if (value.startsWith("'")) {
      if (!value.endsWith("'") || value.length < 2) throw new Error(`unterminated quote: ${line}`);
      value = value.slice(1, -1);
    } else if (value.startsWith('"')) {
      if (!value.endsWith('"') || value.length < 2) throw new Error(`unterminated quote: ${line}`);
      value = value.slice(1, -1).replace(/\\(["\\$])/g, '$1');
    } else {
      value = value.split(' #')[0]!.trimEnd();
    }
    out[m[1]!] = value;
  }
  return out;
}

/** A Kafka cluster id as `kafka-storage random-uuid` makes one: a version-4 UUID in base64url, never starting with '-'. */
export function kafkaClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export interface ComposeService {
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, unknown>;
}

export interface ComposeDocument {
  services: Record<string, ComposeService>;
}

export interface RawConfig {
  kafka?: {
    replicationFactor?: unknown;
    users?: { username: string; org: string; role: string; password: string }[];
  };
  orgs?: { id: string; publicKey?: string }[];
  apiKeys?: { name: string; org: string; sha256: string }[];
  subscriptions?: { id: string; org: string; webhook?: { secrets?: string[] } }[];
}

export interface ComposeStack {
  compose: ComposeDocument;
  composeText: string;
  config: RawConfig;
  configText: string;
}

export function readComposeStack(root: string = repoRoot()): ComposeStack {
  const composeText = readFileSync(join(root, COMPOSE_FILE), 'utf8');
  const configText = readFileSync(join(root, COMPOSE_CONFIG_FILE), 'utf8');
  return {
    compose: parse(composeText, { merge: true }) as ComposeDocument,
    composeText,
    config: parse(configText) as RawConfig,
    configText,
  };
}

/** Every string value in a parsed YAML document (what compose interpolates; comments are not). */
export function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

/** The org a `producer --org X` / `subscriber --org X` command runs as. */
function commandOrg(service: ComposeService): string | undefined {
  const i = service.command?.indexOf('--org') ?? -1;
  return i >= 0 ? service.command![i + 1] : undefined;
}

/** The broker services: those running Apache Kafka's image. */
export function brokerServices(compose: ComposeDocument): string[] {
  return Object.entries(compose.services)
    .filter(([, s]) => s.image?.startsWith('apache/kafka:'))
    .map(([name]) => name);
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

/** What each variable of the stack is, derived from where docker-compose.yml and config/compose.yaml use it. */
export function composeVariables(stack: ComposeStack = readComposeStack()): ComposeVariable[] {
  const { compose, config } = stack;
  const byName = new Map<string, ComposeVariable>();
  const add = (v: ComposeVariable): void => {
    if (!byName.has(v.name)) byName.set(v.name, v);
  };

  // What config/compose.yaml says a variable is.
  const fromConfig = new Map<string, ComposeVariable>();
  const note = (value: string | undefined, what: Omit<ComposeVariable, 'name'>): void => {
    const name = envReference(value);
    if (name) fromConfig.set(name, { name, ...what });
  };
  for (const org of config.orgs ?? []) {
    note(org.publicKey, {
      kind: 'public-key',
      owner: org.id,
      description: `${org.id}'s Ed25519 public key (raw 32 bytes, base64): subscribers verify ${org.id}'s records with it.`,
    });
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
  for (const u of config.kafka?.users ?? []) {
    note(u.password, {
      kind: 'kafka-user-password',
      owner: u.username,
      description: `Kafka SCRAM password of ${u.username} (${u.org}'s ${u.role} principal): provision creates the user, its service connects with it.`,
    });
  }

  // Every ${VAR} docker-compose.yml uses in an environment, and what the key it sets says it is.
  const unexplained = new Map<string, string>();
  for (const [serviceName, service] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (typeof value !== 'string') continue;
      for (const ref of composeReferences(value)) {
        const v = fromConfig.get(ref.name) ?? fromEnvironmentKey(serviceName, service, key, ref);
        if (v) add(v);
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
  // References outside `environment:` (commands): settings with defaults, or variables already known.
  for (const ref of stringsOf(compose).flatMap(composeReferences)) {
    if (byName.has(ref.name)) continue;
    if (ref.default === undefined) {
      throw new Error(`${COMPOSE_FILE} uses \${${ref.name}} outside an environment, with no default`);
    }
    add({
      name: ref.name,
      kind: 'setting',
      default: ref.default,
      description: `${ref.name} (default ${ref.default}).`,
    });
  }
  // Every secret the config names must reach the containers through docker-compose.yml.
  for (const name of fromConfig.keys()) {
    if (!byName.has(name))
      throw new Error(`${COMPOSE_CONFIG_FILE} uses \${${name}}, which ${COMPOSE_FILE} sets nowhere`);
  }
  // The API keys themselves, next to their hashes (FACEBOOK_API_KEY beside FACEBOOK_API_KEY_SHA256).
  for (const v of [...byName.values()].filter((x) => x.kind === 'api-key-hash')) {
    if (!v.name.endsWith('_SHA256'))
      throw new Error(`API-key hash variable ${v.name} does not end in _SHA256`);
    add({
      name: v.name.slice(0, -'_SHA256'.length),
      kind: 'api-key',
      owner: v.owner!,
      description: `${v.owner}'s API key itself. No container reads it: hand it to ${v.owner}'s team (\`threatrelay publish --api-key\`), then delete it from here.`,
    });
  }
  for (const v of byName.values()) {
    if (v.kind !== 'signing-key') continue;
    const publicKey = [...byName.values()].find((p) => p.kind === 'public-key' && p.owner === v.owner);
    if (!publicKey) throw new Error(`${v.name} signs for ${v.owner}, whose config entry has no publicKey`);
  }
  const rf = envReference(config.kafka?.replicationFactor);
  if (rf && byName.get(rf)?.kind === 'setting') {
    byName.get(rf)!.description =
      'Replication factor of every topic, and of Kafka internal topics: 1 with the single broker, 3 with the `ha` profile.';
  }
  if (Object.values(compose.services).some((s) => s.profiles?.length)) {
    const profiles = [...new Set(Object.values(compose.services).flatMap((s) => s.profiles ?? []))];
    add({
      name: 'COMPOSE_PROFILES',
      kind: 'compose-profiles',
      default: '',
      description: `Compose profiles to run (${profiles.join(', ')}); empty: the default stack.`,
    });
  }
  return [...byName.values()].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
}

/** A .env line: quoted (single quotes: no escapes, no interpolation) unless the value is plain. */
function dotenvLine(name: string, value: string): string {
  if (/^[A-Za-z0-9_./+=:,@-]*$/.test(value)) return `${name}=${value}`;
  if (value.includes("'") || value.endsWith('\\') || value.includes('\n')) {
    throw new Error(`${name}: cannot write this value in single quotes`);
  }
  return `${name}='${value}'`;
}

/**
 * A complete, fresh .env for the compose stack: new signing key pairs, API
 * keys and their hashes, webhook secrets, Kafka and Redis passwords and a
 * Kafka cluster id; settings at docker-compose.yml's defaults.
 */
export function generateComposeEnv(options: ComposeEnvOptions = {}): ComposeEnv {
  const stack = readComposeStack(options.root ?? repoRoot());
  const variables = composeVariables(stack);
  const profiles = options.profiles ?? [];
  const brokers = brokerServices(stack.compose).filter((name) => {
    const p = stack.compose.services[name]!.profiles;
    return !p?.length || p.some((x) => profiles.includes(x));
  });
  const rfVariable = envReference(stack.config.kafka?.replicationFactor);
  const values: Record<string, string> = {};
  const secret = (): string => randomBytes(24).toString('base64url');
  for (const v of variables) {
    if (v.name in values) continue;
    switch (v.kind) {
      case 'compose-profiles':
        values[v.name] = profiles.join(',');
        break;
      case 'setting':
        values[v.name] = v.name === rfVariable ? String(Math.min(3, brokers.length)) : v.default!;
        break;
      case 'kafka-cluster-id':
        values[v.name] = kafkaClusterId();
        break;
      case 'kafka-admin-password':
      case 'kafka-user-password':
      case 'password':
        values[v.name] = secret();
        break;
      case 'signing-key':
      case 'public-key': {
        const signing = variables.find((x) => x.kind === 'signing-key' && x.owner === v.owner);
        const pub = variables.find((x) => x.kind === 'public-key' && x.owner === v.owner)!;
        const pair = generateSigningKeyPair();
        values[pub.name] = pair.publicKey;
        // .env holds the PEM on one line; the producer turns `\n` back into newlines.
        if (signing) values[signing.name] = pair.privateKeyPem.trim().replace(/\n/g, '\\n');
        break;
      }
      case 'api-key-hash':
      case 'api-key': {
        const hash = variables.find((x) => x.kind === 'api-key-hash' && x.owner === v.owner)!;
        const key = `trk_${v.owner}_${randomBytes(24).toString('base64url')}`;
        values[hash.name] = apiKeyHash(key);
        values[hash.name.slice(0, -'_SHA256'.length)] = key;
        break;
      }
      case 'webhook-secret':
        values[v.name] = `whsec_${randomBytes(24).toString('base64')}`;
        break;
    }
  }
  const now = options.now ?? new Date();
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
