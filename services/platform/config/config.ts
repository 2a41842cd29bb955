import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { isRecord } from '../json';
import { ThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { configSchema, envReference, type Config, type OrgConfig } from './schema';

export * from './schema';

/** Every problem in a zod error as `{ path, message }`, paths dotted (`orgs.1.id`). */
export function zodDetails(error: z.ZodError, prefix: (string | number)[] = []): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/** Replaces `${NAME}` in every string of the parsed YAML; each missing variable is a problem at its path. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  problems: ErrorDetail[],
): unknown {
  if (typeof value === 'string') {
    // Kafka users' passwords stay references until `provision` resolves them (resolveUserPasswords).
    if (path.length === 4 && path[0] === 'kafka' && path[1] === 'users' && path[3] === 'password')
      return value;
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') {
        problems.push({
          path: path.join('.') || '(root)',
          message: `environment variable ${name} is not set`,
        });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, String(i)], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], problems)]),
    );
  }
  return value;
}

function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  return [...new Set(values.filter((v) => (seen.has(v) ? true : (seen.add(v), false))))];
}

/** The Kafka users: unique, of known orgs, a producer's org able to sign, a TAXII server's own, and SCRAM. */
function kafkaUserProblems(config: z.infer<typeof configSchema>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const readers = config.taxii.readers;
  const { users, sasl } = config.kafka;
  for (const dup of duplicates(users.map((u) => u.username))) {
    problems.push({ path: 'kafka.users', message: `duplicate Kafka username "${dup}"` });
  }
  users.forEach((u, i) => {
    const org = orgById(config, u.org);
    if (!org) problems.push({ path: `kafka.users.${i}.org`, message: `unknown org "${u.org}"` });
    else if (u.role === 'producer' && org.keys.length === 0) {
      problems.push({
        path: `kafka.users.${i}.role`,
        message: `org "${u.org}" has no publicKey (or keys), so nothing it published could be verified`,
      });
    }
  });
  // With Kafka users, an org's TAXII server connects as its own: without one it could not read.
  if (users.length > 0) {
    for (const org of new Set(readers.map((r) => r.org))) {
      if (!users.some((u) => u.org === org && u.role === 'taxii'))
        problems.push({
          path: 'kafka.users',
          message: `org "${org}" has taxii.readers but no Kafka user with role taxii for its TAXII server`,
        });
    }
  }
  if (users.length > 0 && !sasl?.mechanism.startsWith('scram')) {
    problems.push({
      path: 'kafka.sasl',
      message: 'kafka.users needs kafka.sasl with a SCRAM mechanism: provision creates SCRAM users',
    });
  }
  return problems;
}

/** Checks that need the whole file: unique ids and references to known orgs. */
function crossCheck(config: z.infer<typeof configSchema>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const orgIds = new Set(config.orgs.map((o) => o.id));
  for (const dup of duplicates(config.orgs.map((o) => o.id))) {
    problems.push({ path: 'orgs', message: `duplicate org id "${dup}"` });
  }
  config.orgs.forEach((o, i) => {
    for (const dup of duplicates(o.keys.map((k) => k.id))) {
      problems.push({ path: `orgs.${i}.keys`, message: `duplicate key id "${dup}"` });
    }
  });
  for (const dup of duplicates(config.subscriptions.map((s) => s.id))) {
    problems.push({ path: 'subscriptions', message: `duplicate subscription id "${dup}"` });
  }
  for (const dup of duplicates(config.console.operators.map((o) => o.username))) {
    problems.push({ path: 'console.operators', message: `duplicate operator "${dup}"` });
  }
  for (const dup of duplicates(config.apiKeys.map((k) => k.name))) {
    problems.push({ path: 'apiKeys', message: `duplicate API key name "${dup}"` });
  }
  for (const dup of duplicates(config.apiKeys.map((k) => k.sha256))) {
    problems.push({ path: 'apiKeys', message: `two API keys share the hash ${dup.slice(0, 12)}…` });
  }
  config.apiKeys.forEach((k, i) => {
    if (!orgIds.has(k.org)) problems.push({ path: `apiKeys.${i}.org`, message: `unknown org "${k.org}"` });
  });
  const readers = config.taxii.readers;
  for (const dup of duplicates(readers.map((r) => r.name))) {
    problems.push({ path: 'taxii.readers', message: `duplicate TAXII reader name "${dup}"` });
  }
  for (const dup of duplicates(readers.map((r) => r.sha256))) {
    problems.push({
      path: 'taxii.readers',
      message: `two TAXII readers share the hash ${dup.slice(0, 12)}…`,
    });
  }
  readers.forEach((r, i) => {
    if (!orgIds.has(r.org))
      problems.push({ path: `taxii.readers.${i}.org`, message: `unknown org "${r.org}"` });
  });
  if (config.taxii.defaultPageSize > config.taxii.maxPageSize) {
    problems.push({ path: 'taxii.defaultPageSize', message: 'must not be larger than taxii.maxPageSize' });
  }
  problems.push(...kafkaUserProblems(config));
  config.subscriptions.forEach((s, i) => {
    if (!orgIds.has(s.org))
      problems.push({ path: `subscriptions.${i}.org`, message: `unknown org "${s.org}"` });
    (s.filter.sourceOrgs ?? []).forEach((o, j) => {
      if (!orgIds.has(o)) {
        problems.push({ path: `subscriptions.${i}.filter.sourceOrgs.${j}`, message: `unknown org "${o}"` });
      }
    });
  });
  return problems;
}

/**
 * The part of the config one process uses. A service resolves only its own
 * part's `${VARIABLES}`, so it is given only its own secrets: a producer
 * needs no webhook secret, a subscriber no other org's, the receiver no
 * Kafka credentials and no dedup store's, the console no API-key hashes and no dedup store's.
 * Without a scope (provision, dlq, dev, tests) the whole file is resolved and checked.
 */
export type ConfigScope =
  | { role: 'producer'; org: string }
  | { role: 'subscriber'; org: string }
  | { role: 'taxii'; org: string }
  | { role: 'receiver' }
  | { role: 'console' };

function scoped(raw: unknown, scope: ConfigScope | undefined): unknown {
  if (!scope || !isRecord(raw)) return raw;
  const ofOrg = (list: unknown, org: string): unknown =>
    Array.isArray(list) ? list.filter((item) => isRecord(item) && item.org === org) : list;
  const withoutDedup = (subs: unknown): unknown =>
    Array.isArray(subs)
      ? subs.map((sub: unknown) => {
          if (!isRecord(sub)) return sub;
          const { dedup: _dedup, ...rest } = sub;
          return rest;
        })
      : subs;
  const out = { ...raw };
  // Only an org's TAXII server reads reader credentials, and only its own org's.
  if (isRecord(raw.taxii)) {
    out.taxii = { ...raw.taxii, readers: scope.role === 'taxii' ? ofOrg(raw.taxii.readers, scope.org) : [] };
  }
  // Only the console checks operators' passwords; no other service is given their hashes.
  if (scope.role !== 'console') delete out.console;
  if (scope.role === 'console') {
    // The operator's view: every subscription (a replay delivers with its webhook secrets, bypassing
    // dedup, so no dedup store's credentials), the operator's Kafka user, no API keys.
    out.apiKeys = [];
    out.subscriptions = withoutDedup(raw.subscriptions);
  } else if (scope.role === 'taxii') {
    out.subscriptions = [];
    out.apiKeys = [];
  } else if (scope.role === 'producer') {
    out.subscriptions = [];
    out.apiKeys = ofOrg(raw.apiKeys, scope.org);
  } else if (scope.role === 'subscriber') {
    out.subscriptions = ofOrg(raw.subscriptions, scope.org);
    out.apiKeys = [];
  } else {
    // The receiver only checks signatures: no Kafka, no dedup store.
    out.apiKeys = [];
    if (isRecord(raw.kafka)) {
      const { sasl: _sasl, users: _users, ...kafka } = raw.kafka;
      out.kafka = kafka;
    }
    out.subscriptions = withoutDedup(raw.subscriptions);
  }
  return out;
}

/** Validates an already-parsed config object. Throws TR_CONFIG listing every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, scope?: ConfigScope): Config {
  const problems: ErrorDetail[] = [];
  const substituted = substituteEnv(scoped(raw, scope), env, [], problems);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) {
    // A value whose variable is missing is already reported; its empty stand-in would only add noise.
    const unset = new Set(problems.map((p) => p.path));
    problems.push(...zodDetails(parsed.error).filter((d) => !unset.has(d.path)));
  } else problems.push(...crossCheck(parsed.data));
  if (problems.length > 0 || !parsed.success) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `invalid config: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
      { details: problems },
    );
  }
  const brokers =
    parsed.data.kafka.brokers ??
    (env.KAFKA_BROKERS ? env.KAFKA_BROKERS.split(',').map((b) => b.trim()) : ['127.0.0.1:9092']);
  return { ...parsed.data, kafka: { ...parsed.data.kafka, brokers } };
}

/**
 * The passwords of `kafka.users`, read from the environment variables the
 * config names. Throws TR_CONFIG listing every variable missing or too weak.
 */
export function resolveUserPasswords(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const problems: ErrorDetail[] = [];
  const passwords = new Map<string, string>();
  config.kafka.users.forEach((u, i) => {
    const name = envReference(u.password)!;
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push({
        path: `kafka.users.${i}.password`,
        message: `environment variable ${name} is not set`,
      });
    } else if (value.length < 16) {
      problems.push({
        path: `kafka.users.${i}.password`,
        message: `${name} is shorter than 16 characters`,
      });
    } else passwords.set(u.username, value);
  });
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `cannot create the Kafka users: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
      { details: problems },
    );
  }
  return passwords;
}

/** Reads and validates the YAML config file at `path`. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, scope?: ConfigScope): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ThreatRelayError('TR_CONFIG', `cannot read config file ${path}`, { cause });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => ({
      path: `line ${e.linePos?.[0].line ?? '?'}`,
      message: e.message,
    }));
    throw new ThreatRelayError('TR_CONFIG', `config file ${path} is not valid YAML`, { details });
  }
  return parseConfig(doc.toJS(), env, scope);
}

/** How an API key is stored in `apiKeys[].sha256`: lowercase hex SHA-256 of the key. */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new TAXII reader secret for `org`: `trt_<org>_` and base64url of 24 random bytes. Only its hash is stored. */
export function newTaxiiSecret(org: string): string {
  return `trt_${org}_${randomBytes(24).toString('base64url')}`;
}

/** A new API key for `org`: `trk_<org>_` and base64url of 24 random bytes. Only its hash is stored. */
export function newApiKey(org: string): string {
  return `trk_${org}_${randomBytes(24).toString('base64url')}`;
}

/** The org of that id in the config, if there is one. */
export function orgById(config: Pick<Config, 'orgs'>, orgId: string): OrgConfig | undefined {
  return config.orgs.find((o) => o.id === orgId);
}
