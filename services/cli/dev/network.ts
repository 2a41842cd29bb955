import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startConsole } from '../../console/service';
import { startProducer } from '../../producer/service';
import { startDemoReceiver, type RunningReceiver } from '../../receiver/receiver';
import { loadConfig, type Config } from '../../platform/config/config';
import { DEFAULTS } from '../../platform/config/defaults';
import { createKafka } from '../../platform/kafka';
import { createLogger, type Logger } from '../../platform/logger';
import { repoRoot } from '../../platform/paths';
import { provisionTopics } from '../../admin/provision';
import { startSubscriber } from '../../subscriber/service';
import { startTaxiiServer } from '../../taxii/service';
import { defaultBrokerDir, kafkaCommand } from '../local-kafka';
import { printable } from '../printable';
import { describeDelivery } from './print';
import { generateSecrets, type GeneratedSecrets } from './secrets';
import type { DevNetwork, DevNetworkOptions } from './types';

export type { DevNetwork, DevNetworkOptions } from './types';

/**
 * The whole demo network of config/demo-network.yaml on one machine: the
 * local broker (unless it is given one), every org's keys and every webhook
 * secret generated, the topics provisioned, a producer per publishing org, a
 * subscriber per subscribing org and a receiver that verifies and prints
 * what arrives.
 */

export const LOCAL_BROKER_PORT = 9092;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function busyPorts(ports: number[]): Promise<number[]> {
  const free = await Promise.all(ports.map(canListen));
  return ports.filter((_, i) => !free[i]);
}

async function closeAll(services: { close(): Promise<void> }[]): Promise<void> {
  const failed = (await Promise.allSettled(services.map((s) => s.close()))).filter(
    (r) => r.status === 'rejected',
  );
  if (failed.length > 0) throw new Error(failed.map((r) => String(r.reason)).join('; '));
}

interface Plan {
  config: Config;
  secrets: GeneratedSecrets;
  /** Orgs with an API key, which get a producer. */
  publishers: string[];
  /** Orgs with a subscription, which get a subscriber. */
  subscribing: string[];
  /** Orgs with TAXII readers, which get a TAXII server. */
  pulling: string[];
}

/** The validated config and the ports it needs, checked before anything starts: a broken file costs no broker start. */
async function plan(options: DevNetworkOptions, givenBrokers: string | undefined): Promise<Plan> {
  const configPath = options.configPath ?? join(repoRoot(), 'config', 'demo-network.yaml');
  const secrets = generateSecrets(configPath);
  const config = loadConfig(configPath, {
    ...secrets.env,
    DEMO_RECEIVER_PORT: String(options.basePort),
    DEMO_TOPIC_PREFIX: options.topicPrefix ?? DEFAULTS.topicPrefix,
    KAFKA_BROKERS: givenBrokers ?? `127.0.0.1:${LOCAL_BROKER_PORT}`,
  });
  const publishers = config.orgs.filter((o) => config.apiKeys.some((k) => k.org === o.id)).map((o) => o.id);
  const subscribing = config.orgs
    .filter((o) => config.subscriptions.some((s) => s.org === o.id))
    .map((o) => o.id);
  const pulling = config.orgs
    .filter((o) => config.taxii.readers.some((r) => r.org === o.id))
    .map((o) => o.id);
  const ports = Array.from(
    // The receiver, the producers, the subscribers, the TAXII servers, the console.
    { length: 2 + publishers.length + subscribing.length + pulling.length },
    (_, i) => options.basePort + i,
  );
  const busy = await busyPorts(ports);
  if (busy.length > 0) {
    throw new Error(
      `port(s) ${busy.join(', ')} on 127.0.0.1 already in use; the demo needs ${ports[0]}-${ports.at(-1)} (choose another first port with --port)`,
    );
  }
  return { config, secrets, publishers, subscribing, pulling };
}

/**
 * What started, stopped in reverse order by close(): subscribers finish their
 * deliveries while the receiver still answers, and the broker goes last.
 */
type Stops = (() => Promise<void>)[];

/** Starts the local broker unless it runs already; resolves with its bootstrap servers and whether it was started here. */
async function startLocalBroker(
  stops: Stops,
  print: (line: string) => void,
): Promise<{ bootstrap: string; started: boolean }> {
  const brokerDir = defaultBrokerDir();
  const alreadyRunning = await kafkaCommand(['status', '--dir', brokerDir]).then(
    () => true,
    () => false,
  );
  if (!alreadyRunning) {
    print('Starting the local Apache Kafka broker (the first run fetches its jars with Maven)…');
    // Registered before the start: an interrupted start can leave the broker running.
    stops.push(async () => {
      await kafkaCommand(['stop', '--dir', brokerDir]);
    });
  } else {
    print(`Using the local broker already running from ${brokerDir}; it keeps running after dev stops.`);
  }
  const bootstrap = await kafkaCommand([
    'start',
    '--dir',
    brokerDir,
    '--port',
    String(LOCAL_BROKER_PORT),
    '--controller-port',
    String(LOCAL_BROKER_PORT + 1),
  ]);
  return { bootstrap, started: !alreadyRunning };
}

async function provisionDemoTopics(
  config: Config,
  p: Plan,
  logger: Logger,
  print: (line: string) => void,
): Promise<void> {
  const admin = createKafka(config.kafka, logger, 'threatrelay-dev').admin();
  await admin.connect();
  try {
    const created = await provisionTopics(admin, config);
    print(`Topics ready under ${config.kafka.topicPrefix}.* (${created.length} created).`);
    print(
      `Starting the demo receiver, ${p.publishers.length} producer(s) and ${p.subscribing.length} subscriber(s)…`,
    );
  } finally {
    await admin.disconnect();
  }
}

function startReceiver(
  config: Config,
  port: number,
  network: Pick<DevNetwork, 'deliveries' | 'rejected'>,
  print: (line: string) => void,
): Promise<RunningReceiver> {
  return startDemoReceiver({
    port,
    secrets: Object.fromEntries(config.subscriptions.map((s) => [s.id, s.webhook.secrets[0]!])),
    onDelivery: (d) => {
      network.deliveries.push(d);
      for (const line of describeDelivery(d)) print(line);
    },
    onRejected: (subscription, reason) => {
      network.rejected.push({ subscription, reason });
      print(printable(`  [${subscription}] REJECTED by the receiver: ${reason}`));
    },
  });
}

const withBrokers = (config: Config, bootstrap: string): Config => ({
  ...config,
  kafka: { ...config.kafka, brokers: bootstrap.split(',').map((b) => b.trim()) },
});

export async function startDevNetwork(options: DevNetworkOptions): Promise<DevNetwork> {
  const print = options.print ?? console.log;
  const logger = options.logger ?? createLogger('threatrelay-dev', process.env.LOG_LEVEL ?? 'error');
  const givenBrokers = options.brokers ?? process.env.KAFKA_BROKERS;
  const p = await plan(options, givenBrokers);
  const stops: Stops = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => print(`while stopping: ${String(err)}`));
    }
  };
  try {
    let config = p.config;
    let startedBroker = false;
    if (!givenBrokers) {
      const broker = await startLocalBroker(stops, print);
      startedBroker = broker.started;
      config = withBrokers(config, broker.bootstrap);
    }
    options.signal?.throwIfAborted();
    await provisionDemoTopics(config, p, logger, print);
    const network: DevNetwork = {
      config,
      startedBroker,
      receiverUrl: '',
      producers: {},
      subscribers: {},
      taxii: {},
      taxiiReaders: {},
      console: { url: '', username: '', password: '' },
      apiKeys: {},
      deliveries: [],
      rejected: [],
      close,
    };
    const receiver = await startReceiver(config, options.basePort, network, print);
    stops.push(() => receiver.close());
    network.receiverUrl = receiver.url;
    await startServices(p, network, stops, options, logger);
    return network;
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A producer per publishing org, then a subscriber per subscribing org, then a TAXII server per org
 * with TAXII readers, on the ports after the receiver's.
 */
async function startServices(
  p: Plan,
  network: DevNetwork,
  stops: Stops,
  options: DevNetworkOptions,
  logger: Logger,
): Promise<void> {
  const { config } = network;
  stops.push(() => closeAll(Object.values(network.producers)));
  for (const [i, org] of p.publishers.entries()) {
    network.producers[org] = await startProducer({
      config,
      org,
      signingKeyPem: p.secrets.signingKeys[org]!,
      port: options.basePort + 1 + i,
      logger,
    });
    network.apiKeys[org] = p.secrets.apiKeys[org]!;
    options.signal?.throwIfAborted();
  }
  const dataDir = options.dataDir ?? join(repoRoot(), '.cache', 'dev-data');
  rmSync(dataDir, { recursive: true, force: true });
  // Closed together: each subscriber's close waits out its consumers' pending fetches (seconds).
  stops.push(() => closeAll(Object.values(network.subscribers)));
  for (const [i, org] of p.subscribing.entries()) {
    network.subscribers[org] = await startSubscriber({
      config,
      org,
      logger,
      dataDir,
      port: options.basePort + 1 + p.publishers.length + i,
    });
    options.signal?.throwIfAborted();
  }
  stops.push(() => closeAll(Object.values(network.taxii)));
  for (const [i, org] of p.pulling.entries()) {
    network.taxii[org] = await startTaxiiServer({
      config,
      org,
      logger,
      dataDir,
      port: options.basePort + 1 + p.publishers.length + p.subscribing.length + i,
    });
    const reader = config.taxii.readers.find((r) => r.org === org)!;
    network.taxiiReaders[org] = { username: reader.name, password: p.secrets.taxiiPasswords[org]! };
    options.signal?.throwIfAborted();
  }
  const operatorConsole = await startConsole({
    config,
    logger,
    port: options.basePort + 1 + p.publishers.length + p.subscribing.length + p.pulling.length,
  });
  stops.push(() => operatorConsole.close());
  network.console = {
    url: operatorConsole.url,
    username: config.console.operators[0]!.username,
    password: p.secrets.consolePassword,
  };
}
