import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admin, Kafka } from 'kafkajs';
import { loadEventCodec } from '../contract/avro/codec';
import { ThreatRelayError } from '../contract/errors';
import { kafkaNames } from '../contract/names';
import { orgPublicKeys } from '../contract/keyring';
import type { Config } from '../platform/config/config';
import { brokerRoundTrip, createKafka, withTimeout } from '../platform/kafka';
import { GroupReader } from '../platform/lag-read';
import type { Logger } from '../platform/logger';
import { createRegistry } from '../platform/metrics';
import { ControlListener, replayDeadLetters, type SubscriptionSwitch } from '../subscriber';
import { createConsoleApp } from './app';
import { EventFollower } from './events';
import { renderPage, renderSections } from './render';
import { Sampler } from './sampler';
import { emptyDeadLetters, RateSeries, type ConsoleModel } from './state';

/**
 * `threatrelay console`: one web page for the operator, read from Kafka
 * itself. Subscription switches come from the control topics, lag and stalls from
 * the groups' committed offsets and their partitions' records (platform/lag.ts), dead letters from the DLQs, throughput and recent
 * events from the community and direct topics. One sample per tick is shared
 * by every open page; each page gets only the sections that changed.
 */

export interface ConsoleOptions {
  config: Config;
  logger: Logger;
  /** 0 = any free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningConsole {
  url: string;
  model: ConsoleModel;
  close(): Promise<void>;
}

/** Bars per chart: the window split into this many buckets. */
const BUCKETS = 20;

function initialModel(config: Config, series: () => RateSeries): ConsoleModel {
  return {
    startedAt: Date.now(),
    orgs: config.orgs.map((o) => ({
      id: o.id,
      name: o.name,
      kind: o.kind,
      // Only a publishing org has a signing key in the config; only a subscribing one has subscriptions.
      roles: [
        ...(o.keys.length > 0 ? ['publishes'] : []),
        ...(config.subscriptions.some((s) => s.org === o.id) ? ['subscribes'] : []),
      ],
      maxTlp: o.maxTlp,
    })),
    subscriptions: new Map(
      config.subscriptions.map((s) => [
        s.id,
        {
          id: s.id,
          org: s.org,
          format: s.format,
          state: 'unknown' as const,
          stateDetail: 'not sampled yet',
          lag: undefined,
          partitions: [],
          lastCommitAt: undefined,
          lastDeliveryAt: undefined,
          lastError: undefined,
          deadLetters: emptyDeadLetters(),
          committed: series(),
          lastPosition: undefined,
        },
      ]),
    ),
    producers: new Map(),
    events: [],
    kafka: { ok: false, at: undefined, problem: 'waiting for the first sample' },
  };
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const { config, logger } = options;
  if (config.console.operators.length === 0) {
    throw new ThreatRelayError('TR_CONFIG', 'console.operators is empty: nobody could sign in');
  }
  const names = kafkaNames(config.kafka.topicPrefix);
  const windowMs = config.console.windowMinutes * 60_000;
  const series = (): RateSeries => new RateSeries(windowMs / BUCKETS, BUCKETS);
  const model = initialModel(config, series);
  const kafka = createKafka(config.kafka, logger, 'threatrelay-console');
  const admin = kafka.admin();
  await admin.connect();
  const stops: (() => Promise<void>)[] = [() => admin.disconnect()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const switches = await followSwitches(config, kafka, admin, stops, logger);
    const events = new EventFollower(
      kafka,
      admin,
      config.orgs.map((o) => o.id),
      names,
      loadEventCodec(),
      orgPublicKeys(config.orgs),
      model,
      series,
      windowMs,
      logger,
    );
    stops.push(() => events.stop());
    await events.start();
    const reader = new GroupReader(kafka, admin, logger);
    stops.push(() => reader.close());
    const sampler = new Sampler(config, names, admin, reader, model, switches, logger);
    stops.push(() => sampler.settled());

    const listeners = await sampleEvery(config.console.sampleIntervalMs, sampler, model, stops);

    let replays: Promise<unknown> = Promise.resolve();
    const app = createConsoleApp({
      settings: config.console,
      page: () => renderPage(model, config.console.windowMinutes),
      sections: () => renderSections(model),
      subscribe: (send) => {
        listeners.add(send);
        return () => listeners.delete(send);
      },
      hasSubscription: (id) => model.subscriptions.has(id),
      // One replay at a time: two at once would deliver the same letters twice.
      replay: (id) => {
        const run = replays.then(() => replayDeadLetters(config, id, {}, logger));
        replays = run.catch(() => undefined);
        return run;
      },
      ready: () => withTimeout(brokerRoundTrip(admin), 5000, () => new Error('broker round trip timed out')),
      metrics: createRegistry('console'),
      logger,
    });
    stops.push(() => replays.then(() => undefined));
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(options.port, options.host ?? '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as AddressInfo;
    const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
    return { url: `http://${host}:${port}`, model, close: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Every subscribing org's switches, followed from its control topic with groups of the console's own. */
async function followSwitches(
  config: Config,
  kafka: Kafka,
  admin: Admin,
  stops: (() => Promise<void>)[],
  logger: Logger,
): Promise<Map<string, SubscriptionSwitch>> {
  const names = kafkaNames(config.kafka.topicPrefix);
  const switches = new Map<string, SubscriptionSwitch>();
  for (const org of new Set(config.subscriptions.map((s) => s.org))) {
    const listener = new ControlListener(
      kafka,
      admin,
      names.control(org),
      `${names.consoleGroupPrefix()}control.${org}.`,
      (sw) => switches.set(sw.subscription, sw),
      logger,
    );
    stops.push(() => listener.stop());
    await listener.start();
  }
  return switches;
}

/**
 * Samples Kafka every `intervalMs`, one tick at a time however long Kafka
 * takes to answer (no pile-up of samples), and sends each listening page the
 * sections that changed.
 */
async function sampleEvery(
  intervalMs: number,
  sampler: Sampler,
  model: ConsoleModel,
  stops: (() => Promise<void>)[],
): Promise<Set<(sections: Record<string, string>) => void>> {
  const listeners = new Set<(sections: Record<string, string>) => void>();
  let last: Record<string, string> = {};
  const broadcast = (): void => {
    const now = renderSections(model);
    const changed = Object.fromEntries(Object.entries(now).filter(([id, html]) => last[id] !== html));
    last = now;
    if (Object.keys(changed).length > 0) for (const send of listeners) send(changed);
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const loop = async (): Promise<void> => {
    await sampler.tick();
    broadcast();
    if (!stopped) timer = setTimeout(() => void loop(), intervalMs);
  };
  await loop();
  stops.push(async () => {
    stopped = true;
    clearTimeout(timer);
  });

  return listeners;
}
