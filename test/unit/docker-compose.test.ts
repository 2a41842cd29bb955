import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CLI_COMMANDS } from '../../services/cli/commands';
import {
  brokerServices,
  defaultImage,
  composeReferences,
  composeVariables,
  generateComposeEnv,
  interpolate,
  readComposeStack,
  stringsOf,
  type ComposeVariable,
} from '../../services/cli/compose-env';
import {
  parseConfig,
  resolveUserPasswords,
  type Config,
  type ConfigScope,
} from '../../services/platform/config/config';
import { loadPrivateKey, publicKeyFromBase64, signValue, verifyValue } from '../../services/contract/signing';
import { authenticate } from '../../services/taxii/auth';
import { argOf, containerEnv, scopeOf } from '../../testkit/compose';
import { oraclePython } from '../../testkit/stix-validator';

/**
 * docker-compose.yml cannot run here (no Docker engine), so this checks it by
 * construction: it is a valid Compose file by the Compose Specification's own
 * JSON schema; it runs the network of config/compose.yaml (a producer per
 * publishing org, a subscriber per subscribing org, a TAXII server per org
 * with TAXII readers, each as its own Kafka user of the right org and role,
 * the webhooks at the receiver); every
 * container can load the config from a .env compose-env generates and gets no
 * secret but its own; brokers, the `ha` profile, health checks and published
 * ports line up; the image is multi-stage and unprivileged.
 */
const root = join(__dirname, '../..');

interface Dependency {
  condition?: string;
  required?: boolean;
}
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, Dependency>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  user?: string;
  deploy?: { replicas?: number };
}

const stack = readComposeStack(root);
const services = stack.compose.services as Record<string, Service>;
const rawConfig = stack.config as {
  kafka: {
    replicationFactor: string;
    users: { username: string; org: string; role: string; password: string }[];
  };
  subscriptions: { id: string; org: string; dedup?: { store?: string; redisUrl?: string } }[];
  taxii: { readers: { name: string; org: string; sha256: string }[] };
};
const variables = composeVariables(stack);
const variable = (name: string): ComposeVariable | undefined => variables.find((v) => v.name === name);
const envExample = readFileSync(join(root, '.env.example'), 'utf8');
const documented = new Set([...envExample.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
const generated = generateComposeEnv({ root }).values;

const ours = Object.entries(services).filter(([, s]) => s.image === 'threatrelay:local');
const byCommand = (command: string): [string, Service][] =>
  ours.filter(([, s]) => s.command?.[0] === command);
/** The variables a service's environment takes from .env. */
const refsOf = (s: Service): Set<string> =>
  new Set(Object.values(s.environment ?? {}).flatMap((v) => composeReferences(String(v)).map((r) => r.name)));
const brokers = brokerServices(stack.compose);
const oneShots = new Set(
  Object.values(services).flatMap((s) =>
    Object.entries(s.depends_on ?? {})
      .filter(([, d]) => d.condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);
const rawSubscriptions = (
  parse(stack.configText) as { subscriptions: { id: string; webhook: { secrets: string[] } }[] }
).subscriptions;
/** The variable a subscription's (first) webhook secret is read from. */
const webhookSecretVar = (id: string): string =>
  /^\$\{(.+)\}$/.exec(rawSubscriptions.find((x) => x.id === id)!.webhook.secrets[0]!)![1]!;
/** The parsed config as a container with this environment loads it. */
const configFor = (env: Record<string, string>, scope?: ConfigScope): Config =>
  parseConfig(parse(stack.configText), env, scope);
const config = configFor(containerEnv(services['provision']!, generated));

describe('docker-compose.yml against the Compose Specification (compose-go v2.16.2 schema)', () => {
  let python: string;
  let schema: string;
  beforeAll(() => {
    python = oraclePython();
    schema = execFileSync('bash', [join(root, 'scripts/oracles/compose-spec.sh')], {
      encoding: 'utf8',
      timeout: 120_000,
    })
      .trim()
      .split('\n')
      .pop()!;
  }, 300_000);

  /** The schema's errors for each document, by Python's jsonschema (draft 2020-12). */
  const schemaErrors = (docs: unknown[]): string[][] => {
    const script = String.raw`
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema, format_checker=FormatChecker())
print(json.dumps([sorted('/'.join(map(str, e.absolute_path)) + ': ' + e.message for e in validator.iter_errors(d)) for d in json.load(sys.stdin)]))
`;
    return JSON.parse(
      execFileSync(python, ['-c', script, schema], {
        input: JSON.stringify(docs),
        encoding: 'utf8',
        timeout: 60_000,
      }),
    ) as string[][];
  };
  const mapStrings = (value: unknown, f: (s: string) => string): unknown => {
    if (typeof value === 'string') return f(value);
    if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
    }
    return value;
  };
  const copy = (): Record<string, Record<string, Record<string, unknown>>> =>
    structuredClone(stack.compose) as never;

  it('is valid as written and once .env is interpolated', () => {
    const interpolated = mapStrings(stack.compose, (s) => interpolate(s, generated));
    expect(schemaErrors([stack.compose, interpolated])).toEqual([[], []]);
  });

  it('is a validator that rejects broken compose files (so the check above cannot pass vacuously)', () => {
    const unknownKey = copy();
    unknownKey.services!.kafka!.restart_policy = 'always';
    const badCondition = copy();
    (badCondition.services!.provision!.depends_on as Record<string, Dependency>).kafka!.condition =
      'service_ready';
    const typo = copy() as Record<string, unknown>;
    typo.volume = typo.volumes;
    delete typo.volumes;
    const [a, b, c] = schemaErrors([unknownKey, badCondition, typo]);
    expect(a!.join('\n')).toMatch(/services\/kafka.*restart_policy/);
    expect(b!.join('\n')).toMatch(/services\/provision\/depends_on/);
    expect(c!.join('\n')).toMatch(/'volume' does not match/);
  });
});

describe('docker-compose.yml', () => {
  it('runs only commands the threatrelay CLI has', () => {
    expect(ours.length).toBeGreaterThanOrEqual(4);
    for (const [name, service] of ours) {
      expect([name, CLI_COMMANDS.includes(service.command![0] as never)]).toEqual([name, true]);
    }
  });

  it('depends only on services it defines, each with a condition', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, d] of Object.entries(service.depends_on ?? {})) {
        expect([name, dep, Object.keys(services).includes(dep)]).toEqual([name, dep, true]);
        expect([name, dep, d.condition]).toEqual([
          name,
          dep,
          expect.stringMatching(/^service_(healthy|completed_successfully)$/),
        ]);
        if (d.condition === 'service_healthy')
          expect([dep, services[dep]!.healthcheck]).toEqual([dep, expect.anything()]);
      }
    }
  });

  it('health-checks every long-running service, so `docker compose up --wait` means ready', () => {
    expect([...oneShots]).toEqual(['provision']);
    for (const [name, service] of Object.entries(services)) {
      if (oneShots.has(name)) continue;
      expect([name, service.healthcheck?.test.length]).toEqual([name, expect.any(Number)]);
    }
    // The one-shot is retried on failure, not forever, and everything that talks to Kafka waits for it.
    expect(services['provision']!.restart).toMatch(/^on-failure:\d+$/);
    const kafkaClients = ours.filter(([name, s]) => name !== 'provision' && s.environment?.KAFKA_USERNAME);
    expect(kafkaClients.map(([, s]) => s.command![0])).toEqual(
      expect.arrayContaining(['producer', 'subscriber', 'taxii', 'console']),
    );
    for (const [name] of kafkaClients) {
      expect([name, services[name]!.depends_on?.provision?.condition]).toEqual([
        name,
        'service_completed_successfully',
      ]);
    }
  });

  it('probes each HTTP service on the port it listens on, and publishes that port', () => {
    for (const [name, s] of ours.filter(([, x]) => argOf(x, '--port'))) {
      const port = argOf(s, '--port')!;
      expect([name, s.healthcheck!.test.join(' ')]).toEqual([
        name,
        expect.stringContaining(`http://127.0.0.1:${port}/`),
      ]);
      for (const published of s.ports ?? [])
        expect([name, published.split(':').at(-1)]).toEqual([name, port]);
    }
    // Each published host port is used once.
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[1]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('publishes on loopback only, and no broker port', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? [])
        expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
    }
    for (const b of brokers) expect([b, services[b]!.ports]).toEqual([b, undefined]);
  });

  it('runs the Kafka version the local broker pins, in every broker', () => {
    const pinned = execFileSync('bash', [join(root, 'scripts/kafka/kafka.sh'), 'version'])
      .toString()
      .trim();
    expect(brokers.length).toBeGreaterThanOrEqual(1);
    for (const b of brokers) expect(defaultImage(services[b]!)).toBe(`apache/kafka:${pinned}`);
    // The image is a variable whose default is the official one: an operator with a registry sets nothing.
    for (const b of brokers) expect(services[b]!.image).toBe(`\${KAFKA_IMAGE:-apache/kafka:${pinned}}`);
  });

  it('runs each broker with kafka.sh run, mounted read-only, with options kafka.sh has', () => {
    const script = readFileSync(join(root, 'scripts/kafka/kafka.sh'), 'utf8');
    const options = new Set([...script.matchAll(/^\s+(--[a-z-]+)\) /gm)].map((m) => m[1]));
    const volumes = new Set<string>();
    for (const b of brokers) {
      const s = services[b]!;
      const [shell, path, sub, ...args] = s.command!;
      expect([shell, sub]).toEqual(['bash', 'run']);
      expect(s.volumes).toContain(`./scripts/kafka:${path!.replace(/\/kafka\.sh$/, '')}:ro`);
      for (const a of args.filter((x) => x.startsWith('--')))
        expect([b, a, options.has(a)]).toEqual([b, a, true]);
      expect(args).toEqual(expect.arrayContaining(['--sasl', '--keep-data']));
      // Its data on a volume of its own; the healthcheck authenticates with the admin.properties kafka.sh writes.
      const dir = argOf(s, '--dir')!;
      const data = s.volumes!.find((v) => !v.startsWith('./'))!;
      const [volume, target] = data.split(':');
      expect(dir.startsWith(`${target}/`)).toBe(true);
      expect(volumes.has(volume!)).toBe(false);
      volumes.add(volume!);
      const check = s.healthcheck!.test.join(' ');
      expect(check).toContain(`--bootstrap-server ${b}:${argOf(s, '--port')}`);
      expect(check).toContain(`--command-config ${dir}/admin.properties`);
      expect(argOf(s, '--advertise')).toBe(b);
      expect(argOf(s, '--listen')).toBe('0.0.0.0');
      expect(s.environment?.KAFKA_LIBS).toBe('/opt/kafka/libs');
    }
  });

  it('forms one cluster: one controller, the same voters and cluster id, distinct node ids', () => {
    const controllers = brokers.filter((b) =>
      argOf(services[b]!, '--roles')!.split(',').includes('controller'),
    );
    expect(controllers).toEqual(['kafka']);
    const c = services['kafka']!;
    const voters = `${argOf(c, '--node-id')}@kafka:${argOf(c, '--controller-port')}`;
    const ids = new Set<string>();
    for (const b of brokers) {
      const s = services[b]!;
      expect(argOf(s, '--voters')).toBe(voters);
      expect(s.environment?.KAFKA_CLUSTER_ID).toBe(c.environment?.KAFKA_CLUSTER_ID);
      expect(s.environment?.KAFKA_ADMIN_PASSWORD).toBe(c.environment?.KAFKA_ADMIN_PASSWORD);
      ids.add(argOf(s, '--node-id')!);
    }
    expect(ids.size).toBe(brokers.length);
    expect(variable(composeReferences(c.environment!.KAFKA_CLUSTER_ID!)[0]!.name)?.kind).toBe(
      'kafka-cluster-id',
    );
  });

  it('has an `ha` profile of three brokers whose replication factor is the config’s', () => {
    const profiled = brokers.filter((b) => services[b]!.profiles?.length);
    expect(profiled.sort()).toEqual(['kafka-2', 'kafka-3']);
    for (const b of profiled) expect(services[b]!.profiles).toEqual(['ha']);
    // Only brokers are in a profile: the rest of the stack is the same with or without it.
    expect(
      Object.entries(services)
        .filter(([, s]) => s.profiles?.length)
        .map(([n]) => n)
        .sort(),
    ).toEqual(profiled);
    // One variable sets the topics' replication factor (config) and the brokers' internal topics' (kafka.sh).
    const rf = /^\$\{([A-Z0-9_]+)\}$/.exec(rawConfig.kafka.replicationFactor)![1]!;
    for (const b of brokers) expect(argOf(services[b]!, '--internal-rf')).toBe(`\${${rf}:-1}`);
    for (const [name, s] of ours) expect([name, s.environment?.[rf]]).toEqual([name, `\${${rf}:-1}`]);
    expect(configFor(containerEnv(services['provision']!, generated)).kafka.replicationFactor).toBe(1);
    const ha = generateComposeEnv({ root, profiles: ['ha'] }).values;
    expect(ha[rf]).toBe(String(brokers.length));
    expect(configFor(containerEnv(services['provision']!, ha)).kafka.replicationFactor).toBe(3);
    // provision waits for every broker that runs: the profile's only when it is on (required: false).
    const deps = services['provision']!.depends_on!;
    for (const b of brokers) {
      expect([b, deps[b]?.condition]).toEqual([b, 'service_healthy']);
      expect([b, deps[b]?.required ?? true]).toEqual([b, !profiled.includes(b)]);
    }
  });

  it('runs a producer for every publishing org and a subscriber for every subscribing org', () => {
    const publishing = new Set([
      ...config.orgs.filter((o) => o.keys.length > 0).map((o) => o.id),
      ...config.apiKeys.map((k) => k.org),
    ]);
    const producers = byCommand('producer');
    expect(new Set(producers.map(([, s]) => argOf(s, '--org')))).toEqual(publishing);
    for (const [name, s] of producers) expect(name).toBe(`producer-${argOf(s, '--org')}`);
    const subscribing = new Set(config.subscriptions.map((s) => s.org));
    const subscribers = byCommand('subscriber');
    expect(new Set(subscribers.map(([, s]) => argOf(s, '--org')))).toEqual(subscribing);
    for (const [name, s] of subscribers) expect(name).toBe(`subscriber-${argOf(s, '--org')}`);
    // A TAXII server for every org with TAXII readers, and readers for every TAXII server.
    const pulling = new Set(config.taxii.readers.map((r) => r.org));
    expect(pulling.size).toBeGreaterThanOrEqual(1);
    const taxiiServers = byCommand('taxii');
    expect(new Set(taxiiServers.map(([, s]) => argOf(s, '--org')))).toEqual(pulling);
    for (const [name, s] of taxiiServers) {
      expect(name).toBe(`taxii-${argOf(s, '--org')}`);
      expect([name, s.ports?.length]).toEqual([name, 1]);
    }
    // The demo network's orgs and subscriptions (config/demo-network.yaml), with webhooks in the stack.
    const demo = parse(readFileSync(join(root, 'config/demo-network.yaml'), 'utf8')) as typeof rawConfig & {
      orgs: { id: string }[];
    };
    expect(config.orgs.map((o) => o.id)).toEqual(demo.orgs.map((o) => o.id));
    expect(config.subscriptions.map((s) => [s.id, s.org])).toEqual(
      demo.subscriptions.map((s) => [s.id, s.org]),
    );
  });

  it('connects each service as a Kafka user of its own org and role, and provision alone as admin', () => {
    const users = rawConfig.kafka.users;
    const used = new Set<string>();
    for (const [name, s] of [...byCommand('producer'), ...byCommand('subscriber'), ...byCommand('taxii')]) {
      const username = s.environment!.KAFKA_USERNAME!;
      const user = users.find((u) => u.username === username);
      expect([name, user?.org, user?.role]).toEqual([name, argOf(s, '--org'), s.command![0]]);
      // The same variable provision sets the user's password from.
      expect([name, s.environment!.KAFKA_PASSWORD]).toEqual([name, user!.password]);
      used.add(username);
    }
    expect(used).toEqual(new Set(users.map((u) => u.username)));
    const provision = services['provision']!.environment!;
    expect(provision.KAFKA_USERNAME).toBe('admin');
    expect(provision.KAFKA_PASSWORD).toBe(
      `\${${composeReferences(services['kafka']!.environment!.KAFKA_ADMIN_PASSWORD!)[0]!.name}}`,
    );
    for (const u of users) expect(provision[/^\$\{(.+)\}$/.exec(u.password)![1]!]).toBe(u.password);
    expect(config.kafka.sasl?.mechanism).toBe('scram-sha-512');
  });

  it('points every webhook at a service of the stack, on the port it listens on', () => {
    for (const s of config.subscriptions) {
      const url = new URL(s.webhook.url);
      const target = services[url.hostname];
      expect([s.id, target?.command?.[0]]).toEqual([s.id, 'receiver']);
      expect([s.id, url.port]).toEqual([s.id, argOf(target!, '--port')]);
      expect([s.id, url.pathname]).toEqual([s.id, `/hooks/${s.id}`]);
    }
  });

  it('uses Redis for a scaled subscriber, and keeps embedded dedup stores on volumes', () => {
    const redisSubs = rawConfig.subscriptions.filter((s) => s.dedup?.store === 'redis');
    expect(redisSubs.length).toBeGreaterThanOrEqual(1);
    for (const sub of redisSubs) {
      expect(
        defaultImage(services[new URL(sub.dedup!.redisUrl!.replace(/\$\{[^}]+\}/g, 'x')).hostname]!),
      ).toMatch(/^redis:/);
      expect(services[`subscriber-${sub.org}`]!.depends_on?.redis?.condition).toBe('service_healthy');
    }
    for (const [name, s] of byCommand('subscriber')) {
      const org = argOf(s, '--org');
      const embedded = config.subscriptions.filter((x) => x.org === org && x.dedup.store === 'embedded');
      if ((s.deploy?.replicas ?? 1) > 1) expect([name, embedded.map((x) => x.id)]).toEqual([name, []]);
      if (embedded.length > 0) {
        const dir = s.environment!.THREATRELAY_DATA_DIR!;
        expect([name, s.volumes?.some((v) => !v.startsWith('./') && v.split(':')[1] === dir)]).toEqual([
          name,
          true,
        ]);
      }
    }
    expect(Object.values(services).some((s) => (s.deploy?.replicas ?? 1) > 1)).toBe(true);
  });

  it("keeps each TAXII server's store on a volume of its own, one instance per org", () => {
    const volumes = new Set<string>();
    for (const [name, s] of byCommand('taxii')) {
      expect([name, s.deploy?.replicas ?? 1]).toEqual([name, 1]);
      const dir = s.environment!.THREATRELAY_DATA_DIR!;
      const volume = s.volumes?.find((v) => !v.startsWith('./') && v.split(':')[1] === dir);
      expect([name, volume]).toEqual([name, expect.any(String)]);
      const [source] = volume!.split(':');
      expect(volumes.has(source!)).toBe(false);
      volumes.add(source!);
      // No other service mounts it.
      for (const [other, o] of Object.entries(services)) {
        if (other === name) continue;
        expect([other, o.volumes?.some((v) => v.split(':')[0] === source)]).not.toEqual([other, true]);
      }
    }
  });

  it('lets every ThreatRelay container load the config from a generated .env', () => {
    for (const [name, s] of ours) {
      const env = containerEnv(s, generated);
      const loaded = configFor(env, scopeOf(s));
      expect([name, loaded.kafka.sasl?.username]).toEqual([name, env.KAFKA_USERNAME]);
      const org = argOf(s, '--org');
      if (s.command![0] === 'producer') {
        const pem = env.THREATRELAY_SIGNING_KEY!.replace(/\\n/g, '\n');
        const data = Buffer.from('x');
        const pub = loaded.orgs.find((o) => o.id === org)!.keys[0]!.publicKey;
        expect(verifyValue(data, signValue(data, loadPrivateKey(pem)), publicKeyFromBase64(pub))).toBe(true);
      }
      // A TAXII server lets in its org's readers, with the password .env keeps for the operator.
      if (s.command![0] === 'taxii') {
        const readers = rawConfig.taxii.readers.filter((r) => r.org === org);
        expect([name, loaded.taxii.readers.map((r) => r.name)]).toEqual([name, readers.map((r) => r.name)]);
        for (const r of readers) {
          const password = generated[/^\$\{(.+)_SHA256\}$/.exec(r.sha256)![1]!]!;
          const basic = (user: string, secret: string): string =>
            `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
          expect(authenticate(loaded.taxii.readers, basic(r.name, password))?.name).toBe(r.name);
          expect(authenticate(loaded.taxii.readers, `Bearer ${password}`)?.name).toBe(r.name);
          expect(authenticate(loaded.taxii.readers, basic(r.name, `${password}x`))).toBeUndefined();
        }
      }
      // No other service is given a TAXII reader (provision checks the whole file).
      if (!['taxii', 'provision'].includes(s.command![0]!))
        expect([name, loaded.taxii.readers]).toEqual([name, []]);
      // A subscriber signs with its subscriptions' real secrets; the receiver verifies all of them.
      if (s.command![0] === 'subscriber' || s.command![0] === 'receiver') {
        const mine = loaded.subscriptions.filter((x) => s.command![0] === 'receiver' || x.org === org);
        for (const sub of mine) {
          expect([name, sub.id, sub.webhook.secrets[0]]).toEqual([
            name,
            sub.id,
            generated[webhookSecretVar(sub.id)],
          ]);
          if (sub.dedup.store === 'redis' && s.command![0] === 'subscriber')
            expect(sub.dedup.redisUrl).toContain(`:${generated.REDIS_PASSWORD}@`);
        }
      }
    }
    // provision can resolve every user's password, and no other container can.
    const provisionEnv = containerEnv(services['provision']!, generated);
    expect(resolveUserPasswords(configFor(provisionEnv), provisionEnv).size).toBe(
      rawConfig.kafka.users.length,
    );
    for (const [, s] of ours.filter(([n]) => n !== 'provision')) {
      const env = containerEnv(s, generated);
      const config = configFor(env, scopeOf(s));
      // The receiver's part has no users at all; the others' passwords are not set.
      if (config.kafka.users.length === 0) expect(s.command?.[0]).toBe('receiver');
      else expect(() => resolveUserPasswords(config, env)).toThrow(/not set/);
    }
  });

  it('sets every variable of its part of the config in every ThreatRelay container, and no more is needed', () => {
    for (const [name, s] of ours) {
      const env = containerEnv(s, generated);
      configFor(env, scopeOf(s)); // throws TR_CONFIG naming each variable missing
      // Each variable it is given is one its part of the config (or its command) reads.
      for (const n of Object.keys(s.environment ?? {})) {
        const without = { ...env };
        delete without[n];
        const stillLoads = (() => {
          try {
            configFor(without, scopeOf(s));
            return true;
          } catch {
            return false;
          }
        })();
        const readByCommand = [
          'THREATRELAY_CONFIG',
          'LOG_LEVEL',
          'THREATRELAY_SIGNING_KEY',
          'THREATRELAY_DATA_DIR',
        ].includes(n);
        const readByProvision = s.command?.[0] === 'provision' && /^KAFKA_.*_PASSWORD$/.test(n);
        if (!readByCommand && !readByProvision) expect([name, n, stillLoads]).toEqual([name, n, false]);
      }
    }
  });

  it('gives each container its own secrets and no other', () => {
    const SECRET_KINDS = new Set([
      'signing-key',
      'api-key',
      'webhook-secret',
      'kafka-user-password',
      'kafka-admin-password',
      'password',
    ]);
    const secretsOf = (s: Service): string[] =>
      [...refsOf(s)].filter((n) => SECRET_KINDS.has(variable(n)!.kind)).sort();
    const ref = (value: string): string => /^\$\{([A-Z0-9_]+)/.exec(value)![1]!;
    const userPassword = (org: string, role: string): string =>
      ref(rawConfig.kafka.users.find((u) => u.org === org && u.role === role)!.password);
    const raw = parse(stack.configText) as {
      subscriptions: {
        id: string;
        org: string;
        webhook: { secrets: string[] };
        dedup?: { redisUrl?: string };
      }[];
    };
    const webhookSecrets = (org?: string): string[] =>
      raw.subscriptions.filter((x) => !org || x.org === org).flatMap((x) => x.webhook.secrets.map(ref));
    const admin = ref(services['kafka']!.environment!.KAFKA_ADMIN_PASSWORD!);
    const redis = raw.subscriptions.flatMap((x) =>
      x.dedup?.redisUrl ? composeReferences(x.dedup.redisUrl) : [],
    );
    for (const [name, s] of Object.entries(services)) {
      const org = argOf(s, '--org') ?? '';
      let expected: string[];
      if (brokers.includes(name)) expected = [admin];
      else if (defaultImage(s)?.startsWith('redis:')) expected = redis.map((r) => r.name);
      else if (s.command?.[0] === 'provision')
        // The operator's tool checks the whole file, so it holds every secret the file names.
        expected = [
          admin,
          ...rawConfig.kafka.users.map((u) => ref(u.password)),
          ...webhookSecrets(),
          ...redis.map((r) => r.name),
        ];
      else if (s.command?.[0] === 'producer') {
        expected = [
          userPassword(org, 'producer'),
          variables.find((v) => v.kind === 'signing-key' && v.owner === org)!.name,
        ];
      } else if (s.command?.[0] === 'subscriber') {
        const usesRedis = raw.subscriptions.some((x) => x.org === org && x.dedup?.redisUrl);
        expected = [
          userPassword(org, 'subscriber'),
          ...webhookSecrets(org),
          ...(usesRedis ? redis.map((r) => r.name) : []),
        ];
      } else if (s.command?.[0] === 'taxii')
        // Its own Kafka user's password: no webhook secret, no Redis, not the subscriber's user.
        expected = [userPassword(org, 'taxii')];
      else if (s.command?.[0] === 'receiver') expected = webhookSecrets();
      // The operator's console: the super user (group offsets, DLQs), the secrets a replay signs with.
      else if (s.command?.[0] === 'console') expected = [admin, ...webhookSecrets()];
      else throw new Error(`no rule for service ${name}`);
      expect([name, secretsOf(s)]).toEqual([name, [...new Set(expected)].sort()]);
    }
    // And no container is handed an API key or a password people sign in with: those are for people.
    for (const [name, s] of Object.entries(services)) {
      const forPeople = [...refsOf(s)].filter((n) =>
        ['api-key', 'operator-password', 'taxii-reader-password'].includes(variable(n)!.kind),
      );
      expect([name, forPeople]).toEqual([name, []]);
    }
    // The hashes those are checked against go to the one service that checks them, and provision.
    const checkedBy: Record<string, (s: Service) => boolean> = {
      'api-key-hash': (s) => s.command?.[0] === 'producer',
      'taxii-reader-hash': (s) => s.command?.[0] === 'taxii',
      'operator-password-hash': (s) => s.command?.[0] === 'console',
    };
    for (const [kind, checks] of Object.entries(checkedBy)) {
      const hashes = variables.filter((v) => v.kind === kind);
      expect([kind, hashes.length]).toEqual([kind, expect.any(Number)]);
      expect(hashes.length).toBeGreaterThanOrEqual(1);
      for (const h of hashes) {
        const holders = ours.filter(([, s]) => refsOf(s).has(h.name));
        const checkers = holders.filter(([, s]) => checks(s) && (argOf(s, '--org') ?? h.owner) === h.owner);
        expect([h.name, holders.map(([n]) => n).sort()]).toEqual([
          h.name,
          ['provision', ...checkers.map(([n]) => n)].sort(),
        ]);
        expect([h.name, checkers.length]).toEqual([h.name, 1]);
      }
    }
  });

  it('documents every variable in .env.example: exactly those compose-env generates', () => {
    for (const name of stringsOf(stack.compose).flatMap((x) => composeReferences(x).map((r) => r.name))) {
      expect(documented).toContain(name);
    }
    expect(documented).toEqual(new Set(Object.keys(generated)));
    // Each documented variable sits under a comment: a block of variables starts with one.
    const lines = envExample.split('\n');
    lines.forEach((line, i) => {
      if (/^[A-Z0-9_]+=/.test(line))
        expect([line, lines[i - 1]]).toEqual([line, expect.stringMatching(/^(#|[A-Z0-9_]+=)/)]);
    });
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const stages = text
    .split(/^FROM /m)
    .slice(1)
    .map((body) => ({ name: /^\S+\s+AS\s+(\S+)/i.exec(body)?.[1], body }));
  const last = stages[stages.length - 1]!;

  it('is multi-stage and runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const users = [...last.body.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThanOrEqual(1);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:.*)?$/);
  });

  it('ships production dependencies only', () => {
    // node_modules in the final image come from an `npm ci --omit=dev`, never from the build stage.
    const copies = [...last.body.matchAll(/^COPY\s+--from=(\S+)\s+(\S+)/gm)].map(
      (m) => [m[1]!, m[2]!] as const,
    );
    const source = copies.filter(([, path]) => path.includes('node_modules'));
    const installs = (body: string): boolean => /npm ci\b[^\n]*--omit=dev/.test(body);
    expect(source.length > 0 || installs(last.body)).toBe(true);
    for (const [stage] of source) expect(installs(stages.find((s) => s.name === stage)!.body)).toBe(true);
    expect(/npm (ci|install)\b(?![^\n]*--omit=dev)/.test(last.body)).toBe(false);
  });

  it('keeps .env out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', 'node_modules', '.cache', '.git']));
  });
});
