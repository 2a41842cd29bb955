import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startProducer, type RunningProducer } from '../producer/service';
import { isStixBundle, startDemoReceiver, type DemoDelivery } from '../receiver/receiver';
import { apiKeyHash, loadConfig, type Config } from '../platform/config/config';
import { DEFAULTS } from '../contract/definitions';
import { createKafka } from '../platform/kafka';
import { createLogger, type Logger } from '../platform/logger';
import { repoRoot } from '../platform/paths';
import { provisionTopics } from '../admin/provision';
import { generateSigningKeyPair } from '../contract/signing';
import { startSubscriber, type RunningSubscriber } from '../subscriber/service';
import type { DeliveryKind, NativeEvent } from '../subscriber/pipeline/shape';
import { defaultBrokerDir, kafkaCommand } from './local-kafka';
import { SAMPLE_FEED, SAMPLE_FEED_EXPECTED, type DeliveryCounts, type FeedStep } from './sample-feed';

/**
 * `threatrelay dev`: the whole demo network of config/demo-network.yaml on
 * one machine. It starts the local broker (unless it is given one), generates
 * every org's keys and every webhook secret, provisions the topics, runs a
 * producer per publishing org, a subscriber per subscribing org and a
 * receiver that verifies and prints what arrives, publishes a sample feed,
 * and stops everything on Ctrl-C.
 */

export const LOCAL_BROKER_PORT = 9092;
const DEFAULT_CONFIG = (): string => join(repoRoot(), 'config', 'demo-network.yaml');

export interface DevNetworkOptions {
  /** The demo receiver's port; the producers take the next ports, then the subscribers. */
  basePort: number;
  /** Bootstrap servers, comma-separated. Default `$KAFKA_BROKERS`; with neither, the local broker is started. */
  brokers?: string;
  /** Default `threatrelay`. */
  topicPrefix?: string;
  /** Default `config/demo-network.yaml`. */
  configPath?: string;
  /** Embedded dedup stores; emptied at start, since every run's keys and eventIds are new. Default `.cache/dev-data`. */
  dataDir?: string;
  logger?: Logger;
  /** Where progress and the receiver's lines go. Default `console.log`. */
  print?: (line: string) => void;
  /** Abandons the start between steps (what was started is stopped, and the start rejects). */
  signal?: AbortSignal;
}

export interface DevNetwork {
  config: Config;
  /** Whether this network started the broker, so that `close()` stops it too. */
  startedBroker: boolean;
  receiverUrl: string;
  /** By org, in the config's order. */
  producers: Record<string, RunningProducer>;
  /** By org, in the config's order. */
  subscribers: Record<string, RunningSubscriber>;
  /** The plain API key of each publishing org. */
  apiKeys: Record<string, string>;
  /** Every request the receiver verified, in arrival order. */
  deliveries: DemoDelivery[];
  /** Requests the receiver refused (missing or wrong signature). */
  rejected: { subscription: string; reason: string }[];
  close(): Promise<void>;
}

/** The variable-name part of an id: `dhs-all` → `DHS_ALL` (the convention config/demo-network.yaml documents). */
export function envName(id: string): string {
  return id.toUpperCase().replace(/-/g, '_');
}

/**
 * The org and subscription ids of the file, read before validation because
 * the values to validate are generated from them. A file too broken to read
 * yields none, and loadConfig then reports what is wrong with it.
 */
function idsIn(path: string): { orgs: string[]; subscriptions: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch {
    return { orgs: [], subscriptions: [] };
  }
  const ids = (list: unknown): string[] =>
    Array.isArray(list)
      ? list.map((item) => (item as { id?: unknown } | null)?.id).filter((i) => typeof i === 'string')
      : [];
  const doc = (raw ?? {}) as { orgs?: unknown; subscriptions?: unknown };
  return { orgs: ids(doc.orgs), subscriptions: ids(doc.subscriptions) };
}

interface GeneratedSecrets {
  env: Record<string, string>;
  signingKeys: Record<string, string>;
  apiKeys: Record<string, string>;
}

function generateSecrets(path: string): GeneratedSecrets {
  const { orgs, subscriptions } = idsIn(path);
  const out: GeneratedSecrets = { env: {}, signingKeys: {}, apiKeys: {} };
  for (const org of orgs) {
    const pair = generateSigningKeyPair();
    const apiKey = `trk_${org}_${randomBytes(16).toString('hex')}`;
    out.signingKeys[org] = pair.privateKeyPem;
    out.apiKeys[org] = apiKey;
    out.env[`${envName(org)}_PUBLIC_KEY`] = pair.publicKey;
    out.env[`${envName(org)}_API_KEY_SHA256`] = apiKeyHash(apiKey);
  }
  for (const id of subscriptions) {
    out.env[`${envName(id)}_WEBHOOK_SECRET`] = `whsec_${randomBytes(24).toString('base64')}`;
  }
  return out;
}

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

const withBrokers = (config: Config, bootstrap: string): Config => ({
  ...config,
  kafka: { ...config.kafka, brokers: bootstrap.split(',').map((b) => b.trim()) },
});

export async function startDevNetwork(options: DevNetworkOptions): Promise<DevNetwork> {
  const print = options.print ?? console.log;
  const logger = options.logger ?? createLogger('threatrelay-dev', process.env.LOG_LEVEL ?? 'error');
  const configPath = options.configPath ?? DEFAULT_CONFIG();
  const givenBrokers = options.brokers ?? process.env.KAFKA_BROKERS;
  const secrets = generateSecrets(configPath);
  // Validated before anything starts, so a broken file costs no broker start.
  let config = loadConfig(configPath, {
    ...secrets.env,
    DEMO_RECEIVER_PORT: String(options.basePort),
    DEMO_TOPIC_PREFIX: options.topicPrefix ?? DEFAULTS.topicPrefix,
    KAFKA_BROKERS: givenBrokers ?? `127.0.0.1:${LOCAL_BROKER_PORT}`,
  });

  const publishers = config.orgs.filter((o) => config.apiKeys.some((k) => k.org === o.id)).map((o) => o.id);
  const subscribing = config.orgs
    .filter((o) => config.subscriptions.some((s) => s.org === o.id))
    .map((o) => o.id);
  const ports = Array.from(
    { length: 1 + publishers.length + subscribing.length },
    (_, i) => options.basePort + i,
  );
  const busy = await busyPorts(ports);
  if (busy.length > 0) {
    throw new Error(
      `port(s) ${busy.join(', ')} on 127.0.0.1 already in use; the demo needs ${ports[0]}-${ports.at(-1)} (choose another first port with --port)`,
    );
  }

  // Run in reverse order of start by close(): subscribers finish their
  // deliveries while the receiver still answers, and the broker goes last.
  const stops: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => print(`while stopping: ${String(err)}`));
    }
  };

  const deliveries: DemoDelivery[] = [];
  const rejected: DevNetwork['rejected'] = [];
  const producers: Record<string, RunningProducer> = {};
  const subscribers: Record<string, RunningSubscriber> = {};
  let startedBroker = false;
  try {
    if (!givenBrokers) {
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
        startedBroker = true;
      } else {
        print(`Using the local broker already running from ${brokerDir}; it keeps running after dev stops.`);
      }
      const port = String(LOCAL_BROKER_PORT);
      const bootstrap = await kafkaCommand([
        'start',
        '--dir',
        brokerDir,
        '--port',
        port,
        '--controller-port',
        String(LOCAL_BROKER_PORT + 1),
      ]);
      config = withBrokers(config, bootstrap);
    }
    options.signal?.throwIfAborted();

    const admin = createKafka(config.kafka, logger, 'threatrelay-dev').admin();
    await admin.connect();
    try {
      const created = await provisionTopics(admin, config);
      print(`Topics ready under ${config.kafka.topicPrefix}.* (${created.length} created).`);
      print(
        `Starting the demo receiver, ${publishers.length} producer(s) and ${subscribing.length} subscriber(s)…`,
      );
    } finally {
      await admin.disconnect();
    }

    const receiver = await startDemoReceiver({
      port: options.basePort,
      secrets: Object.fromEntries(config.subscriptions.map((s) => [s.id, s.webhook.secrets[0]!])),
      onDelivery: (d) => {
        deliveries.push(d);
        for (const line of describeDelivery(d)) print(line);
      },
      onRejected: (subscription, reason) => {
        rejected.push({ subscription, reason });
        print(`  [${subscription}] REJECTED by the receiver: ${reason}`);
      },
    });
    stops.push(() => receiver.close());

    stops.push(() => closeAll(Object.values(producers)));
    for (const [i, org] of publishers.entries()) {
      producers[org] = await startProducer({
        config,
        org,
        signingKeyPem: secrets.signingKeys[org]!,
        port: options.basePort + 1 + i,
        logger,
      });
      options.signal?.throwIfAborted();
    }

    const dataDir = options.dataDir ?? join(repoRoot(), '.cache', 'dev-data');
    rmSync(dataDir, { recursive: true, force: true });
    // Closed together: each subscriber's close waits out its consumers' pending fetches (seconds).
    stops.push(() => closeAll(Object.values(subscribers)));
    for (const [i, org] of subscribing.entries()) {
      subscribers[org] = await startSubscriber({
        config,
        org,
        logger,
        dataDir,
        port: options.basePort + 1 + publishers.length + i,
      });
      options.signal?.throwIfAborted();
    }

    return {
      config,
      startedBroker,
      receiverUrl: receiver.url,
      producers,
      subscribers,
      apiKeys: Object.fromEntries(Object.keys(producers).map((org) => [org, secrets.apiKeys[org]!])),
      deliveries,
      rejected,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ------------------------------------------------------------------ what the receiver prints

const TAG_WIDTH = 21;
const KIND_WIDTH = 23;

function describeEvent(tag: string, e: NativeEvent): string {
  const ind = (e.indicator ?? e.revocation ?? {}) as Record<string, unknown>;
  const what =
    ind.type === null || ind.type === undefined
      ? `key ${e.key.slice(0, 16)}…`
      : `${String(ind.type).padEnd(15)} ${String(ind.value)}${ind.platform ? ` (${String(ind.platform)})` : ''}`;
  const why =
    e.type === 'indicator.corroborated'
      ? `; now reported by ${(e.sources ?? []).join(', ')}`
      : e.type === 'indicator.revoked'
        ? `; reason: ${String(ind.reason)}`
        : '';
  return `  ${tag}${e.type.padEnd(KIND_WIDTH)} ${what}  from ${e.source.org}, tlp:${String(ind.tlp)}${why}`;
}

function describeBundle(tag: string, objects: Record<string, unknown>[]): string[] {
  // A bundle carries its own marking definitions and identities; resolve
  // the references against those, as any STIX consumer would.
  const names = new Map(objects.map((o) => [String(o.id), String(o.name)]));
  return objects
    .filter((o) => o.type === 'indicator')
    .map((o) => {
      const kind = o.revoked === true ? 'stix indicator, revoked' : 'stix indicator';
      const tlp = ((o.object_marking_refs as string[] | undefined) ?? [])
        .map((ref) => names.get(ref) ?? ref)
        .join(' ');
      return `  ${tag}${kind.padEnd(KIND_WIDTH)} ${String(o.pattern)}  ${tlp}, from ${names.get(String(o.created_by_ref)) ?? '?'}`;
    });
}

/** One line per event (native) or per indicator object (STIX) of a verified webhook request. */
export function describeDelivery(delivery: DemoDelivery): string[] {
  const tag = `[${delivery.subscription}]`.padEnd(TAG_WIDTH);
  const { body } = delivery;
  if (isStixBundle(body)) return describeBundle(tag, body.objects);
  return body.events.map((e) => describeEvent(tag, e as unknown as NativeEvent));
}

// ------------------------------------------------------------------ the sample feed and its outcome

export interface FeedResult {
  step: FeedStep;
  status: number;
  body: unknown;
}

/** Posts the sample feed step by step: each one is acknowledged by Kafka before the next, so the order is the story's. */
export async function publishSampleFeed(
  network: DevNetwork,
  print: (line: string) => void = console.log,
  signal?: AbortSignal,
): Promise<FeedResult[]> {
  const results: FeedResult[] = [];
  for (const step of SAMPLE_FEED) {
    signal?.throwIfAborted();
    const producer = network.producers[step.org];
    if (!producer) {
      print(`${step.org}: no producer in this network; step skipped`);
      continue;
    }
    const revoking = step.route.endsWith('/revoke');
    print(`${step.org} ${revoking ? 'revokes' : 'publishes'}: ${step.note}`);
    for (const item of step.items) {
      print(
        `    ${String(item.type).padEnd(15)} ${String(item.value)}${item.platform ? ` (${String(item.platform)})` : ''}  tlp:${String(item.tlp)}${item.recipients ? ` for ${(item.recipients as string[]).join(', ')}` : ''}`,
      );
    }
    const res = await fetch(`${producer.url}${step.route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${network.apiKeys[step.org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(step.items),
      ...(signal ? { signal } : {}),
    });
    const body: unknown = await res.json().catch(() => undefined);
    results.push({ step, status: res.status, body });
    print(
      res.status === 202
        ? `    → 202: Kafka acknowledged ${step.items.length}`
        : `    → ${res.status}: ${JSON.stringify(body)}`,
    );
  }
  return results;
}

/** What each subscription has received so far; a STIX indicator object counts as published, or revoked when it says so. */
export function countDeliveries(
  deliveries: DemoDelivery[],
): Record<string, DeliveryCounts & { requests: number }> {
  const counts: Record<string, DeliveryCounts & { requests: number }> = {};
  for (const d of deliveries) {
    const c = (counts[d.subscription] ??= { requests: 0 });
    c.requests++;
    const { body } = d;
    const kinds: DeliveryKind[] = isStixBundle(body)
      ? body.objects
          .filter((o) => o.type === 'indicator')
          .map((o) => (o.revoked === true ? 'indicator.revoked' : 'indicator.published'))
      : body.events.map((e) => (e as unknown as NativeEvent).type);
    for (const kind of kinds) c[kind] = (c[kind] ?? 0) + 1;
  }
  return counts;
}

function reached(got: DeliveryCounts | undefined, want: DeliveryCounts): boolean {
  return (Object.entries(want) as [DeliveryKind, number][]).every(([kind, n]) => (got?.[kind] ?? 0) >= n);
}

/**
 * Waits until every subscription has received at least what `expected` says;
 * false when `timeoutMs` passed (or `signal` aborted) first.
 */
export async function waitForDeliveries(
  network: DevNetwork,
  expected: Record<string, DeliveryCounts> = SAMPLE_FEED_EXPECTED,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = countDeliveries(network.deliveries);
    if (Object.entries(expected).every(([sub, want]) => reached(counts[sub], want))) return true;
    if (Date.now() > deadline || signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function summarize(network: DevNetwork): string[] {
  const counts = countDeliveries(network.deliveries);
  return network.config.subscriptions.map((s) => {
    const c = counts[s.id];
    const parts = (['indicator.published', 'indicator.corroborated', 'indicator.revoked'] as const)
      .filter((kind) => c?.[kind])
      .map((kind) => `${c![kind]} ${kind.slice('indicator.'.length)}`);
    const what = parts.length ? parts.join(', ') : 'nothing';
    const how = s.format === 'stix21' ? ' (STIX indicator objects)' : '';
    return `  ${s.id.padEnd(TAG_WIDTH - 2)}${what}${how}, in ${c?.requests ?? 0} signed request(s)`;
  });
}

// ------------------------------------------------------------------ the command

export interface DevOptions {
  /** First HTTP port: the receiver; producers and subscribers take the next ones. Default 8080. */
  basePort: number;
}

function printBanner(network: DevNetwork, print: (line: string) => void): void {
  const { config } = network;
  const row = (label: string, rest: string): void => print(`  ${label.padEnd(21)}${rest}`);
  print('\nThreatRelay demo network is up:');
  row('Kafka', `${config.kafka.brokers.join(',')}   topics ${config.kafka.topicPrefix}.*`);
  row('demo receiver', `${network.receiverUrl}/hooks/<subscription>   verifies every signature`);
  for (const [org, p] of Object.entries(network.producers)) {
    row(`producer ${org}`, `${p.url}   API key ${network.apiKeys[org]}`);
  }
  for (const [org, s] of Object.entries(network.subscribers)) {
    row(`subscriber ${org}`, `${s.url}   /readyz /metrics   ${s.subscriptions.join(', ')}`);
  }
  const [org, producer] = Object.entries(network.producers)[0] ?? [];
  if (org && producer) {
    print(
      `\nPublish your own:\n  curl -s -X POST ${producer.url}/v1/indicators -H 'authorization: Bearer ${network.apiKeys[org]}' \\\n` +
        `    -H 'content-type: application/json' -d '{"type":"domain","value":"vote-by-text[.]com","category":"disinformation","tlp":"green"}'`,
    );
  }
  print(
    '\nEach [subscription] line below is one event of a webhook request whose signature the receiver verified.\n',
  );
}

/**
 * Resolves on the first SIGINT/SIGTERM. Ctrl-C in a terminal reaches this
 * process several times at once (directly, and relayed by npm and tsx), so
 * only a signal a second or more after the first counts as "stop now" and
 * exits without waiting for the graceful shutdown.
 */
function firstSignal(print: (line: string) => void): { received: Promise<void>; dispose(): void } {
  let firstAt: number | undefined;
  let resolve = (): void => undefined;
  const received = new Promise<void>((r) => (resolve = r));
  const onSignal = (): void => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      resolve();
    } else if (Date.now() - firstAt >= 1000) {
      print('Forced exit. If the broker still runs: npm run threatrelay -- kafka stop');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return { received, dispose: () => void process.off('SIGINT', onSignal).off('SIGTERM', onSignal) };
}

export async function runDev(options: DevOptions): Promise<void> {
  const print = (line: string): void => console.log(line);
  // Listening from the start: Ctrl-C during start-up must still stop the broker.
  const signal = firstSignal(print);
  const stopping = new AbortController();
  void signal.received.then(() => stopping.abort());
  try {
    let network: DevNetwork;
    try {
      network = await startDevNetwork({ basePort: options.basePort, print, signal: stopping.signal });
    } catch (err) {
      // Ctrl-C during start-up also interrupts kafka.sh; what started is stopped already.
      if (!stopping.signal.aborted) throw err;
      print('Stopped.');
      return;
    }
    try {
      if (!stopping.signal.aborted) {
        printBanner(network, print);
        void (async () => {
          await publishSampleFeed(network, print, stopping.signal);
          const complete = await waitForDeliveries(network, SAMPLE_FEED_EXPECTED, 30_000, stopping.signal);
          if (stopping.signal.aborted) return;
          print(
            `\nWhat each subscription received${complete ? '' : ' within 30 s (the rest prints as it arrives)'}:`,
          );
          for (const line of summarize(network)) print(line);
          print('\nPress Ctrl-C to stop.');
        })().catch((err: unknown) => {
          if (!stopping.signal.aborted) print(`the sample feed failed: ${String(err)}`);
        });
        await signal.received;
      }
    } finally {
      print('\nStopping…');
      await network.close();
      print('Stopped.');
    }
  } finally {
    signal.dispose();
  }
}
