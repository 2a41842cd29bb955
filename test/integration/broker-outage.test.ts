import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningProducer } from '../../services/producer/service';
import { HEADERS } from '../../services/contract/definitions';
import { kafkaNames } from '../../services/contract/names';
import { startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { waitFor } from '../../testkit/wait-for';

/**
 * A broker of this test's own (so stopping it disturbs no other test): while
 * it is down the API answers 503 with Retry-After, neither hanging nor
 * crashing, and it recovers by itself once the broker is back.
 */
describe('producer while the broker is down', () => {
  let broker: LocalBroker;
  let net: TestNetwork;
  let producer: RunningProducer;
  const saved = process.env.KAFKA_BROKERS;

  beforeAll(async () => {
    broker = await startLocalBroker();
    process.env.KAFKA_BROKERS = broker.bootstrap;
    net = await createTestNetwork([{ id: 'google' }], [], { producer: { produceTimeoutMs: 3000 } });
    producer = await net.startProducer('google');
  }, 180_000);

  afterAll(async () => {
    process.env.KAFKA_BROKERS = saved;
    await producer?.close().catch(() => undefined);
    await net?.close();
    await broker?.stop();
  });

  const publish = (value: string): Promise<Response> =>
    fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'domain', value, category: 'phishing', tlp: 'clear' }),
    });

  it('answers 503 with Retry-After while down and 202 again once the broker is back', async () => {
    expect((await publish('before-outage.example.com')).status).toBe(202);

    await broker.stopProcess();
    const down = await publish('during-outage.example.com');
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('TR_KAFKA_UNAVAILABLE');
    expect((await fetch(`${producer.url}/readyz`)).status).toBe(503);

    await broker.restart();
    await waitFor(
      'the producer to publish again',
      async () => (await publish('after-outage.example.com')).status === 202,
      90_000,
      1000,
    );
    expect((await fetch(`${producer.url}/readyz`)).status).toBe(200);
  }, 180_000);

  it('after a kill -9 mid-batch: 503, then the same Idempotency-Key puts every indicator in Kafka exactly once', async () => {
    const body = Array.from({ length: 500 }, (_, i) => ({
      type: 'domain',
      value: `mid-batch-${i}.example.com`,
      category: 'phishing',
      tlp: 'green',
    }));
    const send = (): Promise<Response> =>
      fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${net.apiKeys.google}`,
          'content-type': 'application/json',
          'idempotency-key': 'mid-batch-feed',
        },
        body: JSON.stringify(body),
      });
    // Freeze the broker so the batch is certainly in flight, then kill it without a clean shutdown.
    broker.signal('SIGSTOP');
    const inFlight = send();
    await new Promise((r) => setTimeout(r, 500));
    broker.signal('SIGKILL');
    const failed = await inFlight;
    expect(failed.status).toBe(503);

    await broker.restart();
    const ok = await waitFor(
      'the retry to be accepted',
      async () => {
        const res = await send();
        return res.status === 202 ? ((await res.json()) as { receipts: { eventId: string }[] }) : undefined;
      },
      90_000,
      1000,
    );
    // A restart on the same data appends to the broker log: the killed broker's lines stay for a post-mortem.
    const log = readFileSync(join(broker.dir, 'broker.log'), 'utf8');
    const restarts = log.match(/===== kafka\.sh: broker restarted on its data/g)?.length ?? 0;
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(log.match(/Kafka Server started/g)?.length).toBe(restarts + 1);
    const records = await net.readAll(kafkaNames(net.prefix).community('green'), {
      atLeast: 500,
      quietMs: 3000,
    });
    const counts = new Map<string, number>();
    for (const r of records) {
      const id = r.headers![HEADERS.eventId]!.toString();
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.size).toBe(500);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(counts.keys())).toEqual(new Set(ok.receipts.map((r) => r.eventId)));
  }, 180_000);
});
