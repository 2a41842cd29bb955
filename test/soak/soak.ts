import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { communityLevels, kafkaNames } from '../../services/contract/names';
import type { RunningProducer } from '../../services/producer/service';
import { readDeadLetters } from '../../services/subscriber/dlq/read';
import { KAFKA_SCRIPT, startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';
import { createTestNetwork, whsecret, type TestNetwork } from '../../testkit/network';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../testkit/receiver';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { spawnSubscriber, type SubscriberProcess } from '../../testkit/subscriber-process';
import { waitFor } from '../../testkit/wait-for';
import { FaultRunner, type FaultRecord } from './faults';
import {
  corroborationCheck,
  ledgerRow,
  rowPasses,
  type AcceptedEvent,
  type Check,
  type DeadLetterRecord,
  type DeliveredEvent,
  type LedgerRow,
  type LedgerSubscription,
  type WebhookRequest,
} from './ledger';
import {
  acceptedEvents,
  planWorkload,
  publishUntilAccepted,
  rng,
  sharedRequests,
  type ClientStats,
  type PlannedRequest,
  type Receipt,
} from './workload';

/**
 * One ledger run: a broker of its own, four producers, four subscriptions
 * (embedded and Redis dedup, native and STIX) run by five subscriber
 * processes, receivers that verify every signature, a workload published
 * with retries, and faults on a schedule (faults.ts). See RELIABILITY.md.
 */

export interface SoakOptions {
  count: number;
  /** The whole run, faults and drain included, must end by then or it fails with the table so far. */
  deadlineMs: number;
  seed: number;
  /** How long the receiver is down (RELIABILITY.md's fault: 60 s). */
  receiverDownMs: number;
  /** How long the STIX receiver answers 500, and then 429 with Retry-After. */
  failingMs: number;
  log: (line: string) => void;
  /** Keep the run's folder (broker log, subscriber logs) for a post-mortem. */
  keep?: boolean;
}

export interface SoakResult {
  rows: LedgerRow[];
  checks: Check[];
  faults: FaultRecord[];
  stats: Record<string, ClientStats>;
  /** Subscriber processes that exited without being killed, and were started again. */
  unexpectedExits: string[];
  seconds: { publish: number; drain: number; total: number };
  dir: string;
}

const PRODUCERS = ['facebook', 'google', 'microsoft', 'twitter'] as const;
const SHARED_KEYS = 20;

interface SubscriptionPlan extends LedgerSubscription {
  dedup: 'embedded' | 'redis';
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxElapsedMs?: number };
}

/**
 * - dhs-native: embedded store, native, corroborations; its receiver goes down for 60 s, its
 *   subscriber process is SIGKILLed twice.
 * - fbi-redis: Redis store, two subscriber processes in one group; one is SIGKILLed; Redis restarts.
 * - odni-stix: embedded, STIX 2.1, maxTlp green; its receiver answers 500, then 429 + Retry-After,
 *   and its retry bound is short, so some batches are dead-lettered.
 * - microsoft-clear: embedded, native, maxTlp clear: the narrowest entitlement.
 */
const SUBSCRIPTIONS: SubscriptionPlan[] = [
  {
    id: 'dhs-native',
    org: 'dhs',
    maxTlp: 'amber',
    corroborations: true,
    format: 'native',
    dedup: 'embedded',
    retry: { initialDelayMs: 200, maxDelayMs: 3000 },
  },
  {
    id: 'fbi-redis',
    org: 'fbi',
    maxTlp: 'amber',
    corroborations: false,
    format: 'native',
    dedup: 'redis',
    retry: { initialDelayMs: 200, maxDelayMs: 3000 },
  },
  {
    id: 'odni-stix',
    org: 'odni',
    maxTlp: 'green',
    corroborations: false,
    format: 'stix21',
    dedup: 'embedded',
    retry: { initialDelayMs: 200, maxDelayMs: 2000, maxElapsedMs: 4000 },
  },
  {
    id: 'microsoft-clear',
    org: 'microsoft',
    maxTlp: 'clear',
    corroborations: false,
    format: 'native',
    dedup: 'embedded',
    retry: { initialDelayMs: 200, maxDelayMs: 3000 },
  },
];

/** The events of one webhook body, native or STIX. */
function eventsOf(body: string): DeliveredEvent[] {
  const parsed = JSON.parse(body) as {
    events?: { eventId: string; key: string; type: string }[];
    type?: string;
    objects?: Record<string, unknown>[];
  };
  if (parsed.type === 'bundle') {
    return (parsed.objects ?? [])
      .filter((o) => o.type === 'indicator')
      .map((o) => ({ eventId: String(o.x_threatrelay_event_id), key: String(o.x_threatrelay_key) }));
  }
  return (parsed.events ?? []).map((e) => ({ eventId: e.eventId, key: e.key, type: e.type }));
}

function toWebhookRequest(r: ReceivedRequest): WebhookRequest {
  const ok = r.status >= 200 && r.status < 300;
  return {
    webhookId: String(r.headers['webhook-id'] ?? ''),
    status: r.status,
    verified: r.verified === true,
    events: ok ? eventsOf(r.body) : [],
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops what the run started once this process is gone however it ended
 * (SIGKILL included): the broker, and the processes listed in `pids` (the
 * soak empties that file when it stops them itself). Detached, so Ctrl-C does
 * not reach it.
 */
function guard(dir: string): void {
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ` +
    `[ -s "$2/pids" ] && kill -9 $(cat "$2/pids") 2>/dev/null; bash "$1" stop --dir "$2/kafka"`;
  spawn('bash', ['-c', script, 'soak-guard', KAFKA_SCRIPT, dir], { detached: true, stdio: 'ignore' }).unref();
}

/** Committed offsets of a group, per `topic/partition`. */
async function committed(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics })) {
    for (const p of partitions) out.set(`${topic}/${p.partition}`, BigInt(p.offset));
  }
  return out;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { log } = options;
  const started = Date.now();
  const deadline = started + options.deadlineMs;
  const runId = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'threatrelay-soak-'));
  const pidsFile = join(dir, 'pids');
  writeFileSync(pidsFile, '');
  guard(dir);
  const cleanups: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const fn of cleanups.reverse()) {
        await fn().catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
      }
      writeFileSync(pidsFile, '');
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    // `on`, not `once`: npx and tsx relay Ctrl-C again, which must not end the cleanup half-way.
    if (cleaning) return;
    log(`${signal}: stopping everything`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const requests = new Map<string, WebhookRequest[]>(SUBSCRIPTIONS.map((s) => [s.id, []]));
  const accepted: AcceptedEvent[] = [];
  const receipts: Receipt[] = [];
  const stats: Record<string, ClientStats> = {};
  const checks: Check[] = [];
  let rows: LedgerRow[] = [];
  let publishSeconds = 0;
  let drainSeconds = 0;
  let faults: FaultRunner | undefined;
  const unexpectedExits: string[] = [];

  const buildLedger = async (net: TestNetwork | undefined): Promise<void> => {
    const dead = new Map<string, DeadLetterRecord[]>();
    if (net) {
      for (const s of SUBSCRIPTIONS) {
        const entries = await readDeadLetters(net.config, s.id, net.logger).catch((err: unknown) => {
          log(`could not read the DLQ of ${s.id}: ${String(err)}`);
          return [];
        });
        dead.set(
          s.id,
          entries.map((e) => ({ eventId: e.eventId, code: e.code, reason: e.reason })),
        );
      }
    }
    rows = SUBSCRIPTIONS.map((s) => ledgerRow(s, accepted, requests.get(s.id)!, dead.get(s.id) ?? []));
  };

  let net: TestNetwork | undefined;
  try {
    // Receivers first: the config needs their URLs, and they need the subscriptions' secrets.
    const secrets = Object.fromEntries(SUBSCRIPTIONS.map((s) => [s.id, whsecret()]));
    const receivers: Record<string, Receiver> = {};
    for (const s of SUBSCRIPTIONS) {
      const list = requests.get(s.id)!;
      receivers[s.id] = await startReceiver(0, [secrets[s.id]!], {
        keepRequests: false,
        onRequest: (r) => list.push(toWebhookRequest(r)),
      });
      cleanups.push(() => receivers[s.id]!.close());
    }

    const redisDir = join(dir, 'redis');
    mkdirSync(redisDir);
    let redis: RedisServer = await startRedis({ persistDir: redisDir });
    cleanups.push(() => redis.stop());
    const listPid = (pid: number | undefined): void => {
      if (pid !== undefined) appendFileSync(pidsFile, `${pid}\n`);
    };
    listPid(redis.pid);

    log(`starting a broker of its own in ${dir}`);
    const broker: LocalBroker = await startLocalBroker({ dir: join(dir, 'kafka') });
    // stopProcess, not stop: the broker log stays in the run folder, which is kept when a check fails.
    cleanups.push(() => broker.stopProcess());
    log(`broker: ${broker.description}`);

    net = await createTestNetwork(
      [
        // An org's maxTlp is its subscription's; microsoft both publishes and subscribes.
        ...PRODUCERS.map((id) => ({
          id,
          maxTlp: SUBSCRIPTIONS.find((s) => s.org === id)?.maxTlp ?? 'amber',
        })),
        ...SUBSCRIPTIONS.filter((s) => !(PRODUCERS as readonly string[]).includes(s.org)).map((s) => ({
          id: s.org,
          kind: 'government' as const,
          maxTlp: s.maxTlp,
        })),
      ],
      SUBSCRIPTIONS.map((s) => ({
        id: s.id,
        org: s.org,
        url: `${receivers[s.id]!.url}/ok/${s.id}`,
        batchSize: 100,
        secrets: [secrets[s.id]!],
        corroborations: s.corroborations,
        format: s.format,
        dedup: s.dedup === 'redis' ? { store: 'redis', redisUrl: redis.url } : { store: 'embedded' },
        ...(s.retry ? { retry: s.retry } : {}),
      })),
      { brokers: [broker.bootstrap], producer: { rateLimitPerMinute: 1_000_000 } },
    );
    const network = net;
    cleanups.push(() => network.close());
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(net.config));

    const producers: Record<string, RunningProducer> = {};
    for (const org of PRODUCERS) {
      producers[org] = await net.startProducer(org);
      cleanups.push(() => producers[org]!.close());
    }

    // Subscriber processes: dhs and the two fbi members are the ones faults kill. Like a process
    // supervisor, the soak starts again one that exits on its own, and counts it (none should: a
    // subscriber that cannot reach Kafka at start waits for it).
    const subscriberProcs = new Map<string, SubscriberProcess>();
    const killing = new Set<SubscriberProcess>();
    let stopping = false;
    const spawnNamed = (name: string, org: string): SubscriberProcess => {
      const proc = spawnSubscriber({
        configFile,
        org,
        dataDir: join(dir, `data-${org}`),
        logFile: join(dir, `subscriber-${name}.log`),
      });
      subscriberProcs.set(name, proc);
      listPid(proc.pid);
      void proc.exited().then(() => {
        if (stopping || killing.has(proc)) return;
        const code = proc.child.exitCode ?? proc.child.signalCode;
        unexpectedExits.push(`${name} exited (${code}) ${((Date.now() - started) / 1000).toFixed(0)} s in`);
        log(`subscriber ${name} exited on its own (${code}); starting it again in 2 s`);
        setTimeout(() => {
          if (!stopping) spawnNamed(name, org);
        }, 2000);
      });
      return proc;
    };
    const members: [string, string][] = [
      ['dhs', 'dhs'],
      ['fbi-1', 'fbi'],
      ['fbi-2', 'fbi'],
      ['odni', 'odni'],
      ['microsoft', 'microsoft'],
    ];
    for (const [name, org] of members) spawnNamed(name, org);
    cleanups.push(async () => {
      stopping = true;
      await Promise.all([...subscriberProcs.values()].map((p) => p.stop()));
    });
    const names = kafkaNames(net.prefix);
    const admin = await net.admin();
    // Faults start only once every group is consuming with all its members.
    for (const s of SUBSCRIPTIONS) {
      const want = members.filter(([, org]) => org === s.org).length;
      await waitFor(
        `${s.id}: ${want} member(s) consuming`,
        async () => {
          const { groups } = await admin.describeGroups([names.subscriptionGroup(s.id)]).catch(() => ({
            groups: [],
          }));
          const g = groups[0];
          return g?.state === 'Stable' && g.members.length === want;
        },
        Math.max(1000, deadline - Date.now()),
        1000,
      );
    }
    log('every subscription is consuming');

    const total = options.count + PRODUCERS.length * SHARED_KEYS * 2;
    const progress = (): number => accepted.length / total;
    const killSubscriber = (name: string, org: string) => async (): Promise<string> => {
      const proc = subscriberProcs.get(name)!;
      killing.add(proc);
      await proc.kill();
      spawnNamed(name, org);
      return `${name} (pid ${proc.pid}) killed with SIGKILL, started again`;
    };
    faults = new FaultRunner(progress, log);
    faults.add('kill -9 subscriber dhs (1/3)', 0.1, killSubscriber('dhs', 'dhs'));
    /**
     * Runs `during` for `ms`, and on until at least one request of `sub` met it (a fault no request
     * met proves nothing; bounded by 2 more minutes), then says how many requests it answered with
     * `status`; it fails when none did.
     */
    const receiverFault = async (sub: string, status: number, ms: number, during: () => void) => {
      const list = requests.get(sub)!;
      const before = list.length;
      const hits = (): number => list.slice(before).filter((q) => q.status === status).length;
      const t0 = Date.now();
      during();
      await new Promise((r) => setTimeout(r, ms));
      await waitFor(`a request to ${sub} answered ${status}`, () => hits() > 0, 120_000, 200).catch(
        () => undefined,
      );
      receivers[sub]!.up();
      receivers[sub]!.answerAll(undefined);
      const seconds = ((Date.now() - t0) / 1000).toFixed(0);
      if (hits() === 0) throw new Error(`no request to ${sub} met it in ${seconds} s`);
      return `${hits()} request(s) answered ${status} in ${seconds} s`;
    };
    faults.add(`receiver of dhs-native down ${options.receiverDownMs / 1000} s`, 0.2, () =>
      receiverFault('dhs-native', 503, options.receiverDownMs, () => receivers['dhs-native']!.down()),
    );
    faults.add(`receiver of odni-stix answers 500 for ${options.failingMs / 1000} s`, 0.3, () =>
      receiverFault('odni-stix', 500, options.failingMs, () => receivers['odni-stix']!.answerAll(500)),
    );
    faults.add('broker kill -9 and restart', 0.4, async () => {
      const t0 = Date.now();
      const pid = Number(readFileSync(join(broker.dir, 'broker.pid'), 'utf8').trim());
      broker.signal('SIGKILL');
      // SIGKILL is delivered, not awaited: the port is free only once the process is gone.
      await waitFor('the killed broker to exit', () => !alive(pid), 60_000, 100);
      await broker.restart();
      return `broker back after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    });
    faults.add(
      `receiver of odni-stix answers 429 Retry-After: 2 for ${options.failingMs / 1000} s`,
      0.55,
      () =>
        receiverFault('odni-stix', 429, options.failingMs, () =>
          receivers['odni-stix']!.answerAll(429, { 'retry-after': '2' }),
        ),
    );
    faults.add('Redis restart', 0.65, async () => {
      const port = redis.port;
      await redis.stop();
      await new Promise((r) => setTimeout(r, 2000));
      redis = await startRedis({ port, persistDir: redisDir });
      listPid(redis.pid);
      return `down 2 s, back on port ${port} with its append-only file`;
    });
    faults.add('kill -9 subscriber fbi-1 (2/3)', 0.75, killSubscriber('fbi-1', 'fbi'));
    faults.add('kill -9 subscriber dhs (3/3)', 0.9, killSubscriber('dhs', 'dhs'));
    const faultsDone = faults.start();

    // Publish: the shared set first (every org, then every org again), then the workload.
    const r = rng(options.seed ^ 0x5eed);
    const sendOptions = (org: string): Parameters<typeof publishUntilAccepted>[2] => {
      stats[org] ??= { requests: 0, attempts: 0, answers: {} };
      return { lostAnswerRate: 0.03, r, deadline, stats: stats[org] };
    };
    const publish = async (req: PlannedRequest): Promise<void> => {
      const endpoint = { url: producers[req.org]!.url, apiKey: network.apiKeys[req.org]! };
      const got = await publishUntilAccepted(endpoint, req, sendOptions(req.org));
      receipts.push(...got);
      accepted.push(...acceptedEvents(req.org, req, got));
    };
    const publishStarted = Date.now();
    for (const round of ['first', 'again'] as const) {
      await Promise.all(PRODUCERS.map((org) => publish(sharedRequests(runId, org, SHARED_KEYS, round))));
    }
    const plan = planWorkload({
      runId,
      orgs: PRODUCERS,
      count: options.count,
      recipientPool: ['dhs', 'fbi', 'odni', 'microsoft', 'google'],
      seed: options.seed,
    });
    const progressTimer = setInterval(
      () => log(`published ${accepted.length}/${total} (${(progress() * 100).toFixed(0)}%)`),
      10_000,
    );
    try {
      // Two requests in flight per producer.
      await Promise.all(
        PRODUCERS.flatMap((org) => {
          const queue = [...plan.get(org)!];
          return [0, 1].map(async () => {
            for (let next = queue.shift(); next; next = queue.shift()) await publish(next);
          });
        }),
      );
    } finally {
      clearInterval(progressTimer);
    }
    publishSeconds = (Date.now() - publishStarted) / 1000;
    log(`published ${accepted.length} indicators in ${publishSeconds.toFixed(1)} s; waiting for the faults`);
    // Faults are bounded themselves (a receiver fault by 2 minutes past its time, a broker start by
    // kafka.sh's 5 minutes), but the run's deadline is the bound that counts.
    let deadlineTimer: NodeJS.Timeout | undefined;
    const pastDeadline = new Promise<'deadline'>((res) => {
      deadlineTimer = setTimeout(() => res('deadline'), Math.max(0, deadline - Date.now()));
    });
    const ended = await Promise.race([faultsDone.then(() => 'done' as const), pastDeadline]);
    clearTimeout(deadlineTimer);
    if (ended === 'deadline') {
      const running = faults.records.filter((f) => f.endedAt === undefined).map((f) => f.name);
      throw new Error(`deadline reached while faults were still running: ${running.join(', ')}`);
    }

    // Drain: every group has committed past the last accepted record of every partition it reads.
    const drainStarted = Date.now();
    const last = new Map<string, bigint>();
    for (const rc of receipts) {
      for (const rec of rc.records) {
        const k = `${rec.topic}/${rec.partition}`;
        const o = BigInt(rec.offset);
        if ((last.get(k) ?? -1n) < o) last.set(k, o);
      }
    }
    const behind = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const s of SUBSCRIPTIONS) {
        const topics = [...communityLevels(s).map((l) => names.community(l)), names.direct(s.org)];
        const done = await committed(admin, names.subscriptionGroup(s.id), topics).catch(() => undefined);
        for (const [k, o] of last) {
          if (!topics.includes(k.slice(0, k.lastIndexOf('/')))) continue;
          if (!done || (done.get(k) ?? -1n) <= o) out.push(`${s.id} ${k}`);
        }
      }
      return out;
    };
    for (;;) {
      const left = await behind();
      if (left.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`deadline reached while draining; behind: ${left.slice(0, 8).join(', ')}`);
      }
      log(
        `draining: ${left.length} partition(s) not yet committed past the last accepted record; delivered ` +
          SUBSCRIPTIONS.map((s) => `${s.id} ${requests.get(s.id)!.length} requests`).join(', '),
      );
      await new Promise((res) => setTimeout(res, 5000));
    }
    drainSeconds = (Date.now() - drainStarted) / 1000;
    await buildLedger(net);
    checks.push({
      name: 'the run finished before its deadline',
      ok: true,
      detail: `${((Date.now() - started) / 1000).toFixed(0)} s`,
    });
  } catch (err) {
    faults?.stop();
    checks.push({ name: 'the run finished', ok: false, detail: (err as Error).message });
    await buildLedger(net).catch(() => undefined);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  for (const row of rows) {
    checks.push({
      name: `subscription ${row.subscription}`,
      ok: rowPasses(row),
      detail: row.examples.join('; ') || 'every entitled event delivered once or dead-lettered',
    });
  }
  const dhs = SUBSCRIPTIONS.find((s) => s.corroborations)!;
  checks.push(corroborationCheck(dhs, accepted, requests.get(dhs.id)!));
  const expectedRecords = accepted.reduce(
    (n, e) => n + (e.tlp === 'amber+strict' || e.tlp === 'red' ? new Set(e.recipients).size : 1),
    0,
  );
  checks.push({
    name: 'receipts name one record per topic the TLP routes to',
    ok: receipts.reduce((n, rc) => n + rc.records.length, 0) === expectedRecords,
    detail: `${receipts.length} receipts, ${expectedRecords} records expected`,
  });
  checks.push({
    name: 'every planned indicator accepted',
    ok: accepted.length === options.count + PRODUCERS.length * SHARED_KEYS * 2,
    detail: `${accepted.length} accepted of ${options.count} + ${PRODUCERS.length * SHARED_KEYS * 2} shared`,
  });
  const unverified = [...requests.values()].flat().filter((q) => !q.verified).length;
  checks.push({
    name: 'every webhook request carried a valid Standard Webhooks signature',
    ok: unverified === 0,
    detail: `${unverified} did not verify`,
  });
  for (const f of faults?.records ?? []) {
    checks.push({
      name: `fault: ${f.name}`,
      ok: f.ok === true,
      detail: f.detail ?? 'did not run',
    });
  }
  // Kept for a post-mortem when anything failed; decided only now that every check is in.
  if (!options.keep && checks.every((c) => c.ok)) rmSync(dir, { recursive: true, force: true });
  return {
    rows,
    checks,
    faults: faults?.records ?? [],
    stats,
    unexpectedExits,
    seconds: { publish: publishSeconds, drain: drainSeconds, total: (Date.now() - started) / 1000 },
    dir,
  };
}
