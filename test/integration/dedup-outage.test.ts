import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { waitFor } from '../../testkit/wait-for';

/**
 * The dedup store goes down under a running subscription (its Redis server
 * is stopped): the subscription neither delivers without a recorded outcome
 * nor crash-loops; it commits nothing, its lag grows on /metrics, and once
 * Redis is back every record is delivered, once.
 */
describe('a dedup store outage', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let redis: RedisServer;
  let producer: RunningProducer;
  let subscriber: RunningSubscriber;

  beforeAll(async () => {
    receiver = await startReceiver();
    redis = await startRedis();
    net = await createTestNetwork(
      [{ id: 'google' }, { id: 'dhs', kind: 'government' }],
      [
        {
          id: 'dhs-redis',
          org: 'dhs',
          url: `${receiver.url}/ok/dhs`,
          dedup: { store: 'redis', redisUrl: redis.url },
        },
      ],
    );
    producer = await net.startProducer('google');
    subscriber = await startSubscriber({
      config: net.config,
      org: 'dhs',
      logger: net.logger,
      port: 0,
      dataDir: net.dataDir,
    });
  });

  afterAll(async () => {
    await subscriber?.close();
    await producer?.close();
    await redis?.stop();
    await receiver?.close();
    await net?.close();
  });

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
  const deliveredValues = (): string[] =>
    receiver.requests
      .filter((r) => r.status === 200)
      .flatMap((r) => (JSON.parse(r.body) as { events: { indicator?: { value: string } }[] }).events)
      .map((e) => e.indicator!.value);
  const lag = async (): Promise<number> => {
    const text = await (await fetch(`${subscriber.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('threatrelay_consumer_lag{') && l.includes('subscription="dhs-redis"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('retries without committing while Redis is down, shows the lag, and delivers everything once after', async () => {
    await publish(['before-1.example.com', 'before-2.example.com']);
    await waitFor('deliveries before the outage', () => deliveredValues().length === 2);
    const joins = subscriber.consumer('dhs-redis').groupJoins;

    const port = redis.port;
    await redis.stop();
    const during = Array.from({ length: 5 }, (_, i) => `during-${i}.example.com`);
    await publish(during);
    await waitFor('lag to show the records waiting', async () => (await lag()) >= 5, 30_000, 500);
    expect(deliveredValues()).toHaveLength(2);

    redis = await startRedis({ port });
    await waitFor('deliveries after the outage', () => deliveredValues().length >= 7, 60_000);
    expect(deliveredValues().sort()).toEqual(
      ['before-1.example.com', 'before-2.example.com', ...during].sort(),
    );
    // It waited, heartbeating; it never crashed and rejoined its group.
    expect(subscriber.consumer('dhs-redis').groupJoins).toBe(joins);
  });
});
