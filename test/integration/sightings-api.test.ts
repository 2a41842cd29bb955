import { loadEventCodec } from '../../services/contract/avro/codec';
import { kafkaNames } from '../../services/contract/names';
import type { Sighting } from '../../services/contract/model';
import type { RunningProducer } from '../../services/producer/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

/**
 * `POST /v1/sightings` on a real broker: a signed record of the sighting org
 * on the topic of its TLP and on the direct topic of every org it addresses;
 * the same answer whether or not anyone reported the key.
 */
describe('POST /v1/sightings', () => {
  let net: TestNetwork;
  let fbi: RunningProducer;
  const codec = loadEventCodec();

  beforeAll(async () => {
    net = await createTestNetwork([{ id: 'facebook' }, { id: 'fbi', kind: 'government' as const }], [], {
      extraApiKeys: [{ name: 'fbi-publisher', org: 'fbi', scopes: ['publish', 'revoke'] }],
    });
    fbi = await net.startProducer('fbi');
  });

  afterAll(async () => {
    await fbi?.close();
    await net?.close();
  });

  const sight = (body: unknown, key = net.apiKeys.fbi): Promise<Response> =>
    fetch(`${fbi.url}/v1/sightings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('writes the sighting on the topic of its TLP and on the direct topic of each org it addresses', async () => {
    const res = await sight({
      type: 'domain',
      value: 'Vote-Count-Live[.]COM',
      kind: 'true_positive',
      count: 3,
      where: 'county mail gateway',
      tlp: 'amber',
      to: ['facebook'],
    });
    expect(res.status).toBe(202);
    const { receipts } = (await res.json()) as {
      receipts: { key: string; eventId: string; records: unknown[] }[];
    };
    const names = kafkaNames(net.prefix);
    for (const topic of [names.community('amber'), names.direct('facebook')]) {
      const [record] = (await net.readAll(topic, { atLeast: 1 })).filter(
        (m) => m.key?.toString() === receipts[0]!.key,
      );
      const event = codec.decode(record!.value!);
      expect(event.source.org).toBe('fbi');
      expect(event.payload).toMatchObject<Partial<Sighting>>({
        kind: 'Sighting',
        sightingKind: 'true_positive',
        count: 3,
        where: 'county mail gateway',
        tlp: 'amber',
        to: ['facebook'],
      });
    }
    // Canonicalized like a report: the key of vote-count-live.com.
    expect(receipts[0]!.records).toHaveLength(2);
  });

  it('answers a sighting of a key nobody reported exactly as one of a reported key', async () => {
    const shape = async (value: string): Promise<unknown> => {
      const res = await sight({ type: 'domain', value, kind: 'seen' });
      const body = (await res.json()) as { accepted: number; receipts: { records: unknown[] }[] };
      return { status: res.status, accepted: body.accepted, records: body.receipts[0]!.records.length };
    };
    expect(await shape('never-reported.example.org')).toEqual(await shape('vote-count-live.com'));
  });

  it('refuses a key without the sight scope with 403', async () => {
    const res = await sight(
      { type: 'domain', value: 'x.example.com', kind: 'seen' },
      net.apiKeys['fbi-publisher'],
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'TR_FORBIDDEN' } });
  });

  const badPaths = async (body: unknown): Promise<string[]> => {
    const res = await sight(body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { details: { path: string }[] } };
    return [...new Set(error.details.map((d) => d.path))].sort();
  };

  it('names every field outside its bounds in one 400', async () => {
    expect(await badPaths({ key: 'f'.repeat(64), kind: 'maybe', count: 0, note: '' })).toEqual([
      'count',
      'kind',
      'note',
    ]);
  });

  it('names every field that contradicts another in one 400', async () => {
    expect(await badPaths({ key: 'f'.repeat(64), type: 'domain', kind: 'seen', tlp: 'red' })).toEqual([
      'key',
      'recipients',
      'value',
    ]);
  });

  it('refuses an addressee that is no org of the network', async () => {
    const res = await sight({ type: 'domain', value: 'x.example.com', kind: 'seen', to: ['nobody'] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { details: [{ path: 'to.0' }] } });
  });
});
