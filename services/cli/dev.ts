import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startProducer, type RunningProducer } from '../producer/service';
import { startDemoReceiver, type DemoDelivery } from '../receiver/receiver';
import { parseConfig, type Config } from '../shared/config';
import { createLogger } from '../shared/logger';
import { repoRoot } from '../shared/paths';
import { provisionTopics } from '../shared/provision';
import { generateSigningKeyPair } from '../shared/signing';
import { startSubscriber, type RunningSubscriber } from '../subscriber/service';
import { defaultBrokerDir, kafkaCommand } from './local-kafka';

/**
 * `threatrelay dev`: the whole demo network on one machine. It starts the
 * local broker (unless KAFKA_BROKERS names one), provisions the topics, runs
 * the producers, the subscribers and a receiver that verifies and prints what
 * arrives, publishes a small sample feed, and stops everything on Ctrl-C.
 */

interface DemoOrg {
  id: string;
  name: string;
  kind: 'company' | 'government';
  publishes: boolean;
}

const DEMO_ORGS: DemoOrg[] = [
  { id: 'facebook', name: 'Meta Platforms', kind: 'company', publishes: true },
  { id: 'dhs', name: 'Department of Homeland Security (CISA)', kind: 'government', publishes: false },
];

const SAMPLE_FEED: Record<string, unknown[]> = {
  facebook: [
    {
      type: 'domain',
      value: 'election-results-live[.]com',
      category: 'disinformation',
      tlp: 'green',
      confidence: 85,
      severity: 'high',
      campaign: 'fake-results-2026',
      tags: ['election', 'results'],
    },
    {
      type: 'social_account',
      value: '@precinct_watch_bot',
      platform: 'facebook',
      category: 'coordinated_inauthentic_behavior',
      tlp: 'amber',
      confidence: 70,
    },
    {
      type: 'url',
      value: 'hxxps://verify-voter-status[.]info/login',
      category: 'phishing',
      tlp: 'clear',
      confidence: 95,
      severity: 'critical',
    },
  ],
};

export interface DevOptions {
  /** First HTTP port; producers take the next ones. Default 8080. */
  basePort: number;
}

function describe(delivery: DemoDelivery): string[] {
  return delivery.body.events.map((e) => {
    const ind = (e.indicator ?? e.revocation ?? {}) as Record<string, unknown>;
    const source = (e.source as { org: string }).org;
    return `  [${delivery.subscription}] ${String(e.type).padEnd(22)} ${String(ind.type).padEnd(15)} ${ind.value}  from ${source}, tlp:${ind.tlp}`;
  });
}

export async function runDev(options: DevOptions): Promise<void> {
  const logger = createLogger('threatrelay-dev', process.env.LOG_LEVEL ?? 'error');
  const stops: (() => Promise<void>)[] = [];
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    console.log('Starting the local Apache Kafka broker (the first run fetches its jars with Maven)…');
    brokers = await kafkaCommand([
      'start',
      '--dir',
      defaultBrokerDir(),
      '--port',
      '9092',
      '--controller-port',
      '9093',
    ]);
    stops.push(async () => {
      await kafkaCommand(['stop', '--dir', defaultBrokerDir()]);
    });
  }

  const signingKeys: Record<string, string> = {};
  const apiKeys: Record<string, string> = {};
  const orgs = DEMO_ORGS.map((o) => {
    const pair = generateSigningKeyPair();
    signingKeys[o.id] = pair.privateKeyPem;
    apiKeys[o.id] = `trk_${o.id}_${randomBytes(16).toString('hex')}`;
    return { id: o.id, name: o.name, kind: o.kind, publicKey: pair.publicKey };
  });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiverPort = options.basePort;
  const config: Config = parseConfig({
    kafka: { brokers: brokers.split(','), topicPrefix: 'threatrelay' },
    orgs,
    apiKeys: DEMO_ORGS.filter((o) => o.publishes).map((o) => ({
      name: `${o.id}-secops`,
      org: o.id,
      sha256: createHash('sha256').update(apiKeys[o.id]!).digest('hex'),
    })),
    subscriptions: [
      {
        id: 'dhs-all',
        org: 'dhs',
        webhook: {
          url: `http://127.0.0.1:${receiverPort}/hooks/dhs-all`,
          secrets: [secret],
          allowPrivateNetworks: true,
        },
      },
    ],
  });

  const kafka = new Kafka({ brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const created = await provisionTopics(admin, config);
  await admin.disconnect();
  console.log(`Topics ready (${created.length} created).`);

  const receiver = await startDemoReceiver({
    port: receiverPort,
    secrets: { 'dhs-all': secret },
    onDelivery: (d) =>
      console.log(
        `receiver: ${d.body.events.length} event(s), webhook-id ${d.webhookId}, signature verified\n${describe(d).join('\n')}`,
      ),
    onRejected: (sub, reason) => console.log(`receiver: REJECTED a request for ${sub}: ${reason}`),
  });
  stops.unshift(() => receiver.close());

  const producers: Record<string, RunningProducer> = {};
  let port = options.basePort + 1;
  for (const org of DEMO_ORGS.filter((o) => o.publishes)) {
    const p = await startProducer({
      config,
      org: org.id,
      signingKeyPem: signingKeys[org.id]!,
      port: port++,
      logger,
    });
    producers[org.id] = p;
    stops.unshift(() => p.close());
  }
  const subscribers: RunningSubscriber[] = [];
  // The demo's keys and eventIds are new each run, so its dedup memory starts empty too.
  const devData = join(repoRoot(), '.cache', 'dev-data');
  rmSync(devData, { recursive: true, force: true });
  for (const org of new Set(config.subscriptions.map((s) => s.org))) {
    const s = await startSubscriber({ config, org, logger, dataDir: devData });
    subscribers.push(s);
    stops.unshift(() => s.close());
  }

  console.log('\nThreatRelay demo network is up:');
  console.log(`  Kafka            ${config.kafka.brokers.join(',')}`);
  console.log(`  demo receiver    ${receiver.url}/hooks/<subscription>`);
  for (const [org, p] of Object.entries(producers)) {
    console.log(`  producer ${org.padEnd(8)} ${p.url}   API key: ${apiKeys[org]}`);
  }
  for (const s of subscribers) console.log(`  subscriptions    ${s.subscriptions.join(', ')}`);
  const [firstOrg, firstProducer] = Object.entries(producers)[0]!;
  console.log(
    `\nTry:\n  curl -s -X POST ${firstProducer.url}/v1/indicators -H 'authorization: Bearer ${apiKeys[firstOrg]}' \\\n` +
      `    -H 'content-type: application/json' -d '{"type":"domain","value":"vote-by-text[.]com","category":"disinformation","tlp":"green"}'\n`,
  );

  console.log('Publishing the sample feed…');
  for (const [org, items] of Object.entries(SAMPLE_FEED)) {
    const res = await fetch(`${producers[org]!.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(items),
    });
    console.log(
      `  ${org}: ${res.status} ${res.status === 202 ? `${items.length} accepted` : await res.text()}`,
    );
  }
  console.log('\nPress Ctrl-C to stop everything.\n');

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.log('\nStopping…');
  for (const stop of stops) {
    await stop().catch((err: unknown) => console.error(`while stopping: ${String(err)}`));
  }
  console.log('Stopped.');
}
