import { aclKey, aclsOf } from '../../../services/admin/acl';
import { kafkaNames } from '../../../services/contract/names';
import { checkOwnUser } from '../../../services/platform/kafka';
import { parseConfig } from '../../../services/platform/config/config';

const KEY = Buffer.alloc(32, 7).toString('base64');
const SECRET = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
const hook = (id: string, org: string): Record<string, unknown> => ({
  id,
  org,
  webhook: { url: `https://${org}.example/hooks`, secrets: [SECRET] },
});

const config = parseConfig({
  kafka: {
    topicPrefix: 'tr',
    sasl: { mechanism: 'scram-sha-512', username: 'admin', password: 'admin-password' },
    users: [
      { username: 'fb-producer', org: 'facebook', role: 'producer', password: '${A}' },
      { username: 'dhs-subscriber', org: 'dhs', role: 'subscriber', password: '${B}' },
      { username: 'small-subscriber', org: 'small', role: 'subscriber', password: '${C}' },
    ],
  },
  orgs: [
    { id: 'facebook', name: 'Meta', kind: 'company', publicKey: KEY },
    { id: 'dhs', name: 'DHS', kind: 'government' },
    { id: 'small', name: 'Small', kind: 'company', maxTlp: 'clear' },
  ],
  subscriptions: [hook('dhs-all', 'dhs'), hook('dhs-stix', 'dhs'), hook('small-all', 'small')],
});
const granted = (user: string): string[] =>
  aclsOf(config)
    .filter((b) => b.principal === `User:${user}`)
    .map((b) => aclKey(b).replace(`User:${user} `, ''))
    .sort();

describe('ACL model', () => {
  it('lets a producer write the community and direct topics, with its own transactional ids only', () => {
    expect(granted('fb-producer')).toEqual(
      [
        'WRITE TOPIC:tr.community.clear',
        'WRITE TOPIC:tr.community.green',
        'WRITE TOPIC:tr.community.amber',
        'WRITE TOPIC:tr.direct.*',
        'WRITE TRANSACTIONAL_ID:tr.producer.facebook.*',
      ].sort(),
    );
  });

  it("lets a subscriber read what its org is entitled to, and use only its subscriptions' groups and DLQs", () => {
    expect(granted('dhs-subscriber')).toEqual(
      [
        'READ TOPIC:tr.community.clear',
        'READ TOPIC:tr.community.green',
        'READ TOPIC:tr.community.amber',
        'READ TOPIC:tr.direct.dhs',
        'WRITE TRANSACTIONAL_ID:tr.subscriber.dhs.*',
        'WRITE TOPIC:tr.dlq.dhs-all',
        'WRITE TOPIC:tr.dlq.dhs-stix',
        'READ GROUP:tr.sub.dhs-all',
        'READ GROUP:tr.sub.dhs-stix',
        'READ TOPIC:tr.control.dhs',
        'WRITE TOPIC:tr.control.dhs',
        'READ GROUP:tr.control.dhs.*',
      ].sort(),
    );
    expect(granted('small-subscriber').filter((g) => g.includes('community'))).toEqual([
      'READ TOPIC:tr.community.clear',
    ]);
  });

  it('grants exactly the group names the subscriber uses', () => {
    expect(granted('dhs-subscriber')).toContain(
      `READ GROUP:${kafkaNames(config.kafka.topicPrefix).subscriptionGroup('dhs-all')}`,
    );
  });

  it("lets a TAXII principal read what its org's subscriber reads, in the org's TAXII group only", () => {
    const withTaxii = parseConfig({
      ...config,
      kafka: {
        ...config.kafka,
        brokers: undefined,
        users: [
          ...config.kafka.users,
          { username: 'dhs-taxii', org: 'dhs', role: 'taxii', password: '${D}' },
          { username: 'small-taxii', org: 'small', role: 'taxii', password: '${E}' },
        ],
      },
      taxii: { readers: [{ name: 'dhs-tip', org: 'dhs', sha256: 'a'.repeat(64) }] },
    });
    const grantedIn = (c: typeof config, user: string): string[] =>
      aclsOf(c)
        .filter((b) => b.principal === `User:${user}`)
        .map((b) => aclKey(b).replace(`User:${user} `, ''))
        .sort();
    expect(grantedIn(withTaxii, 'dhs-taxii')).toEqual(
      [
        'READ TOPIC:tr.community.clear',
        'READ TOPIC:tr.community.green',
        'READ TOPIC:tr.community.amber',
        'READ TOPIC:tr.direct.dhs',
        `READ GROUP:${kafkaNames('tr').taxiiGroup('dhs')}`,
      ].sort(),
    );
    expect(grantedIn(withTaxii, 'small-taxii')).toEqual(
      ['READ TOPIC:tr.community.clear', 'READ TOPIC:tr.direct.small', 'READ GROUP:tr.taxii.small'].sort(),
    );
    // The subscribers' grants do not change: the TAXII group is not theirs.
    expect(grantedIn(withTaxii, 'dhs-subscriber')).toEqual(granted('dhs-subscriber'));
    expect(
      aclsOf(withTaxii)
        .filter((b) => b.resourceName.includes('.taxii.'))
        .map((b) => b.principal),
    ).toEqual(['User:dhs-taxii', 'User:small-taxii']);
  });

  it("lets a console principal read what the console shows, describe the subscriptions' groups, and write nothing", () => {
    const withConsole = parseConfig({
      ...config,
      kafka: {
        ...config.kafka,
        brokers: undefined,
        users: [
          ...config.kafka.users,
          { username: 'ops-console', org: 'dhs', role: 'console', password: '${F}' },
        ],
      },
    });
    const grants = aclsOf(withConsole)
      .filter((b) => b.principal === 'User:ops-console')
      .map((b) => aclKey(b).replace('User:ops-console ', ''))
      .sort();
    expect(grants).toEqual(
      [
        'READ TOPIC:tr.community.clear',
        'READ TOPIC:tr.community.green',
        'READ TOPIC:tr.community.amber',
        'READ TOPIC:tr.direct.*',
        'READ TOPIC:tr.dlq.*',
        'READ TOPIC:tr.control.*',
        'DESCRIBE GROUP:tr.sub.*',
        `READ GROUP:${kafkaNames('tr').consoleGroupPrefix()}*`,
      ].sort(),
    );
    expect(grants.filter((g) => g.startsWith('WRITE'))).toEqual([]);
  });

  it('gives no one a wildcard on topics or groups', () => {
    for (const b of aclsOf(config)) {
      if (b.patternType === 'PREFIXED') expect(b.resourceName.endsWith('.')).toBe(true);
      expect(b.resourceName).not.toBe('*');
    }
  });
});

describe('a service and its Kafka user', () => {
  const as = (username: string) => ({
    ...config,
    kafka: { ...config.kafka, sasl: { mechanism: 'scram-sha-512' as const, username, password: 'p' } },
  });

  it("refuses to start a service as another org's or role's user", () => {
    expect(() => checkOwnUser(as('dhs-subscriber'), 'small', 'subscriber')).toThrow(
      /"dhs-subscriber" is dhs's subscriber user; small's subscriber must connect as its own/,
    );
    expect(() => checkOwnUser(as('fb-producer'), 'facebook', 'subscriber')).toThrow(
      /facebook's producer user/,
    );
  });

  it("refuses to start a TAXII server as its org's subscriber user", () => {
    expect(() => checkOwnUser(as('dhs-subscriber'), 'dhs', 'taxii')).toThrow(
      /"dhs-subscriber" is dhs's subscriber user; dhs's taxii must connect as its own/,
    );
  });

  it('accepts its own user, and a user the config does not list', () => {
    expect(() => checkOwnUser(as('dhs-subscriber'), 'dhs', 'subscriber')).not.toThrow();
    expect(() => checkOwnUser(as('someone-else'), 'dhs', 'subscriber')).not.toThrow();
  });
});
