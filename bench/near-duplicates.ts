/**
 * Is the PDQ near-duplicate index exact and fast enough? An index of
 * 1,000,000 stored hashes (most of unrelated images, a tenth re-encodes of
 * earlier ones a few bits off), 10,000 queries at Meta's threshold of 31
 * bits: half of them re-encodes of stored hashes (0 to 31 bits off), a
 * quarter near misses (32 to 48 bits off), a quarter unrelated pictures.
 * Every query is also answered by a linear scan in the same run (a flat
 * typed array, the same popcount, an early exit after half the words: the
 * best plain scan), and the answers must be equal. Reports the speed ratio
 * (target >= 20x), the memory per stored hash, and which popcount is fastest.
 *
 *   npm run bench:near-duplicates [-- --hashes=1000000 --queries=10000]
 *
 * Writes bench/results/near-duplicates.json.
 */
import { popcount32 } from '../services/contract/pdq';
import { PdqIndex } from '../services/subscriber/near-duplicates';
import { rng, writeResults } from './support';

const arg = (name: string, fallback: number): number =>
  Number(/^--[\w-]+=(.+)$/.exec(process.argv.find((a) => a.startsWith(`--${name}=`)) ?? '')?.[1] ?? fallback);
const HASHES = arg('hashes', 1_000_000);
const QUERIES = arg('queries', 10_000);
const THRESHOLD = 31;
const TARGET_RATIO = 20;

const rand = rng(20261208);
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

function randomWords(out: Uint32Array, at: number): void {
  for (let i = 0; i < 8; i++) out[at + i] = (rand() * 0x100000000) >>> 0;
}

/** Copies the hash at `from` to `to` with `bits` distinct bits flipped. */
function flipped(src: Uint32Array, from: number, dst: Uint32Array, to: number, bits: number): void {
  for (let i = 0; i < 8; i++) dst[to + i] = src[from + i];
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(int(0, 255));
  for (const b of chosen) dst[to + (b >>> 5)] ^= 1 << (b & 31);
}

const hex = (w: Uint32Array, at: number): string => {
  let s = '';
  for (let i = 0; i < 8; i++) s += w[at + i].toString(16).padStart(8, '0');
  return s;
};

function dataset(): { stored: Uint32Array; queries: Uint32Array } {
  const stored = new Uint32Array(HASHES * 8);
  for (let i = 0; i < HASHES; i++) {
    if (i > 1000 && rand() < 0.1) flipped(stored, int(0, i - 1) * 8, stored, i * 8, int(1, 24));
    else randomWords(stored, i * 8);
  }
  const queries = new Uint32Array(QUERIES * 8);
  for (let q = 0; q < QUERIES; q++) {
    const kind = rand();
    const near = int(0, HASHES - 1) * 8;
    if (kind < 0.5) flipped(stored, near, queries, q * 8, int(0, THRESHOLD));
    else if (kind < 0.75) flipped(stored, near, queries, q * 8, int(THRESHOLD + 1, 48));
    else randomWords(queries, q * 8);
  }
  return { stored, queries };
}

/** The plain scan: every stored hash, distances by 32-bit popcount, early exit after four words. */
function linearScan(stored: Uint32Array, q: Uint32Array, at: number): Map<number, number> {
  const found = new Map<number, number>();
  const [q0, q1, q2, q3, q4, q5, q6, q7] = q.subarray(at, at + 8);
  for (let e = 0, o = 0; e < HASHES; e++, o += 8) {
    let d = popcount32(stored[o] ^ q0) + popcount32(stored[o + 1] ^ q1);
    d += popcount32(stored[o + 2] ^ q2) + popcount32(stored[o + 3] ^ q3);
    if (d > THRESHOLD) continue;
    d += popcount32(stored[o + 4] ^ q4) + popcount32(stored[o + 5] ^ q5);
    d += popcount32(stored[o + 6] ^ q6) + popcount32(stored[o + 7] ^ q7);
    if (d <= THRESHOLD) found.set(e, d);
  }
  return found;
}

function sameAnswers(index: Map<number, number>, scan: Map<number, number>): boolean {
  if (index.size !== scan.size) return false;
  for (const [ref, d] of scan) if (index.get(ref) !== d) return false;
  return true;
}

/** Distances per second of two popcounts: 8 x 32-bit SWAR words and 4 x 64-bit BigInt words. */
function popcountRace(stored: Uint32Array): { swar: number; bigint: number } {
  const n = Math.min(200_000, HASHES);
  const q = stored.subarray(0, 8);
  let sink = 0;
  let t = process.hrtime.bigint();
  for (let e = 0; e < n; e++) for (let i = 0; i < 8; i++) sink += popcount32(stored[e * 8 + i] ^ q[i]);
  const swar = n / (Number(process.hrtime.bigint() - t) / 1e9);
  const big = new BigUint64Array(stored.buffer, 0, n * 4);
  const bq = big.subarray(0, 4);
  const pop64 = (x: bigint): number => {
    let c = 0;
    for (let v = x; v !== 0n; v &= v - 1n) c++;
    return c;
  };
  const m = n / 10;
  t = process.hrtime.bigint();
  for (let e = 0; e < m; e++) for (let i = 0; i < 4; i++) sink += pop64(big[e * 4 + i] ^ bq[i]);
  const bigint = m / (Number(process.hrtime.bigint() - t) / 1e9);
  if (sink === -1) console.log(sink);
  return { swar, bigint };
}

function main(): void {
  console.log(`near-duplicates: ${HASHES} stored hashes, ${QUERIES} queries at ${THRESHOLD} bits`);
  const { stored, queries } = dataset();
  const heapBefore = process.memoryUsage();
  let t = process.hrtime.bigint();
  // As a subscriber rebuilds it at start: every stored row, then one compaction.
  function* rows(): IterableIterator<{ hash: string; ref: number }> {
    for (let e = 0; e < HASHES; e++) yield { hash: hex(stored, e * 8), ref: e };
  }
  const index = PdqIndex.fromRows(rows(), HASHES);
  console.log('  index built');
  const buildSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  const heapAfter = process.memoryUsage();
  const typedPerHash = index.typedBytes / HASHES;
  const heapPerHash =
    (heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers) / HASHES;

  const queryHex = Array.from({ length: QUERIES }, (_, q) => hex(queries, q * 8));
  const answers: Map<number, number>[] = [];
  t = process.hrtime.bigint();
  for (const q of queryHex) answers.push(new Map(index.query(q, THRESHOLD).map((m) => [m.ref, m.distance])));
  const indexSeconds = Number(process.hrtime.bigint() - t) / 1e9;

  let scanSeconds = 0;
  let mismatches = 0;
  let matched = 0;
  for (let q = 0; q < QUERIES; q++) {
    t = process.hrtime.bigint();
    const scan = linearScan(stored, queries, q * 8);
    scanSeconds += Number(process.hrtime.bigint() - t) / 1e9;
    if (!sameAnswers(answers[q], scan)) mismatches++;
    if (scan.size > 0) matched++;
    if ((q + 1) % 1000 === 0) console.log(`  scanned ${q + 1}/${QUERIES} queries`);
  }
  const ratio = scanSeconds / indexSeconds;
  const race = popcountRace(stored);

  console.log(`build: ${buildSeconds.toFixed(1)} s (${Math.round(HASHES / buildSeconds)} adds/s)`);
  console.log(`index: ${((indexSeconds / QUERIES) * 1e6).toFixed(1)} µs/query`);
  console.log(`scan:  ${((scanSeconds / QUERIES) * 1e6).toFixed(1)} µs/query`);
  console.log(`ratio: ${ratio.toFixed(1)}x (target >= ${TARGET_RATIO}x)`);
  console.log(`queries with a match: ${matched}; answers differing from the scan: ${mismatches}`);
  console.log(
    `memory: ${typedPerHash.toFixed(1)} B/hash in typed arrays, ${heapPerHash.toFixed(1)} B/hash heap+buffers`,
  );
  console.log(
    `popcount: 8 x 32-bit SWAR ${Math.round(race.swar)} distances/s, 4 x 64-bit BigInt ${Math.round(race.bigint)} distances/s`,
  );
  if (mismatches > 0) {
    console.error(`FAIL: ${mismatches} queries answered differently from the linear scan`);
    process.exitCode = 1;
    return;
  }
  writeResults('near-duplicates', [
    {
      case: `index vs linear scan, ${HASHES} hashes, ${QUERIES} queries at ${THRESHOLD} bits`,
      ratio: Number(ratio.toFixed(1)),
      target: TARGET_RATIO,
    },
    {
      case: 'bytes per stored hash in typed arrays (ceiling)',
      ratio: Number(typedPerHash.toFixed(1)),
      target: 128,
    },
  ]);
}

main();
