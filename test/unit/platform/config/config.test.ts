import { parseConfig, resolveUserPasswords } from '../../../../services/platform/config/config';
import { isThreatRelayError } from '../../../../services/contract/errors';

const KEY = Buffer.alloc(32, 7).toString('base64');
const HASH = 'a'.repeat(64);
const SECRET = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;

function base(): Record<string, unknown> {
  return {
    orgs: [
      { id: 'facebook', name: 'Meta', kind: 'company', publicKey: KEY },
      { id: 'dhs', name: 'DHS', kind: 'government' },
    ],
    apiKeys: [{ name: 'fb-secops', org: 'facebook', sha256: HASH }],
    subscriptions: [
      {
        id: 'dhs-all',
        org: 'dhs',
        webhook: { url: 'https://siem.dhs.example/hooks', secrets: ['${DHS_SECRET}'] },
      },
    ],
  };
}

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = { DHS_SECRET: SECRET }): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (isThreatRelayError(err, 'TR_CONFIG')) return err.details.map((d) => `${d.path}: ${d.message}`);
    throw err;
  }
  return [];
}

describe('config', () => {
  it('rejects a redis dedup url of another scheme, and a redis store without a url, naming the path', () => {
    const raw = base();
    const sub = (raw.subscriptions as Record<string, unknown>[])[0]!;
    sub.dedup = { store: 'redis', redisUrl: 'http://cache:6379' };
    expect(problemsOf(raw)).toEqual([expect.stringMatching(/^subscriptions\.0\.dedup\.redisUrl: /)]);
    sub.dedup = { store: 'redis' };
    expect(problemsOf(raw)).toEqual([
      'subscriptions.0.dedup.redisUrl: redisUrl is required when store is redis',
    ]);
  });

  it('rejects an unknown dedup store and a window beyond a year', () => {
    const raw = base();
    const sub = (raw.subscriptions as Record<string, unknown>[])[0]!;
    sub.dedup = { store: 'memory' };
    expect(problemsOf(raw)).toEqual([expect.stringMatching(/^subscriptions\.0\.dedup\.store: /)]);
    sub.dedup = { store: 'embedded', windowDays: 366 };
    expect(problemsOf(raw)).toEqual([expect.stringMatching(/^subscriptions\.0\.dedup\.windowDays: /)]);
  });

  it('accepts a valid config, fills defaults and substitutes ${ENV} secrets', () => {
    const config = parseConfig(base(), { DHS_SECRET: SECRET, KAFKA_BROKERS: 'k1:9092,k2:9092' });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.kafka.topicPrefix).toBe('threatrelay');
    expect(config.subscriptions[0]!.webhook.secrets).toEqual([SECRET]);
    expect(config.subscriptions[0]!.batchSize).toBe(100);
    expect(config.subscriptions[0]!.webhook.allowPrivateNetworks).toBe(false);
    expect(config.apiKeys[0]!.scopes).toEqual(['publish', 'revoke']);
  });

  it('lists every mistake at once, each with its path', () => {
    const raw = base();
    (raw.orgs as unknown[]).push({ id: 'dhs', name: 'again', kind: 'government' });
    (raw.subscriptions as Record<string, unknown>[]).push({
      id: 'dhs-all',
      org: 'nsa',
      webhook: { url: 'not a url', secrets: [SECRET] },
    });
    const problems = problemsOf(raw, {});
    expect(problems).toEqual(
      expect.arrayContaining([
        'subscriptions.0.webhook.secrets.0: environment variable DHS_SECRET is not set',
        expect.stringMatching(/^subscriptions\.1\.webhook\.url: /),
      ]),
    );
    // Cross-file checks need a schema-valid file; fix the URL and they show up.
    (raw.subscriptions as { webhook: { url: string } }[])[1]!.webhook.url = 'https://x.example/h';
    expect(problemsOf(raw)).toEqual(
      expect.arrayContaining([
        'orgs: duplicate org id "dhs"',
        'subscriptions: duplicate subscription id "dhs-all"',
        'subscriptions.1.org: unknown org "nsa"',
      ]),
    );
  });

  it('rejects a public key that is not 32 bytes and an API key hash that is not hex SHA-256', () => {
    const raw = base();
    (raw.orgs as Record<string, unknown>[])[0]!.publicKey = 'c2hvcnQ=';
    (raw.apiKeys as Record<string, unknown>[])[0]!.sha256 = 'XYZ';
    const problems = problemsOf(raw);
    expect(problems).toEqual(
      expect.arrayContaining([
        'orgs.0.publicKey: must be a base64 raw 32-byte Ed25519 public key',
        'apiKeys.0.sha256: must be 64 lowercase hex chars (SHA-256 of the key)',
      ]),
    );
  });

  it('rejects a webhook secret the signer could not use, and a timeout over the session timeout', () => {
    const raw = base();
    const sub = (raw.subscriptions as { webhook: Record<string, unknown> }[])[0]!;
    sub.webhook.secrets = ['my-shared-secret'];
    sub.webhook.timeoutMs = 60_000;
    const problems = problemsOf(raw);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^subscriptions\.0\.webhook\.secrets\.0: must be a Standard Webhooks secret/),
        expect.stringMatching(/^subscriptions\.0\.webhook\.timeoutMs: /),
      ]),
    );
  });

  it('gives the producer, the TAXII servers and the console the same failed-authentication budget fields', () => {
    const defaults = parseConfig(base(), { DHS_SECRET: SECRET });
    for (const section of [defaults.producer, defaults.taxii, defaults.console]) {
      expect([section.authFailuresPerMinute, section.authFailureBurst]).toEqual([30, undefined]);
    }
    const budget = { authFailuresPerMinute: 6, authFailureBurst: 2 };
    const set = parseConfig(
      { ...base(), producer: budget, taxii: budget, console: budget },
      { DHS_SECRET: SECRET },
    );
    expect([set.producer, set.taxii, set.console]).toEqual(
      [1, 2, 3].map(() => expect.objectContaining(budget)),
    );
    expect(problemsOf({ ...base(), console: { authFailureBurst: 0 } })).toEqual([
      'console.authFailureBurst: Too small: expected number to be >=1',
    ]);
  });

  it('refuses unknown fields instead of ignoring a typo', () => {
    const raw = { ...base(), subscriptons: [] };
    expect(problemsOf(raw).join('\n')).toMatch(/subscriptons/);
  });
});

describe('config: Kafka users', () => {
  const SASL = { mechanism: 'scram-sha-512', username: 'admin', password: '${ADMIN_PW}' };
  const withUsers = (users: unknown[], sasl: unknown = SASL): Record<string, unknown> => ({
    ...base(),
    kafka: { sasl, users },
  });
  const ENV = { DHS_SECRET: SECRET, ADMIN_PW: 'admin-password-1' };

  it("keeps users' passwords as references for provision, and resolves them only there", () => {
    const config = parseConfig(
      withUsers([
        { username: 'dhs-subscriber', org: 'dhs', role: 'subscriber', password: '${DHS_KAFKA_PW}' },
      ]),
      ENV,
    );
    // A service parses the file without DHS_KAFKA_PW: it is not its secret.
    expect(config.kafka.users[0]!.password).toBe('${DHS_KAFKA_PW}');
    expect(resolveUserPasswords(config, { DHS_KAFKA_PW: 'x'.repeat(16) })).toEqual(
      new Map([['dhs-subscriber', 'x'.repeat(16)]]),
    );
    const problems = (env: NodeJS.ProcessEnv): string[] => {
      try {
        resolveUserPasswords(config, env);
        return [];
      } catch (err) {
        if (isThreatRelayError(err, 'TR_CONFIG')) return err.details.map((d) => `${d.path}: ${d.message}`);
        throw err;
      }
    };
    expect(problems({})).toEqual(['kafka.users.0.password: environment variable DHS_KAFKA_PW is not set']);
    expect(problems({ DHS_KAFKA_PW: 'short' })).toEqual([
      'kafka.users.0.password: DHS_KAFKA_PW is shorter than 16 characters',
    ]);
  });

  it('lists every mistake in the users at once', () => {
    const problems = problemsOf(
      withUsers(
        [
          { username: 'dhs-subscriber', org: 'dhs', role: 'subscriber', password: 'plain-text-password' },
          { username: 'dhs-subscriber', org: 'nsa', role: 'subscriber', password: '${A}' },
          { username: 'dhs-producer', org: 'dhs', role: 'producer', password: '${B}' },
          { username: 'x', org: 'dhs', role: 'admin', password: '${C}' },
        ],
        { mechanism: 'plain', username: 'admin', password: 'p' },
      ),
      ENV,
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kafka\.users\.0\.password: must be \$\{ENV_VAR\}/),
        expect.stringMatching(/^kafka\.users\.3\.role: /),
      ]),
    );
    const semantic = problemsOf(
      withUsers(
        [
          { username: 'dhs-subscriber', org: 'dhs', role: 'subscriber', password: '${A}' },
          { username: 'dhs-subscriber', org: 'nsa', role: 'subscriber', password: '${A}' },
          { username: 'dhs-producer', org: 'dhs', role: 'producer', password: '${B}' },
        ],
        { mechanism: 'plain', username: 'admin', password: 'p' },
      ),
      ENV,
    );
    expect(semantic.sort()).toEqual(
      [
        'kafka.users: duplicate Kafka username "dhs-subscriber"',
        'kafka.users.1.org: unknown org "nsa"',
        'kafka.users.2.role: org "dhs" has no publicKey (or keys), so nothing it published could be verified',
        'kafka.sasl: kafka.users needs kafka.sasl with a SCRAM mechanism: provision creates SCRAM users',
      ].sort(),
    );
  });

  it('wants a Kafka user of role taxii for every org with TAXII readers, once there are users', () => {
    const readers = { readers: [{ name: 'dhs-tip', org: 'dhs', sha256: 'a'.repeat(64) }] };
    const subscriber = { username: 'dhs-subscriber', org: 'dhs', role: 'subscriber', password: '${A}' };
    const taxii = { username: 'dhs-taxii', org: 'dhs', role: 'taxii', password: '${B}' };
    expect(problemsOf({ ...withUsers([subscriber]), taxii: readers }, ENV)).toEqual([
      'kafka.users: org "dhs" has taxii.readers but no Kafka user with role taxii for its TAXII server',
    ]);
    expect(problemsOf({ ...withUsers([subscriber, taxii]), taxii: readers }, ENV)).toEqual([]);
    // Without Kafka users (no SASL, a local broker) there is nothing to connect as.
    expect(problemsOf({ ...base(), taxii: readers }, ENV)).toEqual([]);
  });

  it('takes partitions and replication factor from the environment', () => {
    const config = parseConfig(
      { ...base(), kafka: { partitions: '${P}', replicationFactor: '${RF}' } },
      { DHS_SECRET: SECRET, P: '6', RF: '3' },
    );
    expect([config.kafka.partitions, config.kafka.replicationFactor]).toEqual([6, 3]);
    expect(
      problemsOf({ ...base(), kafka: { replicationFactor: '${RF}' } }, { DHS_SECRET: SECRET, RF: 'three' }),
    ).toEqual([expect.stringMatching(/^kafka\.replicationFactor: /)]);
  });
});

describe('config: what one process resolves', () => {
  const raw = (): Record<string, unknown> => ({
    kafka: {
      sasl: { mechanism: 'scram-sha-512', username: '${KAFKA_USERNAME}', password: '${KAFKA_PASSWORD}' },
    },
    orgs: [
      { id: 'facebook', name: 'Meta', kind: 'company', publicKey: KEY },
      { id: 'dhs', name: 'DHS', kind: 'government' },
      { id: 'fbi', name: 'FBI', kind: 'government' },
    ],
    apiKeys: [{ name: 'fb-secops', org: 'facebook', sha256: '${FB_KEY_SHA256}' }],
    subscriptions: [
      { id: 'dhs-all', org: 'dhs', webhook: { url: 'https://dhs.example/h', secrets: ['${DHS_SECRET}'] } },
      { id: 'fbi-all', org: 'fbi', webhook: { url: 'https://fbi.example/h', secrets: ['${FBI_SECRET}'] } },
    ],
  });
  const kafkaEnv = { KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' };

  it("lets a subscriber start with its own secrets only, not another org's", () => {
    const config = parseConfig(
      raw(),
      { ...kafkaEnv, DHS_SECRET: SECRET },
      { role: 'subscriber', org: 'dhs' },
    );
    expect(config.subscriptions.map((s) => s.id)).toEqual(['dhs-all']);
    expect(config.apiKeys).toEqual([]);
  });

  it('lets a producer start without any webhook secret', () => {
    const config = parseConfig(
      raw(),
      { ...kafkaEnv, FB_KEY_SHA256: HASH },
      { role: 'producer', org: 'facebook' },
    );
    expect(config.subscriptions).toEqual([]);
    expect(config.apiKeys.map((k) => k.name)).toEqual(['fb-secops']);
  });

  it('lets the receiver start without Kafka credentials', () => {
    const config = parseConfig(raw(), { DHS_SECRET: SECRET, FBI_SECRET: SECRET }, { role: 'receiver' });
    expect(config.kafka.sasl).toBeUndefined();
    expect(config.subscriptions).toHaveLength(2);
  });

  it('still requires every variable of the whole file without a scope', () => {
    expect(problemsOf(raw(), { ...kafkaEnv, DHS_SECRET: SECRET })).toEqual([
      'apiKeys.0.sha256: environment variable FB_KEY_SHA256 is not set',
      'subscriptions.1.webhook.secrets.0: environment variable FBI_SECRET is not set',
    ]);
  });
});
