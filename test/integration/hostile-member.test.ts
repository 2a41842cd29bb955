import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Producer, type SASLOptions } from 'kafkajs';
import { loadEventCodec } from '../../services/contract/avro/codec';
import { indicatorInputSchema } from '../../services/contract/indicator';
import { identityOf, type ThreatEvent } from '../../services/contract/model';
import { HEADERS } from '../../services/contract/definitions';
import { kafkaNames } from '../../services/contract/names';
import { signedRecord } from '../../services/contract/record';
import { generateSigningKeyPair, loadPrivateKey } from '../../services/contract/signing';
import { provision } from '../../services/admin/provision';
import { apiKeyHash, newApiKey, parseConfig, type Config } from '../../services/platform/config/config';
import { headerText } from '../../services/contract/headers';
import { createKafka } from '../../services/platform/kafka';
import { createLogger } from '../../services/platform/logger';
import { buildPublishedEvents, deterministicEventId } from '../../services/producer/ingest/build-events';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import { replayDeadLetters } from '../../services/subscriber/dlq/replay';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import type { NativeEvent, WebhookBody } from '../../services/contract/webhook-body';
import { KAFKA_SCRIPT, startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * One member turned hostile: twitter, with its own signing key and its own
 * producer principal on a SASL broker with ACLs, writes validly signed but
 * lying records straight to the community topic (one partition, so every
 * attack sits in front of the honest records). Each attack must end in fbi's
 * DLQ with its own code, and google's honest indicators published afterwards
 * through its API must reach fbi within seconds, once each.
 */

const ADMIN_PASSWORD = `admin-${randomBytes(9).toString('hex')}`;
const env: Record<string, string> = {
  TWITTER_PRODUCER_PW: randomBytes(12).toString('base64url'),
  GOOGLE_PRODUCER_PW: randomBytes(12).toString('base64url'),
  FBI_SUBSCRIBER_PW: randomBytes(12).toString('base64url'),
};
const DAY = 86_400_000;
const run = promisify(execFile);
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('a hostile member cannot suppress, stall or mislabel another org', () => {
  let broker: LocalBroker;
  let receiver: Receiver;
  let config: Config;
  let raw: Record<string, unknown>;
  let google: RunningProducer;
  let fbi: RunningSubscriber;
  let hostile: Producer;
  const keys = { twitter: generateSigningKeyPair(), google: generateSigningKeyPair() };
  const googleApiKey = newApiKey('google');
  const codec = loadEventCodec();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;

  const configAs = (sasl: SASLOptions): Config =>
    parseConfig({ ...raw, kafka: { ...(raw.kafka as object), sasl } }, env);
  const scram = (username: string, password: string): SASLOptions => ({
    mechanism: 'scram-sha-512',
    username,
    password,
  });

  /** A twitter record as its producer would build it, then changed by `lie`, then signed by twitter. */
  const twitterEvent = (input: Record<string, unknown>, lie: (e: ThreatEvent) => void = () => undefined) => {
    const parsed = indicatorInputSchema.parse({ category: 'disinformation', tlp: 'clear', ...input });
    const [event] = buildPublishedEvents(
      [parsed],
      { org: 'twitter', submitter: 'x', idempotencyKey: undefined },
      false,
    );
    lie(event!);
    return event!;
  };
  const writeAsTwitter = async (events: ThreatEvent[]): Promise<void> => {
    const key = loadPrivateKey(keys.twitter.privateKeyPem);
    await hostile.send({
      topic: kafkaNames(config.kafka.topicPrefix).community('clear'),
      acks: -1,
      messages: events.map((e) => signedRecord(e, codec, key)),
    });
  };
  const publishAsGoogle = async (body: unknown, idempotencyKey?: string): Promise<{ eventId: string }[]> => {
    const res = await fetch(`${google.url}/v1/indicators`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${googleApiKey}`,
        'content-type': 'application/json',
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { receipts: { eventId: string }[] }).receipts;
  };
  const delivered = (): NativeEvent[] =>
    receiver.requests
      .filter((r) => r.status === 200 && r.verified)
      .flatMap((r) => (JSON.parse(r.body) as WebhookBody).events);

  beforeAll(async () => {
    broker = await startLocalBroker({ saslAdminPassword: ADMIN_PASSWORD });
    receiver = await startReceiver(0, [secret]);
    raw = {
      kafka: {
        brokers: [broker.bootstrap],
        topicPrefix: `hostile-${randomBytes(3).toString('hex')}`,
        // One partition: every attack sits in front of the honest records that follow it.
        partitions: 1,
        users: [
          {
            username: 'twitter-producer',
            org: 'twitter',
            role: 'producer',
            password: '${TWITTER_PRODUCER_PW}',
          },
          { username: 'google-producer', org: 'google', role: 'producer', password: '${GOOGLE_PRODUCER_PW}' },
          { username: 'fbi-subscriber', org: 'fbi', role: 'subscriber', password: '${FBI_SUBSCRIBER_PW}' },
        ],
      },
      orgs: [
        { id: 'twitter', name: 'Twitter', kind: 'company', publicKey: keys.twitter.publicKey },
        { id: 'google', name: 'Google', kind: 'company', publicKey: keys.google.publicKey },
        { id: 'fbi', name: 'FBI', kind: 'government' },
      ],
      apiKeys: [{ name: 'google-secops', org: 'google', sha256: apiKeyHash(googleApiKey) }],
      subscriptions: [
        {
          id: 'fbi-all',
          org: 'fbi',
          corroborations: true,
          batchSize: 10,
          webhook: { url: `${receiver.url}/ok/fbi`, secrets: [secret], allowPrivateNetworks: true },
        },
      ],
    };
    config = configAs(scram('admin', ADMIN_PASSWORD));
    const logger = createLogger('hostile-test', 'silent');
    const kafka = createKafka(config.kafka, logger);
    const admin = kafka.admin();
    await admin.connect();
    await provision(kafka, admin, config, env);
    await admin.disconnect();

    google = await startProducer({
      config: configAs(scram('google-producer', env.GOOGLE_PRODUCER_PW!)),
      org: 'google',
      signingKeyPem: keys.google.privateKeyPem,
      port: 0,
      logger,
    });
    fbi = await startSubscriber({
      config: configAs(scram('fbi-subscriber', env.FBI_SUBSCRIBER_PW!)),
      org: 'fbi',
      logger,
      dataDir: `${broker.dir}/fbi-data`,
    });
    hostile = new Kafka({
      brokers: [broker.bootstrap],
      sasl: scram('twitter-producer', env.TWITTER_PRODUCER_PW!),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await hostile.connect();
  });

  afterAll(async () => {
    await hostile?.disconnect();
    await fbi?.close();
    await google?.close();
    await receiver?.close();
    await broker?.stop();
  });

  it('dead-letters every attack with its own code, and still delivers the honest indicators once each', async () => {
    // 2. Shadowing: twitter claims the eventId google's next request will get (eventIds are
    // deterministic from org, Idempotency-Key, position and content, so a member can guess them).
    const googleItem = {
      type: 'domain',
      value: 'shadowed-target.example.org',
      category: 'phishing',
      tlp: 'clear',
    };
    const parsedGoogle = indicatorInputSchema.parse(googleItem);
    const stolenEventId = deterministicEventId('google', 'feed-1', 0, parsedGoogle);

    const attacks: [string, ThreatEvent][] = [
      // 1. Dedup poisoning: the key of a real campaign domain on a harmless value.
      [
        'TR_KEY_MISMATCH',
        twitterEvent({ type: 'domain', value: 'harmless.example.com' }, (e) => {
          e.payload.key = sha256('domain:evil-campaign.example.com');
        }),
      ],
      // A value another canonicalizer would have changed, under the key of its canonical form.
      [
        'TR_VALUE_NOT_CANONICAL',
        twitterEvent({ type: 'domain', value: 'evil-campaign.example.com' }, (e) => {
          if (e.payload.kind === 'IndicatorPublished')
            e.payload.indicator.value = 'EVIL-campaign.example.com.';
        }),
      ],
      // 3. An empty eventId, and one of 3,000 characters.
      [
        'TR_RECORD_INVALID',
        twitterEvent({ type: 'domain', value: 'empty-id.example.com' }, (e) => (e.eventId = '')),
      ],
      [
        'TR_RECORD_INVALID',
        twitterEvent({ type: 'domain', value: 'long-id.example.com' }, (e) => (e.eventId = 'x'.repeat(3000))),
      ],
      // 4. An unknown TLP on the clear topic.
      [
        'TR_RECORD_INVALID',
        twitterEvent({ type: 'domain', value: 'red-on-clear.example.com' }, (e) => {
          if (e.payload.kind === 'IndicatorPublished') e.payload.indicator.tlp = 'RED' as never;
        }),
      ],
      // 6. Replay of a record older than the dedup window.
      [
        'TR_STALE',
        twitterEvent({ type: 'domain', value: 'old-news.example.com' }, (e) => {
          e.producedAt = new Date(Date.now() - 40 * DAY).toISOString();
        }),
      ],
    ];
    // The shadowing record is otherwise honest: it is delivered, and must not hide google's event.
    const shadow = twitterEvent(
      { type: 'domain', value: 'twitters-own.example.com' },
      (e) => (e.eventId = stolenEventId),
    );
    // 5. Same handle, two platforms: twitter's report of its own platform's account.
    const onTwitter = twitterEvent({ type: 'social_account', value: '@BadActor2020', platform: 'twitter' });
    await writeAsTwitter([...attacks.map(([, e]) => e), shadow, onTwitter]);

    // The honest indicators, published after the attacks, on the same partition.
    const [shadowed] = await publishAsGoogle(googleItem, 'feed-1');
    expect(shadowed!.eventId).toBe(stolenEventId);
    const honest = await publishAsGoogle([
      { type: 'domain', value: 'evil-campaign.example.com', category: 'disinformation', tlp: 'clear' },
      {
        type: 'social_account',
        value: 'badactor2020',
        platform: 'facebook',
        category: 'coordinated_inauthentic_behavior',
        tlp: 'clear',
      },
    ]);
    const googleIds = [shadowed!.eventId, ...honest.map((r) => r.eventId)];

    const started = Date.now();
    await waitFor(
      'google events at fbi',
      () => {
        const got = delivered().filter((e) => e.source.org === 'google');
        return got.length >= googleIds.length ? got : undefined;
      },
      30_000,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(30);

    // Every google event delivered exactly once, as a new indicator of its own.
    const fromGoogle = delivered().filter((e) => e.source.org === 'google');
    expect(fromGoogle.map((e) => e.eventId).sort()).toEqual([...googleIds].sort());
    expect(fromGoogle.every((e) => e.type === 'indicator.published')).toBe(true);
    // The real campaign domain is new, not a "corroboration" of the decoy.
    expect(fromGoogle.find((e) => e.indicator?.value === 'evil-campaign.example.com')?.type).toBe(
      'indicator.published',
    );
    // One handle on two platforms: two indicators with two keys.
    const accounts = delivered().filter((e) => e.indicator?.type === 'social_account');
    expect(accounts.map((e) => e.indicator?.platform).sort()).toEqual(['facebook', 'twitter']);
    expect(new Set(accounts.map((e) => e.key)).size).toBe(2);
    // The shadowing record was delivered as twitter's own, under a webhook-id of its own.
    const twitterDelivered = delivered().filter((e) => e.source.org === 'twitter');
    expect(twitterDelivered.map((e) => e.indicator?.value).sort()).toEqual([
      'badactor2020',
      'twitters-own.example.com',
    ]);

    // Each attack in the DLQ, with its code.
    const letters = await waitFor('dead letters', async () => {
      const l = await readDeadLetters(config, 'fbi-all', createLogger('dlq', 'silent'));
      return l.length >= attacks.length ? l : undefined;
    });
    expect(letters.map((l) => l.code).sort()).toEqual(attacks.map(([code]) => code).sort());
  });
  it('dead-letters records whose headers have null values, and the partition moves on', async () => {
    // kafkajs cannot write a null header value; Kafka's own Java client can, as any member's principal.
    const { stdout: libs } = await run('bash', [KAFKA_SCRIPT, 'fetch']);
    const topic = kafkaNames(config.kafka.topicPrefix).community('clear');
    const before = (await readDeadLetters(config, 'fbi-all', createLogger('dlq', 'silent'))).length;
    const { stdout } = await run(
      'java',
      [
        '-cp',
        `${libs.trim()}/*`,
        join(__dirname, '../fixtures/NullHeaderWriter.java'),
        broker.bootstrap,
        'twitter-producer',
        env.TWITTER_PRODUCER_PW!,
        topic,
        // Unsigned, naming google, its batch signature null: the stall the first round missed.
        `${HEADERS.sourceOrg}=google,${HEADERS.batchSignature}`,
        `${HEADERS.sourceOrg},${HEADERS.signature}=c2ln`,
        `${HEADERS.sourceOrg}=google,${HEADERS.signature}`,
        `${HEADERS.sourceOrg}=google,${HEADERS.sourceOrg}`,
      ],
      { timeout: 60_000 },
    );
    expect(stdout.trim()).toBe('sent 4');

    const honest = await publishAsGoogle([
      { type: 'domain', value: 'after-null-headers.example.com', category: 'phishing', tlp: 'clear' },
      { type: 'domain', value: 'after-null-headers.example.net', category: 'phishing', tlp: 'clear' },
    ]);
    const ids = honest.map((r) => r.eventId);
    await waitFor(
      'google events behind the null headers',
      () => (ids.every((id) => delivered().some((e) => e.eventId === id)) ? true : undefined),
      30_000,
    );
    for (const id of ids) expect(delivered().filter((e) => e.eventId === id)).toHaveLength(1);

    const letters = await waitFor('the null-header dead letters', async () => {
      const l = await readDeadLetters(config, 'fbi-all', createLogger('dlq', 'silent'));
      return l.length >= before + 4 ? l.slice(before) : undefined;
    });
    expect(letters.map((l) => l.code)).toEqual(Array(4).fill('TR_SIGNATURE_INVALID'));
    expect(letters.map((l) => l.reason)).toEqual([
      `the ${HEADERS.batchSignature} header has a null value`,
      `the ${HEADERS.sourceOrg} header has a null value`,
      `the ${HEADERS.signature} header has a null value`,
      `the ${HEADERS.sourceOrg} header appears 2 times`,
    ]);
    // The dead letter keeps what it can of the original and names the headers it could not write again.
    expect(letters.slice(0, 3).map((l) => headerText(l.message, HEADERS.dlqNullHeaders))).toEqual([
      HEADERS.batchSignature,
      HEADERS.sourceOrg,
      HEADERS.signature,
    ]);
    expect(headerText(letters[0]!.message, HEADERS.sourceOrg)).toBe('google');
  });

  it('dead-letters records past the API bounds as TR_RECORD_OUT_OF_BOUNDS, and the partition moves on', async () => {
    const dlq = () => readDeadLetters(config, 'fbi-all', createLogger('dlq', 'silent'));
    const before = (await dlq()).length;
    const outOfBounds = [
      // 100 tags of 9,000 characters: a 900 KB record, refused by its size before it is decoded.
      twitterEvent({ type: 'domain', value: 'huge-tags.example.com' }, (e) => {
        if (e.payload.kind === 'IndicatorPublished')
          e.payload.indicator.tags = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(9000, 'x'));
      }),
      // A reference that would land in STIX external_references and the console.
      twitterEvent({ type: 'domain', value: 'script-ref.example.com' }, (e) => {
        if (e.payload.kind === 'IndicatorPublished') e.payload.indicator.references = ['javascript:alert(1)'];
      }),
      // 51 tags, one more than the API allows.
      twitterEvent({ type: 'domain', value: 'many-tags.example.com' }, (e) => {
        if (e.payload.kind === 'IndicatorPublished')
          e.payload.indicator.tags = Array.from({ length: 51 }, (_, i) => `tag-${i}`);
      }),
    ];
    // One send each: the broker takes at most 1 MB per request.
    for (const event of outOfBounds) await writeAsTwitter([event]);

    const honest = await publishAsGoogle([
      { type: 'domain', value: 'after-bounds.example.com', category: 'phishing', tlp: 'clear' },
      { type: 'domain', value: 'after-bounds.example.net', category: 'phishing', tlp: 'clear' },
    ]);
    const ids = honest.map((r) => r.eventId);
    await waitFor(
      'google events behind the out-of-bounds records',
      () => (ids.every((id) => delivered().some((e) => e.eventId === id)) ? true : undefined),
      30_000,
    );
    for (const id of ids) expect(delivered().filter((e) => e.eventId === id)).toHaveLength(1);
    const values = delivered().map((e) => e.indicator?.value);
    for (const e of outOfBounds) expect(values).not.toContain(identityOf(e.payload).value);

    const letters = await waitFor('the out-of-bounds dead letters', async () => {
      const l = await dlq();
      return l.length >= before + outOfBounds.length ? l.slice(before) : undefined;
    });
    expect(letters.map((l) => l.code)).toEqual(Array(outOfBounds.length).fill('TR_RECORD_OUT_OF_BOUNDS'));
    expect(letters[0]!.reason).toMatch(/more than the 262144-byte bound/);
    expect(letters[1]!.reason).toContain(
      'payload.indicator.references.0 must be a URL with scheme http or https',
    );
    expect(letters[2]!.reason).toContain('payload.indicator.tags must hold at most 50 items, holds 51');
  });

  it('does not name a red report in a clear corroboration of the same indicator', async () => {
    // twitter reports the key as TLP:RED to fbi alone, straight to fbi's direct topic.
    const red = twitterEvent({
      type: 'domain',
      value: 'red-first.example.com',
      tlp: 'red',
      recipients: ['fbi'],
    });
    const key = loadPrivateKey(keys.twitter.privateKeyPem);
    await hostile.send({
      topic: kafkaNames(config.kafka.topicPrefix).direct('fbi'),
      acks: -1,
      messages: [signedRecord(red, codec, key)],
    });
    await waitFor('the red report at fbi', () =>
      delivered().some((e) => e.eventId === red.eventId) ? true : undefined,
    );
    // google then reports the same indicator as TLP:CLEAR: an event fbi may share with anyone.
    const [clear] = await publishAsGoogle({
      type: 'domain',
      value: 'red-first.example.com',
      category: 'phishing',
      tlp: 'clear',
    });
    const got = await waitFor('the clear report at fbi', () =>
      delivered().find((e) => e.eventId === clear!.eventId),
    );
    expect(got.type).toBe('indicator.published');
    expect(JSON.stringify(got)).not.toContain('twitter');
    expect(delivered().filter((e) => e.eventId === clear!.eventId)).toHaveLength(1);
  });

  it('replays none of the attacks by default, and a forced replay of a stale record is refused again', async () => {
    const dlq = () => readDeadLetters(config, 'fbi-all', createLogger('dlq', 'silent'));
    const letters = await dlq();
    const deliveredBefore = delivered().length;
    // "Replay all": every letter here was refused by a check, so nothing is sent.
    const all = await replayDeadLetters(config, 'fbi-all', {}, createLogger('replay', 'silent'));
    expect(all).toMatchObject({ selected: 0, held: letters.length, delivered: 0 });
    // The operator insists on the stale one: freshness still runs, and it goes back to the DLQ.
    const stale = letters.find((l) => l.code === 'TR_STALE')!;
    const forced = await replayDeadLetters(
      config,
      'fbi-all',
      {
        letter: `${stale.partition}:${stale.offset}`,
        forceTrustFailure: true,
        dataDir: `${broker.dir}/fbi-data`,
      },
      createLogger('replay', 'silent'),
    );
    expect(forced).toMatchObject({ selected: 1, delivered: 0, deadLettered: 1 });
    const after = await dlq();
    expect(after.filter((l) => l.code === 'TR_STALE')).toHaveLength(2);
    expect(after.find((l) => l.partition === stale.partition && l.offset === stale.offset)?.replayed).toBe(
      true,
    );
    expect(delivered()).toHaveLength(deliveredBefore);
  });
});
