import { kafkaNames } from '../../services/contract/names';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { Webhook } from 'standardwebhooks';
import { parse } from 'yaml';
import {
  brokerServices,
  generateComposeEnv,
  parseDotenv,
  readComposeStack,
  type ComposeEnv,
} from '../../services/cli/compose-env';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import type { WebhookBody } from '../../services/contract/webhook-body';
import { startDemoReceiver, type DemoDelivery } from '../../services/receiver/receiver';
import { aclsOf } from '../../services/admin/acl';
import { loadConfig, type Config, type ConfigScope } from '../../services/platform/config/config';
import { createKafka } from '../../services/platform/kafka';
import { createLogger } from '../../services/platform/logger';
import {
  changed,
  controlTopicsOf,
  formatReport,
  provision,
  topicsOf,
  type ProvisionReport,
} from '../../services/admin/provision';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { startTaxiiServer, type RunningTaxiiServer } from '../../services/taxii/service';
import { freePort, startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { containerEnv, scopeOf, type ComposeServiceLike } from '../../testkit/compose';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { waitFor } from '../../testkit/wait-for';

/**
 * A rehearsal of the operator's compose stack on loopback. docker-compose.yml
 * cannot run here (no Docker engine), so its parts run as they would in their
 * containers, against real components: a Kafka broker that takes SASL/SCRAM
 * only and enforces ACLs (formatted with the .env's cluster id and admin
 * password), a redis-server with the .env's password, the demo receiver.
 *
 * The .env is one compose-env generates. Each service gets exactly the
 * environment its container would (its `environment:` interpolated from that
 * .env, testkit/compose.ts), and loads config/compose.yaml with the scope
 * its command uses (services/cli/main.ts). The only change to the config is
 * where the stack's services are: `kafka:9092`, `receiver:9000` and
 * `redis:6379` become loopback addresses, and the test checks nothing else
 * moved. So what passes here is what the stack is made of: that provision
 * creates every user and ACL the services need, that each service's own
 * secrets suffice (its Kafka user, its signing key, its webhook secrets, the
 * Redis password), and that the receiver verifies every subscriber's
 * signatures with the secrets the receiver container is given, and that
 * fbi's TAXII server, as its own Kafka user, serves what fbi is entitled to
 * to the reader whose password .env keeps.
 */

const stack = readComposeStack();
const services = stack.compose.services as Record<
  string,
  ComposeServiceLike & { deploy?: { replicas?: number } }
>;
const logger = (name: string): ReturnType<typeof createLogger> =>
  createLogger(name, process.env.TEST_LOG_LEVEL ?? 'silent');

/** The stack's addresses in config/compose.yaml; the only text the rehearsal changes. */
const STACK_ADDRESSES = ['kafka:9092', 'receiver:9000', 'redis:6379'] as const;
type StackAddress = (typeof STACK_ADDRESSES)[number];

/** Every leaf of `before` that differs from `after`; throws if the two differ in anything but string values. */
function changedStrings(
  before: unknown,
  after: unknown,
  path = '',
): { path: string; from: string; to: string }[] {
  if (typeof before === 'string' && typeof after === 'string')
    return before === after ? [] : [{ path, from: before, to: after }];
  if (before !== null && after !== null && typeof before === 'object' && typeof after === 'object') {
    const keys = Object.keys(before);
    if (Array.isArray(before) !== Array.isArray(after) || keys.join() !== Object.keys(after).join())
      throw new Error(`${path || '(root)'}: the rewritten config differs in structure`);
    return keys.flatMap((k) =>
      changedStrings(
        (before as Record<string, unknown>)[k],
        (after as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  if (before !== after) throw new Error(`${path}: ${String(before)} became ${String(after)}`);
  return [];
}

interface NativeEvent {
  type: string;
  key: string;
  source: { org: string };
  sourceCount?: number;
  sources?: string[];
  indicator: { value: string; tlp: string };
}
interface StixObject {
  type: string;
  pattern?: string;
}
/** Where the producer's 202 says each record went. */
interface Receipt {
  records: { topic: string; partition: number; offset: string }[];
}

describe('the compose stack, rehearsed on loopback', () => {
  let env: ComposeEnv;
  let dotenv: Record<string, string>;
  let broker: LocalBroker;
  let redis: RedisServer;
  let work: string;
  let configPath: string;
  let addresses: Record<StackAddress, string>;
  const closers: (() => Promise<void>)[] = [];
  const deliveries: DemoDelivery[] = [];
  const rejected: string[] = [];
  const producers: Record<string, RunningProducer> = {};
  const subscribers: Record<string, RunningSubscriber[]> = {};
  let taxii: RunningTaxiiServer;
  let receiverUrl: string;
  let fbiDataDir: string;
  let adminClient: Admin;

  /** A service's container environment, from the generated .env. */
  const envOf = (service: string): Record<string, string> => containerEnv(services[service]!, dotenv);
  /** The config as the service's command loads it (services/cli/main.ts): its container env, its scope. */
  const configOf = (service: string): Config =>
    loadConfig(configPath, envOf(service), scopeOf(services[service]!));
  const scopeFor = (service: string): ConfigScope | undefined => scopeOf(services[service]!);

  const runProvision = async (): Promise<ProvisionReport> => {
    // `provision` loads the whole file (no scope) and connects as admin, its container's KAFKA_USERNAME.
    const provisionEnv = envOf('provision');
    const config = loadConfig(configPath, provisionEnv);
    const kafka = createKafka(config.kafka, logger('provision'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await provision(kafka, admin, config, provisionEnv);
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    env = generateComposeEnv();
    // What compose reads is the file, not the values: read it back as compose would.
    dotenv = parseDotenv(env.text);
    work = mkdtempSync(join(tmpdir(), 'threatrelay-compose-'));
    closers.push(async () => rmSync(work, { recursive: true, force: true }));

    // kafka: the broker container's KAFKA_ADMIN_PASSWORD and KAFKA_CLUSTER_ID. scripts/kafka/kafka.sh
    // reads the cluster id from the environment, which startLocalBroker passes on.
    const kafkaEnv = envOf('kafka');
    const previousClusterId = process.env.KAFKA_CLUSTER_ID;
    process.env.KAFKA_CLUSTER_ID = kafkaEnv.KAFKA_CLUSTER_ID;
    try {
      broker = await startLocalBroker({ saslAdminPassword: kafkaEnv.KAFKA_ADMIN_PASSWORD });
    } finally {
      if (previousClusterId === undefined) delete process.env.KAFKA_CLUSTER_ID;
      else process.env.KAFKA_CLUSTER_ID = previousClusterId;
    }
    closers.push(() => broker.stop());

    // redis: its password is what the compose command's heredoc hands redis-server on stdin, as sh
    // expands it in the redis container (compose has already turned `$$` into `$`).
    const script = services['redis']!.command![2]!.replace(/\$\$/g, '$');
    const stdinConfig = execFileSync(
      'sh',
      ['-c', script.replace(/^exec redis-server -.*<<EOF$/m, 'cat <<EOF')],
      {
        env: { PATH: process.env.PATH, ...envOf('redis') },
        encoding: 'utf8',
      },
    );
    const requirepass = /^requirepass (\S+)$/m.exec(stdinConfig)?.[1];
    expect(requirepass).toBe(dotenv.REDIS_PASSWORD);
    redis = await startRedis({ password: requirepass! });
    closers.push(() => redis.stop());

    // The receiver's port must be in the config it loads, so it is chosen first.
    const receiverPort = await freePort();
    addresses = {
      'kafka:9092': broker.bootstrap,
      'receiver:9000': `127.0.0.1:${receiverPort}`,
      'redis:6379': `127.0.0.1:${redis.port}`,
    };
    let text = stack.configText;
    for (const a of STACK_ADDRESSES) text = text.split(a).join(addresses[a]);
    configPath = join(work, 'compose.yaml');
    writeFileSync(configPath, text);

    // receiver: what `threatrelay receiver` does (services/cli/main.ts), on its container's env and scope.
    const receiverConfig = configOf('receiver');
    expect(scopeFor('receiver')).toEqual({ role: 'receiver' });
    const receiver = await startDemoReceiver({
      port: receiverPort,
      host: '127.0.0.1',
      secrets: Object.fromEntries(receiverConfig.subscriptions.map((s) => [s.id, s.webhook.secrets[0]!])),
      onDelivery: (d) => deliveries.push(d),
      onRejected: (sub, reason) => rejected.push(`${sub}: ${reason}`),
    });
    receiverUrl = receiver.url;
    closers.push(() => receiver.close());

    const adminConfig = loadConfig(configPath, envOf('provision'));
    adminClient = createKafka(adminConfig.kafka, logger('operator')).admin();
    await adminClient.connect();
    closers.push(() => adminClient.disconnect());
  }, 240_000);

  afterAll(async () => {
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => console.error('compose rehearsal cleanup:', err));
    }
  });

  it('changes nothing in config/compose.yaml but the addresses of kafka, receiver and redis', () => {
    const original = stack.configText;
    for (const a of STACK_ADDRESSES) expect([a, original.includes(a)]).toEqual([a, true]);
    const rewritten = readFileSync(configPath, 'utf8');
    for (const a of STACK_ADDRESSES) expect([a, rewritten.includes(a)]).toEqual([a, false]);
    // Same YAML structure, same values, but for the strings holding an address; comments aside, the
    // text differs in those lines only.
    const changes = changedStrings(parse(original), parse(rewritten));
    expect(changes.map((c) => c.path)).toEqual([
      'kafka.brokers.0',
      'subscriptions.0.webhook.url',
      'subscriptions.1.dedup.redisUrl',
      'subscriptions.1.webhook.url',
      'subscriptions.2.webhook.url',
      'subscriptions.3.webhook.url',
    ]);
    for (const c of changes) {
      const address = STACK_ADDRESSES.find((a) => c.from.includes(a))!;
      expect([c.path, c.to]).toEqual([c.path, c.from.replace(address, addresses[address])]);
    }
    const before = original.split('\n');
    const after = rewritten.split('\n');
    expect(after).toHaveLength(before.length);
    expect(before.filter((line, i) => line !== after[i])).toHaveLength(changes.length);
  });

  it("runs the broker with the .env's cluster id, taking its admin password only", async () => {
    // The id compose-env made is one kafka-storage formats with, and the one the cluster reports.
    expect((await adminClient.describeCluster()).clusterId).toBe(dotenv.KAFKA_CLUSTER_ID);
    // provision's container connects as admin with the .env's KAFKA_ADMIN_PASSWORD; no other
    // container but the brokers and the operator's console (group offsets, DLQs, replay) is given it.
    expect(envOf('provision')).toMatchObject({
      KAFKA_USERNAME: 'admin',
      KAFKA_PASSWORD: dotenv.KAFKA_ADMIN_PASSWORD,
    });
    const holders = Object.keys(services).filter((name) =>
      Object.values(envOf(name)).includes(dotenv.KAFKA_ADMIN_PASSWORD!),
    );
    expect(holders.sort()).toEqual([...brokerServices(stack.compose), 'provision', 'console'].sort());
  });

  it('provisions the topics, the 9 service users and their ACLs, and a second run changes nothing', async () => {
    const config = loadConfig(configPath, envOf('provision'));
    const first = await runProvision();
    // 3 community, a direct and a control topic per org (7), a DLQ per subscription (4).
    expect(first.topics.created).toHaveLength(3 + 7 + 7 + 4);
    expect(first.topics.created.sort()).toEqual([...topicsOf(config), ...controlTopicsOf(config)].sort());
    expect(first.users.created.sort()).toEqual(config.kafka.users.map((u) => u.username).sort());
    expect(first.users.created).toHaveLength(9);
    expect(first.users.others).toEqual([]);
    expect(first.acls.added).toHaveLength(aclsOf(config).length);
    expect(changed(first)).toBe(true);

    const second = await runProvision();
    expect(changed(second)).toBe(false);
    expect(formatReport(second)).toMatch(
      /^nothing changed: 21 topics, 9 Kafka users, \d+ ACLs already as configured$/,
    );
  });

  it('starts each service on its own container environment and scope, and each answers its healthcheck', async () => {
    for (const name of ['producer-facebook', 'producer-google']) {
      const scope = scopeFor(name);
      expect(scope?.role).toBe('producer');
      const org = (scope as { org: string }).org;
      const containerEnvironment = envOf(name);
      const producer = await startProducer({
        config: configOf(name),
        org,
        // .env holds the PEM on one line; `threatrelay producer` turns `\n` back into newlines.
        signingKeyPem: containerEnvironment.THREATRELAY_SIGNING_KEY!.replace(/\\n/g, '\n'),
        port: 0,
        host: '127.0.0.1',
        logger: logger(name),
      });
      producers[org] = producer;
      closers.push(() => producer.close());
    }
    for (const name of ['subscriber-dhs', 'subscriber-fbi', 'subscriber-odni']) {
      const scope = scopeFor(name);
      expect(scope?.role).toBe('subscriber');
      const org = (scope as { org: string }).org;
      const containerEnvironment = envOf(name);
      // A volume where the container has THREATRELAY_DATA_DIR (dhs, odni); elsewhere (fbi, Redis
      // only) the default ./data, in the container's read-only root: it must never be needed, so it
      // is given as a folder that does not exist, and checked below to be still absent.
      let dataDir: string;
      if (containerEnvironment.THREATRELAY_DATA_DIR) {
        dataDir = join(work, `${org}-data`);
        mkdirSync(dataDir);
      } else dataDir = fbiDataDir = join(work, 'read-only-root', 'app', 'data');
      subscribers[org] = [];
      // `deploy.replicas` instances of one consumer group, as compose runs them.
      for (let i = 0; i < (services[name]!.deploy?.replicas ?? 1); i++) {
        const subscriber = await startSubscriber({
          config: configOf(name),
          org,
          logger: logger(`${name}-${i + 1}`),
          dataDir,
          port: 0,
          host: '127.0.0.1',
        });
        subscribers[org].push(subscriber);
        closers.push(() => subscriber.close());
      }
    }
    expect(subscribers.fbi).toHaveLength(2);

    // fbi's TAXII server: its container's environment and scope, its store on the volume's folder.
    expect(scopeFor('taxii-fbi')).toEqual({ role: 'taxii', org: 'fbi' });
    const taxiiEnv = envOf('taxii-fbi');
    expect(taxiiEnv.KAFKA_USERNAME).toBe('fbi-taxii');
    const taxiiDataDir = join(work, 'fbi-taxii-data');
    mkdirSync(taxiiDataDir);
    taxii = await startTaxiiServer({
      config: configOf('taxii-fbi'),
      org: 'fbi',
      logger: logger('taxii-fbi'),
      dataDir: taxiiDataDir,
      port: 0,
      host: '127.0.0.1',
    });
    closers.push(() => taxii.close());
    expect(existsSync(join(taxiiDataDir, 'taxii', 'fbi'))).toBe(true);
    expect((await fetch(`${taxii.url}/readyz`)).status).toBe(200);

    // The containers' healthchecks: /readyz is a Kafka round trip as the service's own principal.
    for (const [org, p] of Object.entries(producers)) {
      const res = await fetch(`${p.url}/readyz`);
      expect([org, res.status]).toEqual([org, 200]);
    }
    for (const [org, instances] of Object.entries(subscribers)) {
      for (const s of instances) {
        const res = await fetch(`${s.url}/readyz`);
        expect([org, res.status, await res.json()]).toEqual([org, 200, { status: 'ready' }]);
        // Which subscriptions consume is on /metrics, not on the unauthenticated /readyz.
        const metrics = await (await fetch(`${s.url}/metrics`)).text();
        for (const id of s.subscriptions) {
          expect(metrics).toMatch(
            new RegExp(`threatrelay_subscription_disabled\\{[^}]*subscription="${id}"[^}]*\\} 0`),
          );
        }
      }
    }
    // The receiver has no health route: its healthcheck passes on any HTTP answer.
    expect((await fetch(`${receiverUrl}/healthz`)).status).toBe(404);

    // Both fbi instances in the group before anything is published, so no rebalance moves a
    // partition while it is being delivered (at-least-once would then allow a repeat).
    const fbiGroup = kafkaNames(configOf('subscriber-fbi').kafka.topicPrefix).subscriptionGroup('fbi-all');
    await waitFor(
      'both fbi-all instances in a stable group',
      async () => {
        const [group] = (await adminClient.describeGroups([fbiGroup])).groups;
        return group?.state === 'Stable' && group.members.length === 2;
      },
      45_000,
      250,
    );
  });

  it("delivers what facebook and google publish to each agency, verified with the receiver's secrets", async () => {
    const SHARED = 'ballot-status-check.org';
    const FACEBOOK_ONLY = 'poll-worker-signup.net';
    const GOOGLE_ONLY = 'early-results-feed.info';
    const RED = 'relay-c2-node.xyz';
    /** The API key compose-env wrote next to the hash the org's producer checks. */
    const apiKeyOf = (org: string): string =>
      dotenv[env.variables.find((v) => v.kind === 'api-key' && v.owner === org)!.name]!;
    const post = (org: string, key: string, body: unknown): Promise<Response> =>
      fetch(`${producers[org]!.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const receipts: Receipt[] = [];
    const publish = async (org: string, body: unknown[]): Promise<void> => {
      const res = await post(org, apiKeyOf(org), body);
      const answer = (await res.json()) as { receipts: Receipt[] };
      expect([org, res.status, answer]).toEqual([
        org,
        202,
        expect.objectContaining({ accepted: body.length }),
      ]);
      receipts.push(...answer.receipts);
    };

    // A producer knows its own org's API keys only.
    expect((await post('facebook', apiKeyOf('google'), [])).status).toBe(401);

    await publish('facebook', [
      { type: 'domain', value: SHARED, category: 'phishing', tlp: 'green' },
      { type: 'domain', value: FACEBOOK_ONLY, category: 'disinformation', tlp: 'green' },
      { type: 'domain', value: RED, category: 'c2', tlp: 'red', recipients: ['fbi'] },
    ]);
    await publish('google', [
      { type: 'domain', value: SHARED, category: 'phishing', tlp: 'green' },
      { type: 'domain', value: GOOGLE_ONLY, category: 'disinformation', tlp: 'amber' },
    ]);

    const native = (sub: string): NativeEvent[] =>
      deliveries
        .filter((d) => d.subscription === sub)
        .flatMap((d) => (d.body as WebhookBody).events as unknown as NativeEvent[]);
    const stix = (sub: string): StixObject[] =>
      deliveries
        .filter((d) => d.subscription === sub)
        .flatMap((d) => (d.body as unknown as { objects: StixObject[] }).objects)
        .filter((o) => o.type === 'indicator');
    // Expected counts first; then, to tell "exactly once" from "not yet twice", wait until every
    // group has committed past every record it reads: a record is committed only once delivered.
    await waitFor(
      'the deliveries at the receiver',
      () => {
        if (rejected.length > 0) throw new Error(`the receiver rejected:\n${rejected.join('\n')}`);
        return (
          native('dhs-all').length >= 4 && native('fbi-all').length >= 4 && stix('odni-stix').length >= 3
        );
      },
      45_000,
    );
    for (const [org, id] of [
      ['dhs', 'dhs-all'],
      ['fbi', 'fbi-all'],
      ['odni', 'odni-stix'],
    ] as const) {
      const subscriber = subscribers[org]![0]!;
      const topics = subscriber.consumer(id).sourceTopics();
      const records = receipts.flatMap((r) => r.records).filter((r) => topics.includes(r.topic));
      const groupId = kafkaNames(configOf(`subscriber-${org}`).kafka.topicPrefix).subscriptionGroup(id);
      await waitFor(`${id} to commit past every record it reads`, async () => {
        const committed = await adminClient.fetchOffsets({ groupId, topics });
        return records.every((r) => {
          const offset = committed
            .find((t) => t.topic === r.topic)
            ?.partitions.find((p) => p.partition === r.partition)?.offset;
          return offset !== undefined && BigInt(offset) > BigInt(r.offset);
        });
      });
    }

    // Every request the receiver got was signed with the secret it holds for that subscription.
    expect(rejected).toEqual([]);
    const summary = (events: NativeEvent[]): string[] =>
      events
        .map(
          (e) =>
            `${e.type} ${e.indicator.value} ${e.indicator.tlp}${e.sourceCount ? ` x${e.sourceCount}` : ''}`,
        )
        .sort();
    // dhs-all has `corroborations: true`: the shared indicator once, and google's report of it as a
    // corroboration (two sources), never a second `indicator.published`. No RED for fbi.
    expect(summary(native('dhs-all'))).toEqual(
      [
        `indicator.corroborated ${SHARED} green x2`,
        `indicator.published ${FACEBOOK_ONLY} green`,
        `indicator.published ${GOOGLE_ONLY} amber`,
        `indicator.published ${SHARED} green`,
      ].sort(),
    );
    expect(
      native('dhs-all')
        .find((e) => e.type === 'indicator.corroborated')
        ?.sources?.sort(),
    ).toEqual(['facebook', 'google']);
    // fbi-all, two instances deduplicating through Redis: the shared indicator once, and the RED one.
    expect(summary(native('fbi-all'))).toEqual(
      [
        `indicator.published ${FACEBOOK_ONLY} green`,
        `indicator.published ${GOOGLE_ONLY} amber`,
        `indicator.published ${RED} red`,
        `indicator.published ${SHARED} green`,
      ].sort(),
    );
    // odni-stix: STIX 2.1 bundles, the shared indicator once, no RED.
    const bundles = deliveries.filter((d) => d.subscription === 'odni-stix');
    for (const b of bundles) expect((b.body as unknown as { type: string }).type).toBe('bundle');
    expect(
      stix('odni-stix')
        .map((o) => o.pattern)
        .sort(),
    ).toEqual([FACEBOOK_ONLY, GOOGLE_ONLY, SHARED].map((v) => `[domain-name:value = '${v}']`).sort());
    // No one else: microsoft-phishing's subscriber is not part of this rehearsal.
    expect([...new Set(deliveries.map((d) => d.subscription))].sort()).toEqual([
      'dhs-all',
      'fbi-all',
      'odni-stix',
    ]);
  });

  it("serves fbi's TAXII collections to the reader with the password .env keeps, TLP:RED in direct only", async () => {
    const reader = configOf('taxii-fbi').taxii.readers[0]!;
    const password = dotenv.FBI_TAXII_READER_PASSWORD!;
    expect(password).toMatch(/^trt_fbi_/);
    const get = (path: string, authorization?: string): Promise<Response> =>
      fetch(`${taxii.url}${path}`, {
        headers: {
          accept: 'application/taxii+json;version=2.1',
          ...(authorization ? { authorization } : {}),
        },
      });
    const basic = (user: string, secret: string): string =>
      `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    expect((await get('/taxii2/', basic(reader.name, password))).status).toBe(200);
    expect((await get('/taxii2/', `Bearer ${password}`)).status).toBe(200);
    expect((await get('/taxii2/', basic(reader.name, `${password}x`))).status).toBe(401);
    expect((await get('/taxii2/')).status).toBe(401);

    const patterns = async (alias: string): Promise<string[]> => {
      const c = taxii.collections.find((x) => x.name === alias)!;
      const res = await get(`/api/collections/${c.id}/objects/?match[type]=indicator`, `Bearer ${password}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { objects?: { pattern: string }[] };
      return (body.objects ?? []).map((o) => o.pattern).sort();
    };
    const pattern = (v: string): string => `[domain-name:value = '${v}']`;
    // What the delivery test above published: the shared indicator (green) from facebook and from
    // google (one STIX indicator per source), facebook's other one (green), google's (amber), and the
    // TLP:RED one for fbi.
    await waitFor('the TAXII server to hold what was published', async () => {
      return (await patterns('direct')).length === 1 && (await patterns('green')).length === 3;
    });
    expect(await patterns('direct')).toEqual([pattern('relay-c2-node.xyz')]);
    expect(await patterns('green')).toEqual(
      [
        pattern('ballot-status-check.org'),
        pattern('ballot-status-check.org'),
        pattern('poll-worker-signup.net'),
      ].sort(),
    );
    expect(await patterns('amber')).toEqual([pattern('early-results-feed.info')]);
    expect(await patterns('clear')).toEqual([]);
  });

  it("keeps fbi-all's dedup state in the password-protected Redis, and no embedded store", async () => {
    const client = redis.client();
    expect((await client.keys('threatrelay:dedup:{fbi-all}:*')).length).toBeGreaterThan(0);
    // The server takes no command without the password the fbi container's REDIS_PASSWORD gives.
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: redis.port });
      let text = '';
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer from redis-server')));
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\r\n')) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(reply).toMatch(/^-NOAUTH/);
    expect(existsSync(fbiDataDir)).toBe(false);
  });

  it('logs every verified delivery from the `receiver` command itself, STIX bundles included', async () => {
    // The demo receiver as its container runs it: `threatrelay receiver --port N` (services/cli/main.ts)
    // in a process of its own, with the receiver container's environment. Two changes, both of place:
    // the config's path (the container's mount) and HOST (loopback here, not the container's 0.0.0.0).
    // Every delivery the subscribers made above is replayed to it, signed with the secret of the
    // subscriber that made it, and must come out in its log (`docker compose logs receiver`).
    const port = await freePort();
    const cliEnv = { ...envOf('receiver'), THREATRELAY_CONFIG: configPath, HOST: '127.0.0.1' };
    expect(services['receiver']!.command).toEqual(['receiver', '--port', '9000']);
    const cli = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '../../services/cli/main.ts'), 'receiver', '--port', String(port)],
      {
        cwd: join(__dirname, '../..'),
        env: { PATH: process.env.PATH, ...cliEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    closers.push(async () => {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
      await exited;
    });
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    cli.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor('`threatrelay receiver` to listen', () => {
      if (cli.exitCode !== null) throw new Error(`threatrelay receiver exited ${cli.exitCode}:\n${stderr}`);
      return stderr.includes('demo receiver listening on');
    });

    const secretOf = (subscription: string): string => {
      const org = subscription.split('-')[0]!;
      const sub = configOf(`subscriber-${org}`).subscriptions.find((s) => s.id === subscription)!;
      return sub.webhook.secrets[0]!;
    };
    const replayed = deliveries.filter((d) => ['dhs-all', 'fbi-all', 'odni-stix'].includes(d.subscription));
    expect(replayed.length).toBeGreaterThan(0);
    for (const d of replayed) {
      const payload = JSON.stringify(d.body);
      const at = new Date();
      const res = await fetch(`http://127.0.0.1:${port}/hooks/${d.subscription}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': d.webhookId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(secretOf(d.subscription)).sign(d.webhookId, at, payload),
        },
        body: payload,
      });
      expect([d.subscription, res.status]).toEqual([d.subscription, 204]);
    }
    await waitFor(
      'a log line per replayed delivery',
      () => stdout.split('\n').filter(Boolean).length >= replayed.length,
    );
    cli.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/rejected/);

    // What an operator reads: each delivery's line names every indicator it carried.
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(replayed.length);
    const values = (d: DemoDelivery): string[] =>
      'objects' in d.body
        ? (d.body as unknown as { objects: StixObject[] }).objects
            .filter((o) => o.type === 'indicator')
            .map((o) => /value = '([^']+)'/.exec(o.pattern!)![1]!)
        : (d.body.events as unknown as NativeEvent[]).map((e) => e.indicator.value);
    replayed.forEach((d, i) => {
      const line = lines[i]!;
      expect(JSON.parse(line)).toMatchObject({ subscription: d.subscription, webhookId: d.webhookId });
      for (const value of values(d)) {
        expect([d.subscription, value, line]).toEqual([
          d.subscription,
          value,
          expect.stringContaining(value),
        ]);
      }
    });
  });
});
