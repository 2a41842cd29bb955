import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import type { RunningProducer } from '../../services/producer/service';
import { CANONICALIZATION_VERSION } from '../../services/contract/canonical';
import { HEADERS } from '../../services/contract/definitions';
import { identityKey } from '../../services/contract/identity';
import { loadPrivateKey, signValue } from '../../services/contract/signing';
import { kafkaNames } from '../../services/contract/names';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * Corrupted records written straight to a community topic and to a direct
 * topic (truncated, bit-flipped, a fingerprint no schema has, headers
 * missing, headers doubled), each correctly signed where a signature can be
 * made, on the partition where an honest record follows. Each is
 * dead-lettered with a TR_ code and a reason, and the honest record behind
 * them is delivered: the partition moves on.
 */
describe('corrupted records', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let producer: RunningProducer;
  let subscriber: RunningSubscriber;

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'fbi', kind: 'government' }],
      [{ id: 'fbi-all', org: 'fbi', url: `${receiver.url}/ok/fbi` }],
    );
    producer = await net.startProducer('facebook');
    subscriber = await startSubscriber({
      dataDir: net.dataDir,
      config: net.config,
      org: 'fbi',
      logger: net.logger,
    });
  });

  afterAll(async () => {
    await subscriber?.close();
    await producer?.close();
    await receiver?.close();
    await net?.close();
  });

  const publish = async (body: Record<string, unknown>): Promise<{ eventId: string; partition: number }> => {
    const res = await fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    const [receipt] = (
      (await res.json()) as { receipts: { eventId: string; records: { partition: number }[] }[] }
    ).receipts;
    return { eventId: receipt!.eventId, partition: receipt!.records[0]!.partition };
  };

  const delivered = (eventId: string): boolean =>
    receiver.requests.some((r) => r.status === 200 && r.body.includes(eventId));

  it.each([
    ['a community topic', 'green' as const],
    ['a direct topic', 'red' as const],
  ])('dead-letters each corruption on %s with a reason and delivers what follows', async (_where, tlp) => {
    const names = kafkaNames(net.prefix);
    const topic = tlp === 'red' ? names.direct('fbi') : names.community('green');
    const extra = tlp === 'red' ? { recipients: ['fbi'] } : {};
    const suffix = `${tlp}-${Date.now()}`;
    // A genuine record to corrupt, and the key of the honest record that will follow the corruptions.
    const genuine = await publish({
      type: 'domain',
      value: `genuine-${suffix}.example.com`,
      category: 'spam',
      tlp,
      ...extra,
    });
    const [source] = (await net.readAll(topic, { atLeast: 1 })).filter(
      (m) => m.headers?.[HEADERS.eventId]?.toString() === genuine.eventId,
    );
    const value = source!.value!;
    const afterValue = `after-${suffix}.example.com`;
    const key = identityKey(CANONICALIZATION_VERSION, 'domain', null, afterValue);
    const facebook = loadPrivateKey(net.signingKeys.facebook!);
    const signed = (bytes: Buffer): IHeaders => ({
      [HEADERS.sourceOrg]: 'facebook',
      [HEADERS.signature]: signValue(bytes, facebook),
    });
    const truncated = value.subarray(0, value.length - 7);
    const flipped = Buffer.from(value);
    flipped[10]! ^= 0x40; // the eventId's length, right after the single-object header
    const unknownFingerprint = Buffer.from(value);
    unknownFingerprint.fill(0xee, 2, 10);
    const corrupted = [
      { value: truncated, headers: signed(truncated) },
      { value: flipped, headers: signed(flipped) },
      { value: unknownFingerprint, headers: signed(unknownFingerprint) },
      { value, headers: {} },
      {
        value,
        headers: {
          [HEADERS.sourceOrg]: ['facebook', 'fbi'],
          [HEADERS.signature]: [
            signValue(value, facebook),
            signValue(value, loadPrivateKey(net.signingKeys.fbi!)),
          ],
        },
      },
    ];
    const kafka = new Kafka({ brokers: net.config.kafka.brokers, logLevel: logLevel.NOTHING });
    const raw = kafka.producer();
    await raw.connect();
    const written = await raw.send({ topic, acks: -1, messages: corrupted.map((m) => ({ key, ...m })) });
    await raw.disconnect();
    const after = await publish({ type: 'domain', value: afterValue, category: 'spam', tlp, ...extra });
    // Behind the corrupted records on their partition.
    expect(after.partition).toBe(written[0]!.partition);

    await waitFor(`the honest record after the corrupted ones on ${topic}`, () => delivered(after.eventId));
    const letters = await waitFor(`5 dead letters from ${topic}`, async () => {
      const l = (await readDeadLetters(net.config, 'fbi-all', net.logger)).filter(
        (d) => d.source.topic === topic,
      );
      return l.length >= 5 ? l : undefined;
    }).catch(async (err: unknown) => {
      const got = (await readDeadLetters(net.config, 'fbi-all', net.logger)).map((d) => [
        d.code,
        d.reason,
        d.source,
      ]);
      throw new Error(`${String(err)}; dead letters: ${JSON.stringify(got)}`);
    });
    expect(letters).toHaveLength(5);
    for (const l of letters) {
      expect(l.code).toMatch(/^TR_/);
      expect(l.reason.length).toBeGreaterThan(0);
      expect(l.source.partition).toBe(after.partition);
    }
    const codes = letters.map((l) => l.code);
    expect(codes.slice(0, 3)).toEqual([
      'TR_CODEC_MALFORMED',
      expect.stringMatching(/^TR_/),
      'TR_CODEC_UNKNOWN_FINGERPRINT',
    ]);
    expect(codes.slice(3)).toEqual(['TR_SIGNATURE_INVALID', 'TR_SIGNATURE_INVALID']);
  });
});
