/**
 * Question: how fast does the TAXII server hand out a collection, paging
 * 1,000 objects at a time over HTTP, against reading the same objects
 * straight out of its lmdb store in the same run?
 *
 *   npx tsx bench/taxii.ts [--objects 20000] [--rounds 5]
 *
 * The store is filled directly (no Kafka: the question is serving), with
 * distinct indicator objects shaped like the ones the feed stores. "HTTP"
 * is a client on loopback paging with `limit=1000` and `next` and parsing
 * each envelope, as a TIP would; "raw" iterates the stored JSON in position
 * order and parses each object. Writes bench/results/taxii.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS } from '../services/platform/config/defaults';
import { apiKeyHash } from '../services/platform/config/config';
import { createLogger } from '../services/platform/logger';
import { taxiiApp } from '../services/taxii/app';
import { collectionsOf } from '../services/taxii/collections';
import { nextVersion } from '../services/taxii/objects';
import { TaxiiStore } from '../services/taxii/store';
import { rng } from './support';

const { values } = parseArgs({
  options: { objects: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } },
});
const N = Number(values.objects);
const ROUNDS = Number(values.rounds);
const PAGE = 1000;
const TARGET = 0.25;

function indicator(i: number, random: () => number): Record<string, unknown> {
  const hex = (n: number): string =>
    Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const at = new Date(Date.UTC(2026, 10, 3) + i * 1000).toISOString();
  const domain = `${['login', 'secure', 'vote', 'ballot', 'wallet'][i % 5]}-${hex(6)}.example`;
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${hex(8)}-${hex(4)}-5${hex(3)}-8${hex(3)}-${hex(12)}`,
    created_by_ref: 'identity--0f6a3b6e-2f4b-5e0a-9d1c-6c1b2d3e4f50',
    created: at,
    modified: at,
    x_threatrelay_event_id: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
    x_threatrelay_key: hex(64),
    name: `domain ${domain}`,
    description: random() < 0.5 ? 'Lookalike of a county election site, seen in SMS lures.' : undefined,
    indicator_types: ['malicious-activity'],
    pattern_type: 'stix',
    pattern: `[domain-name:value = '${domain}']`,
    valid_from: at,
    confidence: Math.floor(random() * 100),
    labels: ['election-2026', 'sms'].slice(0, Math.floor(random() * 3)),
    object_marking_refs: ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487'],
    x_threatrelay_category: 'phishing',
    x_threatrelay_severity: 'medium',
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'taxii-bench-'));
  const store = TaxiiStore.open(dir);
  let server: Server | undefined;
  try {
    const random = rng(42);
    for (let i = 0; i < N; i += PAGE) {
      const events = Array.from({ length: Math.min(PAGE, N - i) }, (_, j) => ({
        eventKey: `bench\n${i + j}`,
        additions: [{ collection: 'clear', object: indicator(i + j, random) }],
      }));
      await store.add(events, undefined, nextVersion);
    }
    const org = {
      id: 'bench',
      name: 'bench',
      kind: 'government' as const,
      maxTlp: 'amber' as const,
      keys: [],
      pdq: { minQuality: 50 },
    };
    const secret = 'trt_bench_secret';
    const collections = collectionsOf(org, 'bench');
    const app = taxiiApp({
      org: 'bench',
      store,
      collections,
      readers: [{ name: 'bench-taxii', org: 'bench', sha256: apiKeyHash(secret) }],
      authFailures: { authFailuresPerMinute: DEFAULTS.authFailuresPerMinute },
      defaultPageSize: 100,
      maxPageSize: PAGE,
      logger: createLogger('bench', 'silent'),
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/collections/${collections[0]!.id}/objects/`;
    const headers = { authorization: `Bearer ${secret}`, accept: 'application/taxii+json;version=2.1' };

    const viaHttp = async (): Promise<number> => {
      let count = 0;
      let next = '';
      for (;;) {
        const res = await fetch(`${base}?limit=${PAGE}${next}`, { headers });
        const body = (await res.json()) as { more: boolean; next?: string; objects?: unknown[] };
        count += body.objects?.length ?? 0;
        if (!body.more) return count;
        next = `&next=${body.next}`;
      }
    };
    const raw = (): number => {
      let count = 0;
      for (const json of store.rawJson('clear')) if (JSON.parse(json)) count += 1;
      return count;
    };
    const time = async (f: () => number | Promise<number>): Promise<{ count: number; perSecond: number }> => {
      const started = process.hrtime.bigint();
      const count = await f();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return { count, perSecond: count / seconds };
    };

    await viaHttp(); // warm-up
    raw();
    const http: number[] = [];
    const direct: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const h = await time(viaHttp);
      const d = await time(raw);
      if (h.count !== N || d.count !== N)
        throw new Error(`read ${h.count} over HTTP, ${d.count} raw; expected ${N}`);
      http.push(h.perSecond);
      direct.push(d.perSecond);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(http) / median(direct);
    const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
    console.log(`${N} objects, ${ROUNDS} rounds, medians:`);
    console.log(`| case | objects/s | vs raw lmdb |`);
    console.log(`|---|---:|---:|`);
    console.log(`| raw lmdb read + JSON.parse | ${fmt(median(direct))} | 1.00× |`);
    console.log(`| TAXII over HTTP, limit=${PAGE} | ${fmt(median(http))} | ${ratio.toFixed(2)}× |`);
    console.log(`HTTP rounds: ${http.map(fmt).join(', ')}; raw rounds: ${direct.map(fmt).join(', ')}`);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(
      join(__dirname, 'results', 'taxii.json'),
      `${JSON.stringify(
        [
          {
            case: `TAXII objects/s paging ${PAGE} vs raw lmdb read`,
            ratio,
            target: TARGET,
            date: new Date().toISOString(),
          },
        ],
        null,
        2,
      )}\n`,
    );
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
