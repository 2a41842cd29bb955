import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage, Producer } from 'kafkajs';
import { stringify } from 'yaml';
import { revoke, rotate } from '../../services/cli/commands/keys-rotate';
import { commandContext, parseCommandLine } from '../../services/cli/context';
import { loadEventCodec } from '../../services/contract/avro/codec';
import { decodeBatchProof } from '../../services/contract/batch-signature';
import { HEADERS } from '../../services/contract/definitions';
import { indicatorInputSchema } from '../../services/contract/indicator';
import { orgPublicKeys, signingKeyOf, type Signer } from '../../services/contract/keyring';
import { kafkaNames } from '../../services/contract/names';
import { signedBatch } from '../../services/contract/record';
import { loadPrivateKey } from '../../services/contract/signing';
import { loadConfig, type Config } from '../../services/platform/config/config';
import { buildPublishedEvents } from '../../services/producer/ingest/build-events';
import { startProducer, type RunningProducer } from '../../services/producer/service';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import { verifySigned } from '../../services/contract/record-read';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * facebook rotates its signing key on a running network, the way
 * docs/key-rotation.md says: `keys rotate` edits the config, dhs's subscriber
 * runs with the new file, facebook's producer publishes with the old key,
 * is restarted with the new one and publishes again; nothing is refused.
 * Then the old key is revoked (`keys revoke`): what it signs afterwards is
 * dead-lettered, what it signed before stays verifiable.
 */

const run = (fn: typeof rotate, ...argv: string[]): void => {
  const { values, args } = parseCommandLine(['keys', ...argv], {});
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    fn(commandContext(values, args));
  } finally {
    log.mockRestore();
  }
};

describe('rotating an org signing key on a running network', () => {
  let net: TestNetwork;
  let receiver: Receiver;
  let dir: string;
  let configPath: string;
  let newKeyPath: string;
  let rotated: Config;
  let subscriber: RunningSubscriber | undefined;
  let producer: RunningProducer | undefined;
  let hostile: Producer | undefined;
  const codec = loadEventCodec();

  const delivered = (): string[] =>
    receiver.requests
      .filter((r) => r.status === 200 && r.path.startsWith('/ok/dhs'))
      .flatMap((r) => (JSON.parse(r.body) as { events: { eventId: string }[] }).events)
      .map((e) => e.eventId);

  const publish = async (prefix: string, n: number): Promise<string[]> => {
    const res = await fetch(`${producer!.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          type: 'domain',
          value: `${prefix}-${i}.example.com`,
          category: 'disinformation',
          tlp: 'green',
        })),
      ),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { receipts: { eventId: string }[] }).receipts.map((r) => r.eventId);
  };

  const startFacebook = async (config: Config, pem: string): Promise<void> => {
    producer = await startProducer({
      config,
      org: 'facebook',
      signingKeyPem: pem,
      port: 0,
      logger: net.logger,
    });
  };
  const startDhs = async (config: Config): Promise<void> => {
    subscriber = await startSubscriber({ dataDir: net.dataDir, config, org: 'dhs', logger: net.logger });
  };
  const topic = (): string => kafkaNames(net.prefix).community('green');
  const keyIdOf = (m: KafkaMessage): string | undefined =>
    decodeBatchProof(m.headers![HEADERS.batchSignature] as Buffer)?.keyId;

  beforeAll(async () => {
    receiver = await startReceiver();
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'dhs', kind: 'government' }],
      [{ id: 'dhs-all', org: 'dhs', url: `${receiver.url}/ok/dhs` }],
      { partitions: 1 },
    );
    dir = mkdtempSync(join(tmpdir(), 'key-rotation-'));
    configPath = join(dir, 'network.yaml');
    newKeyPath = join(dir, 'facebook-2026.pem');
    writeFileSync(configPath, stringify(net.config));
    run(
      rotate,
      'rotate',
      '--org',
      'facebook',
      '--config',
      configPath,
      '--out',
      newKeyPath,
      '--key-id',
      'fb-2026',
    );
    rotated = loadConfig(configPath, {});
  });

  afterAll(async () => {
    await hostile?.disconnect();
    await producer?.close();
    await subscriber?.close();
    await receiver?.close();
    await net?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every record published across the switch to the new key, refusing none', async () => {
    await startDhs(rotated);
    await startFacebook(rotated, net.signingKeys.facebook!);
    const before = await publish('before-switch', 20);
    await producer!.close();
    await startFacebook(rotated, readFileSync(newKeyPath, 'utf8'));
    const after = await publish('after-switch', 20);
    await waitFor('all 40 records at dhs', () =>
      [...before, ...after].every((id) => delivered().includes(id)),
    );
    expect(await readDeadLetters(rotated, 'dhs-all', net.logger)).toEqual([]);
    const records = await net.readAll(topic(), { atLeast: 40 });
    const oldId = rotated.orgs.find((o) => o.id === 'facebook')!.keys[0]!.id;
    expect(records.map(keyIdOf)).toEqual([...Array(20).fill(oldId), ...Array(20).fill('fb-2026')]);
  });

  it('dead-letters a record the revoked key signs after revokedAt, and delivers the honest one behind it', async () => {
    const old = rotated.orgs.find((o) => o.id === 'facebook')!.keys[0]!;
    run(revoke, 'revoke', '--org', 'facebook', '--config', configPath, '--key-id', old.id);
    const revokedConfig = loadConfig(configPath, {});
    await subscriber!.close();
    await startDhs(revokedConfig);
    // Whoever holds the leaked key signs as it, with no validity to stop them, straight to Kafka.
    const thief: Signer = {
      org: 'facebook',
      key: signingKeyOf({ id: old.id, publicKey: old.publicKey }),
      privateKey: loadPrivateKey(net.signingKeys.facebook!),
    };
    const parsed = indicatorInputSchema.parse({
      type: 'domain',
      value: 'signed-after-revocation.example.com',
      category: 'disinformation',
      tlp: 'green',
    });
    const events = buildPublishedEvents(
      [parsed],
      { org: 'facebook', submitter: 'x', idempotencyKey: undefined },
      false,
    );
    hostile = net.kafka.producer();
    await hostile.connect();
    await hostile.send({ topic: topic(), acks: -1, messages: signedBatch(events, codec, thief) });
    const [honest] = await publish('after-revocation', 1);
    await waitFor('the honest record behind it at dhs', () => delivered().includes(honest!));
    const letters = await waitFor('its dead letter', async () => {
      const read = await readDeadLetters(revokedConfig, 'dhs-all', net.logger);
      return read.length > 0 ? read : undefined;
    });
    expect(letters.map((l) => [l.eventId, l.code])).toEqual([[events[0]!.eventId, 'TR_SIGNATURE_INVALID']]);
    expect(letters[0]!.reason).toMatch(new RegExp(`^signed with key ${old.id} of facebook, revoked at `));
    expect(delivered()).not.toContain(events[0]!.eventId);
  });

  it('keeps the records the old key signed before the revocation verifiable', async () => {
    const orgKeys = orgPublicKeys(loadConfig(configPath, {}).orgs);
    const records = await net.readAll(topic(), { atLeast: 42 });
    const old = records.filter((m) => keyIdOf(m) === rotated.orgs[0]!.keys[0]!.id);
    expect(old).toHaveLength(21);
    // The first 20 were signed before the revocation; the last is the thief's.
    expect(old.map((m) => verifySigned({ codec, orgKeys }, m).ok)).toEqual([...Array(20).fill(true), false]);
  });

  it('stops a producer whose key ended from signing: /readyz says so, a request is refused and nothing is written', async () => {
    const entry = net.config.orgs.find((o) => o.id === 'facebook')!.keys[0]!;
    const notAfter = Date.now() + 2000;
    const ending: Config = {
      ...net.config,
      orgs: net.config.orgs.map((o) =>
        o.id === 'facebook' ? { ...o, keys: [{ ...entry, notAfter: new Date(notAfter).toISOString() }] } : o,
      ),
    };
    await producer!.close();
    await startFacebook(ending, net.signingKeys.facebook!);
    expect((await fetch(`${producer!.url}/readyz`)).status).toBe(200);
    await waitFor('the key to end', () => Date.now() > notAfter);
    expect((await fetch(`${producer!.url}/readyz`)).status).toBe(503);
    const written = await net.highWatermarks([topic()]);
    const res = await fetch(`${producer!.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'domain', value: 'too-late.example.com', category: 'spam', tlp: 'green' }),
    });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([
      500,
      'TR_CONFIG',
    ]);
    expect(await net.highWatermarks([topic()])).toBe(written);
  });
});
