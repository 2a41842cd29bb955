/**
 * How fast is publishing through the producer API compared with raw kafkajs
 * on the same broker, in the same run?
 *
 *   npx tsx bench/ingest.ts [--seconds=5]
 *
 * Starts a local Kafka broker (or uses KAFKA_BROKERS), a throwaway network
 * with one org (facebook) and one producer (`startProducer`, port 0, in this
 * process), then publishes realistic TLP:GREEN indicators:
 *   - through the API, one indicator per request and 500 per request, one
 *     request at a time and a few in flight (keep-alive `fetch`, bodies
 *     serialized before timing);
 *   - with raw kafkajs, the same bytes the API writes (events built with
 *     `buildPublishedEvents`, Avro-encoded by the codec, signed) built before
 *     timing: a plain idempotent producer's `sendBatch`, and one kafkajs
 *     transaction per batch as the API does per request.
 * Then it times each CPU step of a 500-indicator request without Kafka or
 * HTTP, to show where the API's time goes. Before the first case, every
 * path (API singles and batches, raw transactions and sends) runs for
 * SETTLE_SECONDS on indicators of its own, so the broker's JVM and this
 * process's V8 have compiled their hot paths: a fresh broker spends several
 * times the CPU per request for its first seconds of traffic, and whichever
 * case ran first used to pay for it alone. Each case then has its own
 * warm-up and is bounded by a count and by `seconds`; everything started
 * here, broker included, is stopped on the way out, on error and on Ctrl-C too.
 * Prints markdown tables for BENCHMARKS.md.
 */
import os from 'node:os';
import type { Kafka, Message, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { parseItems } from '../services/producer/http/items';
import { buildPublishedEvents, type PublishContext } from '../services/producer/ingest/build-events';
import { signBatch } from '../services/contract/batch-signature';
import { singleKeySigner } from '../services/contract/keyring';
import { startProducer, type RunningProducer } from '../services/producer/service';
import { loadEventCodec } from '../services/contract/avro/codec';
import { indicatorInputSchema } from '../services/contract/indicator';
import { createIdempotentProducer, createKafka } from '../services/platform/kafka';
import { loadPrivateKey } from '../services/contract/signing';
import { kafkaNames } from '../services/contract/names';
import { createTestNetwork, type TestNetwork } from '../testkit/network';
import {
  cpuRate,
  createBenchRun,
  fmt,
  indicatorGenerator,
  producerWrites,
  writeResults,
  type RawIndicator,
} from './support';

const SECONDS = Number(
  /^--seconds=(.+)$/.exec(process.argv.find((a) => a.startsWith('--seconds=')) ?? '')?.[1] ?? 5,
);
const WARMUP_SECONDS = 1;
/** Traffic on every path before the first measured case (see the header). */
const SETTLE_SECONDS = 20;
const SINGLE_POOL = 2_000;
const BATCH_POOL = 60_000;
const BATCH = 500;
/** Everything, broker start and stop included, must be over well within 3 minutes. */
const HARD_LIMIT_MS = 170_000;
const ORG = 'facebook';

const bench = createBenchRun('ingest', HARD_LIMIT_MS);

/** Realistic, distinct API inputs, the same on every run (see bench/support.ts). */
const generate = indicatorGenerator(20261126);
/** Indicators of the settling traffic only: no measured unit is among them. */
const generateSettling = indicatorGenerator(20261127);

// ---------------------------------------------------------------------------
// Measuring

interface Result {
  name: string;
  indicators: number;
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** CPU time of this process (HTTP client, producer API, kafkajs) per indicator. */
  nodeCpuUs: number;
  /** Cores this process kept busy on average (1 = one core all the time). */
  nodeCores: number;
  /** Cores the broker kept busy on average; undefined for an external cluster. */
  brokerCores: number | undefined;
}

/** CPU seconds the local broker used so far (utime + stime of its JVM), when we run it. */
let brokerCpuSeconds: () => number | undefined = () => undefined;

interface Phase {
  indicators: number;
  requests: number;
  seconds: number;
  latencies: number[];
}

/** Runs `work(0)`, `work(1)`, … with `concurrency` in flight until `maxUnits` units or `seconds`. */
async function runUnits(
  seconds: number,
  concurrency: number,
  maxUnits: number,
  work: (index: number) => Promise<number>,
): Promise<Phase> {
  const started = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  const latencies: number[] = [];
  let index = 0;
  let indicators = 0;
  const worker = async (): Promise<void> => {
    while (!bench.aborted && index < maxUnits && process.hrtime.bigint() - started < budget) {
      const t0 = process.hrtime.bigint();
      // Awaited first: `indicators += await …` would read the sum before the await and lose updates.
      const carried = await work(index++);
      indicators += carried;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { indicators, requests: latencies.length, seconds: elapsed, latencies };
}

/**
 * Runs `work(k)` with `concurrency` in flight: a warm-up of WARMUP_SECONDS on
 * units taken from the end of the pool (k = maxUnits - 1, maxUnits - 2, ...),
 * then the measured run from its start (k = 0, 1, ...) until all `maxUnits`
 * units or SECONDS, so a measured unit was not sent in the warm-up unless the
 * two together use up the pool. Each unit returns how many indicators it carried.
 */
async function measure(
  name: string,
  concurrency: number,
  maxUnits: number,
  work: (k: number) => Promise<number>,
): Promise<Result> {
  const phase = (seconds: number, k: (index: number) => number): Promise<Phase> =>
    runUnits(seconds, concurrency, maxUnits, (index) => work(k(index)));
  await phase(WARMUP_SECONDS, (i) => maxUnits - 1 - i);
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpuSeconds();
  const m = await phase(SECONDS, (i) => i);
  const cpu = process.cpuUsage(cpu0);
  const broker1 = brokerCpuSeconds();
  if (bench.aborted) throw new Error('aborted');
  m.latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    m.latencies[Math.min(m.latencies.length - 1, Math.floor(q * m.latencies.length))]!;
  const result: Result = {
    name,
    indicators: m.indicators,
    requests: m.requests,
    seconds: m.seconds,
    perSecond: m.indicators / m.seconds,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    nodeCpuUs: (cpu.user + cpu.system) / m.indicators,
    nodeCores: (cpu.user + cpu.system) / 1e6 / m.seconds,
    brokerCores: broker0 === undefined || broker1 === undefined ? undefined : (broker1 - broker0) / m.seconds,
  };
  console.error(
    `  ${name}: ${fmt(result.perSecond)} indicators/s (${result.indicators} in ${result.seconds.toFixed(2)} s, p50 ${result.p50Ms.toFixed(1)} ms)`,
  );
  return result;
}

async function main(): Promise<void> {
  const broker = await bench.startBroker();
  const brokerDescription = broker.description;
  brokerCpuSeconds = () => broker.cpuSeconds();

  const network: TestNetwork = await createTestNetwork([{ id: ORG }], [], {
    producer: { rateLimitPerMinute: 10_000_000, maxBatchItems: 1000, bodyLimitBytes: 8 * 1024 * 1024 },
  });
  bench.defer('the network clients', () => network.close());
  const producer: RunningProducer = await startProducer({
    config: network.config,
    org: ORG,
    signingKeyPem: network.signingKeys[ORG]!,
    port: 0,
    logger: network.logger,
  });
  bench.defer('the producer', () => producer.close());
  const topic = kafkaNames(network.config.kafka.topicPrefix).community('green');

  // The data, and everything derived from it, before any timing.
  console.error('ingest bench: generating indicators and records…');
  const singles = generate(SINGLE_POOL);
  const batchItems = generate(BATCH_POOL);
  const batches: RawIndicator[][] = [];
  for (let i = 0; i < batchItems.length; i += BATCH) batches.push(batchItems.slice(i, i + BATCH));
  const singleBodies = singles.map((i) => JSON.stringify(i));
  const batchBodies = batches.map((b) => JSON.stringify(b));

  const codec = loadEventCodec();
  const signingKey = loadPrivateKey(network.signingKeys[ORG]!);
  const ctx: PublishContext = { org: ORG, submitter: `${ORG}-secops`, idempotencyKey: undefined };
  // Exactly what the producer writes for a transaction: keys, Avro values, one batch signature, id headers.
  const rawBatches = batches.map((b) => producerWrites(b, ORG, codec, signingKey));
  const rawSingles = singles.map((s) => producerWrites([s], ORG, codec, signingKey, false));

  // API cases.
  const headers = {
    authorization: `Bearer ${network.apiKeys[ORG]!}`,
    'content-type': 'application/json',
  };
  const post = async (body: string, expected: number): Promise<number> => {
    const res = await fetch(`${producer.url}/v1/indicators`, { method: 'POST', headers, body });
    const text = await res.text();
    // A prefix check, not JSON.parse: the client shares this thread with the server.
    if (res.status !== 202 || !text.startsWith(`{"accepted":${expected},`)) {
      throw new Error(`the API answered ${res.status}: ${text.slice(0, 300)}`);
    }
    return expected;
  };
  // Raw kafkajs clients: the same client settings as the producer's.
  const kafka: Kafka = createKafka(network.config.kafka, network.logger, 'threatrelay-bench-raw');
  const connect = async (p: Producer, what: string): Promise<Producer> => {
    bench.defer(what, () => p.disconnect());
    await p.connect();
    return p;
  };
  const plain = await connect(createIdempotentProducer(kafka), 'the raw idempotent producer');
  /** As TransactionalSender creates its pool's producers. */
  const transactional = (i: number): Promise<Producer> =>
    connect(
      kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        transactionalId: `${network.prefix}.bench.raw.${i}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 30_000,
        allowAutoTopicCreation: false,
        retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
      }),
      `raw transactional producer ${i}`,
    );
  const pool = await Promise.all([0, 1, 2, 3].map(transactional));
  const inTransaction = async (p: Producer, messages: Message[]): Promise<number> => {
    const tx = await p.transaction();
    try {
      await tx.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    return messages.length;
  };
  /** Hands each unit a free producer of the pool, first come first served (a FIFO of idle ones). */
  const idle = [...pool];
  const waiting: ((p: Producer) => void)[] = [];
  const withPooled = async (fn: (p: Producer) => Promise<number>): Promise<number> => {
    const p = idle.shift() ?? (await new Promise<Producer>((resolve) => waiting.push(resolve)));
    try {
      return await fn(p);
    } finally {
      const w = waiting.shift();
      if (w) w(p);
      else idle.push(p);
    }
  };

  // Settling: every path, on indicators of its own, before the first measured case.
  const settleSingles = generateSettling(1_000);
  const settleBatchItems = generateSettling(5 * BATCH);
  const settleBatches: RawIndicator[][] = [];
  for (let i = 0; i < settleBatchItems.length; i += BATCH)
    settleBatches.push(settleBatchItems.slice(i, i + BATCH));
  const settleSingleBodies = settleSingles.map((i) => JSON.stringify(i));
  const settleBatchBodies = settleBatches.map((b) => JSON.stringify(b));
  const settleRawSingles = settleSingles.map((s) => producerWrites([s], ORG, codec, signingKey, false));
  const settleRawBatches = settleBatches.map((b) => producerWrites(b, ORG, codec, signingKey));
  const settling: [string, number, number, (i: number) => Promise<number>][] = [
    ['API singles, sequential', 5, 1, (i) => post(settleSingleBodies[i % settleSingles.length]!, 1)],
    ['API singles, 8 in flight', 5, 8, (i) => post(settleSingleBodies[i % settleSingles.length]!, 1)],
    ['API batches, sequential', 3, 1, (i) => post(settleBatchBodies[i % settleBatches.length]!, BATCH)],
    [
      'raw transactions per record',
      3,
      1,
      (i) => withPooled((p) => inTransaction(p, settleRawSingles[i % settleSingles.length]!)),
    ],
    [
      'raw transactions per batch',
      2,
      1,
      (i) => withPooled((p) => inTransaction(p, settleRawBatches[i % settleBatches.length]!)),
    ],
    [
      'raw sendBatch',
      1,
      1,
      async (i) => {
        const messages = settleRawBatches[i % settleBatches.length]!;
        await plain.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
        return messages.length;
      },
    ],
  ];
  const shares = settling.reduce((sum, [, share]) => sum + share, 0);
  console.error(`ingest bench: settling the broker and this process (${SETTLE_SECONDS} s on every path)`);
  for (const [what, share, concurrency, work] of settling) {
    const settled = await runUnits((SETTLE_SECONDS * share) / shares, concurrency, Infinity, work);
    if (bench.aborted) throw new Error('aborted');
    console.error(`  ${what}: ${settled.requests} in ${settled.seconds.toFixed(1)} s`);
  }

  const results: Result[] = [];
  console.error(`ingest bench: measuring (${WARMUP_SECONDS} s warm-up, then up to ${SECONDS} s per case)`);
  const apiSingle = (name: string, c: number): Promise<Result> =>
    measure(name, c, SINGLE_POOL, (k) => post(singleBodies[k]!, 1));
  const apiBatch = (name: string, c: number): Promise<Result> =>
    measure(name, c, batches.length, (k) => post(batchBodies[k]!, BATCH));
  results.push(await apiSingle('API, 1 indicator/request, sequential', 1));
  results.push(await apiSingle('API, 1 indicator/request, 8 in flight', 8));
  results.push(await apiSingle('API, 1 indicator/request, 64 in flight', 64));
  results.push(await apiBatch(`API, ${BATCH}/request, sequential`, 1));
  results.push(await apiBatch(`API, ${BATCH}/request, 4 in flight`, 4));

  // Raw kafkajs cases.
  results.push(
    await measure(
      `raw sendBatch (idempotent), ${BATCH}/batch, sequential`,
      1,
      rawBatches.length,
      async (k) => {
        const messages = rawBatches[k]!;
        await plain.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
        return messages.length;
      },
    ),
  );
  results.push(
    await measure(
      `raw transaction per batch, ${BATCH}/batch, sequential, 1 producer`,
      1,
      rawBatches.length,
      (k) => inTransaction(pool[0]!, rawBatches[k]!),
    ),
  );
  results.push(
    await measure(
      `raw transaction per batch, ${BATCH}/batch, sequential, 4 producers in turn`,
      1,
      rawBatches.length,
      (k) => withPooled((p) => inTransaction(p, rawBatches[k]!)),
    ),
  );
  results.push(
    await measure(
      `raw transaction per batch, ${BATCH}/batch, 4 in flight, 4 producers`,
      4,
      rawBatches.length,
      (k) => withPooled((p) => inTransaction(p, rawBatches[k]!)),
    ),
  );
  results.push(
    await measure('raw idempotent send per record, 64 in flight', 64, SINGLE_POOL, async (k) => {
      await plain.send({ topic, messages: rawSingles[k]!, acks: -1 });
      return 1;
    }),
  );
  results.push(
    await measure('raw transaction per record, sequential, 1 producer', 1, SINGLE_POOL, (k) =>
      inTransaction(pool[0]!, rawSingles[k]!),
    ),
  );
  results.push(
    await measure('raw transaction per record, sequential, 4 producers in turn', 1, SINGLE_POOL, (k) =>
      withPooled((p) => inTransaction(p, rawSingles[k]!)),
    ),
  );

  // Where a request's CPU time goes, step by step, without Kafka or HTTP.
  console.error('ingest bench: timing the CPU steps of a request…');
  const stepSeconds = Math.min(1, SECONDS / 4);
  const n = batches.length;
  const parsedBodies = batchBodies.map((b) => JSON.parse(b) as unknown);
  const validated = parsedBodies.map((b) => parseItems(indicatorInputSchema, b, 1000).items);
  const built = validated.map((items) => buildPublishedEvents(items, ctx, true));
  const encoded = built.map((events) => events.map((e) => codec.encode(e)));
  const receipts = built.map((events) => ({
    accepted: events.length,
    receipts: events.map((e, index) => ({
      index,
      eventId: e.eventId,
      key: e.payload.key,
      records: [{ topic, partition: index % 3, offset: String(1_000_000 + index) }],
    })),
  }));
  const steps: [string, (k: number) => number][] = [
    ['JSON.parse of the body', (k) => (JSON.parse(batchBodies[k % n]!) as unknown[]).length],
    [
      'zod validation (parseItems)',
      (k) => parseItems(indicatorInputSchema, parsedBodies[k % n], 1000).items.length,
    ],
    [
      'canonicalize + key + event (buildPublishedEvents)',
      (k) => buildPublishedEvents(validated[k % n]!, ctx, true).length,
    ],
    ['Avro encode (codec.encode)', (k) => built[k % n]!.map((e) => codec.encode(e)).length],
    [
      'batch signature (Merkle tree + one Ed25519 sign)',
      (k) => signBatch(encoded[k % n]!, singleKeySigner(ORG, signingKey)).length,
    ],
    ['JSON.stringify of the 202 answer', (k) => (JSON.stringify(receipts[k % n]) ? BATCH : 0)],
  ];
  const stepRates = steps.map(([name, fn]) => ({ name, perSecond: cpuRate(fn, stepSeconds) }));

  // Every acknowledged record is in the topic (transaction markers take offsets too, hence ≥).
  const sent = results.reduce((sum, r) => sum + r.indicators, 0);
  const written = await network.highWatermarks([topic]);
  if (written < sent)
    throw new Error(`only ${written} offsets in ${topic}, but ${sent} records were acknowledged`);

  // Report.
  const byName = (prefix: string): Result => results.find((r) => r.name.startsWith(prefix))!;
  const apiSeq = byName(`API, ${BATCH}/request, sequential`);
  const apiConc = byName(`API, ${BATCH}/request, 4 in flight`);
  const rawSend = byName('raw sendBatch');
  const rawTx = byName(`raw transaction per batch, ${BATCH}/batch, sequential, 1 producer`);
  const rawTxTurn = byName(`raw transaction per batch, ${BATCH}/batch, sequential, 4 producers`);
  const rawTx4 = byName(`raw transaction per batch, ${BATCH}/batch, 4 in flight`);
  const ratio = (a: Result, b: Result): string => `${(a.perSecond / b.perSecond).toFixed(2)}×`;
  const apiSingle64 = byName('API, 1 indicator/request, 64 in flight');
  const rawSingle64 = byName('raw idempotent send per record, 64 in flight');
  const apiSingleSeq = byName('API, 1 indicator/request, sequential');
  writeResults('ingest', [
    {
      case: `batched API ${BATCH}/request vs raw sendBatch, sequential`,
      ratio: apiSeq.perSecond / rawSend.perSecond,
      target: 0.5,
    },
    {
      case: '1 indicator/request, 64 in flight vs raw idempotent sends, 64 in flight',
      ratio: apiSingle64.perSecond / rawSingle64.perSecond,
      target: 0.3,
    },
    { case: '1 indicator/request, sequential: p50 ms (ceiling)', ratio: apiSingleSeq.p50Ms, target: 5 },
  ]);
  const us = (x: number): string => x.toFixed(0);
  const cores = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));

  console.log(
    `ingest bench: ${SETTLE_SECONDS} s of traffic on every path first, then ${SECONDS} s per case after ${WARMUP_SECONDS} s warm-up; ${SINGLE_POOL} single and ${BATCH_POOL} batched distinct indicators`,
  );
  console.log(
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${brokerDescription}`,
  );
  console.log('');
  console.log(
    '| case | indicators/s | requests or batches | seconds | p50 ms | p95 ms | Node CPU µs/indicator | Node CPU, cores | broker CPU, cores |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${fmt(r.perSecond)} | ${r.requests} | ${r.seconds.toFixed(2)} | ${r.p50Ms.toFixed(1)} | ${r.p95Ms.toFixed(1)} | ${us(r.nodeCpuUs)} | ${cores(r.nodeCores)} | ${cores(r.brokerCores)} |`,
    );
  }
  console.log('');
  console.log(
    `- batched API / raw sendBatch: ${ratio(apiSeq, rawSend)} sequential (target ≥ 0.6×), ${ratio(apiConc, rawSend)} with 4 in flight`,
  );
  console.log(
    `- batched API / raw transactional: ${ratio(apiSeq, rawTx)} sequential (1 producer), ${ratio(apiSeq, rawTxTurn)} (4 producers in turn), ${ratio(apiConc, rawTx4)} with 4 in flight`,
  );
  console.log(
    `- raw transactional / raw sendBatch: ${ratio(rawTx, rawSend)} (1 producer), ${ratio(rawTxTurn, rawSend)} (4 producers in turn)`,
  );
  console.log(
    `- 1 indicator/request, 64 in flight / raw idempotent sends, 64 in flight: ${ratio(apiSingle64, rawSingle64)} (target ≥ 0.3×); sequential p50 ${apiSingleSeq.p50Ms.toFixed(1)} ms (target ≤ 5 ms)`,
  );
  console.log('');
  const totalUs = stepRates.reduce((sum, s) => sum + 1e6 / s.perSecond, 0);
  console.log(`CPU per indicator in a ${BATCH}-indicator request, by step (no Kafka, no HTTP):`);
  console.log('');
  console.log('| step | indicators/s | µs/indicator | share |');
  console.log('|---|---:|---:|---:|');
  for (const s of stepRates) {
    const stepUs = 1e6 / s.perSecond;
    console.log(
      `| ${s.name} | ${fmt(s.perSecond)} | ${stepUs.toFixed(1)} | ${((100 * stepUs) / totalUs).toFixed(0)}% |`,
    );
  }
  console.log(`| all steps | ${fmt(1e6 / totalUs)} | ${totalUs.toFixed(1)} | 100% |`);
  console.log('');
  // The steps ran in their own loop, at another moment of a shared machine: compare, do not subtract.
  console.log(
    `Node CPU per indicator: batched API ${us(apiSeq.nodeCpuUs)} µs (sequential), raw transactional ${us(rawTx.nodeCpuUs)} µs; the steps above add up to ${totalUs.toFixed(1)} µs`,
  );
}

bench.main(main);
