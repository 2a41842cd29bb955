import { kafkaNames } from '../../services/contract/names';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  countDeliveries,
  publishSampleFeed,
  startDevNetwork,
  waitForDeliveries,
  type DevNetwork,
  type FeedResult,
  writeNetworkFile,
} from '../../services/cli/dev';
import { SAMPLE_FEED_EXPECTED } from '../../services/cli/sample-feed';
import { createLogger } from '../../services/platform/logger';
import type { NativeEvent, WebhookBody } from '../../services/contract/webhook-body';
import { waitFor } from '../../testkit/wait-for';

/**
 * `threatrelay dev` (what `npm start` runs) against the test broker: the demo
 * network of config/demo-network.yaml on free ports with its own topic prefix,
 * the sample feed published, and what a newcomer is told to look for checked
 * in what the demo receiver verified.
 */

/** 1 receiver + 4 producers + 4 subscribers + 3 TAXII servers + the console. */
const PORTS = 13;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range, so no outgoing connection takes one meanwhile.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let p = base; free && p < base + count; p++) free = await canListen(p);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

interface Indicator {
  id: string;
  type: string;
  revoked?: boolean;
  pattern: string;
  object_marking_refs: string[];
  created_by_ref: string;
  x_threatrelay_key: string;
}

describe('threatrelay dev runs the whole demo network', () => {
  let network: DevNetwork;
  let basePort: number;
  let dataDir: string;
  let feed: FeedResult[];
  let complete: boolean;
  const lines: string[] = [];
  const print = (line: string): void => void lines.push(line);

  /** Native events delivered to `subscription`, in arrival order. */
  const eventsAt = (subscription: string): NativeEvent[] =>
    network.deliveries
      .filter((d) => d.subscription === subscription)
      .flatMap((d) => (d.body as WebhookBody).events);
  /** STIX bundles delivered to `subscription`. */
  const bundlesAt = (subscription: string): { type: string; objects: Record<string, unknown>[] }[] =>
    network.deliveries
      .filter((d) => d.subscription === subscription)
      .map((d) => d.body as unknown as { type: string; objects: Record<string, unknown>[] });
  const stixIndicatorsAt = (subscription: string): Indicator[] =>
    bundlesAt(subscription).flatMap(
      (b) => b.objects.filter((o) => o.type === 'indicator') as unknown as Indicator[],
    );
  /** The indicator key in the producer's receipt of `org`'s item whose value is `value`. */
  const keyOf = (org: string, value: string): string => {
    for (const r of feed.filter((f) => f.step.org === org && f.step.route === '/v1/indicators')) {
      const i = r.step.items.findIndex((item) => item.value === value);
      if (i >= 0) return (r.body as { receipts: { key: string }[] }).receipts[i]!.key;
    }
    throw new Error(`${org} did not publish ${value}`);
  };

  beforeAll(async () => {
    basePort = await freePortRange(PORTS);
    dataDir = mkdtempSync(join(tmpdir(), 'threatrelay-dev-'));
    network = await startDevNetwork({
      basePort,
      brokers: process.env.KAFKA_BROKERS,
      topicPrefix: `tr-dev-${randomBytes(4).toString('hex')}`,
      dataDir,
      logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
      print,
    });
    feed = await publishSampleFeed(network, print);
    complete = await waitForDeliveries(network, SAMPLE_FEED_EXPECTED, 60_000);
    // Anything beyond the expected (a duplicate, a leak) would arrive right behind it.
    let seen = network.deliveries.length;
    let quietSince = Date.now();
    await waitFor(
      'two seconds without a delivery',
      () => {
        if (network.deliveries.length !== seen) [seen, quietSince] = [network.deliveries.length, Date.now()];
        return Date.now() - quietSince >= 2000;
      },
      30_000,
    );
  }, 150_000);

  afterAll(async () => {
    // What `npm start` would have printed, for whoever is changing the demo.
    if (process.env.DEV_NETWORK_PRINT) console.log(lines.join('\n'));
    await network?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a producer per company on the ports after the receiver, a subscriber per subscribing org', () => {
    expect(network.receiverUrl).toBe(`http://127.0.0.1:${basePort}`);
    expect(Object.entries(network.producers).map(([org, p]) => [org, p.url])).toEqual(
      ['facebook', 'google', 'microsoft', 'twitter'].map((org, i) => [
        org,
        `http://127.0.0.1:${basePort + 1 + i}`,
      ]),
    );
    expect(Object.keys(network.subscribers)).toEqual(['microsoft', 'dhs', 'fbi', 'odni']);
    expect(Object.keys(network.apiKeys)).toEqual(['facebook', 'google', 'microsoft', 'twitter']);
    expect(network.startedBroker).toBe(false);
  });

  it('runs a TAXII server per agency after the subscribers, and writes what it generated to a 0600 file', () => {
    expect(Object.entries(network.taxii).map(([org, t]) => [org, t.discoveryUrl])).toEqual(
      ['dhs', 'fbi', 'odni'].map((org, i) => [org, `http://127.0.0.1:${basePort + 9 + i}/taxii2/`]),
    );
    const file = writeNetworkFile(network, join(dataDir, 'dev', 'network.json'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(file, 'utf8')) as {
      producers: Record<string, { url: string; apiKey: string }>;
      taxii: Record<string, { url: string; username: string; password: string }>;
      console: { url: string; username: string; password: string };
    };
    expect(written.producers.facebook).toEqual({
      url: network.producers.facebook!.url,
      apiKey: network.apiKeys.facebook,
    });
    expect(Object.keys(written.taxii)).toEqual(['dhs', 'fbi', 'odni']);
    expect(written.taxii.fbi).toEqual({ url: network.taxii.fbi!.discoveryUrl, ...network.taxiiReaders.fbi });
    expect(written.console).toEqual(network.console);
  });

  it('runs the operator console after the TAXII servers, behind its generated password', async () => {
    const c = network.console;
    expect(c.url).toBe(`http://127.0.0.1:${basePort + 12}`);
    expect((await fetch(`${c.url}/`)).status).toBe(401);
    const basic = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    const page = await fetch(`${c.url}/`, { headers: { authorization: basic } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<td>dhs</td>');
  });

  it("serves the TLP:RED indicator in fbi's TAXII direct collection and in no dhs collection", async () => {
    const key = keyOf('facebook', 'patriot.precinct.watch');
    const pull = async (org: string): Promise<{ collection: string; key: string }[]> => {
      const t = network.taxii[org]!;
      const r = network.taxiiReaders[org]!;
      const headers = {
        accept: 'application/taxii+json;version=2.1',
        authorization: `Basic ${Buffer.from(`${r.username}:${r.password}`).toString('base64')}`,
      };
      const out: { collection: string; key: string }[] = [];
      for (const c of t.collections) {
        const res = await fetch(`${t.url}/api/collections/${c.id}/objects/?limit=1000`, { headers });
        const body = (await res.json()) as { objects?: { x_threatrelay_key?: string }[] };
        for (const o of body.objects ?? [])
          if (o.x_threatrelay_key) out.push({ collection: c.name, key: o.x_threatrelay_key });
      }
      return out;
    };
    const fbi = await waitFor('the red indicator at fbi', async () => {
      const got = await pull('fbi');
      return got.some((o) => o.key === key) ? got : undefined;
    });
    expect(fbi.filter((o) => o.key === key)).toEqual([{ collection: 'direct', key }]);
    expect((await pull('dhs')).filter((o) => o.key === key)).toEqual([]);
  });

  it('has every step of the sample feed accepted and every webhook signature verified', () => {
    expect(feed.map((r) => [r.step.org, r.status])).toEqual(feed.map((r) => [r.step.org, 202]));
    expect(network.rejected).toEqual([]);
    expect(complete).toBe(true);
  });

  it('delivers exactly what the demo promises to each subscription', () => {
    const counts = countDeliveries(network.deliveries);
    for (const [sub, want] of Object.entries(SAMPLE_FEED_EXPECTED)) {
      const { requests: _requests, ...got } = counts[sub] ?? { requests: 0 };
      expect([sub, got]).toEqual([sub, want]);
    }
  });

  it('delivers the domain four companies reported once per subscription, with corroborations at dhs', () => {
    const spellings = {
      facebook: 'votación-resultados[.]com',
      google: 'VOTACIÓN-RESULTADOS.COM',
      microsoft: 'xn--votacin-resultados-v1b.com',
      twitter: 'votación-resultados.com.',
    };
    const keys = Object.entries(spellings).map(([org, value]) => keyOf(org, value));
    expect(new Set(keys).size).toBe(1);
    const key = keys[0]!;

    const dhs = eventsAt('dhs-all').filter((e) => e.key === key);
    expect(dhs.map((e) => [e.type, e.source.org])).toEqual([
      ['indicator.published', 'facebook'],
      ['indicator.corroborated', 'google'],
      ['indicator.corroborated', 'microsoft'],
      ['indicator.corroborated', 'twitter'],
    ]);
    expect(dhs[0]!.indicator!.value).toBe('xn--votacin-resultados-v1b.com');
    expect(dhs[3]).toMatchObject({ sources: ['facebook', 'google', 'microsoft', 'twitter'], sourceCount: 4 });

    expect(
      eventsAt('fbi-all')
        .filter((e) => e.key === key)
        .map((e) => e.type),
    ).toEqual(['indicator.published']);
    expect(stixIndicatorsAt('odni-stix').filter((o) => o.x_threatrelay_key === key)).toHaveLength(1);
    expect(eventsAt('microsoft-phishing').filter((e) => e.key === key)).toEqual([]);
  });

  it('delivers the TLP:RED indicator to fbi only', () => {
    const key = keyOf('facebook', 'patriot.precinct.watch');
    expect(eventsAt('fbi-all').filter((e) => e.key === key)).toEqual([
      expect.objectContaining({
        type: 'indicator.published',
        indicator: expect.objectContaining({ tlp: 'red', recipients: ['fbi'] }),
      }),
    ]);
    expect(eventsAt('dhs-all').filter((e) => e.key === key)).toEqual([]);
    expect(eventsAt('microsoft-phishing').filter((e) => e.key === key)).toEqual([]);
    expect(stixIndicatorsAt('odni-stix').filter((o) => o.x_threatrelay_key === key)).toEqual([]);
  });

  it('delivers the revocation after the original to those that received it, and to no one else', () => {
    const key = keyOf('twitter', '@BallotTruthDaily');
    for (const sub of ['dhs-all', 'fbi-all']) {
      expect([
        sub,
        eventsAt(sub)
          .filter((e) => e.key === key)
          .map((e) => e.type),
      ]).toEqual([sub, ['indicator.published', 'indicator.revoked']]);
    }
    const revocation = eventsAt('dhs-all').find((e) => e.key === key && e.type === 'indicator.revoked')!;
    expect(revocation.revocation).toMatchObject({ reason: expect.stringMatching(/false positive/i) });

    const stix = stixIndicatorsAt('odni-stix').filter((o) => o.x_threatrelay_key === key);
    expect(stix.map((o) => o.revoked === true)).toEqual([false, true]);
    expect(stix[1]!.id).toBe(stix[0]!.id);

    expect(eventsAt('microsoft-phishing').filter((e) => e.key === key)).toEqual([]);
  });

  it('routes to the company subscription only phishing from the other companies', () => {
    const events = eventsAt('microsoft-phishing');
    expect(events.map((e) => [e.type, e.source.org, e.indicator?.category])).toEqual([
      ['indicator.published', 'facebook', 'phishing'],
    ]);
    expect(events[0]!.key).toBe(
      keyOf('google', 'https://Verify-Voter-Status.INFO/~registration/login?state=GA'),
    );
  });

  it('sends STIX 2.1 bundles to the STIX subscription and prints each indicator with pattern and TLP', () => {
    const bundles = bundlesAt('odni-stix');
    expect(bundles.length).toBeGreaterThan(0);
    for (const bundle of bundles) {
      expect(bundle.type).toBe('bundle');
      const types = new Set(bundle.objects.map((o) => o.type));
      expect([...types].sort()).toEqual(['identity', 'indicator', 'marking-definition']);
    }
    const domain = stixIndicatorsAt('odni-stix').find((o) => o.pattern.startsWith('[domain-name:value'))!;
    expect(domain.pattern).toBe("[domain-name:value = 'xn--votacin-resultados-v1b.com']");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /\[odni-stix\]\s+stix indicator\s+\[domain-name:value = 'xn--votacin-resultados-v1b\.com'\]\s+TLP:GREEN, from facebook/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /\[odni-stix\]\s+stix indicator, revoked\s+\[user-account:account_login = 'ballottruthdaily' AND user-account:account_type = 'twitter'\]\s+TLP:AMBER, from twitter/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /\[dhs-all\]\s+indicator\.corroborated\s+domain\s+xn--votacin-resultados-v1b\.com\s+from twitter, tlp:green; now reported by facebook, google, microsoft, twitter/,
      ),
    );
  });

  it('leaves nothing listening and no consumer in the groups after close()', async () => {
    const { config } = network;
    await network.close();
    for (let port = basePort; port < basePort + PORTS; port++) {
      expect([port, await canListen(port)]).toEqual([port, true]);
    }
    const kafka = new Kafka({ brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups(
        config.subscriptions.map((s) => kafkaNames(config.kafka.topicPrefix).subscriptionGroup(s.id)),
      );
      expect(groups.map((g) => [g.groupId, g.members.length]).sort()).toEqual(
        config.subscriptions
          .map((s) => [kafkaNames(config.kafka.topicPrefix).subscriptionGroup(s.id), 0])
          .sort(),
      );
    } finally {
      await admin.disconnect();
    }
  });
});
