import type { RunningProducer } from '../../services/producer/service';
import { loadEventCodec } from '../../services/contract/avro/codec';
import { kafkaNames } from '../../services/contract/names';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/** The thinnest real path: HTTP → producer → Kafka → subscriber → webhook receiver. */
describe('one indicator from producer to webhook', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let producer: RunningProducer;
  let subscriber: RunningSubscriber;

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-all', org: 'dhs', url: `${receiver.url}/ok` }],
    );
    producer = await net.startProducer('facebook');
    subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'dhs',
      logger: net.logger,
    });
  });

  afterAll(async () => {
    await subscriber?.close();
    await producer?.close();
    await receiver?.close();
    await net?.close();
  });

  const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${net.apiKeys.facebook}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('delivers exactly the posted indicators, decoded and canonical', async () => {
    const res = await post([
      {
        type: 'domain',
        value: 'Election-Results-Live[.]COM',
        category: 'disinformation',
        tlp: 'green',
        confidence: 80,
      },
      { type: 'url', value: 'hxxps://login-vote[.]example.org/verify#x', category: 'phishing', tlp: 'clear' },
      {
        type: 'social_account',
        value: '@Fake_Precinct_Bot',
        platform: 'twitter',
        category: 'coordinated_inauthentic_behavior',
        tlp: 'amber',
      },
    ]);
    expect(res.status).toBe(202);
    const receipt = (await res.json()) as { accepted: number; receipts: { eventId: string; key: string }[] };
    expect(receipt.accepted).toBe(3);

    const events = await waitFor('3 delivered events', () => {
      const all = receiver.accepted().flatMap((b) => (b as { events: { eventId: string }[] }).events);
      return all.length >= 3 ? all : undefined;
    });
    expect(events).toHaveLength(3);
    const byValue = Object.fromEntries(
      events.map((e) => [
        (e as unknown as { indicator: { value: string } }).indicator.value,
        e as Record<string, unknown>,
      ]),
    );
    expect(Object.keys(byValue).sort()).toEqual(
      ['election-results-live.com', 'https://login-vote.example.org/verify', 'fake_precinct_bot'].sort(),
    );
    expect(byValue['election-results-live.com']).toMatchObject({
      type: 'indicator.published',
      source: { org: 'facebook', submitter: 'facebook-secops' },
      indicator: { type: 'domain', category: 'disinformation', tlp: 'green', confidence: 80 },
    });
    expect(new Set(events.map((e) => e.eventId))).toEqual(new Set(receipt.receipts.map((r) => r.eventId)));
    // Every request was signed per Standard Webhooks.
    for (const r of receiver.requests) {
      expect(r.headers['webhook-id']).toMatch(/^msg_/);
      expect(r.headers['webhook-signature']).toMatch(/^v1,/);
    }
  });

  it.each([
    ['malformed JSON', '{"type": "domain",', {}, 400, 'TR_MALFORMED_JSON'],
    [
      'a wrong content type',
      'type=domain',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      'TR_UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an invalid body', { type: 'domain', value: 'example.com', tlp: 'purple' }, {}, 400, 'TR_VALIDATION'],
    [
      'an invalid value',
      { type: 'ipv4', value: '300.1.2.3', category: 'c2', tlp: 'clear' },
      {},
      400,
      'TR_INVALID_VALUE',
    ],
  ])('rejects %s with a precise 4xx and publishes nothing', async (_name, body, headers, status, code) => {
    const topics = kafkaNames(net.prefix);
    const all = [topics.community('clear'), topics.community('green'), topics.community('amber')];
    const before = await net.highWatermarks(all);
    const res = await post(body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    const json = (await res.json()) as {
      error: { code: string; message: string; details: { path: string }[] };
    };
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(10);
    if (code === 'TR_VALIDATION') {
      expect(json.error.details.map((d) => d.path).sort()).toEqual(['category', 'tlp']);
    }
    if (code === 'TR_INVALID_VALUE') expect(json.error.details[0]!.path).toBe('value');
    expect(await net.highWatermarks(all)).toBe(before);
  });

  it('writes records a subscriber can verify and decode', async () => {
    const codec = loadEventCodec();
    const records = await net.readAll(kafkaNames(net.prefix).community('green'), { atLeast: 1 });
    expect(records.length).toBeGreaterThan(0);
    const event = codec.decode(records[0]!.value!);
    expect(event.source.org).toBe('facebook');
  });
});
