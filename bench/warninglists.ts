/**
 * What does a warninglist lookup cost with every list of the snapshot loaded
 * (70,000+ entries: 10,000 top sites, 62,745 resolver addresses, …)? Each case
 * looks up a rotating set of canonical values and is compared with a bare
 * `Map.get` of the same values in a Map as large as the snapshot, measured in
 * the same run, so the ratio says what the matcher adds over the cheapest
 * possible lookup on this machine.
 *
 *   npx tsx bench/warninglists.ts [--seconds=1]
 *
 * Writes bench/results/warninglists.json (`[{case, ratio, target, date, nsPerLookup}]`)
 * and prints a markdown table for docs/warninglists.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IndicatorType } from '../services/contract/model';
import { loadWarninglists } from '../services/contract/warninglists';
import { rng } from './support';

const SECONDS = Number(
  /^--seconds=(.+)$/.exec(process.argv.find((a) => a.startsWith('--seconds=')) ?? '')?.[1] ?? 1,
);
/** At most this many bare Map lookups' worth per warninglist lookup: a few microseconds. */
const TARGET_RATIO = 100;
const ROOT = join(__dirname, '..');

const rand = rng(20261208);
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
const many = (make: () => string): string[] => Array.from({ length: 1024 }, make);

const CASES: { name: string; type: IndicatorType; values: string[] }[] = [
  {
    name: 'domain, subdomain of a top site (hit)',
    type: 'domain',
    values: many(() => `cdn${int(1, 999)}.static.google.com`),
  },
  {
    name: 'domain on no list (miss)',
    type: 'domain',
    values: many(() => `login-${hex(6)}.verify-${hex(4)}.example.net`),
  },
  { name: 'URL on a shortener (hit by host)', type: 'url', values: many(() => `https://bit.ly/${hex(7)}`) },
  {
    name: 'URL on no list (miss)',
    type: 'url',
    values: many(() => `https://login-${hex(6)}.example.net/a/${hex(8)}?id=${hex(12)}`),
  },
  {
    name: 'IPv4 public resolver (hit, 62,745 entries)',
    type: 'ipv4',
    values: many(() => ['8.8.8.8', '1.1.1.1', '9.9.9.9'][int(0, 2)]!),
  },
  {
    name: 'IPv4 on no list (miss)',
    type: 'ipv4',
    values: many(() => `${int(11, 99)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`),
  },
  { name: 'IPv6 on no list (miss)', type: 'ipv6', values: many(() => `2a00:${hex(4)}:${hex(4)}::${hex(4)}`) },
  { name: 'SHA-256 on no list (miss)', type: 'sha256', values: many(() => hex(64)) },
  { name: 'email, regex list (miss)', type: 'email', values: many(() => `alice.${hex(5)}@example.org`) },
];

let sink = 0;

/** Nanoseconds per call of `fn` over `values`, run for `SECONDS` after a warm-up. */
function measure(values: string[], fn: (v: string) => number): number {
  const run = (until: number): { calls: number; ms: number } => {
    const start = performance.now();
    let calls = 0;
    while (performance.now() < until) {
      for (const v of values) sink += fn(v);
      calls += values.length;
    }
    return { calls, ms: performance.now() - start };
  };
  run(performance.now() + 200);
  const { calls, ms } = run(performance.now() + SECONDS * 1000);
  return (ms * 1e6) / calls;
}

const loadStart = performance.now();
const index = loadWarninglists(join(ROOT, 'config/warninglists'));
const loadMs = performance.now() - loadStart;
// As many keys as the snapshot holds entries, so the baseline's Map is as large as ours.
const baseline = new Map<string, number>();
for (let i = 0; i < 75_000; i += 1) baseline.set(`key-${i}.example.com`, i);

const date = new Date().toISOString();
const results = CASES.map((c) => {
  for (const v of c.values) baseline.set(v, 1);
  const bare = measure(c.values, (v) => baseline.get(v) ?? 0);
  const ours = measure(c.values, (v) => index.warnings(c.type, v).length);
  return {
    case: c.name,
    ratio: Number((ours / bare).toFixed(1)),
    target: TARGET_RATIO,
    date,
    nsPerLookup: Math.round(ours),
    bareNs: bare,
  };
});

mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench/results/warninglists.json'),
  `${JSON.stringify(
    results.map(({ bareNs: _bare, ...r }) => r),
    null,
    2,
  )}\n`,
);
console.log(
  `snapshot loaded in ${loadMs.toFixed(0)} ms; ${index.lists.length} lists (sink ${sink > 0 ? 'ok' : 'empty'})\n`,
);
console.log('| case | per lookup | bare Map.get | ratio (target ≤ 100) |');
console.log('|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.case} | ${(r.nsPerLookup / 1000).toFixed(2)} µs | ${r.bareNs.toFixed(0)} ns | ${r.ratio} |`,
  );
}
const missed = results.filter((r) => r.ratio > r.target);
if (missed.length > 0) {
  console.error(`over target: ${missed.map((r) => r.case).join(', ')}`);
  process.exitCode = 1;
}
