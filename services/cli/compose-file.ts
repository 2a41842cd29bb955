import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../platform/paths';

/** Reading docker-compose.yml and config/compose.yaml as compose does: interpolation, .env files. */

export const COMPOSE_FILE = 'docker-compose.yml';
export const COMPOSE_CONFIG_FILE = 'config/compose.yaml';

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

export interface ComposeService {
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, unknown>;
}

export interface ComposeDocument {
  services: Record<string, ComposeService>;
}

/** A key of an org's `keys` list as config/compose.yaml writes it (dates not yet checked). */
export interface RawSigningKey {
  id?: string;
  publicKey?: string;
  notBefore?: string;
  notAfter?: string;
  revokedAt?: string;
}

/** An org gives its public key in the single form (`publicKey`) or as a `keys` list. */
export interface RawOrg {
  id: string;
  publicKey?: string;
  keys?: RawSigningKey[];
}

export interface RawConfig {
  kafka?: {
    replicationFactor?: unknown;
    users?: { username: string; org: string; role: string; password: string }[];
  };
  orgs?: RawOrg[];
  apiKeys?: { name: string; org: string; sha256: string }[];
  subscriptions?: { id: string; org: string; webhook?: { secrets?: string[] } }[];
  console?: { operators?: { username: string; passwordHash: string }[] };
  taxii?: { readers?: { name: string; org: string; sha256: string }[] };
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

/**
 * The image a service runs when .env names no other: its `image:` with every
 * `${VAR:-default}` at its default (KAFKA_IMAGE, REDIS_IMAGE: the official
 * images; scripts/docker/images.sh sets local stand-ins instead).
 */
export function defaultImage(service: ComposeService): string | undefined {
  return service.image === undefined ? undefined : interpolate(service.image, {});
}

/** The broker services: those running Apache Kafka's image. */
export function brokerServices(compose: ComposeDocument): string[] {
  return Object.entries(compose.services)
    .filter(([, s]) => defaultImage(s)?.startsWith('apache/kafka:'))
    .map(([name]) => name);
}
