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

  it("lets a subscriber principal join its org's TAXII group only when the org has TAXII readers", () => {
    const withReaders = parseConfig({
      ...config,
      kafka: { ...config.kafka, brokers: undefined },
      taxii: { readers: [{ name: 'dhs-tip', org: 'dhs', sha256: 'a'.repeat(64) }] },
    });
    const groups = (c: typeof config, user: string): string[] =>
      aclsOf(c)
        .filter((b) => b.principal === `User:${user}` && b.resourceType === 'GROUP')
        .map((b) => `${b.operation} ${b.resourceName}`);
    expect(groups(withReaders, 'dhs-subscriber')).toContain('READ tr.taxii.dhs');
    expect(groups(withReaders, 'small-subscriber').filter((g) => g.includes('taxii'))).toEqual([]);
    expect(groups(config, 'dhs-subscriber').filter((g) => g.includes('taxii'))).toEqual([]);
    expect(aclsOf(withReaders)).toHaveLength(aclsOf(config).length + 1);
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

  it('accepts its own user, and a user the config does not list', () => {
    expect(() => checkOwnUser(as('dhs-subscriber'), 'dhs', 'subscriber')).not.toThrow();
    expect(() => checkOwnUser(as('someone-else'), 'dhs', 'subscriber')).not.toThrow();
  });
});
