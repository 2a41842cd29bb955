/**
 * What the benches that need Kafka share: realistic API inputs from a fixed
 * seed, and a run that starts a broker (or uses KAFKA_BROKERS) and stops
 * everything it started, in reverse order, exactly once: on the way out, on
 * error, on Ctrl-C, after a hard time limit, and (for the broker) even when
 * the process is killed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyObject } from 'node:crypto';
import type { Message } from 'kafkajs';
import type { EventCodec } from '../services/contract/avro/codec';
import { indicatorInputSchema } from '../services/contract/indicator';
import type { Category, Platform, Severity } from '../services/contract/model';
import { singleKeySigner } from '../services/contract/keyring';
import { signedBatch } from '../services/contract/record';
import { buildPublishedEvents } from '../services/producer/ingest/build-events';
import { KAFKA_SCRIPT, startLocalBroker, waitForBroker } from '../testkit/broker-provider';

const run = promisify(execFile);

// ---------------------------------------------------------------------------
// Data: realistic, distinct API inputs, the same on every run.

/** mulberry32: the same records on every run, so runs compare. */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type RawIndicator = Record<string, unknown> & { type: string; value: string };

const WORDS = [
  'login',
  'secure',
  'update',
  'account',
  'verify',
  'cdn',
  'news',
  'daily',
  'portal',
  'vote',
  'ballot',
  'precinct',
  'wallet',
  'support',
];
const CATEGORIES: Category[] = [
  'disinformation',
  'coordinated_inauthentic_behavior',
  'influence_operation',
  'phishing',
  'malware',
  'c2',
];
const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];
const PLATFORMS: Platform[] = ['twitter', 'telegram', 'tiktok', 'facebook'];

/**
 * Returns `generate(n)`: n distinct TLP:GREEN indicators per call (30% domains,
 * 25% URLs, 20% IPv4, 15% SHA-256, 10% social accounts, with the defanging and
 * case an analyst pastes), drawn from one stream seeded by `seed`, so the
 * same calls in the same order give the same indicators on every run.
 * Distinct within one call only: take every pool from one call when repeats
 * across pools matter.
 */
export function indicatorGenerator(seed: number): (n: number) => RawIndicator[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
  const word = (): string => pick(WORDS);

  const indicatorValue = (): { type: string; value: string; platform?: Platform } => {
    const r = rand();
    if (r < 0.3) {
      const domain = `${word()}-${word()}${int(1, 9999)}.${pick(['com', 'net', 'org', 'ru', 'xyz', 'info'])}`;
      // Analysts defang what they paste; canonicalization refangs it.
      return { type: 'domain', value: rand() < 0.3 ? domain.replace(/\.(?=[a-z]+$)/, '[.]') : domain };
    }
    if (r < 0.55) {
      const url = `https://${word()}.${word()}${int(1, 9999)}.com/${word()}/${word()}?id=${hex(int(6, 24))}`;
      return { type: 'url', value: rand() < 0.3 ? url.replace(/^https/, 'hxxps') : url };
    }
    if (r < 0.75) {
      return { type: 'ipv4', value: `${int(1, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}` };
    }
    if (r < 0.9) return { type: 'sha256', value: rand() < 0.2 ? hex(64).toUpperCase() : hex(64) };
    return {
      type: 'social_account',
      value: `@${word()}_${word()}_${int(1, 99999)}`,
      platform: pick(PLATFORMS),
    };
  };

  return (n) => {
    const seen = new Set<string>();
    const out: RawIndicator[] = [];
    const now = Date.now();
    while (out.length < n) {
      const v = indicatorValue();
      const id = `${v.type}:${v.platform ?? ''}:${v.value.toLowerCase().replace('[.]', '.').replace('hxxps', 'https')}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const item: RawIndicator = {
        ...v,
        category: pick(CATEGORIES),
        tlp: 'green',
        confidence: int(30, 100),
        severity: pick(SEVERITIES),
        tags: Array.from({ length: int(1, 3) }, () => word()),
      };
      if (rand() < 0.5) item.validUntil = new Date(now + int(7, 90) * 86_400_000).toISOString();
      if (rand() < 0.3) item.campaign = `${word()} ${word()} campaign`;
      if (rand() < 0.2) item.threatActor = `TA-${int(100, 999)}`;
      if (rand() < 0.3)
        item.description = `Seen ${word()} infrastructure pushing ${word()} lures to ${word()} users.`;
      out.push(item);
    }
    return out;
  };
}

/**
 * Exactly what the producer writes for one request of `items` from `org`:
 * validated, canonicalized, Avro-encoded, one batch signature, id headers,
 * keyed by indicator key. `batch`: the items came as a list (false: a lone one).
 */
export function producerWrites(
  items: RawIndicator[],
  org: string,
  codec: EventCodec,
  signingKey: KeyObject,
  batch = true,
): Message[] {
  const ctx = { org, submitter: `${org}-secops`, idempotencyKey: undefined };
  const events = buildPublishedEvents(
    items.map((i) => indicatorInputSchema.parse(i)),
    ctx,
    batch,
  );
  return signedBatch(events, codec, singleKeySigner(org, signingKey));
}

/** Events in a native webhook body, without parsing it: inside a JSON string every `"` is escaped. */
export function eventsIn(body: string): number {
  let n = 0;
  for (let i = body.indexOf('"eventId":"'); i !== -1; i = body.indexOf('"eventId":"', i + 11)) n += 1;
  return n;
}

// ---------------------------------------------------------------------------
// Measuring

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Rate of a synchronous step, in units per second, after a short warm-up. */
export function cpuRate(fn: (k: number) => number, seconds: number): number {
  const loop = (s: number): number => {
    const started = process.hrtime.bigint();
    const budget = BigInt(Math.round(s * 1e9));
    let units = 0;
    let k = 0;
    while (process.hrtime.bigint() - started < budget) units += fn(k++);
    return units / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  loop(seconds / 3);
  return loop(seconds);
}

/** CPU seconds a process used so far (utime + stime), from /proc. */
export function processCpuSeconds(pid: number): number {
  // Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesized command name.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

// ---------------------------------------------------------------------------
// Resources: everything started is stopped, in reverse order, exactly once.

export interface BenchBroker {
  description: string;
  /** CPU seconds the local broker used so far; undefined for an external cluster. */
  cpuSeconds(): number | undefined;
}

export interface BenchRun {
  /** True once stopping began (error, signal, time limit): loops should end. */
  readonly aborted: boolean;
  /** Registers something to stop; stopped in reverse order of registration. */
  defer(what: string, fn: () => Promise<unknown>): void;
  cleanup(): Promise<void>;
  /** KAFKA_BROKERS when set, else a local KRaft broker in a folder of its own (and sets KAFKA_BROKERS). */
  startBroker(): Promise<BenchBroker>;
  /** Runs `main` under the time limit, reports its error, then stops everything. */
  main(main: () => Promise<void>): void;
}

/**
 * `name` prefixes every message (`<name> bench: …`); `hardLimitMs` bounds the
 * whole run, broker start and stop included.
 */
export function createBenchRun(name: string, hardLimitMs: number): BenchRun {
  const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
  let cleaning: Promise<void> | undefined;
  let aborted = false;

  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      aborted = true;
      for (const { what, fn } of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          console.error(`${name} bench: stopping ${what} failed: ${String(err)}`);
        }
      }
    })();
    return cleaning;
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: a second signal (npx and tsx relay Ctrl-C again) must not end the cleanup half-way.
    process.on(signal, () => {
      if (cleaning) return;
      console.error(`${name} bench: ${signal}, stopping everything`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  /**
   * Stops the broker once this process is gone, however it ended: tsx kills a
   * child with SIGKILL when it does not acknowledge Ctrl-C within 30 ms, which
   * a request being encoded on the event loop easily misses. Detached, so
   * Ctrl-C does not reach it; `kafka.sh stop` is a no-op when the broker is
   * already stopped.
   */
  const guardBroker = (dir: string): void => {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; bash "$1" stop --dir "$2"; rm -rf "$2"`;
    spawn('bash', ['-c', script, `${name}-bench-guard`, KAFKA_SCRIPT, dir], {
      detached: true,
      stdio: 'ignore',
    }).unref();
  };

  const defer = (what: string, fn: () => Promise<unknown>): void => {
    cleanups.push({ what, fn });
  };

  return {
    get aborted() {
      return aborted;
    },
    defer,
    cleanup,
    async startBroker() {
      if (process.env.KAFKA_BROKERS) {
        await waitForBroker(process.env.KAFKA_BROKERS.split(',')[0]!);
        return { description: `external cluster ${process.env.KAFKA_BROKERS}`, cpuSeconds: () => undefined };
      }
      // Our own folder, so the broker can be stopped even when its start fails half-way.
      const dir = mkdtempSync(join(os.tmpdir(), 'threatrelay-bench-kafka-'));
      guardBroker(dir);
      defer('the broker', async () => {
        await run('bash', [KAFKA_SCRIPT, 'stop', '--dir', dir], { timeout: 60_000 });
        rmSync(dir, { recursive: true, force: true });
      });
      console.error(`${name} bench: starting a local Kafka broker…`);
      const broker = await startLocalBroker({ dir });
      const brokerPid = Number(readFileSync(join(dir, 'broker.pid'), 'utf8').trim());
      // createTestNetwork and the services' config read it.
      process.env.KAFKA_BROKERS = broker.bootstrap;
      return { description: broker.description, cpuSeconds: () => processCpuSeconds(brokerPid) };
    },
    main(main) {
      const watchdog = setTimeout(() => {
        console.error(`${name} bench: over ${hardLimitMs / 1000} s, stopping everything`);
        void cleanup().finally(() => process.exit(1));
      }, hardLimitMs);
      watchdog.unref();
      main()
        .catch((err: unknown) => {
          if (!aborted) console.error(`${name} bench failed:`, err);
          process.exitCode = 1;
        })
        .finally(() => cleanup());
    },
  };
}

export interface RatioRow {
  case: string;
  ratio: number;
  /** The ratio the case should reach (a floor), or a ceiling when the row says so in its case name. */
  target: number;
  date: string;
}

/** Writes `bench/results/<bench>.json`, so a script can check the ratios; BENCHMARKS.md keeps the prose. */
export function writeResults(bench: string, rows: Omit<RatioRow, 'date'>[]): void {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString();
  writeFileSync(
    join(dir, `${bench}.json`),
    `${JSON.stringify(
      rows.map((r) => ({ ...r, date })),
      null,
      2,
    )}\n`,
  );
}
