import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { hashOperatorPassword } from '../../services/console/auth';
import { startConsole, type RunningConsole } from '../../services/console/service';
import { kafkaNames } from '../../services/contract/names';
import type { Config } from '../../services/platform/config/config';
import { createTransactionalProducer, ensureTopics } from '../../services/platform/kafka';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { startTaxiiServer } from '../../services/taxii/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Lag, stalls and hanging transactions (platform/lag.ts) against a real
 * broker, a real subscriber and a real webhook endpoint, read the three ways
 * an operator reads them: the subscriber's /metrics, the console and
 * `threatrelay subscription status`. The stall and hanging thresholds are
 * shortened in the config (2 s and 3 s) instead of waiting out 60 s and 40 s.
 */
const ROOT = join(__dirname, '../..');
const SUB = 'dhs-lag';
const OPERATOR = { username: 'operator', password: `pw-${randomBytes(12).toString('hex')}` };

describe('lag, stalls and hanging transactions', () => {
  let net: TestNetwork;
  let config: Config;
  let receiver: Receiver;
  let producer: RunningProducer;
  let subscriber: RunningSubscriber;
  let operatorConsole: RunningConsole;
  let configFile: string;
  let clear: string;
  const held: Producer[] = [];

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [
        {
          id: SUB,
          org: 'dhs',
          url: `${receiver.url}/ok/dhs`,
          retry: { initialDelayMs: 100, maxDelayMs: 500, maxElapsedMs: 3_600_000 },
        },
      ],
      { taxiiReaders: ['dhs'] },
    );
    config = {
      ...net.config,
      monitoring: { stalledAfterSeconds: 2, hangingAfterSeconds: 3, sampleIntervalMs: 300 },
      console: {
        ...net.config.console,
        operators: [{ username: OPERATOR.username, passwordHash: hashOperatorPassword(OPERATOR.password) }],
        sampleIntervalMs: 300,
      },
    };
    configFile = join(net.dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    clear = kafkaNames(net.prefix).community('clear');
    producer = await net.startProducer('google');
    subscriber = await startSubscriber({
      config,
      org: 'dhs',
      logger: net.logger,
      port: 0,
      dataDir: net.dataDir,
    });
    operatorConsole = await startConsole({ config, logger: net.logger, port: 0 });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(held.map((p) => p.disconnect().catch(() => undefined)));
    await operatorConsole?.close();
    await subscriber?.close();
    await producer?.close();
    await receiver?.close();
    await net?.close();
  }, 60_000);

  const publish = async (values: string[]): Promise<void> => {
    const res = await fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        values.map((value) => ({ type: 'domain', value, category: 'phishing', tlp: 'clear' })),
      ),
    });
    expect(res.status).toBe(202);
  };
  const delivered = (): number =>
    receiver.requests
      .filter((r) => r.status === 200)
      .reduce((n, r) => n + (JSON.parse(r.body) as { events: unknown[] }).events.length, 0);

  /** One gauge per partition (`topic/partition`) from a /metrics: the subscription's, or another series'. */
  const gauge = async (
    name: string,
    url = subscriber.url!,
    label = `subscription="${SUB}"`,
  ): Promise<Map<string, { value: number; line: string }>> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const out = new Map<string, { value: number; line: string }>();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) || !line.includes(label)) continue;
      const topic = /topic="([^"]+)"/.exec(line)![1];
      const partition = /partition="([^"]+)"/.exec(line)![1];
      out.set(`${topic}/${partition}`, { value: Number(line.split(' ').pop()), line });
    }
    return out;
  };
  const total = async (name: string): Promise<number> =>
    [...(await gauge(name)).values()].reduce((n, g) => n + g.value, 0);

  const view = () => operatorConsole.model.subscriptions.get(SUB)!;
  const page = async (): Promise<string> => {
    const auth = `Basic ${Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString('base64')}`;
    return (await fetch(`${operatorConsole.url}/`, { headers: { authorization: auth } })).text();
  };

  const status = (args: string[] = []): Promise<{ code: number; stdout: string }> =>
    new Promise((resolve) => {
      execFile(
        join(ROOT, 'node_modules/.bin/tsx'),
        [join(ROOT, 'services/cli/main.ts'), 'subscription', 'status', SUB, '--config', configFile, ...args],
        { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'error' }, timeout: 60_000 },
        (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
  /** The CLI's per-partition rows: partition → [position, end, behind, oldest waiting, stalled since, hanging]. */
  const rows = (stdout: string): Map<string, string[]> =>
    new Map(
      stdout
        .split('\n')
        .filter((l) => l.startsWith(`${net.prefix}.`))
        .map((l) => {
          const [partition, ...cells] = l.split(/\s{2,}/);
          return [partition!, cells];
        }),
    );

  it('reads 0 behind in /metrics, on the console and in the CLI once every transactionally published record is delivered', async () => {
    await publish(Array.from({ length: 6 }, (_, i) => `caught-up-${i}-${net.prefix}.example.com`));
    await waitFor('six deliveries', () => delivered() >= 6);
    await waitFor('a lag series on every source partition, all 0', async () => {
      const lag = await gauge('threatrelay_consumer_lag');
      return lag.size >= config.kafka.partitions && [...lag.values()].every((g) => g.value === 0);
    });
    await waitFor('the console at 0 behind', () => view().lag === 0 && view().lastDeliveryAt !== undefined);
    // Commit markers sit between the group's position and the end: offsets alone would read them as lag.
    expect(view().partitions.some((p) => BigInt(p.end) > BigInt(p.position))).toBe(true);
    expect(view().partitions.every((p) => p.behind === 0)).toBe(true);
    const html = await page();
    expect(html).toMatch(new RegExp(`<tr data-subscription="${SUB}">.*?<td data-lag="0">0</td>`));
    expect(html).toMatch(/data-last-delivery="20\d\d-/);

    const cli = await status();
    expect(cli.code).toBe(0);
    const byPartition = rows(cli.stdout);
    expect(byPartition.size).toBeGreaterThanOrEqual(config.kafka.partitions);
    for (const [partition, cells] of byPartition) expect([partition, cells[2]]).toEqual([partition, '0']);
    expect(cli.stdout).toMatch(
      /^behind 0; oldest waiting 0 s; stalled partitions 0; hanging transactions 0;/m,
    );

    // dhs's TAXII feed reads the same topics and reports by the same definition.
    const taxii = await startTaxiiServer({
      config,
      org: 'dhs',
      logger: net.logger,
      port: 0,
      dataDir: net.dataDir,
    });
    try {
      await waitFor('the TAXII feed at 0 behind on every partition, past the markers', async () => {
        const lag = await gauge('threatrelay_consumer_lag', taxii.url, 'feed="dhs"');
        return lag.size === byPartition.size && [...lag.values()].every((g) => g.value === 0);
      });
    } finally {
      await taxii.close();
    }
  }, 120_000);

  it('shows behind and the oldest waiting age grow and sets stalled since while the receiver is down', async () => {
    receiver.answerAll(503);
    try {
      await publish([`outage-1-${net.prefix}.example.com`]);
      await waitFor('lag during the outage', async () => (await total('threatrelay_consumer_lag')) >= 1);
      const firstOldest = await waitFor('an oldest waiting age', async () => {
        const n = Math.max(
          ...[...(await gauge('threatrelay_consumer_oldest_waiting_seconds')).values()].map((g) => g.value),
        );
        return n > 0 && n;
      });
      await publish([`outage-2-${net.prefix}.example.com`, `outage-3-${net.prefix}.example.com`]);
      await waitFor('lag to grow', async () => (await total('threatrelay_consumer_lag')) >= 3);
      await waitFor('the oldest waiting age to grow', async () => {
        const ages = [...(await gauge('threatrelay_consumer_oldest_waiting_seconds')).values()];
        return Math.max(...ages.map((g) => g.value)) > firstOldest;
      });
      await waitFor('stalled since on /metrics', async () =>
        [...(await gauge('threatrelay_consumer_stalled_since_timestamp_seconds')).values()].some(
          (g) => g.value > 0,
        ),
      );
      await waitFor('stalled since on the console', () => view().partitions.some((p) => p.stalledSince));
      expect(await page()).toMatch(/stalled since <time/);

      const cli = await status(['--watch', '3']);
      expect(cli.code).toBe(1);
      const stalled = [...rows(cli.stdout).values()].filter((cells) => /^20\d\d-/.test(cells[4] ?? ''));
      expect(stalled.length).toBeGreaterThanOrEqual(1);
    } finally {
      receiver.answerAll(undefined);
    }
    await waitFor('lag back to 0', async () => (await total('threatrelay_consumer_lag')) === 0, 60_000);
    await waitFor(
      'no stall',
      async () => (await total('threatrelay_consumer_stalled_since_timestamp_seconds')) === 0,
    );
  }, 180_000);

  it('reports a transaction held open past the threshold as hanging, with its transactional id', async () => {
    const transactionalId = `${net.prefix}.test.hanging`;
    const open = createTransactionalProducer(net.kafka, transactionalId, 120_000);
    held.push(open);
    await open.connect();
    const tx = await open.transaction();
    await tx.send({ topic: clear, messages: [{ value: 'held', partition: 0 }] });
    try {
      await waitFor('the hanging transaction on /metrics', async () =>
        [...(await gauge('threatrelay_consumer_hanging_transaction_since_timestamp_seconds')).values()].some(
          (g) => g.value > 0 && g.line.includes(`transactional_id="${transactionalId}"`),
        ),
      );
      await waitFor('the hanging transaction on the console', () =>
        view().partitions.some((p) => p.hanging?.transactionalId === transactionalId),
      );
      expect(await page()).toContain(`data-hanging="${transactionalId}"`);
      const cli = await status(['--watch', '4']);
      expect(cli.code).toBe(1);
      expect(rows(cli.stdout).get(`${clear}/0`)![5]).toContain(`transactional id ${transactionalId}`);
    } finally {
      await tx.abort();
    }
    await waitFor('no hanging transaction', async () =>
      [...(await gauge('threatrelay_consumer_hanging_transaction_since_timestamp_seconds')).values()].every(
        (g) => g.value === 0,
      ),
    );
  }, 120_000);

  it('shows a record failing its checks, whose dead letter cannot be written, as a stall until it is dead-lettered', async () => {
    const admin = await net.admin();
    const dlq = kafkaNames(net.prefix).dlq(SUB);
    await admin.deleteTopics({ topics: [dlq] });
    const writer = net.kafka.producer({ allowAutoTopicCreation: false });
    held.push(writer);
    await writer.connect();
    // Unsigned bytes: the checks refuse it, and its dead letter has nowhere to go.
    await writer.send({ topic: clear, messages: [{ value: randomBytes(40), partition: 1 }] });
    await waitFor(
      'the stalled partition on /metrics',
      async () =>
        ((await gauge('threatrelay_consumer_stalled_since_timestamp_seconds')).get(`${clear}/1`)?.value ??
          0) > 0,
      60_000,
    );
    expect((await gauge('threatrelay_consumer_lag')).get(`${clear}/1`)!.value).toBeGreaterThanOrEqual(1);
    expect(await admin.listTopics()).not.toContain(dlq);

    await ensureTopics(admin, [dlq], { partitions: config.kafka.partitions, replicationFactor: 1 });
    await waitFor(
      'the record dead-lettered and the stall gone',
      async () => {
        const stalled = (await gauge('threatrelay_consumer_stalled_since_timestamp_seconds')).get(
          `${clear}/1`,
        );
        const lag = (await gauge('threatrelay_consumer_lag')).get(`${clear}/1`);
        return stalled?.value === 0 && lag?.value === 0;
      },
      90_000,
    );
    expect(await net.readAll(dlq, { atLeast: 1 })).toHaveLength(1);
  }, 180_000);
});
