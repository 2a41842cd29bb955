import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Cross-organization dedup end to end, and the subscriber process killed with
 * SIGKILL in the middle of its work: nothing is lost, and what is delivered
 * twice is recognisably the same delivery.
 */

interface Delivered {
  type: string;
  eventId: string;
  key: string;
  source: { org: string };
  sourceCount?: number;
  indicator?: { value: string };
}

function delivered(receiver: Receiver, pathPrefix: string): Delivered[] {
  return receiver.requests
    .filter((r) => r.status >= 200 && r.status < 300 && r.path.startsWith(pathPrefix))
    .flatMap((r) => (JSON.parse(r.body) as { events: Delivered[] }).events);
}

const COMPANIES = ['facebook', 'google', 'microsoft', 'twitter'];

describe('cross-organization dedup', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  const producers: Record<string, RunningProducer> = {};

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [
        ...COMPANIES.map((id) => ({ id })),
        { id: 'dhs', kind: 'government' as const },
        { id: 'fbi', kind: 'government' as const },
      ],
      [
        { id: 'dhs-once', org: 'dhs', url: `${receiver.url}/ok/dhs-once`, corroborations: false },
        { id: 'fbi-corroborations', org: 'fbi', url: `${receiver.url}/ok/fbi-corr`, corroborations: true },
      ],
    );
    for (const org of COMPANIES) {
      producers[org] = await net.startProducer(org);
    }
  });

  afterAll(async () => {
    for (const p of Object.values(producers)) await p.close();
    await receiver?.close();
    await net?.close();
  });

  const publish = async (org: string, body: unknown): Promise<void> => {
    const res = await fetch(`${producers[org]!.url}/v1/indicators${Array.isArray(body) ? '' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
  };

  it('delivers one indicator four companies report in four spellings once per subscription, plus corroborations where asked', async () => {
    const subscribers = [
      await startSubscriber({ dataDir: net.dataDir, config: net.config, org: 'dhs', logger: net.logger }),
      await startSubscriber({ dataDir: net.dataDir, config: net.config, org: 'fbi', logger: net.logger }),
    ];
    try {
      const spellings: Record<string, string> = {
        facebook: 'hxxps://Vote-Count-Live[.]COM/results#today',
        google: 'https://vote-count-live.com/results',
        microsoft: 'HTTPS://VOTE-COUNT-LIVE.COM:443/results',
        twitter: 'https://vote-count-live.com/%72esults',
      };
      for (const org of COMPANIES) {
        await publish(org, { type: 'url', value: spellings[org], category: 'disinformation', tlp: 'green' });
      }
      await waitFor(
        'fbi to see the first report and three corroborations',
        () => delivered(receiver, '/ok/fbi-corr').length >= 4,
      );
      await new Promise((r) => setTimeout(r, 2000));

      const dhs = delivered(receiver, '/ok/dhs-once');
      expect(dhs).toHaveLength(1);
      expect(dhs[0]).toMatchObject({
        type: 'indicator.published',
        indicator: { value: 'https://vote-count-live.com/results' },
      });

      const fbi = delivered(receiver, '/ok/fbi-corr');
      expect(fbi.map((e) => e.type)).toEqual([
        'indicator.published',
        'indicator.corroborated',
        'indicator.corroborated',
        'indicator.corroborated',
      ]);
      expect(fbi.map((e) => e.sourceCount ?? 1)).toEqual([1, 2, 3, 4]);
      expect(new Set(fbi.map((e) => e.key)).size).toBe(1);
    } finally {
      for (const s of subscribers) await s.close();
    }
  });

  it('delivers a revocation to those that got the original, and a later re-publication counts as new', async () => {
    const subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
    try {
      const body = {
        type: 'domain',
        value: 'county-clerk-notice.example.org',
        category: 'phishing',
        tlp: 'green',
      };
      await publish('google', body);
      await waitFor('the original', () =>
        delivered(receiver, '/ok/dhs-once').some(
          (e) => e.indicator?.value === 'county-clerk-notice.example.org',
        ),
      );
      const revoke = await fetch(`${producers.google!.url}/v1/indicators/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'domain',
          value: body.value,
          tlp: 'green',
          reason: 'the real county site',
        }),
      });
      expect(revoke.status).toBe(202);
      // Twitter never reported it: its revocation is not delivered.
      await fetch(`${producers.twitter!.url}/v1/indicators/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.twitter}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'domain', value: body.value, tlp: 'green', reason: 'not ours' }),
      });
      await publish('microsoft', body);
      const events = await waitFor('revocation then a new publication', () => {
        const all = delivered(receiver, '/ok/dhs-once').filter(
          (e) => e.indicator?.value === body.value || e.type === 'indicator.revoked',
        );
        return all.length >= 3 ? all : undefined;
      });
      await new Promise((r) => setTimeout(r, 1500));
      const final = delivered(receiver, '/ok/dhs-once').filter(
        (e) => e.indicator?.value === body.value || e.type === 'indicator.revoked',
      );
      expect(final.map((e) => [e.type, e.source.org])).toEqual([
        ['indicator.published', 'google'],
        ['indicator.revoked', 'google'],
        ['indicator.published', 'microsoft'],
      ]);
      expect(events[0]!.key).toBe(events[2]!.key);
    } finally {
      await subscriber.close();
    }
  });

  it('remembers across a restart with the embedded store: a retried event is not delivered again', async () => {
    const body = { type: 'phone', value: '+1 (202) 555-0147', category: 'spam', tlp: 'green' };
    const headers = {
      authorization: `Bearer ${net.apiKeys.google}`,
      'content-type': 'application/json',
      'idempotency-key': 'robocall-feed-7',
    };
    let subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
    const first = await fetch(`${producers.google!.url}/v1/indicators`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    const [{ eventId }] = ((await first.json()) as { receipts: { eventId: string }[] }).receipts as [
      { eventId: string },
    ];
    const count = (): number =>
      delivered(receiver, '/ok/dhs-once').filter((e) => e.eventId === eventId).length;
    await waitFor('the first delivery', () => count() === 1);
    await subscriber.close();

    // A new subscriber process opens the store from disk; a new producer instance has no replay cache,
    // so the client's retry really writes the same eventId to Kafka a second time.
    subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
    await producers.google!.close();
    producers.google = await net.startProducer('google');
    try {
      const retry = await fetch(`${producers.google.url}/v1/indicators`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      expect(retry.status).toBe(202);
      const again = (
        (await retry.json()) as { receipts: { eventId: string; records: { offset: string }[] }[] }
      ).receipts[0]!;
      expect(again.eventId).toBe(eventId);
      const green = await net.readAll(`${net.prefix}.community.green`, { atLeast: 1 });
      expect(green.filter((m) => m.headers!['threatrelay-event-id']!.toString() === eventId)).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 4000));
      expect(count()).toBe(1);
    } finally {
      await subscriber.close();
    }
  });
});

describe('subscriber killed with SIGKILL mid-batch', () => {
  it('loses nothing, and anything delivered twice carries the same webhook-id', async () => {
    const net = await createTestNetwork(
      [{ id: 'microsoft' }, { id: 'odni', kind: 'government' }],
      [{ id: 'odni-crash', org: 'odni', url: 'http://127.0.0.1:1/placeholder', batchSize: 1 }],
    );
    const receiver = await startReceiver(0, [net.webhookSecrets['odni-crash']!]);
    const config = {
      ...net.config,
      subscriptions: net.config.subscriptions.map((s) => ({
        ...s,
        webhook: { ...s.webhook, url: `${receiver.url}/slow/100` },
      })),
    };
    const configFile = join(net.dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const root = resolve(__dirname, '../..');
    const spawnSubscriber = (): ChildProcess =>
      spawn(
        process.execPath,
        // One process (tsx as a loader, not tsx's CLI, which runs the code in a child): SIGKILL reaches
        // the subscriber itself.
        [
          '--import',
          'tsx',
          join(root, 'services/cli/main.ts'),
          'subscriber',
          '--config',
          configFile,
          '--org',
          'odni',
          '--port',
          '0',
        ],
        { env: { ...process.env, LOG_LEVEL: 'warn', THREATRELAY_DATA_DIR: net.dataDir }, stdio: 'ignore' },
      );
    const producer = await net.startProducer('microsoft');
    let child = spawnSubscriber();
    try {
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.microsoft}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          Array.from({ length: 60 }, (_, i) => ({
            type: 'sha256',
            value: `${i.toString(16).padStart(2, '0')}${'ab'.repeat(31)}`,
            category: 'malware',
            tlp: 'green',
          })),
        ),
      });
      expect(res.status).toBe(202);
      const ids = ((await res.json()) as { receipts: { eventId: string }[] }).receipts.map((r) => r.eventId);

      await waitFor('some deliveries before the kill', () => receiver.accepted().length >= 15, 60_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Nothing of the killed subscriber may live on: no process still has the config file open.
      expect(spawnSync('pgrep', ['-f', configFile]).stdout.toString().trim()).toBe('');
      const atKill = receiver.accepted().length;
      expect(atKill).toBeLessThan(60);

      child = spawnSubscriber();
      await waitFor(
        'every event after the restart',
        () => {
          const got = new Set(
            receiver
              .accepted()
              .flatMap((b) => (b as { events: { eventId: string }[] }).events.map((e) => e.eventId)),
          );
          return ids.every((id) => got.has(id));
        },
        90_000,
      );

      const webhookIdsByEvent = new Map<string, Set<string>>();
      for (const r of receiver.requests.filter((q) => q.status === 200)) {
        for (const e of (JSON.parse(r.body) as { events: { eventId: string }[] }).events) {
          webhookIdsByEvent.set(
            e.eventId,
            (webhookIdsByEvent.get(e.eventId) ?? new Set()).add(String(r.headers['webhook-id'])),
          );
        }
      }
      expect([...webhookIdsByEvent.values()].every((set) => set.size === 1)).toBe(true);
      // Every request carried a signature that an independent implementation of the spec accepts.
      expect(receiver.requests.every((r) => r.verified === true)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 240_000);
});

describe('subscriber killed while a webhook batch is in flight', () => {
  it('sends that batch again as it was, under the same webhook-id, even when batches are now cut differently', async () => {
    const net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-regroup', org: 'dhs', url: 'http://127.0.0.1:1/placeholder', batchSize: 5 }],
      { partitions: 1 },
    );
    const receiver = await startReceiver(0, [net.webhookSecrets['dhs-regroup']!]);
    const root = resolve(__dirname, '../..');
    const configFile = join(net.dataDir, 'config.json');
    /** The subscriber as its own process, so SIGKILL stops it with a POST on the wire. */
    const spawnSubscriber = (batchSize: number, route: string): ChildProcess => {
      const config = {
        ...net.config,
        subscriptions: net.config.subscriptions.map((s) => ({
          ...s,
          batchSize,
          webhook: { ...s.webhook, url: `${receiver.url}${route}` },
        })),
      };
      writeFileSync(configFile, JSON.stringify(config));
      return spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'services/cli/main.ts'),
          'subscriber',
          '--config',
          configFile,
          '--org',
          'dhs',
          '--port',
          '0',
        ],
        { env: { ...process.env, LOG_LEVEL: 'warn', THREATRELAY_DATA_DIR: net.dataDir }, stdio: 'ignore' },
      );
    };
    const producer = await net.startProducer('google');
    let child = spawnSubscriber(5, '/slow/4000');
    try {
      const res = await fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          Array.from({ length: 12 }, (_, i) => ({
            type: 'domain',
            value: `regroup-${i}.example.com`,
            category: 'phishing',
            tlp: 'green',
          })),
        ),
      });
      expect(res.status).toBe(202);
      const ids = ((await res.json()) as { receipts: { eventId: string }[] }).receipts.map((r) => r.eventId);

      // The first batch of 5 is at the receiver, not answered yet: kill the subscriber now. The receiver
      // still answers 200, so the batch counts as delivered, but its offset is never committed.
      await waitFor('the first batch in flight', () => receiver.inFlight() > 0, 60_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await waitFor(
        'the held batch answered',
        () => receiver.inFlight() === 0 && receiver.accepted().length === 1,
        10_000,
      );

      // Restarted with batches of 12: without the batch mark the 5 would go out again inside a batch of 12.
      child = spawnSubscriber(12, '/ok');
      const delivered = (): string[] =>
        receiver
          .accepted()
          .flatMap((b) => (b as { events: { eventId: string }[] }).events.map((e) => e.eventId));
      await waitFor(
        'every event after the restart',
        () => ids.every((id) => delivered().includes(id)),
        90_000,
      );

      const webhookIdsByEvent = new Map<string, Set<string>>();
      for (const r of receiver.requests.filter((q) => q.status === 200)) {
        for (const e of (JSON.parse(r.body) as { events: { eventId: string }[] }).events) {
          webhookIdsByEvent.set(
            e.eventId,
            (webhookIdsByEvent.get(e.eventId) ?? new Set()).add(String(r.headers['webhook-id'])),
          );
        }
      }
      expect([...webhookIdsByEvent.values()].map((set) => set.size)).toEqual(ids.map(() => 1));
      // The first batch went out twice, byte for byte: the receiver can drop the copy by its webhook-id.
      const bodies = receiver.requests.filter((q) => q.status === 200).map((q) => q.body);
      expect(bodies.filter((b) => b === bodies[0]).length).toBe(2);
      expect(receiver.requests.every((r) => r.verified === true)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await producer.close();
      await receiver.close();
      await net.close();
    }
  }, 240_000);
});
