import type { RunningProducer } from '../../services/producer/service';
import { kafkaNames } from '../../services/contract/names';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { oraclePython, stixValidationErrors } from '../../testkit/stix-validator';
import { waitFor } from '../../testkit/wait-for';

/**
 * MISP warninglists end to end, with the bundled snapshot: a real producer
 * API, a real broker, a real subscriber and receiver. facebook informs (and
 * excepts two values), google rejects RFC 1918 space, fbi receives.
 */

interface Warning {
  list: string;
  version: number;
}
interface Receipt {
  eventId: string;
  warnings?: Warning[];
}
interface Delivered {
  eventId: string;
  indicator?: { value: string; warnings?: Warning[] };
}

const lists = (warnings: Warning[] | undefined): string[] => (warnings ?? []).map((w) => w.list);

describe('warninglists', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let facebook: RunningProducer;
  let google: RunningProducer;
  let fbi: RunningSubscriber;

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [
        { id: 'facebook', warninglists: { exceptions: ['8.8.4.4', '10.9.9.9'] } },
        { id: 'google', warninglists: { reject: ['rfc1918'] } },
        { id: 'fbi', kind: 'government' },
      ],
      [
        { id: 'fbi-all', org: 'fbi', url: `${receiver.url}/ok/all` },
        {
          id: 'fbi-no-shorteners',
          org: 'fbi',
          url: `${receiver.url}/ok/no-shorteners`,
          filter: { types: ['url'], warninglists: { drop: ['url-shortener'] } },
        },
        {
          id: 'fbi-stix',
          org: 'fbi',
          url: `${receiver.url}/ok/stix`,
          format: 'stix21',
          filter: { types: ['ipv4'] },
        },
      ],
    );
    facebook = await net.startProducer('facebook');
    google = await net.startProducer('google');
    fbi = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'fbi',
      logger: net.logger,
      port: 0,
    });
  });

  afterAll(async () => {
    await fbi?.close();
    await facebook?.close();
    await google?.close();
    await receiver?.close();
    await net?.close();
  });

  const post = (producer: RunningProducer, org: string, body: unknown): Promise<Response> =>
    fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const indicator = (type: string, value: string): Record<string, unknown> => ({
    type,
    value,
    category: 'c2',
    tlp: 'green',
  });

  const published = async (body: unknown): Promise<Receipt[]> => {
    const res = await post(facebook, 'facebook', body);
    expect(res.status).toBe(202);
    return ((await res.json()) as { receipts: Receipt[] }).receipts;
  };

  const delivered = (path: string): Delivered[] =>
    receiver.requests
      .filter((r) => r.status < 300 && r.path.startsWith(path))
      .flatMap((r) => (JSON.parse(r.body) as { events?: Delivered[] }).events ?? []);

  it('lists each item its warnings on the receipt, and none for a value on no list', async () => {
    const receipts = await published([
      indicator('ipv4', '10.1.2.3'),
      indicator('domain', 'fresh-campaign-7f3a.example.net'),
    ]);
    expect(lists(receipts[0]!.warnings)).toEqual(['rfc1918', 'rfc5735']);
    expect(receipts[0]!.warnings).toContainEqual({ list: 'rfc1918', version: 5 });
    expect(receipts[1]!.warnings).toEqual([]);
  });

  it('delivers the warnings the reader found with the event', async () => {
    const [receipt] = await published(
      indicator('sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    );
    const event = await waitFor('fbi-all to get the empty-file hash', () =>
      delivered('/ok/all').find((e) => e.eventId === receipt!.eventId),
    );
    expect(lists(event.indicator!.warnings)).toEqual(['empty-hashes']);
  });

  it('refuses with a 400 naming the item and the list when the org rejects the list, and publishes nothing', async () => {
    const topics = [kafkaNames(net.prefix).community('green')];
    const before = await net.highWatermarks(topics);
    const res = await post(google, 'google', [
      indicator('domain', 'ok-domain-1.example.net'),
      indicator('ipv4', '192.168.7.7'),
    ]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; details: { path: string; message: string }[] };
    };
    expect(body.error.code).toBe('TR_INVALID_VALUE');
    expect(body.error.details).toEqual([{ path: '1.value', message: expect.stringContaining('"rfc1918"') }]);
    expect(await net.highWatermarks(topics)).toBe(before);
  });

  it('accepts the same value from an org that only informs', async () => {
    const [receipt] = await published(indicator('ipv4', '192.168.7.7'));
    expect(lists(receipt!.warnings)).toContain('rfc1918');
  });

  it('never warns the publisher about a value on its exceptions', async () => {
    const [receipt] = await published(indicator('ipv4', '8.8.4.4'));
    expect(receipt!.warnings).toEqual([]);
  });

  it('adds the warning a source left out: the reader checks with its own snapshot', async () => {
    // 10.9.9.9 is on facebook's exceptions, so its receipt (and record) claim nothing.
    const [receipt] = await published(indicator('ipv4', '10.9.9.9'));
    expect(receipt!.warnings).toEqual([]);
    const event = await waitFor('fbi-all to get 10.9.9.9', () =>
      delivered('/ok/all').find((e) => e.eventId === receipt!.eventId),
    );
    expect(lists(event.indicator!.warnings)).toEqual(['rfc1918', 'rfc5735']);
  });

  it('drops what a subscription asked to drop by list, counted with the list as reason', async () => {
    const [shortened, plain] = await published([
      indicator('url', 'https://bit.ly/3AbCdEf'),
      indicator('url', 'https://fresh-campaign-7f3a.example.net/login'),
    ]);
    expect(lists(shortened!.warnings)).toContain('url-shortener');
    // prom-client writes labels in the order they were first given: find the line, not a spelling of it.
    const dropped = (text: string): boolean =>
      text
        .split('\n')
        .some(
          (line) =>
            line.startsWith('threatrelay_filtered_total{') &&
            line.includes('subscription="fbi-no-shorteners"') &&
            line.includes('reason="warninglist:url-shortener"') &&
            line.endsWith(' 1'),
        );
    await waitFor('the drop to be counted', async () =>
      dropped(await (await fetch(`${fbi.url}/metrics`)).text()),
    );
    await waitFor('the plain URL to reach fbi-no-shorteners', () =>
      delivered('/ok/no-shorteners').some((e) => e.eventId === plain!.eventId),
    );
    expect(delivered('/ok/no-shorteners').some((e) => e.eventId === shortened!.eventId)).toBe(false);
    // Another subscription without the filter still gets it, warned.
    const kept = await waitFor('fbi-all to get the shortened URL', () =>
      delivered('/ok/all').find((e) => e.eventId === shortened!.eventId),
    );
    expect(lists(kept.indicator!.warnings)).toContain('url-shortener');
  });

  it('labels warned STIX indicators in bundles the OASIS validator accepts', async () => {
    const [receipt] = await published(indicator('ipv4', '100.64.3.3'));
    const bundle = await waitFor(
      'the STIX bundle with 100.64.3.3',
      () =>
        receiver.requests
          .filter((r) => r.path.startsWith('/ok/stix') && r.body.includes(receipt!.eventId))
          .map((r) => JSON.parse(r.body) as { objects: { type: string; labels?: string[] }[] })[0],
    );
    const object = bundle.objects.find(
      (o) => o.type === 'indicator' && JSON.stringify(o).includes(receipt!.eventId),
    );
    expect(object!.labels).toContain('warninglist:rfc6598:5');
    expect(stixValidationErrors(oraclePython(), [bundle])).toEqual([[]]);
  });
});
