import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  Kafka,
  ResourcePatternTypes,
  logLevel,
  type SASLOptions,
} from 'kafkajs';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import { aclKey, aclsOf } from '../../services/admin/acl';
import { apiKeyHash, parseConfig, type Config } from '../../services/platform/config/config';
import { createKafka } from '../../services/platform/kafka';
import { createLogger } from '../../services/platform/logger';
import { changed, formatReport, provision, type ProvisionReport } from '../../services/admin/provision';
import { generateSigningKeyPair } from '../../services/contract/signing';
import { kafkaNames } from '../../services/contract/names';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { KAFKA_SCRIPT, startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Broker-enforced access: a local broker that takes SASL/SCRAM only and runs
 * the standard authorizer, provisioned by `provision` from a config. Each
 * principal is then tried against what it may and may not do; the refusals
 * come from the broker, not from our code.
 */

const run = promisify(execFile);
// Generous: a fresh broker on a busy machine takes its time loading group coordinators (GROUP_LOAD_IN_PROGRESS).
const RETRY = { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 };
const ROOT = join(__dirname, '../..');
const ADMIN_PASSWORD = `admin-${randomBytes(9).toString('hex')}`;
const secret = (): string => randomBytes(12).toString('base64url');
const env: Record<string, string> = {
  FACEBOOK_PRODUCER_PW: secret(),
  GOOGLE_PRODUCER_PW: secret(),
  DHS_SUBSCRIBER_PW: secret(),
  SMALLCO_SUBSCRIBER_PW: secret(),
  DHS_TAXII_PW: secret(),
  DHS_CONSOLE_PW: secret(),
};
const PASSWORD_ENV: Record<string, string> = {
  'facebook-producer': 'FACEBOOK_PRODUCER_PW',
  'google-producer': 'GOOGLE_PRODUCER_PW',
  'dhs-subscriber': 'DHS_SUBSCRIBER_PW',
  'smallco-subscriber': 'SMALLCO_SUBSCRIBER_PW',
  'dhs-taxii': 'DHS_TAXII_PW',
  'dhs-console': 'DHS_CONSOLE_PW',
};

/** The first error of a chain kafkajs wraps (retries, coordinator lookups), as its protocol type. */
function errorType(err: unknown): string {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e;) {
    if (e.type) return e.type;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return `untyped: ${String(err)}`;
}

/** The broker's answer behind `err`, also when kafkajs replaced it by "Failed to find group coordinator". */
function refusal(err: unknown, logged: string[]): string {
  const type = errorType(err);
  const refused = logged.find((t) => t.endsWith('_AUTHORIZATION_FAILED'));
  return type.includes('KafkaJSGroupCoordinatorNotFound') && refused ? refused : type;
}

describe('broker-enforced access (SASL/SCRAM + ACLs)', () => {
  let broker: LocalBroker;
  let receiver: Receiver;
  let raw: Record<string, unknown>;
  let config: Config;
  let prefix: string;
  const keys = { facebook: generateSigningKeyPair(), google: generateSigningKeyPair() };
  const facebookApiKey = `trk_facebook_${randomBytes(16).toString('hex')}`;
  const clients: { disconnect(): Promise<void> }[] = [];
  let first: ProvisionReport;

  const adminSasl = (): SASLOptions => ({
    mechanism: 'scram-sha-512',
    username: 'admin',
    password: ADMIN_PASSWORD,
  });
  const sasl = (username: string): SASLOptions => ({
    mechanism: 'scram-sha-512',
    username,
    password: env[PASSWORD_ENV[username]!]!,
  });
  /**
   * A client as principal `s`. When `refusals` is given, it collects the protocol errors kafkajs logs:
   * a group the broker refuses surfaces as "Failed to find group coordinator", the broker's
   * GROUP_AUTHORIZATION_FAILED only in kafkajs's debug log.
   */
  const client = (s: SASLOptions, refusals?: string[]): Kafka =>
    new Kafka({
      brokers: [broker.bootstrap],
      sasl: s,
      clientId: 'access-test',
      logLevel: refusals ? logLevel.DEBUG : logLevel.NOTHING,
      logCreator: () => (entry) => {
        const type = (entry.log.error as { type?: unknown } | undefined)?.type;
        if (refusals && typeof type === 'string') refusals.push(type);
      },
      // Enough to ride out a fresh broker's coordinators loading; refusals are not retried.
      retry: RETRY,
    });
  /** The config as a given principal's service sees it. */
  const configAs = (s: SASLOptions): Config =>
    parseConfig({ ...raw, kafka: { ...(raw.kafka as object), sasl: s } }, env);
  const runProvision = async (c: Config = config): Promise<ProvisionReport> => {
    const kafka = createKafka(c.kafka, createLogger('provision', 'silent'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await provision(kafka, admin, c, env);
    } finally {
      await admin.disconnect();
    }
  };

  /** Reads one record of `topic` in `groupId` as `s`: 'ok', or the broker's refusal. */
  const tryRead = async (s: SASLOptions, topic: string, groupId: string): Promise<string> => {
    const refusals: string[] = [];
    const consumer = client(s, refusals).consumer({ groupId, retry: RETRY });
    clients.push(consumer);
    const protocolType = (err: unknown): string => refusal(err, refusals);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const outcome = new Promise<string>((resolve) => {
        consumer.on(consumer.events.CRASH, (e) => resolve(protocolType(e.payload.error)));
        void consumer.run({ eachMessage: async () => resolve('ok') }).catch((e) => resolve(protocolType(e)));
      });
      return await outcome;
    } catch (err) {
      return protocolType(err);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  };

  const tryWrite = async (s: SASLOptions, topic: string): Promise<string> => {
    const producer = client(s).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    clients.push(producer);
    try {
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'forged' }] });
      return 'ok';
    } catch (err) {
      return /not authorized/i.test(String(err)) ? 'TOPIC_AUTHORIZATION_FAILED' : errorType(err);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    broker = await startLocalBroker({ saslAdminPassword: ADMIN_PASSWORD });
    receiver = await startReceiver();
    prefix = `acl-${randomBytes(3).toString('hex')}`;
    raw = {
      kafka: {
        brokers: [broker.bootstrap],
        topicPrefix: prefix,
        partitions: 1,
        sasl: adminSasl(),
        users: Object.entries(PASSWORD_ENV).map(([username, name]) => ({
          username,
          org: username.split('-')[0],
          role: username.split('-')[1],
          password: `\${${name}}`,
        })),
      },
      orgs: [
        { id: 'facebook', name: 'Facebook', kind: 'company', publicKey: keys.facebook.publicKey },
        { id: 'google', name: 'Google', kind: 'company', publicKey: keys.google.publicKey },
        { id: 'dhs', name: 'DHS', kind: 'government' },
        { id: 'smallco', name: 'Small Co', kind: 'company', maxTlp: 'green' },
      ],
      apiKeys: [{ name: 'facebook-secops', org: 'facebook', sha256: apiKeyHash(facebookApiKey) }],
      taxii: { readers: [{ name: 'dhs-tip', org: 'dhs', sha256: apiKeyHash(secret()) }] },
      subscriptions: [
        {
          id: 'dhs-all',
          org: 'dhs',
          webhook: {
            url: `${receiver.url}/ok/dhs`,
            secrets: [`whsec_${randomBytes(24).toString('base64')}`],
            allowPrivateNetworks: true,
          },
        },
        {
          // Answers 410: the subscriber records the switch in its org's control topic.
          id: 'dhs-gone',
          org: 'dhs',
          webhook: {
            url: `${receiver.url}/gone/dhs`,
            secrets: [`whsec_${randomBytes(24).toString('base64')}`],
            allowPrivateNetworks: true,
          },
        },
        {
          id: 'smallco-all',
          org: 'smallco',
          webhook: {
            url: `${receiver.url}/ok/smallco`,
            secrets: [`whsec_${randomBytes(24).toString('base64')}`],
            allowPrivateNetworks: true,
          },
        },
      ],
    };
    config = parseConfig(raw, env);
    first = await runProvision();
    // One record in every topic, so an allowed read has something to return. It is not a signed
    // event, so a subscriber dead-letters it.
    const producer = client(adminSasl()).producer();
    clients.push(producer);
    await producer.connect();
    const t = kafkaNames(prefix);
    for (const topic of [
      t.community('clear'),
      t.community('green'),
      t.community('amber'),
      t.direct('dhs'),
      t.direct('smallco'),
    ]) {
      await producer.send({ topic, messages: [{ value: 'seed' }] });
    }
    await producer.disconnect();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await receiver?.close();
    await broker?.stop();
  });

  it('creates the topics, SCRAM users and ACLs on the first run', () => {
    // community 3, direct and control one per org, a DLQ per subscription
    expect(first.topics.created).toHaveLength(3 + 4 + 4 + 3);
    expect(first.users.others).toEqual([]);
    expect(first.users.created.sort()).toEqual(Object.keys(PASSWORD_ENV).sort());
    expect(first.acls.added).toHaveLength(aclsOf(config).length);
    expect(changed(first)).toBe(true);
  });

  it('changes nothing on a second run, and says so', async () => {
    const second = await runProvision();
    expect(changed(second)).toBe(false);
    expect(second.users.unchanged.sort()).toEqual(Object.keys(PASSWORD_ENV).sort());
    expect(second.acls.unchanged).toBe(aclsOf(config).length);
    expect(formatReport(second)).toMatch(
      /^nothing changed: 14 topics, 6 Kafka users, \d+ ACLs already as configured$/,
    );
  });

  it("brings a topic's retention back to the config's, keeping its other overrides", async () => {
    const t = kafkaNames(prefix);
    const admin = client(adminSasl()).admin();
    clients.push(admin);
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: t.direct('dhs'),
          configEntries: [
            { name: 'retention.ms', value: '60000' },
            { name: 'max.message.bytes', value: '2000000' },
          ],
        },
      ],
    });
    const report = await runProvision();
    expect(report.topics.retentionChanged).toEqual([
      `${t.direct('dhs')} (retention.ms 60000 → ${30 * 24 * 3600 * 1000})`,
    ]);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: t.direct('dhs') }],
    });
    const value = (n: string): string | undefined =>
      described.resources[0]!.configEntries.find((e) => e.configName === n)?.configValue;
    expect([value('retention.ms'), value('max.message.bytes')]).toEqual([
      String(30 * 24 * 3600 * 1000),
      '2000000',
    ]);
    expect(changed(await runProvision())).toBe(false);
  });

  it('refuses an unauthenticated client granting itself ACLs through the controller listener', async () => {
    // Kafka's own Admin client (KIP-919 bootstrap.controllers), run by Java's single-file launcher.
    const { stdout: libs } = await run('bash', [KAFKA_SCRIPT, 'fetch']);
    const { stdout } = await run(
      'java',
      [
        '-cp',
        `${libs.trim()}/*`,
        join(__dirname, '../fixtures/ControllerAclProbe.java'),
        `127.0.0.1:${broker.controllerPort}`,
      ],
      { timeout: 60_000 },
    );
    expect(stdout.trim()).toMatch(/^refused: /);
    const admin = client(adminSasl()).admin();
    clients.push(admin);
    await admin.connect();
    const acls = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal: 'User:intruder',
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    expect(acls.resources).toEqual([]);
  });

  it('refuses anyone without valid credentials', async () => {
    const wrong = {
      mechanism: 'scram-sha-512',
      username: 'dhs-subscriber',
      password: 'not-the-password',
    } as const;
    await expect(client(wrong).admin().connect()).rejects.toThrow(/authentication failed/i);
    const unknown = { ...wrong, username: 'nobody' };
    await expect(client(unknown).admin().connect()).rejects.toThrow(/authentication failed/i);
    // No SASL at all: the broker closes the connection before any request.
    const anonymous = new Kafka({
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      retry: { retries: 0 },
    }).admin();
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow();
    await anonymous.disconnect().catch(() => undefined);
  });

  it("refuses a subscriber reading another org's direct topic", async () => {
    const t = kafkaNames(prefix);
    expect(await tryRead(sasl('dhs-subscriber'), t.direct('smallco'), `${prefix}.sub.dhs-all`)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    expect(await tryRead(sasl('dhs-subscriber'), t.direct('dhs'), `${prefix}.sub.dhs-all`)).toBe('ok');
  });

  it('refuses a subscriber reading a community topic above its entitlement', async () => {
    const t = kafkaNames(prefix);
    const group = `${prefix}.sub.smallco-all`;
    expect(await tryRead(sasl('smallco-subscriber'), t.community('amber'), group)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    expect(await tryRead(sasl('smallco-subscriber'), t.community('green'), group)).toBe('ok');
  });

  it("refuses a subscriber joining another subscription's consumer group", async () => {
    const t = kafkaNames(prefix);
    expect(await tryRead(sasl('dhs-subscriber'), t.community('clear'), `${prefix}.sub.smallco-all`)).toBe(
      'GROUP_AUTHORIZATION_FAILED',
    );
  });

  it("refuses a subscriber forging a community record or flipping another org's switches", async () => {
    const t = kafkaNames(prefix);
    expect(await tryWrite(sasl('dhs-subscriber'), t.community('clear'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryWrite(sasl('dhs-subscriber'), t.control('smallco'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryWrite(sasl('dhs-subscriber'), t.dlq('smallco-all'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryRead(sasl('dhs-subscriber'), t.control('smallco'), `${prefix}.control.dhs.peek`)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
  });

  it("lets a TAXII principal read its org's topics in the org's TAXII group, and nothing else", async () => {
    const t = kafkaNames(prefix);
    const taxii = sasl('dhs-taxii');
    expect(await tryRead(taxii, t.direct('dhs'), t.taxiiGroup('dhs'))).toBe('ok');
    expect(await tryRead(taxii, t.community('amber'), t.taxiiGroup('dhs'))).toBe('ok');
    expect(await tryRead(taxii, t.direct('smallco'), t.taxiiGroup('dhs'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryRead(taxii, t.direct('dhs'), t.subscriptionGroup('dhs-all'))).toBe(
      'GROUP_AUTHORIZATION_FAILED',
    );
    expect(await tryRead(taxii, t.direct('dhs'), t.taxiiGroup('smallco'))).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await tryWrite(taxii, t.dlq('dhs-all'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryWrite(taxii, t.control('dhs'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryWrite(taxii, t.direct('dhs'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Nor is the TAXII group the subscriber's.
    expect(await tryRead(sasl('dhs-subscriber'), t.direct('dhs'), t.taxiiGroup('dhs'))).toBe(
      'GROUP_AUTHORIZATION_FAILED',
    );
  });

  it("lets a console principal read what the console shows, describe the subscriptions' groups, and write nothing", async () => {
    const t = kafkaNames(prefix);
    const operator = sasl('dhs-console');
    const group = `${t.consoleGroupPrefix()}test.${randomBytes(3).toString('hex')}`;
    // A dead letter to list, written as the operator.
    const seeder = client(adminSasl()).producer();
    clients.push(seeder);
    await seeder.connect();
    await seeder.send({ topic: t.dlq('dhs-all'), messages: [{ value: 'letter' }] });
    await seeder.disconnect();
    for (const topic of [t.community('amber'), t.direct('smallco'), t.dlq('dhs-all')]) {
      expect(await tryRead(operator, topic, group)).toBe('ok');
    }
    // Lag: the subscriptions' groups described and their offsets read, never joined.
    const admin = client(operator).admin();
    clients.push(admin);
    await admin.connect();
    const described = await admin.describeGroups([t.subscriptionGroup('dhs-all')]);
    expect(described.groups.map((g) => g.groupId)).toEqual([t.subscriptionGroup('dhs-all')]);
    await expect(admin.fetchOffsets({ groupId: t.subscriptionGroup('dhs-all') })).resolves.toBeDefined();
    await admin.disconnect();
    expect(await tryRead(operator, t.direct('dhs'), t.subscriptionGroup('dhs-all'))).toBe(
      'GROUP_AUTHORIZATION_FAILED',
    );
    for (const topic of [t.community('clear'), t.direct('dhs'), t.dlq('dhs-all'), t.control('dhs')]) {
      expect(await tryWrite(operator, topic)).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
  });

  it("refuses a producer writing a subscriber's switches or dead letters", async () => {
    const t = kafkaNames(prefix);
    expect(await tryWrite(sasl('facebook-producer'), t.control('dhs'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await tryWrite(sasl('facebook-producer'), t.dlq('dhs-all'))).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it("refuses a producer using another org's transactional ids", async () => {
    const refusals: string[] = [];
    const producer = client(sasl('facebook-producer'), refusals).producer({
      transactionalId: `${prefix}.producer.google.stolen.0`,
      idempotent: true,
      maxInFlightRequests: 1,
      retry: RETRY,
    });
    clients.push(producer);
    await producer.connect();
    const refused = await producer.transaction().then(
      () => 'accepted',
      (err: unknown) => refusal(err, refusals),
    );
    expect(refused).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
  });

  it('runs the producer and subscriber services with their own credentials only', async () => {
    let producer: RunningProducer | undefined;
    let subscriber: RunningSubscriber | undefined;
    const logger = createLogger('acl-services', process.env.TEST_LOG_LEVEL ?? 'silent');
    try {
      producer = await startProducer({
        config: configAs(sasl('facebook-producer')),
        org: 'facebook',
        signingKeyPem: keys.facebook.privateKeyPem,
        port: 0,
        logger,
      });
      subscriber = await startSubscriber({
        config: configAs(sasl('dhs-subscriber')),
        org: 'dhs',
        logger,
        dataDir: broker.dir,
      });
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${facebookApiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify([
          { type: 'domain', value: 'vote-count-live.net', category: 'disinformation', tlp: 'green' },
          {
            type: 'domain',
            value: 'ballot-drop.org',
            category: 'phishing',
            tlp: 'red',
            recipients: ['dhs'],
          },
        ]),
      });
      expect([res.status, res.status === 202 ? '' : await res.text()]).toEqual([202, '']);
      const delivered = await waitFor('both indicators at dhs', () => {
        const values = receiver.requests
          .filter((r) => r.path.startsWith('/ok/dhs') && r.status === 200)
          .flatMap((r) => (JSON.parse(r.body) as { events: { indicator: { value: string } }[] }).events)
          .map((e) => e.indicator.value);
        return values.length >= 2 ? values : undefined;
      });
      expect(delivered.sort()).toEqual(['ballot-drop.org', 'vote-count-live.net']);
      // Its own dead letters (the unsigned seed records) and its own switch (dhs-gone's 410),
      // both written as dhs-subscriber, read back as the operator.
      const t = kafkaNames(prefix);
      await waitFor('dhs-gone disabled', () => !subscriber!.consumer('dhs-gone').running);
      const readAs = client(adminSasl());
      const offsets = async (topic: string): Promise<number> => {
        const admin = readAs.admin();
        await admin.connect();
        try {
          return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
        } finally {
          await admin.disconnect();
        }
      };
      // dhs-gone's group: no probe above has read with it.
      await waitFor("dead letters in dhs-gone's DLQ", async () => (await offsets(t.dlq('dhs-gone'))) >= 4);
      await waitFor("a switch in dhs's control topic", async () => (await offsets(t.control('dhs'))) >= 1);
    } finally {
      await subscriber?.close();
      await producer?.close();
    }
  });

  it('revokes every ACL of a user the config no longer names, and reports the user', async () => {
    const offboarded = parseConfig(
      {
        ...raw,
        kafka: {
          ...(raw.kafka as { users: { username: string }[] }),
          users: (raw.kafka as { users: { username: string }[] }).users.filter(
            (u) => u.username !== 'smallco-subscriber',
          ),
        },
      },
      env,
    );
    const report = await runProvision(offboarded);
    expect(report.users.others).toEqual(['smallco-subscriber']);
    expect(report.acls.removed.sort()).toEqual(
      aclsOf(config)
        .filter((b) => b.principal === 'User:smallco-subscriber')
        .map(aclKey)
        .sort(),
    );
    const group = `${prefix}.sub.smallco-all`;
    expect(await tryRead(sasl('smallco-subscriber'), kafkaNames(prefix).community('clear'), group)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    const back = await runProvision();
    expect([back.users.unchanged.length, back.acls.removed]).toEqual([6, []]);
    expect(back.acls.added).toHaveLength(report.acls.removed.length);
  });

  it('replaces a password that no longer authenticates, and revokes what the config no longer grants', async () => {
    const old = env.SMALLCO_SUBSCRIBER_PW!;
    env.SMALLCO_SUBSCRIBER_PW = secret();
    const narrowed = parseConfig(
      {
        ...raw,
        orgs: (raw.orgs as { id: string }[]).map((o) => (o.id === 'smallco' ? { ...o, maxTlp: 'clear' } : o)),
      },
      env,
    );
    const report = await runProvision(narrowed);
    expect(report.users.updated).toEqual(['smallco-subscriber']);
    expect(report.acls.removed).toEqual([
      `User:smallco-subscriber READ TOPIC:${kafkaNames(prefix).community('green')}`,
    ]);
    const group = `${prefix}.sub.smallco-all`;
    expect(await tryRead(sasl('smallco-subscriber'), kafkaNames(prefix).community('green'), group)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    const stale = client({
      mechanism: 'scram-sha-512',
      username: 'smallco-subscriber',
      password: old,
    }).admin();
    await expect(stale.connect()).rejects.toThrow(/authentication failed/i);
    // Back as before: green again, and nothing else moves.
    const restored = await runProvision();
    expect(restored.acls.added).toHaveLength(1);
    expect(restored.users.created.length + restored.users.updated.length).toBe(0);
  });
  it('`threatrelay provision` from the command line, twice: the second run changes nothing, and says so', async () => {
    // Another network (topic prefix) on the same cluster and users: its ACLs leave this one's alone.
    const file = join(broker.dir, 'cli-network.yaml');
    const cliPrefix = `${prefix}-cli`;
    writeFileSync(
      file,
      stringify({
        ...raw,
        kafka: {
          ...(raw.kafka as object),
          topicPrefix: cliPrefix,
          sasl: { mechanism: 'scram-sha-512', username: '${KAFKA_USERNAME}', password: '${KAFKA_PASSWORD}' },
        },
      }),
    );
    const before = aclsOf(config).length;
    const cli = () =>
      run(
        join(ROOT, 'node_modules/.bin/tsx'),
        [join(ROOT, 'services/cli/main.ts'), 'provision', '--config', file],
        {
          cwd: ROOT,
          env: { ...process.env, ...env, KAFKA_USERNAME: 'admin', KAFKA_PASSWORD: ADMIN_PASSWORD },
          timeout: 120_000,
        },
      );
    const firstRun = await cli();
    expect(firstRun.stdout).toMatch(/^created topics \(14\):$/m);
    expect(firstRun.stdout).toMatch(new RegExp(`^added ACLs \\(${before}\\):$`, 'm'));
    expect(firstRun.stdout.trim().split('\n').at(-1)).toBe(
      `done: 14 topics, 6 Kafka users, ${before} ACLs as configured`,
    );
    const secondRun = await cli();
    expect(secondRun.stdout.trim()).toBe(
      `nothing changed: 14 topics, 6 Kafka users, ${before} ACLs already as configured`,
    );
    // The first network is as it was.
    expect(changed(await runProvision())).toBe(false);
  });
});
