import { Kafka, type RequestEvent } from 'kafkajs';
import type { RunningProducer } from '../../services/producer/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

/**
 * What one API request costs at the broker, counted in Kafka requests (the
 * kafkajs REQUEST instrumentation event of every client the producer makes),
 * not timed: a lone request is one transaction and nothing else. A metadata,
 * admin or readiness call per request, a second transaction, or a retried
 * Idempotency-Key that reaches Kafka again would each show up here.
 */
describe('producer: Kafka requests per API request', () => {
  let net: TestNetwork;
  let producer: RunningProducer;
  /** `client apiName` of every request the producer's clients sent, in order. */
  const sent: string[] = [];
  const restore: (() => void)[] = [];

  const record =
    (kind: string) =>
    (e: RequestEvent): void => {
      sent.push(`${kind} ${e.payload.apiName}`);
    };

  beforeAll(async () => {
    net = await createTestNetwork([{ id: 'facebook' }], []);
    // Only the clients created from here on, that is the producer's, are watched.
    const producerOf = Kafka.prototype.producer;
    const adminOf = Kafka.prototype.admin;
    Kafka.prototype.producer = function (this: Kafka, ...args: Parameters<Kafka['producer']>) {
      const p = producerOf.apply(this, args);
      p.on(p.events.REQUEST, record(args[0]?.transactionalId ? 'transactional' : 'producer'));
      return p;
    };
    Kafka.prototype.admin = function (this: Kafka, ...args: Parameters<Kafka['admin']>) {
      const a = adminOf.apply(this, args);
      a.on(a.events.REQUEST, record('admin'));
      return a;
    };
    restore.push(() => {
      Kafka.prototype.producer = producerOf;
      Kafka.prototype.admin = adminOf;
    });
    producer = await net.startProducer('facebook');
  });

  afterAll(async () => {
    for (const r of restore) r();
    await producer?.close();
    await net?.close();
  });

  const post = (value: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${net.apiKeys.facebook}`,
        ...headers,
      },
      body: JSON.stringify({ type: 'domain', value, category: 'phishing', tlp: 'green' }),
    });

  /** The Kafka requests `publish` caused, by API name. */
  const during = async (publish: () => Promise<Response>): Promise<Record<string, number>> => {
    const from = sent.length;
    const res = await publish();
    expect(res.status).toBe(202);
    await res.text();
    const counts: Record<string, number> = {};
    for (const r of sent.slice(from)) counts[r] = (counts[r] ?? 0) + 1;
    return counts;
  };

  /**
   * kafkajs asks for the transaction coordinator before adding partitions and
   * again before committing, and retries adding partitions while the broker
   * still finishes the producer's previous transaction: those two may vary.
   */
  const expectOneTransaction = (counts: Record<string, number>): void => {
    const { 'transactional GroupCoordinator': coordinator = 0, 'transactional AddPartitionsToTxn': add = 0 } =
      counts;
    expect(coordinator).toBeLessThanOrEqual(2);
    expect(add).toBeGreaterThanOrEqual(1);
    const rest = Object.fromEntries(
      Object.entries(counts).filter(
        ([k]) => k !== 'transactional GroupCoordinator' && k !== 'transactional AddPartitionsToTxn',
      ),
    );
    expect(rest).toEqual({ 'transactional Produce': 1, 'transactional EndTxn': 1 });
  };

  it('sends a lone request as one transaction and makes no other Kafka request', async () => {
    // Each producer of the pool connects on its first use: let every one of them be used once.
    for (let i = 0; i < 8; i++) expect((await post(`warm-${i}.example.com`)).status).toBe(202);
    for (let i = 0; i < 8; i++) expectOneTransaction(await during(() => post(`lone-${i}.example.com`)));
  });

  it('sends a request with an Idempotency-Key once, and its replay not at all', async () => {
    const headers = { 'idempotency-key': 'requests-count-1' };
    expectOneTransaction(await during(() => post('keyed.example.com', headers)));
    expect(await during(() => post('keyed.example.com', headers))).toEqual({});
  });
});
