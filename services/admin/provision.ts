import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  Kafka,
  ResourcePatternTypes,
  logLevel,
  type Admin,
  type AclEntry,
  type SASLOptions,
} from 'kafkajs';
import { aclKey, aclsOf, principalOf, type AclBinding } from './acl';
import { resolveUserPasswords, type Config } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';
import { ensureTopics } from '../platform/kafka';
import { connectScramAdmin, type ScramMechanism } from './scram';
import { COMMUNITY_TLPS, kafkaNames } from '../contract/names';

/**
 * `threatrelay provision`: brings the cluster to what the config says, and
 * only changes what differs, so a second run changes nothing and says so.
 * Topics are created, never deleted; of an existing topic only `retention.ms`
 * is brought to the config's (`kafka.retentionDays`). SCRAM users are created, and
 * their password replaced only when it no longer authenticates. The ACLs of
 * the configured users are made exactly those of the ACL model
 * (services/admin/acl.ts): missing ones are added, ALLOW bindings the
 * model no longer grants are removed; DENY bindings an operator added by hand
 * are left alone.
 */

/** Every topic the config implies: community topics, one direct topic per org, one DLQ per subscription. */
export function topicsOf(config: Config): string[] {
  const names = kafkaNames(config.kafka.topicPrefix);
  return [
    ...COMMUNITY_TLPS.map((tlp) => names.community(tlp)),
    ...config.orgs.map((o) => names.direct(o.id)),
    ...config.subscriptions.map((s) => names.dlq(s.id)),
  ];
}

const DAY_MS = 24 * 3600 * 1000;

function retentionMs(config: Config): string {
  return String(config.kafka.retentionDays * DAY_MS);
}

/** The compacted control topics, one per org. */
export function controlTopicsOf(config: Config): string[] {
  const names = kafkaNames(config.kafka.topicPrefix);
  return config.orgs.map((o) => names.control(o.id));
}

/** Creates the missing topics; idempotent. Returns the topics it created. */
export async function provisionTopics(admin: Admin, config: Config): Promise<string[]> {
  const created = await ensureTopics(admin, topicsOf(config), {
    ...config.kafka,
    configEntries: [{ name: 'retention.ms', value: retentionMs(config) }],
  });
  const control = await ensureTopics(admin, controlTopicsOf(config), {
    partitions: 1,
    replicationFactor: config.kafka.replicationFactor,
    configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
  });
  return [...created, ...control];
}

/**
 * Brings `retention.ms` of the existing data topics to the config's. Kafka's AlterConfigs (the only
 * config call kafkajs has) replaces a topic's whole set of overrides, so every other override the
 * topic has is sent back unchanged with it. Returns the topics it changed.
 */
async function reconcileRetention(admin: Admin, config: Config, skip: string[]): Promise<string[]> {
  const want = retentionMs(config);
  const topics = topicsOf(config).filter((t) => !skip.includes(t));
  if (topics.length === 0) return [];
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  const changes = described.resources
    .map((r) => {
      const overrides = r.configEntries.filter(
        (e) => e.configSource === TOPIC_OVERRIDE && e.configName !== 'retention.ms',
      );
      const current = r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
      return { name: r.resourceName, current, overrides };
    })
    .filter((r) => r.current !== want);
  if (changes.length === 0) return [];
  await admin.alterConfigs({
    validateOnly: false,
    resources: changes.map((c) => ({
      type: ConfigResourceTypes.TOPIC,
      name: c.name,
      configEntries: [
        ...c.overrides.map((e) => ({ name: e.configName, value: e.configValue })),
        { name: 'retention.ms', value: want },
      ],
    })),
  });
  return changes.map((c) => `${c.name} (retention.ms ${c.current ?? 'default'} → ${want})`);
}

/** DescribeConfigs' source of a value set on the topic itself (DYNAMIC_TOPIC_CONFIG). */
const TOPIC_OVERRIDE = 1;

export interface ProvisionReport {
  topics: { created: string[]; retentionChanged: string[]; unchanged: number };
  /** `others`: SCRAM users on the cluster the config does not name; left as they are, with no ACL on the bus. */
  users: { created: string[]; updated: string[]; unchanged: string[]; others: string[] };
  acls: { added: string[]; removed: string[]; unchanged: number };
}

export function changed(report: ProvisionReport): boolean {
  return (
    report.topics.created.length +
      report.topics.retentionChanged.length +
      report.users.created.length +
      report.users.updated.length +
      report.acls.added.length +
      report.acls.removed.length >
    0
  );
}

/** What `provision` prints. */
export function formatReport(report: ProvisionReport): string {
  const lines: string[] = [];
  const list = (label: string, items: string[]): void => {
    if (items.length) lines.push(`${label} (${items.length}):`, ...items.map((i) => `  ${i}`));
  };
  list('created topics', report.topics.created);
  list('changed the retention of topics', report.topics.retentionChanged);
  list('created Kafka users', report.users.created);
  list('replaced the password of Kafka users', report.users.updated);
  list('added ACLs', report.acls.added);
  list('removed ACLs', report.acls.removed);
  list('Kafka users the config does not name (left alone; they hold no ACL on the bus)', report.users.others);
  const summary = `${report.topics.created.length + report.topics.retentionChanged.length + report.topics.unchanged} topics, ${
    report.users.created.length + report.users.updated.length + report.users.unchanged.length
  } Kafka users, ${report.acls.added.length + report.acls.unchanged} ACLs`;
  lines.push(
    changed(report) ? `done: ${summary} as configured` : `nothing changed: ${summary} already as configured`,
  );
  return lines.join('\n');
}

const RESOURCE = {
  TOPIC: AclResourceTypes.TOPIC,
  GROUP: AclResourceTypes.GROUP,
  TRANSACTIONAL_ID: AclResourceTypes.TRANSACTIONAL_ID,
} as const;
const OPERATION = {
  READ: AclOperationTypes.READ,
  WRITE: AclOperationTypes.WRITE,
  DESCRIBE: AclOperationTypes.DESCRIBE,
} as const;
const PATTERN = { LITERAL: ResourcePatternTypes.LITERAL, PREFIXED: ResourcePatternTypes.PREFIXED } as const;

function toEntry(b: AclBinding): AclEntry {
  return {
    resourceType: RESOURCE[b.resourceType],
    resourceName: b.resourceName,
    resourcePatternType: PATTERN[b.patternType],
    principal: b.principal,
    host: '*',
    operation: OPERATION[b.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/** kafkajs's enums are plain name → number objects: the name of a number. */
function name(enumeration: object, value: number): string {
  return Object.entries(enumeration).find(([, v]) => v === value)?.[0] ?? String(value);
}

/** Every ALLOW binding on the cluster, as `aclKey` lines, with what it takes to delete each. */
async function currentAcls(admin: Admin): Promise<Map<string, AclEntry>> {
  const out = new Map<string, AclEntry>();
  const response = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ALLOW,
  });
  for (const resource of response.resources) {
    for (const acl of resource.acls) {
      const entry: AclEntry = { ...resource, ...acl };
      const key = aclKey({
        principal: acl.principal,
        resourceType: name(AclResourceTypes, resource.resourceType) as AclBinding['resourceType'],
        resourceName: resource.resourceName,
        patternType: name(ResourcePatternTypes, resource.resourcePatternType) as AclBinding['patternType'],
        operation: name(AclOperationTypes, acl.operation) as AclBinding['operation'],
      });
      out.set(acl.host === '*' ? key : `${key} from ${acl.host}`, entry);
    }
  }
  return out;
}

/** Whether `username` can authenticate with `password` (a fresh connection, no retries). */
async function authenticates(config: Config, username: string, password: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'threatrelay-provision-check',
    brokers: config.kafka.brokers,
    ssl: config.kafka.ssl,
    sasl: { mechanism: config.kafka.sasl!.mechanism, username, password } as SASLOptions,
    connectionTimeout: 3000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    return true;
  } catch (err) {
    if ((err as Error).name === 'KafkaJSSASLAuthenticationError') return false;
    throw err;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function provisionUsers(
  kafka: Kafka,
  config: Config,
  passwords: Map<string, string>,
): Promise<ProvisionReport['users']> {
  const report: ProvisionReport['users'] = { created: [], updated: [], unchanged: [], others: [] };
  if (config.kafka.users.length === 0) return report;
  const mechanism = config.kafka.sasl!.mechanism as ScramMechanism;
  const scram = await connectScramAdmin(kafka);
  try {
    const existing = await scram.describe(null);
    const named = new Set(config.kafka.users.map((u) => u.username));
    report.others = [...existing.keys()]
      .filter((u) => !named.has(u) && u !== config.kafka.sasl!.username)
      .sort();
    const upserts = [];
    for (const user of config.kafka.users) {
      const password = passwords.get(user.username)!;
      const credentials = existing.get(user.username) ?? [];
      // A credential of the other mechanism would be a second password nobody manages.
      const stale = credentials.filter((c) => c.mechanism !== mechanism && c.mechanism !== 'unknown');
      for (const c of stale) await scram.remove(user.username, c.mechanism as ScramMechanism);
      const has = credentials.some((c) => c.mechanism === mechanism);
      if (has && (await authenticates(config, user.username, password))) {
        if (stale.length)
          report.updated.push(`${user.username} (removed its ${stale[0]!.mechanism} credential)`);
        else report.unchanged.push(user.username);
        continue;
      }
      (has ? report.updated : report.created).push(user.username);
      upserts.push({ user: user.username, mechanism, password });
    }
    await scram.upsert(upserts);
  } finally {
    await scram.disconnect();
  }
  return report;
}

/**
 * The config is the whole truth about access to the bus's resources, the topics, groups and
 * transactional ids under its topic prefix: an ALLOW ACL on one of them that the model does not
 * grant (a lower maxTlp, a removed subscription, an org or user taken out of the config) is removed.
 * The operator's own user, and ACLs on anything else (another network's prefix), are left alone.
 */
async function provisionAcls(admin: Admin, config: Config): Promise<ProvisionReport['acls']> {
  const desired = new Map(aclsOf(config).map((b) => [aclKey(b), b]));
  const principals = config.kafka.users.map((u) => principalOf(u.username));
  // Without users the brokers are not expected to authorize (and answer ACL calls with an error).
  if (principals.length === 0) return { added: [], removed: [], unchanged: 0 };
  const operator = principalOf(config.kafka.sasl!.username);
  const prefix = `${config.kafka.topicPrefix}.`;
  const current = new Map(
    [...(await currentAcls(admin))].filter(
      ([, e]) => e.principal !== operator && e.resourceName.startsWith(prefix),
    ),
  );
  const added = [...desired.keys()].filter((k) => !current.has(k));
  const removed = [...current.keys()].filter((k) => !desired.has(k));
  if (added.length) await admin.createAcls({ acl: added.map((k) => toEntry(desired.get(k)!)) });
  if (removed.length) {
    await admin.deleteAcls({
      filters: removed.map((k) => {
        const e = current.get(k)!;
        return { ...e, permissionType: AclPermissionTypes.ALLOW };
      }),
    });
  }
  // The broker answering describeAcls applies ACLs from the same metadata it authorizes with: once it
  // shows them, that broker allows the services started next (others follow the metadata log within ms).
  const deadline = Date.now() + 30_000;
  while (added.length || removed.length) {
    const now = await currentAcls(admin);
    if (added.every((k) => now.has(k)) && removed.every((k) => !now.has(k))) break;
    if (Date.now() > deadline) throw new Error('the ACL changes did not show on the broker within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { added, removed, unchanged: desired.size - added.length };
}

/**
 * Topics, SCRAM users and ACLs, as the config says. `kafka` and `admin`
 * connect as the operator's super user (kafka.sasl) when the broker
 * authenticates; passwords of kafka.users are read from `env`.
 */
export async function provision(
  kafka: Kafka,
  admin: Admin,
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProvisionReport> {
  // Every password is checked before anything changes.
  const passwords = resolveUserPasswords(config, env);
  const self = config.kafka.users.find((u) => u.username === config.kafka.sasl?.username);
  if (self) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `kafka.users names ${self.username}, the user provision connects as (kafka.sasl): provision must run as the operator's super user`,
    );
  }
  const created = await provisionTopics(admin, config);
  const retentionChanged = await reconcileRetention(admin, config, created);
  const users = await provisionUsers(kafka, config, passwords);
  const acls = await provisionAcls(admin, config);
  return {
    topics: {
      created,
      retentionChanged,
      unchanged:
        topicsOf(config).length + controlTopicsOf(config).length - created.length - retentionChanged.length,
    },
    users,
    acls,
  };
}
