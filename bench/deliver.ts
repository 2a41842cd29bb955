/**
 * How fast does the subscriber deliver to a webhook, compared with bare HTTP
 * and with raw kafkajs, in the same run?
 *
 *   npx tsx bench/deliver.ts [--records=20000] [--single-records=3000] [--e2e-records=20000] [--windows]
 *
 * Starts a local Kafka broker (or uses KAFKA_BROKERS); the producer
 * (`startProducer`), the subscriber (`startSubscriber`) and the webhook
 * receivers (`startReceiver`: real HTTP on 127.0.0.1, 200 at once, nothing
 * verified) all run in this process. Two questions:
 *
 * 1. Fan-out. `records` distinct TLP:GREEN indicators are published through
 *    the producer API (500 per request) before any subscriber starts; a
 *    warm-up subscription reads them all (not reported); then
 *    one subscription at a time (batchSize 100 and 1, dedup `embedded` and
 *    `none`, each its own consumer group reading from the beginning) is
 *    timed from `startSubscriber` until its receiver holds every record
 *    (batchSize 1: the first `single-records`). Baseline: the very requests
 *    the receiver recorded (bodies and webhook headers), POSTed again with
 *    bare `undici.request`, one at a time, to a fresh receiver.
 * 2. End to end. `e2e-records` indicators are POSTed to the API, 500 per
 *    request, one request at a time, to a subscriber already in its group
 *    (batchSize 100; dedup `embedded`, then `none`, each on a fresh network);
 *    latency per indicator runs from the start of its API request to the
 *    receiver's arrival time, matched by eventId. Baseline: the same events,
 *    Avro-encoded and signed as the producer does, sent with a plain kafkajs
 *    idempotent producer's `sendBatch` (500 per batch, one at a time) and read
 *    by a plain kafkajs consumer's `eachBatch` in this process; latency from
 *    the start of its `sendBatch` to `eachBatch`.
 * Then each step of the subscriber's path (signature check, Avro decode,
 * shaping, webhook id and signature) is timed alone, and the embedded dedup
 * store's `record`, one at a time and 100 in flight.
 *
 * Every case is bounded in time; everything started here, broker included,
 * is stopped on the way out, on error and on Ctrl-C too (bench/support.ts).
 * `--windows` prints each case's window on the monotonic clock in µs, to cut
 * a `node --cpu-prof` profile into cases. Prints markdown tables for
 * BENCHMARKS.md.
 */
import os from 'node:os';
import { join } from 'node:path';
import type { Consumer, Message } from 'kafkajs';
import { request } from 'undici';
import type { KeyObject } from 'node:crypto';
import { decodeBatchProof, VerifiedRoots } from '../services/contract/batch-signature';
import { kafkaNames } from '../services/contract/names';
import type { RunningProducer } from '../services/producer/service';
import { loadEventCodec } from '../services/contract/avro/codec';
import { HEADERS } from '../services/contract/definitions';
import { createIdempotentProducer, createKafka, ensureTopics } from '../services/platform/kafka';
import { signingKeyOf } from '../services/contract/keyring';
import { loadPrivateKey, signValue, verifyValue } from '../services/contract/signing';
import { createDedupStore } from '../services/subscriber/dedup';
import { signatureHeader, webhookIdFor } from '../services/subscriber/delivery/webhook';
import { startSubscriber } from '../services/subscriber/service';
import { toNative, type WebhookBody } from '../services/contract/webhook-body';
import { forgetSharedChecks } from '../services/contract/record-read';
import { closeSharedGuards } from '../services/subscriber/delivery/ssrf-guard';
import { createTestNetwork, type TestNetwork, type TestSubscription } from '../testkit/network';
import { startReceiver, type ReceivedRequest, type Receiver } from '../testkit/receiver';
import {
  cpuRate,
  createBenchRun,
  eventsIn,
  producerWrites,
  fmt,
  indicatorGenerator,
  writeResults,
  type BenchBroker,
  type RawIndicator,
} from './support';

const arg = (name: string, fallback: number): number =>
  Number(
    new RegExp(`^--${name}=(.+)$`).exec(process.argv.find((a) => a.startsWith(`--${name}=`)) ?? '')?.[1] ??
      fallback,
  );
const RECORDS = arg('records', 20_000);
const SINGLE_RECORDS = arg('single-records', 3_000);
const E2E_RECORDS = arg('e2e-records', 20_000);
const WINDOWS = process.argv.includes('--windows');
const API_BATCH = 500;
/** Whatever happens, a case gives up after this long. */
const CASE_LIMIT_MS = 40_000;
/** Everything, broker start and stop included, must be over well within 4 minutes. */
const HARD_LIMIT_MS = 230_000;
const PUBLISHER = 'facebook';
const SUBSCRIBER = 'dhs';
const PRODUCER_SETTINGS = {
  rateLimitPerMinute: 10_000_000,
  maxBatchItems: 1000,
  bodyLimitBytes: 8 * 1024 * 1024,
};

const bench = createBenchRun('deliver', HARD_LIMIT_MS);
let broker: BenchBroker;

// ---------------------------------------------------------------------------
// Measuring

const usNow = (): bigint => process.hrtime.bigint() / 1000n;

/** CPU of this process and of the broker over a window. */
function cpuMeter(): () => { nodeSeconds: number; brokerSeconds: number | undefined } {
  const cpu0 = process.cpuUsage();
  const broker0 = broker.cpuSeconds();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    const broker1 = broker.cpuSeconds();
    return {
      nodeSeconds: (cpu.user + cpu.system) / 1e6,
      brokerSeconds: broker0 === undefined || broker1 === undefined ? undefined : broker1 - broker0,
    };
  };
}

interface Arrivals {
  /** The requests that brought them (2xx only). */
  requests: ReceivedRequest[];
  events: number;
  firstAt: number;
  /** Arrival of the request that brought the `target`-th event. */
  lastAt: number;
}

/**
 * Polls the receiver's log from request `from` until `target` events have
 * arrived, or `CASE_LIMIT_MS`. Times are the receiver's own arrival times,
 * not the poll's.
 */
async function waitForEvents(receiver: Receiver, from: number, target: number): Promise<Arrivals> {
  const deadline = Date.now() + CASE_LIMIT_MS;
  const requests: ReceivedRequest[] = [];
  let events = 0;
  let next = from;
  for (;;) {
    while (next < receiver.requests.length) {
      const r = receiver.requests[next++]!;
      if (r.status < 200 || r.status >= 300) throw new Error(`the receiver answered ${r.status}`);
      requests.push(r);
      events += eventsIn(r.body);
      if (events >= target) return { requests, events, firstAt: requests[0]!.at, lastAt: r.at };
    }
    if (bench.aborted) throw new Error('aborted');
    if (Date.now() > deadline) {
      throw new Error(`only ${events} of ${target} events arrived within ${CASE_LIMIT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `fn` registered for cleanup and callable earlier; runs once either way. */
function stoppable(what: string, fn: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const stop = (): Promise<void> => (done ??= fn().then(() => undefined));
  bench.defer(what, stop);
  return stop;
}

function window(name: string, startUs: bigint): void {
  if (WINDOWS) console.error(`  window ${JSON.stringify(name)} ${startUs} ${usNow()}`);
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(0);
  // Closes the connections the subscriber and the baseline keep alive to it.
  bench.defer('a receiver', () => r.close());
  return r;
}

// ---------------------------------------------------------------------------
// Question 1: fan-out from a pre-loaded topic

interface FanOutResult {
  name: string;
  batchSize: number;
  dedup: 'embedded' | 'none';
  events: number;
  requests: number;
  /** From `startSubscriber` to the arrival of the last counted event. */
  seconds: number;
  /** From `startSubscriber` to the first webhook: connect, control topic, group join, first fetch. */
  firstSeconds: number;
  perSecond: number;
  /** From the first webhook's arrival to the last's, without the first request's events. */
  steadyPerSecond: number;
  /** Mean size of a webhook body. */
  bodyBytes: number;
  nodeCpuUs: number;
  nodeCores: number;
  brokerCores: number | undefined;
  recorded: ReceivedRequest[];
}

async function fanOut(
  network: TestNetwork,
  sub: { id: string; batchSize: number; dedup?: unknown },
  to: Receiver,
  target: number,
): Promise<FanOutResult> {
  const dedup = sub.dedup ? 'none' : 'embedded';
  const name = `subscriber, batchSize ${sub.batchSize}, dedup ${dedup}`;
  const from = to.requests.length;
  // Each case reads the same records: it starts with the caches of a fresh process, not the last case's.
  forgetSharedChecks();
  const startUs = usNow();
  const cpu = cpuMeter();
  const t0 = Date.now();
  const subscriber = await startSubscriber({
    config: network.config,
    org: SUBSCRIBER,
    subscriptions: [sub.id],
    logger: network.logger,
    dataDir: network.dataDir,
  });
  const stop = stoppable(`subscriber ${sub.id}`, () => subscriber.close());
  const got = await waitForEvents(to, from, target);
  const used = cpu();
  window(name, startUs);
  await stop();
  const seconds = (got.lastAt - t0) / 1000;
  const steadyEvents = got.events - eventsIn(got.requests[0]!.body);
  const result: FanOutResult = {
    name,
    batchSize: sub.batchSize,
    dedup,
    events: got.events,
    requests: got.requests.length,
    seconds,
    firstSeconds: (got.firstAt - t0) / 1000,
    perSecond: got.events / seconds,
    steadyPerSecond: steadyEvents / Math.max(0.001, (got.lastAt - got.firstAt) / 1000),
    bodyBytes: got.requests.reduce((sum, r) => sum + Buffer.byteLength(r.body), 0) / got.requests.length,
    nodeCpuUs: (used.nodeSeconds * 1e6) / got.events,
    nodeCores: used.nodeSeconds / seconds,
    brokerCores: used.brokerSeconds === undefined ? undefined : used.brokerSeconds / seconds,
    recorded: got.requests,
  };
  console.error(
    `  ${name}: ${fmt(result.perSecond)} indicators/s (${result.events} in ${seconds.toFixed(2)} s, first after ${result.firstSeconds.toFixed(2)} s, ${result.requests} requests)`,
  );
  return result;
}

interface BareResult {
  name: string;
  events: number;
  requests: number;
  seconds: number;
  perSecond: number;
  nodeCpuUs: number;
}

const BARE_MIN_SECONDS = 1;
const REPLAYED_HEADERS = [
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
];

/**
 * The recorded requests again, byte for byte, with bare `undici.request`, one
 * at a time; the whole list again until at least BARE_MIN_SECONDS went by,
 * because one pass can take only milliseconds.
 */
async function bareUndici(name: string, recorded: ReceivedRequest[], to: Receiver): Promise<BareResult> {
  const url = `${to.url}/ok`;
  const prepared = recorded.map((r) => ({
    body: r.body,
    events: eventsIn(r.body),
    headers: Object.fromEntries(REPLAYED_HEADERS.map((h) => [h, String(r.headers[h])])),
  }));
  const post = async (p: (typeof prepared)[number]): Promise<number> => {
    const res = await request(url, { method: 'POST', body: p.body, headers: p.headers });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`the receiver answered ${res.statusCode}`);
    return p.events;
  };
  // Warm-up: the connection and the JIT.
  for (const p of prepared.slice(0, 20)) await post(p);
  const startUs = usNow();
  const cpu = cpuMeter();
  const t0 = process.hrtime.bigint();
  let events = 0;
  let requests = 0;
  let seconds = 0;
  while (seconds < BARE_MIN_SECONDS) {
    for (const p of prepared) {
      if (bench.aborted) throw new Error('aborted');
      events += await post(p);
    }
    requests += prepared.length;
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // The receiver keeps every request; what was already answered is not needed.
    to.requests.length = 0;
  }
  const used = cpu();
  window(name, startUs);
  const result = {
    name,
    events,
    requests,
    seconds,
    perSecond: events / seconds,
    nodeCpuUs: (used.nodeSeconds * 1e6) / events,
  };
  console.error(`  ${name}: ${fmt(result.perSecond)} indicators/s (${events} in ${seconds.toFixed(2)} s)`);
  return result;
}

/**
 * The raw subscriber pipeline: a plain kafkajs consumer's `eachBatch` over the
 * same pre-loaded topics, each 100 records made into one JSON body (eventId
 * and the base64 value; no signature check, no decode, no dedup) and POSTed
 * with bare undici to the receiver, committing after each POST. What a
 * subscriber costs above moving the bytes.
 */
async function rawPipeline(net: TestNetwork, to: Receiver, target: number): Promise<FanOutResult> {
  const name = 'raw pipeline: kafkajs eachBatch → JSON body of 100 → undici POST';
  const kafka = createKafka(net.config.kafka, net.logger, 'threatrelay-bench-raw-pipeline');
  const consumer: Consumer = kafka.consumer({ groupId: `${net.prefix}.bench.raw-pipeline` });
  const stop = stoppable('the raw pipeline consumer', () => consumer.disconnect());
  const url = `${to.url}/ok`;
  const from = to.requests.length;
  const startUs = usNow();
  const cpu = cpuMeter();
  const t0 = Date.now();
  await consumer.connect();
  const names = kafkaNames(net.config.kafka.topicPrefix);
  await consumer.subscribe({ topics: [names.community('green')], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (let i = 0; i < batch.messages.length; i += 100) {
        const chunk = batch.messages.slice(i, i + 100);
        const body = JSON.stringify({
          events: chunk.map((m) => ({
            eventId: m.headers![HEADERS.eventId]!.toString(),
            value: m.value!.toString('base64'),
          })),
        });
        const res = await request(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await res.body.text();
        resolveOffset(chunk[chunk.length - 1]!.offset);
        await heartbeat();
      }
    },
  });
  const got = await waitForEvents(to, from, target);
  const used = cpu();
  window(name, startUs);
  await stop();
  const seconds = (got.lastAt - t0) / 1000;
  const result: FanOutResult = {
    name,
    batchSize: 100,
    dedup: 'none',
    events: got.events,
    requests: got.requests.length,
    seconds,
    firstSeconds: (got.firstAt - t0) / 1000,
    perSecond: got.events / seconds,
    steadyPerSecond:
      (got.events - eventsIn(got.requests[0]!.body)) / Math.max(0.001, (got.lastAt - got.firstAt) / 1000),
    bodyBytes: got.requests.reduce((sum, r) => sum + Buffer.byteLength(r.body), 0) / got.requests.length,
    nodeCpuUs: (used.nodeSeconds * 1e6) / got.events,
    nodeCores: used.nodeSeconds / seconds,
    brokerCores: used.brokerSeconds === undefined ? undefined : used.brokerSeconds / seconds,
    recorded: got.requests,
  };
  console.error(
    `  ${name}: ${fmt(result.perSecond)} indicators/s (${result.events} in ${seconds.toFixed(2)} s)`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// Question 2: end to end

interface EndToEndResult {
  name: string;
  events: number;
  seconds: number;
  perSecond: number;
  /** Rate of the sending side alone: first request's start to the last acknowledgement. */
  sendPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  nodeCpuUs: number;
  nodeCores: number;
  brokerCores: number | undefined;
}

function endToEndResult(
  name: string,
  started: number,
  sentUntil: number,
  lastAt: number,
  latencies: number[],
  used: ReturnType<ReturnType<typeof cpuMeter>>,
): EndToEndResult {
  latencies.sort((a, b) => a - b);
  const seconds = (lastAt - started) / 1000;
  const result: EndToEndResult = {
    name,
    events: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    sendPerSecond: latencies.length / ((sentUntil - started) / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1]!,
    nodeCpuUs: (used.nodeSeconds * 1e6) / latencies.length,
    nodeCores: used.nodeSeconds / seconds,
    brokerCores: used.brokerSeconds === undefined ? undefined : used.brokerSeconds / seconds,
  };
  console.error(
    `  ${name}: ${fmt(result.perSecond)} indicators/s (${result.events} in ${seconds.toFixed(2)} s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms)`,
  );
  return result;
}

interface Receipts {
  accepted: number;
  receipts: { eventId: string; key: string }[];
}

/** POSTs one API batch; its receipts. */
async function publish(producer: RunningProducer, apiKey: string, body: string): Promise<Receipts> {
  const res = await fetch(`${producer.url}/v1/indicators`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`the API answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Receipts;
}

/** A network of its own (so its topics hold only what this case publishes), its producer, a receiver. */
async function startNetwork(subscriptions: (url: string) => TestSubscription[]): Promise<{
  network: TestNetwork;
  producer: RunningProducer;
  to: Receiver;
}> {
  const to = await receiver();
  const net = await createTestNetwork(
    [{ id: PUBLISHER }, { id: SUBSCRIBER, kind: 'government' }],
    subscriptions(`${to.url}/ok`),
    { producer: PRODUCER_SETTINGS },
  );
  bench.defer(`network ${net.prefix}`, () => net.close());
  const producer = await net.startProducer(PUBLISHER);
  bench.defer(`producer of ${net.prefix}`, () => producer.close());
  return { network: net, producer, to };
}

/** Waits until request `i` of a paced run is due: `paceMs` apart from `started`. */
async function paced(started: number, i: number, paceMs: number | undefined): Promise<void> {
  if (paceMs === undefined) return;
  const due = started + i * paceMs - Date.now();
  if (due > 0) await new Promise((r) => setTimeout(r, due));
}

async function endToEndApi(
  dedup: 'embedded' | 'none',
  warmBodies: string[],
  bodies: string[],
  paceMs?: number,
): Promise<EndToEndResult> {
  const name = `API → subscriber → webhook, dedup ${dedup}${paceMs === undefined ? '' : `, paced at ${fmt(API_BATCH / (paceMs / 1000))}/s`}`;
  const {
    network: net,
    producer,
    to,
  } = await startNetwork((url) => [
    {
      id: 'e2e',
      org: SUBSCRIBER,
      url,
      batchSize: 100,
      ...(dedup === 'none' ? { dedup: { store: 'none' } } : {}),
    },
  ]);
  const apiKey = net.apiKeys[PUBLISHER]!;
  const subscriber = await startSubscriber({
    config: net.config,
    org: SUBSCRIBER,
    logger: net.logger,
    dataDir: net.dataDir,
  });
  const stop = stoppable(`subscriber of ${net.prefix}`, () => subscriber.close());
  // Warm-up: the group is joined, fetching, and every path has run once.
  let warm = 0;
  for (const b of warmBodies) warm += (await publish(producer, apiKey, b)).accepted;
  await waitForEvents(to, 0, warm);
  const from = to.requests.length;

  const sentAt = new Map<string, number>();
  const keys = new Set<string>();
  const startUs = usNow();
  const cpu = cpuMeter();
  const started = Date.now();
  for (const [i, body] of bodies.entries()) {
    if (bench.aborted) throw new Error('aborted');
    await paced(started, i, paceMs);
    const t = Date.now();
    for (const r of (await publish(producer, apiKey, body)).receipts) {
      sentAt.set(r.eventId, t);
      keys.add(r.key);
    }
  }
  const sentUntil = Date.now();
  // The embedded store would drop a repeated key; the generator makes none.
  const got = await waitForEvents(to, from, dedup === 'none' ? sentAt.size : keys.size);
  const used = cpu();
  window(name, startUs);
  await stop();
  const latencies: number[] = [];
  for (const r of got.requests) {
    for (const e of (JSON.parse(r.body) as { events: { eventId: string }[] }).events) {
      const t = sentAt.get(e.eventId);
      if (t === undefined) throw new Error(`the receiver got ${e.eventId}, which was not sent`);
      latencies.push(r.at - t);
    }
  }
  return endToEndResult(name, started, sentUntil, got.lastAt, latencies, used);
}

async function endToEndRaw(
  net: TestNetwork,
  warm: Message[][],
  batches: Message[][],
  paceMs?: number,
): Promise<EndToEndResult> {
  const name = `raw kafkajs sendBatch → eachBatch${paceMs === undefined ? '' : `, paced at ${fmt(API_BATCH / (paceMs / 1000))}/s`}`;
  const run = paceMs === undefined ? 'raw' : 'raw-paced';
  const topic = `${net.prefix}.bench.${run}-e2e`;
  const admin = await net.admin();
  await ensureTopics(admin, [topic], { partitions: net.config.kafka.partitions, replicationFactor: 1 });
  // The same client settings as the services'.
  const kafka = createKafka(net.config.kafka, net.logger, 'threatrelay-bench-raw');
  const producer = createIdempotentProducer(kafka);
  const stopProducer = stoppable('the raw producer', () => producer.disconnect());
  await producer.connect();
  const consumer: Consumer = kafka.consumer({
    groupId: `${net.prefix}.bench.${run}`,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    allowAutoTopicCreation: false,
  });
  const stopConsumer = stoppable('the raw consumer', () => consumer.disconnect());
  const arrived: [eventId: string, at: number][] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const at = Date.now();
      for (const m of batch.messages) arrived.push([m.headers![HEADERS.eventId]!.toString(), at]);
    },
  });
  const consumed = async (n: number): Promise<number> => {
    const deadline = Date.now() + CASE_LIMIT_MS;
    while (arrived.length < n) {
      if (bench.aborted) throw new Error('aborted');
      if (Date.now() > deadline) throw new Error(`only ${arrived.length} of ${n} records consumed`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return arrived[n - 1]![1];
  };
  const send = (messages: Message[]) =>
    producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
  for (const messages of warm) await send(messages);
  const from = warm.reduce((sum, b) => sum + b.length, 0);
  await consumed(from);

  const sentAt = new Map<string, number>();
  const startUs = usNow();
  const cpu = cpuMeter();
  const started = Date.now();
  for (const [i, messages] of batches.entries()) {
    if (bench.aborted) throw new Error('aborted');
    await paced(started, i, paceMs);
    const t = Date.now();
    for (const m of messages) sentAt.set(String(m.headers![HEADERS.eventId]), t);
    await send(messages);
  }
  const sentUntil = Date.now();
  const lastAt = await consumed(from + sentAt.size);
  const used = cpu();
  window(name, startUs);
  await stopConsumer();
  await stopProducer();
  const latencies = arrived.slice(from).map(([id, at]) => at - sentAt.get(id)!);
  return endToEndResult(name, started, sentUntil, lastAt, latencies, used);
}

// ---------------------------------------------------------------------------
// The subscriber's steps, one at a time, without Kafka or HTTP

interface Step {
  name: string;
  perSecond: number;
}

/**
 * The CPU of each step a record goes through (signature check, Avro decode,
 * shaping and serializing the body, webhook id and signature), and the wall
 * time of the embedded dedup store's `record`: one at a time, as the consumer
 * calls it, and 100 in flight.
 */
async function subscriberSteps(
  net: TestNetwork,
  messages: Message[],
  signingKey: KeyObject,
): Promise<Step[]> {
  const codec = loadEventCodec();
  const keys = net.config.orgs.find((o) => o.id === PUBLISHER)!.keys.map(signingKeyOf);
  const publicKey = keys[0]!.publicKey;
  const values = messages.map((m) => m.value as Buffer);
  // v1 signatures of the same values, for the record-by-record check batch signatures replace.
  const signatures = values.map((v) => signValue(v, signingKey));
  const proofs = messages.map((m) => decodeBatchProof(m.headers![HEADERS.batchSignature] as Buffer)!);
  const roots = new VerifiedRoots();
  const events = values.map((v) => codec.decode(v));
  const n = events.length;
  const per100 = Array.from({ length: Math.floor(n / 100) }, (_, i) => events.slice(i * 100, (i + 1) * 100));
  const m = per100.length;
  const body = (items: typeof events): string =>
    JSON.stringify({
      subscription: 'fan-100',
      events: items.map((e) => toNative(e, 'indicator.published')),
    } satisfies WebhookBody);
  const bodies100 = per100.map(body);
  const bodies1 = events.map((e) => body([e]));
  const ids100 = per100.map((items) => items.map((e) => e.eventId));
  const secrets = [net.webhookSecrets['fan-100']!];
  const at = new Date();
  const seconds = 0.6;
  const steps: [string, (k: number) => number][] = [
    [
      'v1: Ed25519 verify per record (verifyValue)',
      (k) => (verifyValue(values[k % n]!, signatures[k % n]!, publicKey) ? 1 : 0),
    ],
    [
      'v2: Merkle path per record, root verified once (VerifiedRoots)',
      (k) => (roots.verify(PUBLISHER, keys, values[k % n]!, proofs[k % n]!).ok ? 1 : 0),
    ],
    ['Avro decode (codec.decode)', (k) => (codec.decode(values[k % n]!) ? 1 : 0)],
    ['shape + JSON.stringify, body of 100 (toNative)', (k) => (body(per100[k % m]!) ? 100 : 0)],
    ['webhook id, body of 100 (webhookIdFor)', (k) => (webhookIdFor('fan-100', ids100[k % m]!) ? 100 : 0)],
    [
      'webhook signature, body of 100 (signatureHeader, node:crypto HMAC)',
      (k) => (signatureHeader(secrets, 'msg_x', at, bodies100[k % m]!) ? 100 : 0),
    ],
    [
      'webhook signature, body of 1 (signatureHeader, node:crypto HMAC)',
      (k) => (signatureHeader(secrets, 'msg_x', at, bodies1[k % n]!) ? 1 : 0),
    ],
  ];
  const result = steps.map(([name, fn]) => ({ name, perSecond: cpuRate(fn, seconds) }));

  const store = createDedupStore({ kind: 'embedded', path: join(net.dataDir, 'dedup', 'bench-steps') });
  const stop = stoppable('the dedup store of the step timing', () => store.close());
  let next = 0;
  const record = () => {
    const i = next++;
    return store.record({
      eventId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      key: i.toString(16).padStart(64, '0'),
      org: PUBLISHER,
      kind: 'published',
      tlp: 'clear',
      position: `steps/0/${i}`,
      validUntil: null,
    });
  };
  const dedupRate = async (inFlight: number, limit: number): Promise<number> => {
    const t0 = process.hrtime.bigint();
    let done = 0;
    while (done < limit && Number(process.hrtime.bigint() - t0) / 1e9 < 2 * seconds) {
      await Promise.all(Array.from({ length: inFlight }, record));
      done += inFlight;
    }
    return done / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  await dedupRate(100, 1000);
  result.push({
    name: 'dedup store `record` (embedded, lmdb), one at a time, wall',
    perSecond: await dedupRate(1, 2000),
  });
  result.push({
    name: 'dedup store `record` (embedded, lmdb), 100 in flight, wall',
    perSecond: await dedupRate(100, 50_000),
  });
  await stop();
  return result;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  broker = await bench.startBroker();
  bench.defer('the webhook connection pools', () => closeSharedGuards());

  // Every pool from one call, so no indicator repeats anywhere (a repeat would be deduplicated).
  console.error('deliver bench: generating indicators…');
  const generate = indicatorGenerator(20261127);
  const all = generate(RECORDS + API_BATCH + E2E_RECORDS);
  const chunks = (items: RawIndicator[]): RawIndicator[][] =>
    Array.from({ length: Math.ceil(items.length / API_BATCH) }, (_, i) =>
      items.slice(i * API_BATCH, (i + 1) * API_BATCH),
    );
  const preload = chunks(all.slice(0, RECORDS));
  const e2eWarm = chunks(all.slice(RECORDS, RECORDS + API_BATCH));
  const e2e = chunks(all.slice(RECORDS + API_BATCH));

  // Question 1: one network, the topic pre-loaded, then one subscription (consumer group) at a time.
  // `warm` reads every record first and is not reported: the first case would otherwise be measured
  // while V8 and the broker's JVM still compile the subscriber's paths (the caches it fills are emptied).
  const warm = { id: 'warm', batchSize: 100 };
  const cases = [
    { id: 'fan-100', batchSize: 100 },
    { id: 'fan-100-none', batchSize: 100, dedup: { store: 'none' } },
    { id: 'fan-1', batchSize: 1 },
    { id: 'fan-1-none', batchSize: 1, dedup: { store: 'none' } },
  ];
  const receivers = new Map<string, Receiver>();
  for (const c of [warm, ...cases]) receivers.set(c.id, await receiver());
  const { network: net, producer } = await startNetwork(() =>
    [warm, ...cases].map((c) => ({ ...c, org: SUBSCRIBER, url: `${receivers.get(c.id)!.url}/ok` })),
  );
  console.error(`deliver bench: publishing ${RECORDS} indicators through the API, ${API_BATCH} per request…`);
  const keys = new Set<string>();
  let published = 0;
  const p0 = Date.now();
  for (const batch of preload) {
    const answer = await publish(producer, net.apiKeys[PUBLISHER]!, JSON.stringify(batch));
    published += answer.accepted;
    for (const r of answer.receipts) keys.add(r.key);
  }
  console.error(`  published ${published} in ${((Date.now() - p0) / 1000).toFixed(2)} s, ${keys.size} keys`);
  // The embedded store would drop a repeated key; the generator makes none, but count what arrives.
  const expected = (dedup: unknown, cap: number): number => Math.min(cap, dedup ? published : keys.size);

  console.error('deliver bench: fan-out');
  const warmed = await fanOut(net, warm, receivers.get(warm.id)!, expected(undefined, published));
  console.error(`  warm-up read: ${fmt(warmed.perSecond)} indicators/s (not reported)`);
  const fan: FanOutResult[] = [];
  const bare: BareResult[] = [];
  for (const c of cases) {
    const cap = c.batchSize === 1 ? SINGLE_RECORDS : published;
    fan.push(await fanOut(net, c, receivers.get(c.id)!, expected(c.dedup, cap)));
  }
  const fan100 = fan[0]!;
  const fan1 = fan[2]!;
  const raw100 = await rawPipeline(net, await receiver(), published);
  bare.push(
    await bareUndici(
      'bare undici.request, batches of the batchSize 100 run',
      fan100.recorded,
      await receiver(),
    ),
  );
  bare.push(
    await bareUndici('bare undici.request, bodies of the batchSize 1 run', fan1.recorded, await receiver()),
  );

  // Question 2: a fresh network per subscriber case, so each topic holds only that case's records.
  console.error('deliver bench: end to end');
  const codec = loadEventCodec();
  const signingKey = loadPrivateKey(net.signingKeys[PUBLISHER]!);
  const toMessages = (batch: RawIndicator[]): Message[] =>
    producerWrites(batch, PUBLISHER, codec, signingKey);
  const e2eMessages = e2e.map(toMessages);
  const e2eResults: EndToEndResult[] = [];
  e2eResults.push(await endToEndRaw(net, e2eWarm.map(toMessages), e2eMessages));
  const warmBodies = e2eWarm.map((b) => JSON.stringify(b));
  const bodies = e2e.map((b) => JSON.stringify(b));
  e2eResults.push(await endToEndApi('embedded', warmBodies, bodies));
  e2eResults.push(await endToEndApi('none', warmBodies, bodies));
  // Latency at half of the measured maximum (the embedded case's rate), ours and raw at the same load.
  const halfLoad = e2eResults[1]!.perSecond / 2;
  const paceMs = (API_BATCH / halfLoad) * 1000;
  const pacedRaw = await endToEndRaw(net, e2eWarm.map(toMessages), e2eMessages, paceMs);
  const pacedApi = await endToEndApi('embedded', warmBodies, bodies, paceMs);
  e2eResults.push(pacedRaw, pacedApi);

  console.error("deliver bench: timing the subscriber's steps…");
  const steps = await subscriberSteps(net, e2eMessages.slice(0, 2).flat(), signingKey);

  // Report.
  const cores = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}×`;
  console.log(
    `deliver bench: ${RECORDS} pre-loaded indicators (batchSize 1: the first ${SINGLE_RECORDS}), ${E2E_RECORDS} end to end`,
  );
  console.log(
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${broker.description}`,
  );
  console.log('');
  console.log(
    '| case | indicators | webhook requests | mean body, bytes | seconds | first delivery, s | indicators/s | after first delivery, indicators/s | Node CPU µs/indicator | Node CPU, cores | broker CPU, cores |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of fan) {
    console.log(
      `| ${r.name} | ${r.events} | ${r.requests} | ${fmt(r.bodyBytes)} | ${r.seconds.toFixed(2)} | ${r.firstSeconds.toFixed(2)} | ${fmt(r.perSecond)} | ${fmt(r.steadyPerSecond)} | ${r.nodeCpuUs.toFixed(0)} | ${r.nodeCores.toFixed(2)} | ${cores(r.brokerCores)} |`,
    );
  }
  for (const r of [raw100, ...bare]) {
    console.log(
      `| ${r.name} | ${r.events} | ${r.requests} | – | ${r.seconds.toFixed(2)} | – | ${fmt(r.perSecond)} | – | ${r.nodeCpuUs.toFixed(0)} | – | – |`,
    );
  }
  console.log('');
  for (const [r, b] of [
    [fan[0]!, bare[0]!],
    [fan[1]!, bare[0]!],
    [fan[2]!, bare[1]!],
    [fan[3]!, bare[1]!],
  ] as const) {
    console.log(
      `- ${r.name} / bare undici: ${ratio(r.perSecond, b.perSecond)} from start, ${ratio(r.steadyPerSecond, b.perSecond)} after the first delivery`,
    );
  }
  console.log(
    `- ${fan100.name} / raw pipeline: ${ratio(fan100.perSecond, raw100.perSecond)} (target ≥ 0.5×); dedup none: ${ratio(fan[1]!.perSecond, raw100.perSecond)}`,
  );
  console.log('');
  console.log(
    '| case | indicators | seconds | indicators/s | sending alone, indicators/s | p50 ms | p99 ms | max ms | Node CPU µs/indicator | Node CPU, cores | broker CPU, cores |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of e2eResults) {
    console.log(
      `| ${r.name} | ${r.events} | ${r.seconds.toFixed(2)} | ${fmt(r.perSecond)} | ${fmt(r.sendPerSecond)} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.nodeCpuUs.toFixed(0)} | ${r.nodeCores.toFixed(2)} | ${cores(r.brokerCores)} |`,
    );
  }
  console.log('');
  const [raw, api, apiNone] = e2eResults as [EndToEndResult, EndToEndResult, EndToEndResult];
  console.log(`- API → webhook / raw kafkajs: ${ratio(api.perSecond, raw.perSecond)} (target ≥ 0.5×)`);
  writeResults('deliver', [
    {
      case: 'fan-out, batchSize 100, embedded dedup vs raw pipeline',
      ratio: fan100.perSecond / raw100.perSecond,
      target: 0.5,
    },
    {
      case: 'end to end, 500/request, embedded dedup vs raw kafkajs',
      ratio: api.perSecond / raw.perSecond,
      target: 0.5,
    },
    { case: 'end to end, indicators/s over 10,000/s', ratio: api.perSecond / 10_000, target: 1 },
    {
      case: 'end to end p99 at half of maximum load vs raw kafkajs p99 at that load (ceiling)',
      ratio: pacedApi.p99Ms / pacedRaw.p99Ms,
      target: 3,
    },
  ]);
  console.log(`- with dedup none / raw kafkajs: ${ratio(apiNone.perSecond, raw.perSecond)}`);
  console.log(
    `- p99 at half of the maximum (${fmt(halfLoad)}/s): ours ${pacedApi.p99Ms} ms, raw ${pacedRaw.p99Ms} ms, ${ratio(pacedApi.p99Ms, pacedRaw.p99Ms)} (target ≤ 3×)`,
  );
  console.log('');
  console.log("The subscriber's steps, one at a time, without Kafka or HTTP:");
  console.log('');
  console.log('| step | indicators/s | µs/indicator |');
  console.log('|---|---:|---:|');
  for (const step of steps) {
    console.log(`| ${step.name} | ${fmt(step.perSecond)} | ${(1e6 / step.perSecond).toFixed(2)} |`);
  }
}

bench.main(main);
