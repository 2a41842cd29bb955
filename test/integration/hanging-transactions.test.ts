import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { findHangingTransactions, openTransactions } from '../../services/admin/hanging';
import { kafkaNames } from '../../services/contract/names';
import { createTransactionalProducer, partitionMarks } from '../../services/platform/kafka';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { waitFor } from '../../testkit/wait-for';

/**
 * `threatrelay kafka hanging` against a real broker. A transaction the broker
 * forgot cannot be made on demand (RELIABILITY.md: it took a kill -9 of the
 * broker at the wrong moment), so these tests hold one open instead, with a
 * transaction timeout longer than the check's wait: to the check, a
 * transaction open longer than any ThreatRelay producer keeps one is the same.
 */
const ROOT = join(__dirname, '../..');

describe('hanging transactions', () => {
  let net: TestNetwork;
  let topic: string;
  const producers: Producer[] = [];

  const transactional = async (id: string, timeoutMs: number): Promise<Producer> => {
    const p = createTransactionalProducer(net.kafka, `${net.prefix}.test.${id}`, timeoutMs);
    producers.push(p);
    await p.connect();
    return p;
  };
  const records = (n: number, partition: number) =>
    Array.from({ length: n }, (_, i) => ({ value: `r${i}`, partition }));

  beforeAll(async () => {
    net = await createTestNetwork([{ id: 'google' }]);
    topic = kafkaNames(net.prefix).direct('google');
  });

  afterAll(async () => {
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
    await net?.close();
  });

  it('reads the last stable offset (read_committed) next to the high watermark', async () => {
    const committed = await transactional('committed', 30_000);
    const tx = await committed.transaction();
    await tx.send({ topic, messages: records(4, 1) });
    await tx.commit();
    // The commit returns before its marker is written: wait for partition 1 to be stable.
    await waitFor('the commit marker', async () => (await openTransactions(net.kafka, [topic])).length === 0);

    const open = await transactional('marks', 60_000);
    const pending = await open.transaction();
    await pending.send({ topic, messages: records(3, 0) });
    try {
      const marks = await partitionMarks(net.kafka, [topic]);
      const p0 = marks.find((m) => m.partition === 0)!;
      const p1 = marks.find((m) => m.partition === 1)!;
      expect(p0).toEqual({ topic, partition: 0, lastStable: '0', high: '3' });
      // Four records and the commit marker, all stable.
      expect(p1).toEqual({ topic, partition: 1, lastStable: '5', high: '5' });
      // kafkajs's admin lists offsets read_committed: its "high" is the last stable offset, so
      // the high watermark needs the read_uncommitted lookup (or a fetch: platform/lag-read.ts).
      const admin = await net.admin();
      const viaAdmin = await admin.fetchTopicOffsets(topic);
      expect(viaAdmin.find((m) => m.partition === 0)!.high).toBe('0');
    } finally {
      await pending.abort();
    }
    await waitFor('the abort marker', async () => (await openTransactions(net.kafka, [topic])).length === 0);
  });

  it('reports a transaction open across the wait, not one that ends during it', async () => {
    const stuck = await transactional('stuck', 120_000);
    const brief = await transactional('brief', 30_000);
    const held = await stuck.transaction();
    await held.send({ topic, messages: records(2, 2) });
    const ending = await brief.transaction();
    await ending.send({ topic, messages: records(2, 1) });
    const before = await partitionMarks(net.kafka, [topic]);
    const startOf = (partition: number) => before.find((m) => m.partition === partition)!.lastStable;

    const hanging = await findHangingTransactions(net.kafka, [topic], 2000, async (ms) => {
      await ending.commit();
      await new Promise((r) => setTimeout(r, ms));
    });
    expect(hanging).toEqual([
      { topic, partition: 2, lastStable: startOf(2), high: String(BigInt(startOf(2)) + 2n) },
    ]);

    await held.abort();
    await waitFor('the abort marker', async () => (await openTransactions(net.kafka, [topic])).length === 0);
    expect(await findHangingTransactions(net.kafka, [topic], 500)).toEqual([]);
  });

  describe('the command', () => {
    const run = (args: string[]): Promise<{ code: number; stdout: string }> =>
      new Promise((resolve) => {
        execFile(
          join(ROOT, 'node_modules/.bin/tsx'),
          [join(ROOT, 'services/cli/main.ts'), ...args],
          { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'error' }, timeout: 120_000 },
          (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
    let configFile: string;
    beforeAll(() => {
      configFile = join(net.dataDir, 'config.json');
      writeFileSync(configFile, JSON.stringify(net.config));
    });

    it('exits 0 at once when no transaction is open', async () => {
      const r = await run(['kafka', 'hanging', '--config', configFile]);
      expect(r.stdout).toMatch(/^0 hanging transaction\(s\)$/m);
      expect(r.code).toBe(0);
    });

    it('exits 1 and prints the abort command for a transaction open longer than 40 s', async () => {
      const stuck = await transactional('cli', 110_000);
      const held = await stuck.transaction();
      await held.send({ topic, messages: records(1, 0) });
      const start = (await partitionMarks(net.kafka, [topic])).find((m) => m.partition === 0)!;
      try {
        const r = await run(['kafka', 'hanging', '--config', configFile]);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain(
          `${topic}/0: a transaction open since offset ${start.lastStable} (high watermark ${start.high})`,
        );
        expect(r.stdout).toContain(
          `kafka-transactions.sh --bootstrap-server ${net.config.kafka.brokers.join(',')} abort --topic ${topic} --partition 0 --start-offset ${start.lastStable}`,
        );
        expect(r.stdout).toMatch(/^1 hanging transaction\(s\)$/m);
      } finally {
        await held.abort();
      }
      await waitFor(
        'the abort marker',
        async () => (await openTransactions(net.kafka, [topic])).length === 0,
      );
    }, 150_000);
  });
});
