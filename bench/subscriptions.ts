/**
 * Many subscriptions in one subscriber process: does the aggregate rate grow
 * with their number, and what does each one cost in memory and on disk?
 *
 *   npx tsx bench/subscriptions.ts [--records=20000] [--counts=1,10,30] [--backlog=0] [--one-process] [--profile]
 *
 * Starts a local Kafka broker (or uses KAFKA_BROKERS), publishes `records`
 * distinct TLP:GREEN indicators through the producer API (500 per request),
 * then for each N in `counts` starts ONE subscriber process (a child, so its
 * CPU, RSS and heap are its own), warms it up with a subscription of its own
 * that reads every record (not measured; its cached verdicts and roots are
 * then forgotten), and starts in it N fresh subscriptions of one org
 * (batchSize 100, embedded dedup, each its own consumer group from the
 * beginning, each its own webhook path), and waits until every path holds
 * every indicator. The receiver runs in this process and only counts events.
 * Reported per N: aggregate deliveries/s, CPU µs per delivery, RSS and heap
 * after the drain and again after a forced GC and 10 s idle, the dedup
 * stores' bytes per entry on disk.
 *
 * `--backlog=M` also publishes M more indicators (raw kafkajs, built and
 * signed as the producer does) and drains them with one subscription,
 * sampling the rate and the heap every 5 s: a steady rate and a flat heap
 * are the target.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg as osLoadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector';
import type { Config } from '../services/platform/config/config';
import { createLogger } from '../services/platform/logger';
import { startSubscriber } from '../services/subscriber/service';
import { forgetSharedChecks } from '../services/contract/record-read';
import { createTestNetwork, type TestNetwork } from '../testkit/network';
import { eventsIn, createBenchRun, fmt, indicatorGenerator, writeResults, type BenchBroker } from './support';
import { publishRaw } from './publish-raw';

const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

const RECORDS = Number(arg('records', '20000'));
const COUNTS = arg('counts', '1,10,30').split(',').map(Number);
const BACKLOG = Number(arg('backlog', '0'));
const TWO_PROCESSES_ASKED = !process.argv.includes('--one-process');
const API_BATCH = 500;
const PUBLISHER = 'facebook';
const SUBSCRIBER = 'dhs';
/** A case gives up after this long. */
const CASE_LIMIT_MS = 240_000;

// ---------------------------------------------------------------------------
// The child: one subscriber process holding the subscriptions it is told.

interface ChildStart {
  configFile: string;
  dataDir: string;
  subscriptions: string[];
}

type ToChild =
  | { type: 'warm'; start: ChildStart }
  | { type: 'cool' }
  | { type: 'start'; start: ChildStart }
  | { type: 'measure'; gc: boolean }
  | { type: 'stop' };

interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  cpuSeconds: number;
}

type FromChild =
  | { type: 'started'; before: Sample }
  | { type: 'sample'; sample: Sample }
  | { type: 'stopped' }
  | { type: 'warming' }
  | { type: 'cooled' };

function sample(): Sample {
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuSeconds: (c.user + c.system) / 1e6,
  };
}

/** Resident MiB per mapping (file, or [heap]/[anon]), largest first: where the RSS is. */
function residentByMapping(): string {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  const totals = new Map<string, number>();
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) name = (head[1] || '[anon]').replace(/\/dedup\/[^/]+\//, '/dedup/*/');
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]));
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([n, kb]) => `    ${(kb / 1024).toFixed(0)} MiB ${n}`)
    .join('\n');
}

const session = new Session();
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

async function startProfile(): Promise<void> {
  session.connect();
  await post('Profiler.enable');
  await post('Profiler.start');
}

async function writeProfile(): Promise<void> {
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  const file = join(tmpdir(), `threatrelay-subscriptions-${process.pid}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.error(`    profile: ${file}`);
}

function child(): void {
  const send = (m: FromChild): void => void process.send!(m);
  let stop: (() => Promise<void>) | undefined;
  let stopWarm: (() => Promise<void>) | undefined;
  process.on('message', (m: ToChild) => {
    void (async () => {
      if (m.type === 'warm') {
        // A subscription of its own reads every record before the measured ones start, so they are
        // not measured while V8 still compiles their paths; its verdicts and roots are then forgotten.
        const config = JSON.parse(readFileSync(m.start.configFile, 'utf8')) as Config;
        const warm = await startSubscriber({
          config,
          org: SUBSCRIBER,
          subscriptions: m.start.subscriptions,
          logger: createLogger('bench', 'silent'),
          dataDir: m.start.dataDir,
        });
        stopWarm = () => warm.close();
        send({ type: 'warming' });
      } else if (m.type === 'cool') {
        await stopWarm?.();
        forgetSharedChecks();
        send({ type: 'cooled' });
      } else if (m.type === 'start') {
        const config = JSON.parse(readFileSync(m.start.configFile, 'utf8')) as Config;
        if (process.argv.includes('--smaps')) await startProfile();
        const before = sample();
        const subscriber = await startSubscriber({
          config,
          org: SUBSCRIBER,
          subscriptions: m.start.subscriptions,
          logger: createLogger('bench', 'silent'),
          dataDir: m.start.dataDir,
        });
        stop = () => subscriber.close();
        send({ type: 'started', before });
      } else if (m.type === 'measure') {
        if (m.gc) {
          const gc = (globalThis as { gc?: () => void }).gc;
          if (!gc) throw new Error('run the child with --expose-gc');
          gc();
        }
        if (process.argv.includes('--smaps')) console.error(residentByMapping());
        send({ type: 'sample', sample: sample() });
      } else {
        await stop?.();
        if (process.argv.includes('--smaps')) await writeProfile();
        send({ type: 'stopped' });
        process.exit(0);
      }
    })().catch((err: unknown) => {
      console.error('subscriptions bench child:', err);
      process.exit(1);
    });
  });
}

// ---------------------------------------------------------------------------
// The parent.

/** Counts native events per path; keeps nothing else. */
interface Counter {
  url: string;
  counts: Map<string, number>;
  total: () => number;
  lastAt: number;
  firstAt: number;
  server: Server;
}

async function countingReceiver(): Promise<Counter> {
  const counts = new Map<string, number>();
  const counter: Counter = {
    url: '',
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    lastAt: 0,
    firstAt: 0,
    server: createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts).toString('utf8');
        const n = eventsIn(body);
        const now = Date.now();
        if (counter.firstAt === 0) counter.firstAt = now;
        counter.lastAt = now;
        counts.set(req.url ?? '/', (counts.get(req.url ?? '/') ?? 0) + n);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    }),
  };
  await new Promise<void>((resolve) => counter.server.listen(0, '127.0.0.1', resolve));
  counter.url = `http://127.0.0.1:${(counter.server.address() as AddressInfo).port}`;
  return counter;
}

class ChildHandle {
  private waiters: { resolve: (m: FromChild) => void; reject: (err: Error) => void }[] = [];
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: FromChild) => this.waiters.shift()?.resolve(m));
    proc.once('exit', (code) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`the child exited with ${code}`));
    });
  }
  ask(m: ToChild): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.proc.send(m);
    });
  }
}

const PROFILE = process.argv.includes('--profile');

function spawnChild(): ChildHandle {
  const proc = fork(__filename, ['--child', ...(PROFILE ? ['--smaps'] : [])], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new ChildHandle(proc);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (n: number): string => (n / 2 ** 20).toFixed(0);

/** Allocated bytes of every file under `dir` (what the disk holds, not the sparse size); 0 when absent. */
function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? diskBytes(p) : statSync(p).blocks * 512;
  }
  return total;
}

interface CaseResult {
  n: number;
  processes: number;
  deliveries: number;
  seconds: number;
  firstSeconds: number;
  perSecond: number;
  cpuUsPerDelivery: number;
  cores: number;
  drained: Sample;
  idle: Sample;
  dedupBytesPerEntry: number;
}

const sum = (samples: Sample[]): Sample => ({
  rss: samples.reduce((t, x) => t + x.rss, 0),
  heapUsed: samples.reduce((t, x) => t + x.heapUsed, 0),
  external: samples.reduce((t, x) => t + x.external, 0),
  arrayBuffers: samples.reduce((t, x) => t + x.arrayBuffers, 0),
  cpuSeconds: samples.reduce((t, x) => t + x.cpuSeconds, 0),
});

/** Warm-up subscriptions used so far: one per child process, `warm-01`, `warm-02`, … */
let warmed = 0;

/** `ids` split over `processes` subscriber processes (one per core when 2); memory and CPU are their sums. */
async function runCase(
  bench: ReturnType<typeof createBenchRun>,
  net: TestNetwork,
  configFile: string,
  to: Counter,
  ids: string[],
  perSubscription: number,
  processes = 1,
): Promise<CaseResult> {
  const handles = Array.from({ length: processes }, () => spawnChild());
  for (const handle of handles) {
    bench.defer(`a subscriber process of ${ids.length}`, async () => {
      if (handle.proc.exitCode === null) handle.proc.kill('SIGKILL');
    });
  }
  const share = (i: number): string[] => ids.filter((_, j) => j % processes === i);
  const ask = async (m: ToChild): Promise<Sample[]> =>
    (await Promise.all(handles.map((h) => h.ask(m)))).map((r) => (r as { sample: Sample }).sample);
  const paths = ids.map((id) => `/${id}`);
  const delivered = (): number => paths.reduce((total, p) => total + (to.counts.get(p) ?? 0), 0);
  const target = perSubscription * ids.length;
  const warmIds = handles.map(() => `warm-${String((warmed += 1)).padStart(2, '0')}`);
  await Promise.all(
    handles.map((h, i) =>
      h.ask({ type: 'warm', start: { configFile, dataDir: net.dataDir, subscriptions: [warmIds[i]!] } }),
    ),
  );
  const w0 = Date.now();
  while (warmIds.some((id) => (to.counts.get(`/${id}`) ?? 0) < perSubscription)) {
    if (Date.now() - w0 > CASE_LIMIT_MS || bench.aborted)
      throw new Error(`N=${ids.length}: the warm-up did not end`);
    await sleep(50);
  }
  await Promise.all(handles.map((h) => h.ask({ type: 'cool' })));
  to.firstAt = 0;
  const t0 = Date.now();
  const started = await Promise.all(
    handles.map(
      async (h, i) =>
        (
          (await h.ask({
            type: 'start',
            start: { configFile, dataDir: net.dataDir, subscriptions: share(i) },
          })) as { before: Sample }
        ).before,
    ),
  );
  const startCpu = sum(started).cpuSeconds;
  const dedupBefore = diskBytes(join(net.dataDir, 'dedup'));
  while (delivered() < target) {
    if (Date.now() - t0 > CASE_LIMIT_MS || bench.aborted) {
      throw new Error(
        `N=${ids.length}: ${delivered()} of ${target} delivered after ${CASE_LIMIT_MS / 1000} s`,
      );
    }
    await sleep(50);
  }
  const seconds = (to.lastAt - t0) / 1000;
  const drained = sum(await ask({ type: 'measure', gc: false }));
  await sleep(10_000);
  const idle = sum(await ask({ type: 'measure', gc: true }));
  // Nothing arrived late and nothing twice: every path holds exactly the records.
  for (const p of paths) {
    const got = to.counts.get(p) ?? 0;
    if (got !== perSubscription) throw new Error(`${p} received ${got} events, expected ${perSubscription}`);
  }
  await Promise.all(handles.map((h) => h.ask({ type: 'stop' })));
  // One lmdb environment holds every store of the data directory: what this case added to it.
  const dedupBytes = diskBytes(join(net.dataDir, 'dedup')) - dedupBefore;
  const cpu = drained.cpuSeconds - startCpu;
  const result: CaseResult = {
    n: ids.length,
    processes,
    deliveries: target,
    seconds,
    firstSeconds: (to.firstAt - t0) / 1000,
    perSecond: target / seconds,
    cpuUsPerDelivery: (cpu * 1e6) / target,
    cores: cpu / seconds,
    drained,
    idle,
    dedupBytesPerEntry: dedupBytes / target,
  };
  console.error(
    `  N=${result.n} in ${processes} process(es): ${fmt(result.perSecond)} deliveries/s (${target} in ${seconds.toFixed(1)} s), ` +
      `RSS ${mib(result.drained.rss)} MiB → ${mib(result.idle.rss)} MiB idle, heap ${mib(result.drained.heapUsed)} → ${mib(result.idle.heapUsed)} MiB, ` +
      `dedup ${result.dedupBytesPerEntry.toFixed(0)} B/entry`,
  );
  return result;
}

async function main(bench: ReturnType<typeof createBenchRun>, broker: BenchBroker): Promise<void> {
  const to = await countingReceiver();
  bench.defer('the receiver', () => new Promise((r) => to.server.close(r)));
  const maxN = Math.max(...COUNTS);
  // One subscription cannot be split over two processes.
  const TWO_PROCESSES = TWO_PROCESSES_ASKED && maxN >= 2;
  const subs = COUNTS.flatMap((n) =>
    Array.from({ length: n }, (_, i) => ({
      id: `n${n}-s${String(i + 1).padStart(2, '0')}`,
      org: SUBSCRIBER,
      url: `${to.url}/n${n}-s${String(i + 1).padStart(2, '0')}`,
      batchSize: 100,
    })),
  );
  // The largest N again, split over two processes: one per core.
  if (TWO_PROCESSES) {
    for (let i = 1; i <= maxN; i++) {
      const id = `p2-s${String(i).padStart(2, '0')}`;
      subs.push({ id, org: SUBSCRIBER, url: `${to.url}/${id}`, batchSize: 100 });
    }
  }
  // One warm-up subscription per child process of the cases below.
  const children = COUNTS.length + (TWO_PROCESSES ? 2 : 0);
  for (let i = 1; i <= children; i++) {
    const id = `warm-${String(i).padStart(2, '0')}`;
    subs.push({ id, org: SUBSCRIBER, url: `${to.url}/${id}`, batchSize: 100 });
  }
  if (BACKLOG > 0) subs.push({ id: 'backlog', org: SUBSCRIBER, url: `${to.url}/backlog`, batchSize: 100 });
  const net = await createTestNetwork([{ id: PUBLISHER }, { id: SUBSCRIBER, kind: 'government' }], subs, {
    producer: { rateLimitPerMinute: 10_000_000, maxBatchItems: 1000, bodyLimitBytes: 8 * 1024 * 1024 },
  });
  bench.defer(`network ${net.prefix}`, () => net.close());
  const configFile = join(net.dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify(net.config), { mode: 0o600 });

  console.error(`subscriptions bench: ${broker.description}; publishing ${RECORDS} indicators…`);
  const producer = await net.startProducer(PUBLISHER);
  const keys = new Set<string>();
  const all = indicatorGenerator(20261127)(RECORDS);
  for (let i = 0; i < all.length; i += API_BATCH) {
    const res = await fetch(`${producer.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[PUBLISHER]}`, 'content-type': 'application/json' },
      body: JSON.stringify(all.slice(i, i + API_BATCH)),
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`the API answered ${res.status}: ${text.slice(0, 300)}`);
    for (const r of (JSON.parse(text) as { receipts: { key: string }[] }).receipts) keys.add(r.key);
  }
  await producer.close();
  // The embedded store delivers each key once.
  const perSubscription = keys.size;
  console.error(`  ${RECORDS} published, ${perSubscription} distinct keys; subscriptions up to ${maxN}`);

  const results: CaseResult[] = [];
  for (const n of COUNTS) {
    const ids = subs.filter((s) => s.id.startsWith(`n${n}-`)).map((s) => s.id);
    results.push(await runCase(bench, net, configFile, to, ids, perSubscription));
  }
  if (TWO_PROCESSES) {
    const ids = subs.filter((s) => s.id.startsWith('p2-')).map((s) => s.id);
    results.push(await runCase(bench, net, configFile, to, ids, perSubscription, 2));
  }

  const one = results.find((r) => r.n === 1 && r.processes === 1);
  console.log(
    `\n${new Date().toISOString()}, ${broker.description}, ${RECORDS} indicators, load ${loadavg()}\n`,
  );
  console.log(
    '| subscriptions | processes | deliveries | seconds | first delivery, s | deliveries/s | vs N=1 | CPU µs/delivery | cores | RSS after drain, MiB | heap after drain, MiB | RSS after GC + 10 s idle, MiB | heap after GC, MiB | dedup bytes/entry on disk |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.n} | ${r.processes} | ${fmt(r.deliveries)} | ${r.seconds.toFixed(1)} | ${r.firstSeconds.toFixed(1)} | ${fmt(r.perSecond)} | ${one ? (r.perSecond / one.perSecond).toFixed(2) : '–'}× | ${r.cpuUsPerDelivery.toFixed(0)} | ${r.cores.toFixed(2)} | ${mib(r.drained.rss)} | ${mib(r.drained.heapUsed)} | ${mib(r.idle.rss)} | ${mib(r.idle.heapUsed)} | ${r.dedupBytesPerEntry.toFixed(0)} |`,
    );
  }
  const rows = [];
  const top = results.filter((r) => r.processes === 1).at(-1)!;
  const split = results.find((r) => r.processes === 2);
  if (split) {
    rows.push({
      case: `${split.n} subscriptions over 2 processes vs 1 process`,
      ratio: split.perSecond / top.perSecond,
      target: 1,
    });
  }
  if (one && top.n > 1) {
    rows.push({
      case: `${top.n} subscriptions in one process, aggregate vs one`,
      ratio: top.perSecond / one.perSecond,
      target: 5,
    });
    rows.push({
      case: `${top.n} subscriptions, RSS after drain in GiB (ceiling)`,
      ratio: top.drained.rss / 2 ** 30,
      target: 1,
    });
  }
  rows.push({
    case: 'dedup bytes per entry on disk, /200 (ceiling)',
    ratio: top.dedupBytesPerEntry / 200,
    target: 1,
  });

  if (BACKLOG > 0) {
    const samples = await backlog(bench, net, configFile, to, perSubscription);
    // After the first 30 s: the shared record cache and the pools have filled by then.
    const steady = samples.filter((x) => x.at >= 30);
    const quarter = Math.max(1, Math.floor(steady.length / 4));
    const mean = (xs: BacklogSample[]): number => xs.reduce((t, x) => t + x.perSecond, 0) / xs.length;
    const heaps = steady.map((x) => x.heapUsed);
    if (steady.length >= 4) {
      rows.push({
        case: `backlog of ${BACKLOG}: rate in the last quarter vs the first`,
        ratio: mean(steady.slice(-quarter)) / mean(steady.slice(0, quarter)),
        target: 0.8,
      });
      rows.push({
        case: `backlog of ${BACKLOG}: largest heap after GC vs smallest, after 30 s (ceiling)`,
        ratio: Math.max(...heaps) / Math.min(...heaps),
        target: 1.25,
      });
    }
  }
  writeResults('subscriptions', rows);
}

interface BacklogSample {
  at: number;
  delivered: number;
  perSecond: number;
  heapUsed: number;
  rss: number;
}

async function backlog(
  bench: ReturnType<typeof createBenchRun>,
  net: TestNetwork,
  configFile: string,
  to: Counter,
  already: number,
): Promise<BacklogSample[]> {
  console.error(
    `subscriptions bench: publishing a backlog of ${BACKLOG} (raw kafkajs, signed as the producer does)…`,
  );
  const p0 = Date.now();
  await publishRaw(net, PUBLISHER, BACKLOG, 424242);
  console.error(`  published in ${((Date.now() - p0) / 1000).toFixed(1)} s; draining with one subscription`);
  const handle = spawnChild();
  bench.defer('the backlog subscriber', async () => {
    if (handle.proc.exitCode === null) handle.proc.kill('SIGKILL');
  });
  const t0 = Date.now();
  await handle.ask({
    type: 'start',
    start: { configFile, dataDir: net.dataDir, subscriptions: ['backlog'] },
  });
  // The backlog subscription reads the topic from the beginning: the first records are there too.
  const target = BACKLOG + already;
  const samples: BacklogSample[] = [];
  let last = 0;
  let lastAt = t0;
  const delivered = (): number => to.counts.get('/backlog') ?? 0;
  while (delivered() < target) {
    if (Date.now() - t0 > 20 * 60_000 || bench.aborted)
      throw new Error(`backlog: ${delivered()} of ${target}`);
    await sleep(5000);
    const m = (await handle.ask({ type: 'measure', gc: true })) as { sample: Sample };
    const now = Date.now();
    const d = delivered();
    samples.push({
      at: (now - t0) / 1000,
      delivered: d,
      perSecond: (d - last) / ((now - lastAt) / 1000),
      heapUsed: m.sample.heapUsed,
      rss: m.sample.rss,
    });
    last = d;
    lastAt = now;
  }
  await handle.ask({ type: 'stop' });
  console.log(`\nBacklog of ${fmt(BACKLOG)}, one subscription, ${((lastAt - t0) / 1000).toFixed(0)} s:\n`);
  console.log('| s | delivered | deliveries/s in the last 5 s | heap after GC, MiB | RSS, MiB |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const s of samples) {
    console.log(
      `| ${s.at.toFixed(0)} | ${fmt(s.delivered)} | ${fmt(s.perSecond)} | ${mib(s.heapUsed)} | ${mib(s.rss)} |`,
    );
  }
  return samples;
}

function loadavg(): string {
  return osLoadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

if (process.argv.includes('--child')) {
  child();
} else {
  const bench = createBenchRun('subscriptions', 30 * 60_000);
  bench.main(async () => {
    const broker = await bench.startBroker();
    await main(bench, broker);
  });
}
