import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { spawnSubscriber, type SubscriberProcess } from '../../testkit/subscriber-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * A subscriber started while Kafka is unreachable does not exit: it keeps
 * trying with backoff, logging each failure, alive (/healthz) but not ready
 * (/readyz), and runs normally once the broker is there; SIGTERM during the
 * wait ends it cleanly. A broker of this test's own, since it is stopped.
 */
describe('a subscriber started before Kafka', () => {
  let broker: LocalBroker;
  let net: TestNetwork;
  let receiver: Receiver;
  let configFile: string;
  const saved = process.env.KAFKA_BROKERS;

  beforeAll(async () => {
    broker = await startLocalBroker();
    process.env.KAFKA_BROKERS = broker.bootstrap;
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-late', org: 'dhs', url: `${receiver.url}/ok`, batchSize: 10 }],
      { partitions: 1 },
    );
    configFile = join(net.dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(net.config));
    // Provisioned; now the broker goes away, its data kept for the restart.
    await broker.stopProcess();
  }, 180_000);

  afterAll(async () => {
    process.env.KAFKA_BROKERS = saved;
    await receiver?.close();
    await net?.close();
    await broker?.stop();
  });

  const logLines = (file: string): { msg?: string; attempt?: number }[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string });
  const status = async (url: string): Promise<number> =>
    fetch(url).then(
      (r) => r.status,
      () => 0,
    );

  it('keeps trying, alive but not ready, and delivers once the broker is started', async () => {
    const port = await freePort();
    const logFile = join(net.dataDir, 'waiting.log');
    const child: SubscriberProcess = spawnSubscriber({
      configFile,
      org: 'dhs',
      dataDir: net.dataDir,
      logFile,
      logLevel: 'info',
      port,
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor('/healthz to answer', async () => (await status(`${url}/healthz`)) === 200, 30_000);
      // kafkajs alone gives up after its retries, within seconds: by now it has failed more than once.
      await waitFor(
        'two failed attempts, each logged',
        () =>
          logLines(logFile).filter((l) => l.msg?.startsWith('Kafka is unreachable')).length >= 2
            ? true
            : undefined,
        60_000,
      );
      expect(child.child.exitCode).toBeNull();
      expect(await status(`${url}/healthz`)).toBe(200);
      expect(await status(`${url}/readyz`)).toBe(503);
      const attempts = logLines(logFile)
        .filter((l) => l.msg?.startsWith('Kafka is unreachable'))
        .map((l) => (l as { retryInMs?: number }).retryInMs);
      // Backoff: each wait at least as long as the one before.
      expect(attempts).toEqual([...attempts].sort((a, b) => a! - b!));

      await broker.restart();
      await waitFor('/readyz to say ready', async () => (await status(`${url}/readyz`)) === 200, 90_000, 500);

      const producer = await net.startProducer('google');
      try {
        const res = await fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            type: 'domain',
            value: 'late-start.example.com',
            category: 'phishing',
            tlp: 'green',
          }),
        });
        expect(res.status).toBe(202);
        const [{ eventId }] = ((await res.json()) as { receipts: { eventId: string }[] }).receipts as [
          { eventId: string },
        ];
        await waitFor(
          'the indicator delivered',
          () =>
            receiver
              .accepted()
              .some((b) =>
                (b as { events: { eventId: string }[] }).events.some((e) => e.eventId === eventId),
              ),
          60_000,
        );
      } finally {
        await producer.close();
      }
      await child.stop();
      expect(child.child.exitCode).toBe(0);
    } finally {
      await child.kill();
    }
  }, 240_000);

  it('exits cleanly (status 0) on SIGTERM while still waiting for Kafka', async () => {
    await broker.stopProcess();
    const port = await freePort();
    const logFile = join(net.dataDir, 'sigterm.log');
    const child = spawnSubscriber({
      configFile,
      org: 'dhs',
      dataDir: net.dataDir,
      logFile,
      logLevel: 'info',
      port,
    });
    try {
      await waitFor(
        'a failed attempt',
        () => logLines(logFile).some((l) => l.msg?.startsWith('Kafka is unreachable')),
        60_000,
      );
      expect(await status(`http://127.0.0.1:${port}/readyz`)).toBe(503);
      const sent = Date.now();
      child.child.kill('SIGTERM');
      await waitFor(
        'the process to exit',
        () => child.child.exitCode !== null || child.child.signalCode !== null,
        20_000,
      );
      expect({ code: child.child.exitCode, signal: child.child.signalCode }).toEqual({
        code: 0,
        signal: null,
      });
      expect(Date.now() - sent).toBeLessThan(20_000);
      expect(logLines(logFile).some((l) => l.msg === 'subscriber stopped while waiting for Kafka')).toBe(
        true,
      );
      // Its HTTP port is released.
      expect(await status(`http://127.0.0.1:${port}/healthz`)).toBe(0);
    } finally {
      await child.kill();
    }
  }, 120_000);
});
