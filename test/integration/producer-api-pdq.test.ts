import type { RunningProducer } from '../../services/producer/service';
import { loadEventCodec } from '../../services/contract/avro/codec';
import type { Indicator } from '../../services/contract/model';
import { kafkaNames } from '../../services/contract/names';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { JAVA } from '../fixtures/pdq-reference';

/**
 * PDQ reports through the producer API against a real broker: quality and
 * variants are carried into the record; every bad input is a precise 400
 * naming its field, and nothing of a refused request reaches Kafka.
 */
describe('producer API: pdq reports', () => {
  let net: TestNetwork;
  let producer: RunningProducer;
  const codec = loadEventCodec();
  const HASH = JAVA['bridge-1-original'];
  const VARIANTS = Object.values(JAVA).slice(1);

  beforeAll(async () => {
    // facebook keeps Meta's default floor (50); twitter raises its own to 80.
    net = await createTestNetwork([{ id: 'facebook' }, { id: 'twitter', pdq: { minQuality: 80 } }]);
    producer = await net.startProducer('facebook');
  });

  afterAll(async () => {
    await producer?.close();
    await net?.close();
  });

  const topics = (): ReturnType<typeof kafkaNames> => kafkaNames(net.prefix);
  const communityTopics = (): string[] =>
    (['clear', 'green', 'amber'] as const).map((t) => topics().community(t));

  const post = (
    body: unknown,
    to: RunningProducer = producer,
    key = net.apiKeys.facebook,
  ): Promise<Response> =>
    fetch(`${to.url}/v1/indicators`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  const pdq = (extra: Record<string, unknown> = {}, value = HASH): Record<string, unknown> => ({
    type: 'pdq',
    value,
    category: 'manipulated_media',
    tlp: 'green',
    ...extra,
  });

  async function published(res: Response): Promise<Indicator> {
    expect(res.status).toBe(202);
    const { receipts } = (await res.json()) as { receipts: { eventId: string }[] };
    const records = await net.readAll(topics().community('green'), { atLeast: 1 });
    const event = records.map((m) => codec.decode(m.value!)).find((e) => e.eventId === receipts[0]!.eventId);
    if (event?.payload.kind !== 'IndicatorPublished') throw new Error('the record is not in Kafka');
    return event.payload.indicator;
  }

  it('publishes quality and the dihedral variants in the record', async () => {
    const indicator = await published(await post(pdq({ quality: 100, variants: VARIANTS })));
    expect(indicator.quality).toBe(100);
    expect(indicator.variants).toEqual(VARIANTS);
    expect(indicator.value).toBe(HASH);
  });

  it('stores uppercase variants in canonical lowercase', async () => {
    const value = JAVA['bridge-5-flipx'];
    const indicator = await published(await post(pdq({ variants: [VARIANTS[1]!.toUpperCase()] }, value)));
    expect(indicator.variants).toEqual([VARIANTS[1]]);
    expect(indicator.quality).toBeNull();
  });

  it('accepts quality exactly at the org’s floor', async () => {
    const indicator = await published(await post(pdq({ quality: 50 }, JAVA['bridge-6-flipy'])));
    expect(indicator.quality).toBe(50);
  });

  describe('refuses bad input with a 400 naming the field, publishing nothing', () => {
    let before: number;
    beforeEach(async () => {
      before = await net.highWatermarks(communityTopics());
    });
    afterEach(async () => {
      expect(await net.highWatermarks(communityTopics())).toBe(before);
    });

    async function refused(
      body: unknown,
      to?: RunningProducer,
      key?: string,
    ): Promise<{ path: string; message: string }[]> {
      const res = await post(body, to, key);
      expect(res.status).toBe(400);
      const error = (
        (await res.json()) as { error: { code: string; details: { path: string; message: string }[] } }
      ).error;
      expect(error.code).toBe('TR_VALIDATION');
      return error.details;
    }

    it('quality below the org’s default floor of 50', async () => {
      expect(await refused(pdq({ quality: 49 }))).toEqual([
        { path: 'quality', message: "is 49, below facebook's floor of 50 (pdq.minQuality)" },
      ]);
    });

    it('quality below a floor the org raised, by item in a batch', async () => {
      const twitter = await net.startProducer('twitter');
      try {
        const details = await refused(
          [pdq({ quality: 90 }), pdq({ quality: 79 })],
          twitter,
          net.apiKeys.twitter,
        );
        expect(details).toEqual([
          { path: '1.quality', message: "is 79, below twitter's floor of 80 (pdq.minQuality)" },
        ]);
      } finally {
        await twitter.close();
      }
    });

    it('quality over 100 or not an integer', async () => {
      expect((await refused(pdq({ quality: 101 }))).map((d) => d.path)).toEqual(['quality']);
      expect((await refused(pdq({ quality: 60.5 }))).map((d) => d.path)).toEqual(['quality']);
    });

    it('an all-zero hash', async () => {
      expect(await refused(pdq({}, '0'.repeat(64)))).toEqual([
        { path: 'value', message: 'is degenerate: every bit is 0' },
      ]);
    });

    it('an all-one hash, in either case', async () => {
      expect(await refused(pdq({}, 'F'.repeat(64)))).toEqual([
        { path: 'value', message: 'is degenerate: every bit is 1' },
      ]);
    });

    it('a variant of the wrong length', async () => {
      const details = await refused(pdq({ variants: [VARIANTS[0]!.slice(1)] }));
      expect(details).toEqual([{ path: 'variants.0', message: 'must be a PDQ hash: 64 hex characters' }]);
    });

    it('a variant that is not hex', async () => {
      const details = await refused(pdq({ variants: [`${VARIANTS[0]!.slice(1)}g`] }));
      expect(details.map((d) => d.path)).toEqual(['variants.0']);
    });

    it('a degenerate variant', async () => {
      expect(await refused(pdq({ variants: [VARIANTS[0], '0'.repeat(64)] }))).toEqual([
        { path: 'variants.1', message: 'is degenerate: every bit is 0' },
      ]);
    });

    it('more than 7 variants', async () => {
      const eight = [...VARIANTS, '0123456789abcdef'.repeat(4)];
      const details = await refused(pdq({ variants: eight }));
      expect(details).toEqual([
        { path: 'variants', message: 'must be at most 7 (the dihedral transforms of an image)' },
      ]);
    });

    it('a variant equal to the hash, whatever its case', async () => {
      expect(await refused(pdq({ variants: [HASH.toUpperCase()] }))).toEqual([
        { path: 'variants.0', message: 'equals the hash itself' },
      ]);
    });

    it('a variant given twice', async () => {
      expect(await refused(pdq({ variants: [VARIANTS[2], VARIANTS[3], VARIANTS[2]] }))).toEqual([
        { path: 'variants.2', message: 'repeats variants.0' },
      ]);
    });

    it('quality or variants on another type', async () => {
      const body = { type: 'domain', value: 'a.example.com', category: 'disinformation', tlp: 'green' };
      expect(await refused({ ...body, quality: 90, variants: [VARIANTS[0]] })).toEqual([
        { path: 'quality', message: 'is only allowed for type pdq, not domain' },
        { path: 'variants', message: 'are only allowed for type pdq, not domain' },
      ]);
    });
  });
});
