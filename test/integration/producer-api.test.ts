import { ROUTES } from '../../services/producer/http/app';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import { loadEventCodec } from '../../services/contract/avro/codec';
import { HEADERS } from '../../services/contract/definitions';
import { createLogger } from '../../services/platform/logger';
import { kafkaNames } from '../../services/contract/names';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

/** The producer API against a real broker: every status code, routing, idempotency, revocation. */
describe('producer API', () => {
  let net: TestNetwork;
  let producer: RunningProducer;
  const codec = loadEventCodec();

  beforeAll(async () => {
    net = await createTestNetwork(
      [
        { id: 'facebook' },
        { id: 'twitter' },
        { id: 'fbi', kind: 'government' },
        { id: 'dhs', kind: 'government' },
      ],
      [],
      {
        producer: { bodyLimitBytes: 64 * 1024, maxBatchItems: 50 },
        extraApiKeys: [
          { name: 'facebook-readonly-bot', org: 'facebook', scopes: ['revoke'] },
          { name: 'facebook-publisher', org: 'facebook', scopes: ['publish'] },
        ],
      },
    );
    producer = await net.startProducer('facebook');
  });

  afterAll(async () => {
    await producer?.close();
    await net?.close();
  });

  const topics = (): ReturnType<typeof kafkaNames> => kafkaNames(net.prefix);
  const allTopics = (): string[] => [
    topics().community('clear'),
    topics().community('green'),
    topics().community('amber'),
    ...['facebook', 'twitter', 'fbi', 'dhs'].map((o) => topics().direct(o)),
  ];

  const post = (
    path: string,
    body: unknown,
    {
      key = net.apiKeys.facebook,
      headers = {},
    }: { key?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Response> =>
    fetch(`${producer.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...headers,
      },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });

  const domain = (value: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'domain',
    value,
    category: 'disinformation',
    tlp: 'green',
    ...extra,
  });

  async function expectError(
    res: Response,
    status: number,
    code: string,
  ): Promise<{ path: string; message: string }[]> {
    expect(res.status).toBe(status);
    const body = (await res.json()) as {
      error: { code: string; details: { path: string; message: string }[] };
    };
    expect(body.error.code).toBe(code);
    return body.error.details;
  }

  describe('refuses bad requests without publishing anything', () => {
    let before: number;
    beforeEach(async () => {
      before = await net.highWatermarks(allTopics());
    });
    afterEach(async () => {
      expect(await net.highWatermarks(allTopics())).toBe(before);
    });

    it('401 without an API key', async () => {
      await expectError(
        await post('/v1/indicators', domain('a.example.com'), { key: null }),
        401,
        'TR_UNAUTHENTICATED',
      );
    });

    it('401 with an unknown API key', async () => {
      await expectError(
        await post('/v1/indicators', domain('a.example.com'), { key: 'nope' }),
        401,
        'TR_UNAUTHENTICATED',
      );
    });

    it('401 for another org’s key: a twitter key cannot publish through facebook’s producer', async () => {
      await expectError(
        await post('/v1/indicators', domain('a.example.com'), { key: net.apiKeys.twitter }),
        401,
        'TR_UNAUTHENTICATED',
      );
    });

    it('403 for a key without the publish scope', async () => {
      await expectError(
        await post('/v1/indicators', domain('a.example.com'), { key: net.apiKeys['facebook-readonly-bot'] }),
        403,
        'TR_FORBIDDEN',
      );
    });

    it('403 for a key without the revoke scope', async () => {
      const res = await post(
        '/v1/indicators/revoke',
        { type: 'domain', value: 'a.example.com', tlp: 'green', reason: 'false positive' },
        { key: net.apiKeys['facebook-publisher'] },
      );
      await expectError(res, 403, 'TR_FORBIDDEN');
    });

    it('400 listing every failing item by index and path', async () => {
      const details = await expectError(
        await post('/v1/indicators', [
          domain('ok.example.com'),
          { type: 'domain', value: 'x.example.com', tlp: 'purple' },
          domain('y.example.com', { tlp: 'red' }),
          domain('z.example.com', { recipients: ['fbi'] }),
        ]),
        400,
        'TR_VALIDATION',
      );
      expect(details.map((d) => d.path).sort()).toEqual([
        '1.category',
        '1.tlp',
        '2.recipients',
        '3.recipients',
      ]);
    });

    it('400 for a value that is not valid for its type, with the reason', async () => {
      const details = await expectError(
        await post('/v1/indicators', [
          domain('ok.example.com'),
          { type: 'sha256', value: 'abc', category: 'malware', tlp: 'clear' },
        ]),
        400,
        'TR_INVALID_VALUE',
      );
      expect(details[0]!.path).toBe('1.value');
      expect(details[0]!.message).toMatch(/64/);
    });

    it('400 for recipients that are not orgs of the network', async () => {
      const details = await expectError(
        await post('/v1/indicators', domain('r.example.com', { tlp: 'red', recipients: ['fbi', 'kgb'] })),
        400,
        'TR_VALIDATION',
      );
      expect(details).toEqual([
        { path: 'recipients.1', message: expect.stringMatching(/unknown org "kgb"/) },
      ]);
    });

    it('400 for malformed JSON', async () => {
      await expectError(await post('/v1/indicators', '[{"type":'), 400, 'TR_MALFORMED_JSON');
    });

    it('400 for a batch over the configured maximum', async () => {
      const many = Array.from({ length: 51 }, (_, i) => domain(`d${i}.example.com`));
      await expectError(await post('/v1/indicators', many), 400, 'TR_VALIDATION');
    });

    it('500 distinct unknown types add at most one metric series, past the batch limit too', async () => {
      const rejectedSeries = async (): Promise<string[]> =>
        (await (await fetch(`${producer.url}/metrics`)).text())
          .split('\n')
          .filter((l) => l.startsWith('threatrelay_indicators_rejected_total{'))
          .map((l) => l.split(' ')[0]!);
      const before = await rejectedSeries();
      // Ten requests of 50 (at the limit) and one of 500 (past it), each type new.
      for (let r = 0; r < 10; r++) {
        const items = Array.from({ length: 50 }, (_, i) =>
          domain('x.example.com', { type: `bogus_${r}_${i}` }),
        );
        await expectError(await post('/v1/indicators', items), 400, 'TR_VALIDATION');
      }
      const past = Array.from({ length: 500 }, (_, i) => domain('x.example.com', { type: `past_${i}` }));
      await expectError(await post('/v1/indicators', past), 400, 'TR_VALIDATION');
      const after = await rejectedSeries();
      const added = after.filter((s) => !before.includes(s));
      expect(added.length).toBeLessThanOrEqual(1);
      expect(after.some((s) => s.includes('type="other"') && s.includes('reason="TR_VALIDATION"'))).toBe(
        true,
      );
      expect(after.join('\n')).not.toMatch(/bogus_|past_/);
    });

    it('400 naming the field for invalid UTF-8 in a string, never replaced with U+FFFD', async () => {
      const bytes = (...parts: (string | number[])[]): Uint8Array =>
        Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
      const one = bytes(
        '{"type":"domain","value":"utf8.example.com","category":"spam","tlp":"green","description":"caf',
        [0xe9],
        '"}',
      );
      const details = await expectError(await post('/v1/indicators', one), 400, 'TR_MALFORMED_JSON');
      expect(details.map((d) => d.path)).toEqual(['description']);
      const batch = bytes(
        `[${JSON.stringify(domain('utf8-ok.example.com'))},{"type":"domain","value":"utf8-2.example.com","category":"spam","tlp":"green","tags":["ok","`,
        [0xc3, 0x28],
        '"]}]',
      );
      const batchDetails = await expectError(await post('/v1/indicators', batch), 400, 'TR_MALFORMED_JSON');
      expect(batchDetails.map((d) => d.path)).toEqual(['1.tags.1']);
    });

    it('400 naming the header for an Idempotency-Key over 200 characters', async () => {
      const details = await expectError(
        await post('/v1/indicators', domain('long-key.example.com'), {
          headers: { 'idempotency-key': 'k'.repeat(201) },
        }),
        400,
        'TR_VALIDATION',
      );
      expect(details).toEqual([
        { path: '(header) Idempotency-Key', message: expect.stringContaining('200') },
      ]);
    });

    it('413 for a body over the configured limit', async () => {
      const big = domain('big.example.com', { description: 'x'.repeat(70 * 1024) });
      await expectError(await post('/v1/indicators', big), 413, 'TR_PAYLOAD_TOO_LARGE');
    });

    it('415 for a body that is not JSON', async () => {
      const res = await post('/v1/indicators', 'type=domain', { headers: { 'content-type': 'text/plain' } });
      await expectError(res, 415, 'TR_UNSUPPORTED_MEDIA_TYPE');
    });

    it('404 for an unknown route and 405 with Allow for a wrong method', async () => {
      await expectError(await fetch(`${producer.url}/v1/nothing`), 404, 'TR_NOT_FOUND');
      const res = await fetch(`${producer.url}/v1/indicators`);
      expect(res.headers.get('allow')).toBe('POST');
      await expectError(res, 405, 'TR_METHOD_NOT_ALLOWED');
    });
  });

  it('routes each TLP level to its topics and nowhere else', async () => {
    const before = Object.fromEntries(
      await Promise.all(allTopics().map(async (t) => [t, await net.highWatermarks([t])])),
    );
    const res = await post('/v1/indicators', [
      domain('tlp-clear.example.com', { tlp: 'clear' }),
      domain('tlp-green.example.com', { tlp: 'green' }),
      domain('tlp-amber.example.com', { tlp: 'amber' }),
      domain('tlp-strict.example.com', { tlp: 'amber+strict', recipients: ['fbi', 'dhs'] }),
      domain('tlp-red.example.com', { tlp: 'red', recipients: ['fbi'] }),
    ]);
    expect(res.status).toBe(202);
    const { receipts } = (await res.json()) as { receipts: { records: { topic: string }[] }[] };
    expect(receipts.map((r) => r.records.map((x) => x.topic).sort())).toEqual([
      [topics().community('clear')],
      [topics().community('green')],
      [topics().community('amber')],
      [topics().direct('dhs'), topics().direct('fbi')],
      [topics().direct('fbi')],
    ]);
    const valuesIn = async (topic: string): Promise<string[]> => {
      const records = await net.readAll(topic);
      return records
        .map((m) => codec.decode(m.value!))
        .filter((e) => e.producedAt >= new Date(Date.now() - 60_000).toISOString())
        .map((e) => (e.payload.kind === 'IndicatorPublished' ? e.payload.indicator.value : ''))
        .filter((v) => v.startsWith('tlp-'));
    };
    expect(await valuesIn(topics().direct('fbi'))).toEqual(
      expect.arrayContaining(['tlp-strict.example.com', 'tlp-red.example.com']),
    );
    expect(await valuesIn(topics().direct('dhs'))).toEqual(['tlp-strict.example.com']);
    expect(await valuesIn(topics().direct('twitter'))).toEqual([]);
    expect(await valuesIn(topics().community('amber'))).toEqual(['tlp-amber.example.com']);
    expect(await net.highWatermarks([topics().direct('twitter')])).toBe(before[topics().direct('twitter')]);
  });

  it('takes source.org from the key, whatever the body says, and signs as that org', async () => {
    const res = await post('/v1/indicators', {
      ...domain('spoof.example.com', { tlp: 'clear' }),
      source: { org: 'twitter' },
    });
    await expectError(res, 400, 'TR_VALIDATION');
    const ok = await post('/v1/indicators', domain('mine.example.com', { tlp: 'clear' }));
    expect(ok.status).toBe(202);
    const records = await net.readAll(topics().community('clear'), { atLeast: 1 });
    const mine = records.find(
      (m) => codec.decode(m.value!).eventId === m.headers![HEADERS.eventId]!.toString(),
    )!;
    expect(codec.decode(mine.value!).source).toEqual({ org: 'facebook', submitter: 'facebook-secops' });
    expect(mine.headers![HEADERS.sourceOrg]!.toString()).toBe('facebook');
  });

  it('commits concurrent requests together (group commit), each answered with its own records', async () => {
    const transactions = async (): Promise<number> => {
      const text = await (await fetch(`${producer.url}/metrics`)).text();
      return Number(/^threatrelay_transaction_requests_count\S* (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await transactions();
    const values = Array.from({ length: 64 }, (_, i) => `group-${i}.example.com`);
    const answers = await Promise.all(values.map((v) => post('/v1/indicators', domain(v, { tlp: 'clear' }))));
    expect(answers.map((r) => r.status)).toEqual(values.map(() => 202));
    const receipts = await Promise.all(
      answers.map(
        async (r) =>
          (
            (await r.json()) as {
              receipts: { index: number; eventId: string; records: { offset: string }[] }[];
            }
          ).receipts,
      ),
    );
    // Each request gets exactly its own receipt, at index 0, with its own offset.
    expect(receipts.every((r) => r.length === 1 && r[0]!.index === 0 && r[0]!.records.length === 1)).toBe(
      true,
    );
    const ids = receipts.map((r) => r[0]!.eventId);
    expect(new Set(ids).size).toBe(64);
    // Every event is in Kafka once, at the offset its receipt names.
    const inKafka = await net.readAll(topics().community('clear'), { atLeast: 64 });
    for (const [i, r] of receipts.entries()) {
      const at = inKafka.filter((m) => m.headers![HEADERS.eventId]!.toString() === r[0]!.eventId);
      expect([values[i], at.map((m) => m.offset)]).toEqual([values[i], [r[0]!.records[0]!.offset]]);
    }
    // 64 requests against a pool of 4 transactional producers: fewer transactions than requests.
    expect((await transactions()) - before).toBeLessThan(64);
  });

  it('answers a retried request with the same Idempotency-Key without publishing again', async () => {
    const body = [domain('idem-1.example.com'), domain('idem-2.example.com')];
    const headers = { 'idempotency-key': `feed-${Date.now()}` };
    const green = [topics().community('green')];
    const before = await net.highWatermarks(green);
    const first = (await (await post('/v1/indicators', body, { headers })).json()) as {
      receipts: { eventId: string }[];
    };
    const afterFirst = await net.highWatermarks(green);
    expect(afterFirst).toBeGreaterThan(before);
    const retry = await post('/v1/indicators', body, { headers });
    expect(retry.status).toBe(202);
    const second = (await retry.json()) as { receipts: { eventId: string }[] };
    expect(second).toEqual(first);
    expect(await net.highWatermarks(green)).toBe(afterFirst);

    const other = (await (
      await post('/v1/indicators', body, { headers: { 'idempotency-key': 'another' } })
    ).json()) as {
      receipts: { eventId: string }[];
    };
    expect(other.receipts[0]!.eventId).not.toBe(first.receipts[0]!.eventId);
  });

  it('scopes an Idempotency-Key by org, as eventIds are: another key of the org retrying gets the first answer', async () => {
    const headers = { 'idempotency-key': `shared-${Date.now()}` };
    const body = [domain('k1.example.com'), domain('k2.example.com')];
    const green = [topics().community('green')];
    const first = await post('/v1/indicators', body, { headers });
    expect(first.status).toBe(202);
    const written = await net.highWatermarks(green);
    const other = await post('/v1/indicators', body, { headers, key: net.apiKeys['facebook-publisher'] });
    expect(other.status).toBe(202);
    // The same eventIds: without the org scope these would be written again and dropped by every subscriber.
    expect(await other.json()).toEqual(await first.json());
    expect(await net.highWatermarks(green)).toBe(written);
  });

  it('422 when another key of the org reuses an Idempotency-Key with a different body', async () => {
    const headers = { 'idempotency-key': `shared-other-${Date.now()}` };
    expect((await post('/v1/indicators', domain('k3.example.com'), { headers })).status).toBe(202);
    const other = await post('/v1/indicators', domain('k4.example.com'), {
      headers,
      key: net.apiKeys['facebook-publisher'],
    });
    await expectError(other, 422, 'TR_IDEMPOTENCY_CONFLICT');
  });

  it('hashes a STIX bundle holding an object nested 10,000 deep under an Idempotency-Key', async () => {
    const depth = 10_000;
    const indicator = {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--${crypto.randomUUID()}`,
      created: '2026-10-27T14:05:00.000Z',
      modified: '2026-10-27T14:05:00.000Z',
      pattern: "[domain-name:value = 'deep-bundle.example.com']",
      pattern_type: 'stix',
      valid_from: '2026-10-27T14:05:00.000Z',
      object_marking_refs: ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb'],
    };
    const text =
      `{"type":"bundle","id":"bundle--${crypto.randomUUID()}","objects":[${JSON.stringify(indicator)},` +
      `{"type":"x-deep","id":"x-deep--${crypto.randomUUID()}","nested":${'['.repeat(depth)}${']'.repeat(depth)}}]}`;
    const headers = { 'idempotency-key': `deep-${Date.now()}` };
    const first = await post('/v1/stix', text, { headers });
    expect(first.status).toBe(202);
    const again = await post('/v1/stix', text, { headers });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(await first.json());
  });

  it('422 when an Idempotency-Key is reused with a different body', async () => {
    const headers = { 'idempotency-key': `conflict-${Date.now()}` };
    expect((await post('/v1/indicators', domain('c1.example.com'), { headers })).status).toBe(202);
    await expectError(
      await post('/v1/indicators', domain('c2.example.com'), { headers }),
      422,
      'TR_IDEMPOTENCY_CONFLICT',
    );
  });

  it('publishes a revocation by value and by key, shared as widely as the original', async () => {
    const published = await post(
      '/v1/indicators',
      domain('Revoke-Me[.]example.com', { tlp: 'red', recipients: ['fbi'] }),
    );
    const { receipts } = (await published.json()) as { receipts: { key: string }[] };
    const byValue = await post('/v1/indicators/revoke', {
      type: 'domain',
      value: 'revoke-me.example.com',
      tlp: 'red',
      recipients: ['fbi'],
      reason: 'false positive: a county election office',
    });
    expect(byValue.status).toBe(202);
    const byKey = await post('/v1/indicators/revoke', {
      key: receipts[0]!.key,
      tlp: 'red',
      recipients: ['fbi'],
      reason: 'again, by key',
    });
    expect(byKey.status).toBe(202);
    const revocations = (await net.readAll(topics().direct('fbi'), { atLeast: 3 }))
      .map((m) => codec.decode(m.value!).payload)
      .filter((p) => p.kind === 'IndicatorRevoked');
    expect(revocations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: receipts[0]!.key,
          value: 'revoke-me.example.com',
          type: 'domain',
          tlp: 'red',
        }),
        expect.objectContaining({ key: receipts[0]!.key, value: null, type: null, reason: 'again, by key' }),
      ]),
    );
    await expectError(
      await post('/v1/indicators/revoke', {
        key: receipts[0]!.key,
        type: 'domain',
        value: 'x.com',
        tlp: 'red',
        recipients: ['fbi'],
        reason: 'r',
      }),
      400,
      'TR_VALIDATION',
    );
  });

  it('serves an OpenAPI 3.1 document that describes exactly its routes', async () => {
    const doc = (await (await fetch(`${producer.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: {
        schemas: { Indicator: { oneOf: { properties: Record<string, unknown>; required: string[] }[] } };
      };
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.fromEntries(
      Object.entries(doc.paths).map(([path, ops]) => [
        path,
        Object.keys(ops)
          .map((m) => m.toUpperCase())
          .sort(),
      ]),
    );
    expect(documented).toEqual(
      Object.fromEntries(Object.entries(ROUTES).map(([p, m]) => [p, [...m].sort()])),
    );
    // One branch per rule combination: platform for social_account/hashtag only, recipients for amber+strict/red only.
    const required = doc.components.schemas.Indicator.oneOf.map((v) => [...v.required].sort().join(','));
    expect(required.sort()).toEqual([
      'category,platform,recipients,tlp,type,value',
      'category,platform,tlp,type,value',
      'category,recipients,tlp,type,value',
      'category,tlp,type,value',
    ]);
    expect(
      (doc.components.schemas.Indicator.oneOf[0]!.properties.recipients as { items: unknown }).items,
    ).toEqual({
      type: 'string',
      enum: ['facebook', 'twitter', 'fbi', 'dhs'],
    });
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${producer.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${producer.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${producer.url}/metrics`)).text();
    expect(metrics).toMatch(/threatrelay_indicators_accepted_total\{org="facebook",type="domain"[^}]*\} \d+/);
    expect(metrics).toMatch(
      /threatrelay_indicators_rejected_total\{org="facebook",type="sha256",reason="TR_INVALID_VALUE"/,
    );
    expect(metrics).toMatch(/threatrelay_kafka_send_seconds_bucket/);
  });
});

describe('producer logs and shutdown', () => {
  it('logs each request with a request id and never an API key', async () => {
    const net = await createTestNetwork([{ id: 'google' }]);
    const lines: string[] = [];
    const logger = createLogger('producer-google', 'info', {
      write: (line: string) => void lines.push(line),
    });
    const producer = await startProducer({
      config: net.config,
      org: 'google',
      signingKeyPem: net.signingKeys.google!,
      port: 0,
      logger,
    });
    try {
      for (const headers of <Record<string, string>[]>[
        { authorization: `Bearer ${net.apiKeys.google}` },
        { 'x-api-key': net.apiKeys.google! },
        { authorization: 'Bearer trk_wrong_key_that_must_not_be_logged' },
      ]) {
        await fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'x-request-id': 'req-logged-1' },
          body: JSON.stringify({ type: 'ipv4', value: '192.0.2.44', category: 'c2', tlp: 'clear' }),
        });
      }
    } finally {
      await producer.close();
      await net.close();
    }
    const text = lines.join('');
    expect(text).toContain('req-logged-1');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(net.apiKeys.google!);
    expect(text).not.toContain('trk_wrong_key_that_must_not_be_logged');
  });

  it('finishes a request in flight when it is asked to stop', async () => {
    const net = await createTestNetwork([{ id: 'google' }]);
    const producer = await net.startProducer('google');
    try {
      const body = Array.from({ length: 500 }, (_, i) => ({
        type: 'domain',
        value: `shutdown-${i}.example.com`,
        category: 'spam',
        tlp: 'clear',
      }));
      const inFlight = fetch(`${producer.url}/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await new Promise((r) => setTimeout(r, 20));
      const closing = producer.close();
      const res = await inFlight;
      await closing;
      expect(res.status).toBe(202);
      const records = await net.readAll(kafkaNames(net.prefix).community('clear'), { atLeast: 500 });
      expect(records).toHaveLength(500);
    } finally {
      await net.close();
    }
  });
});

describe('producer rate limit', () => {
  it('answers 429 with Retry-After to an address that failed authentication too often', async () => {
    const net = await createTestNetwork([{ id: 'google' }], [], { producer: { authFailuresPerMinute: 3 } });
    const producer = await net.startProducer('google');
    try {
      const send = (key: string | undefined): Promise<Response> =>
        fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            'content-type': 'application/json',
          },
          body: JSON.stringify({ type: 'ipv4', value: '203.0.113.9', category: 'c2', tlp: 'clear' }),
        });
      expect((await send(net.apiKeys.google)).status).toBe(202);
      const failures = [await send('guess-1'), await send(undefined), await send('guess-3')];
      expect(failures.map((r) => r.status)).toEqual([401, 401, 401]);
      const throttled = await send('guess-4');
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe('TR_RATE_LIMITED');
      // While the address is throttled even a right key waits: guessing gains nothing.
      expect((await send(net.apiKeys.google)).status).toBe(429);
    } finally {
      await producer.close();
      await net.close();
    }
  });

  it('answers 429 with Retry-After once a key is over its rate', async () => {
    const net = await createTestNetwork([{ id: 'google' }], [], { producer: { rateLimitPerMinute: 2 } });
    const producer = await net.startProducer('google');
    try {
      const send = (): Promise<Response> =>
        fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: { authorization: `Bearer ${net.apiKeys.google}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'ipv4', value: '203.0.113.7', category: 'c2', tlp: 'clear' }),
        });
      expect((await send()).status).toBe(202);
      expect((await send()).status).toBe(202);
      const limited = await send();
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('TR_RATE_LIMITED');
    } finally {
      await producer.close();
      await net.close();
    }
  });
});
