/**
 * An exact near-duplicate index of PDQ hashes: multi-index hashing (Norouzi,
 * Punjani and Fleet; Meta's `pdq/README-MIH.md`) over 16 slices of 16 bits.
 * If two hashes are within r bits, their 16 slices differ by r bits in all,
 * so at least one slice differs by at most floor(r / 16) bits (pigeonhole).
 * A query therefore probes, in each slice's table, every 16-bit value within
 * that radius of its own slice, and verifies each candidate by its full
 * Hamming distance: the answers are exactly a linear scan's. Where probing
 * would cost more than scanning (a large r, or few hashes) it scans.
 *
 * A probe is bound by memory latency, so the layout keeps it sequential:
 * entries compacted at the last `compact()` sit in per-slice buckets stored
 * contiguously (CSR); entries added since sit in linked buckets, and a
 * compaction folds them in once they are an eighth of the whole (amortized
 * O(1) per add). Removal marks entries dead; compaction drops them.
 * Everything is typed arrays, not objects per hash: 8 words of hash, 16
 * bucket ids, the ref id and the ref's chain link per entry (104 bytes),
 * plus two 4 MiB tables of bucket heads and offsets.
 */
import { ThreatRelayError } from '../../contract/errors';
import { popcount32 } from '../../contract/pdq';
import {
  BUCKETS,
  buildSliceTables,
  formatHash,
  MASKS,
  MASKS_WITHIN,
  NONE,
  parseHash,
  SLICES,
  sliceOf,
  WORDS,
  type SliceTables,
} from './slices';

const CANONICAL = /^[0-9a-f]{64}$/;
/** Below this many recent or dead entries a compaction is not worth its cost. */
const MIN_COMPACTION = 4096;

/** One answer: a ref with a stored hash within the distance asked, and the nearest such distance. */
export interface NearDuplicate<R> {
  ref: R;
  distance: number;
}

/** What the index stores and rebuilds from: one hash and the ref it stands for. */
export interface PdqIndexRow<R> {
  hash: string;
  ref: R;
}

export type ProbeStrategy = 'auto' | 'probe' | 'scan';

function checkHash(hash: string): void {
  if (!CANONICAL.test(hash)) {
    throw new ThreatRelayError('TR_INTERNAL', `PDQ index: ${JSON.stringify(hash)} is not 64 lowercase hex`);
  }
}

export class PdqIndex<R> {
  private capacity: number;
  private words: Uint32Array;
  /** Ref id of each entry, or NONE once removed. */
  private refOf: Int32Array;
  /** Per entry: the next entry of the same ref. */
  private refNext: Int32Array;
  private highWater = 0;
  private live = 0;
  private dead = 0;
  /** Entries [0, tables.count) as of the last compaction. */
  private tables: SliceTables = buildSliceTables(new Uint32Array(0), 0);
  /** Entries added since, in linked buckets: heads per slice and bucket, links per (entry - tables.count, slice). */
  private readonly heads = new Int32Array(SLICES * BUCKETS).fill(NONE);
  private links = new Int32Array(SLICES * 64);
  private readonly refs: (R | undefined)[] = [];
  private readonly refIds = new Map<R, number>();
  private refHead = new Int32Array(16).fill(NONE);
  private freeRefs: number[] = [];
  private readonly scratch = new Uint32Array(WORDS);
  /** Set while `fromRows` loads: one compaction at the end instead of many on the way. */
  private bulk = false;
  /** Candidates of one query, gathered before verifying so their memory reads overlap. */
  private candidates = new Int32Array(4096);

  constructor(initialCapacity = 1024) {
    this.capacity = Math.max(16, initialCapacity);
    this.words = new Uint32Array(this.capacity * WORDS);
    this.refOf = new Int32Array(this.capacity);
    this.refNext = new Int32Array(this.capacity);
  }

  /** Rebuilds an index from stored rows (the dedup store's), in their order, compacted for querying. */
  static fromRows<R>(rows: Iterable<PdqIndexRow<R>>, initialCapacity?: number): PdqIndex<R> {
    const index = new PdqIndex<R>(initialCapacity);
    index.bulk = true;
    for (const row of rows) index.add(row.hash, row.ref);
    index.bulk = false;
    index.compact();
    return index;
  }

  /** Stored hashes (variants count one each). */
  get size(): number {
    return this.live;
  }

  /** Refs with at least one stored hash. */
  get refCount(): number {
    return this.refIds.size;
  }

  /** Bytes held in typed arrays. */
  get typedBytes(): number {
    const { offsets, ids } = this.tables;
    const entries = this.words.byteLength + this.refOf.byteLength + this.refNext.byteLength;
    return entries + offsets.byteLength + ids.byteLength + this.heads.byteLength + this.links.byteLength;
  }

  /**
   * Stores `hash` (canonical lowercase hex) for `ref`. A ref's variants are
   * more calls with the same ref; a query reports the ref once, at its
   * nearest hash. Adding a pair already stored changes nothing.
   */
  add(hash: string, ref: R): void {
    checkHash(hash);
    const words = this.scratch;
    parseHash(hash, words);
    let refId = this.refIds.get(ref);
    if (refId !== undefined && this.holds(refId, words)) return;
    if (refId === undefined) refId = this.newRef(ref);
    if (this.highWater === this.capacity) this.grow();
    const e = this.highWater++;
    this.words.set(words, e * WORDS);
    this.refOf[e] = refId;
    this.refNext[e] = this.refHead[refId];
    this.refHead[refId] = e;
    this.live++;
    // A bulk load is compacted at its end: no buckets to link now.
    if (this.bulk) return;
    const recent = e - this.tables.count;
    if ((recent + 1) * SLICES > this.links.length) {
      const grown = new Int32Array(this.links.length * 2);
      grown.set(this.links);
      this.links = grown;
    }
    for (let k = 0; k < SLICES; k++) {
      const b = k * BUCKETS + sliceOf(this.words, e * WORDS, k);
      this.links[recent * SLICES + k] = this.heads[b];
      this.heads[b] = e;
    }
    if (recent + 1 >= Math.max(MIN_COMPACTION, this.tables.count >>> 3)) this.compact();
  }

  /** Forgets every hash of `ref` (its anchor and its variants); returns how many. */
  remove(ref: R): number {
    const refId = this.refIds.get(ref);
    if (refId === undefined) return 0;
    let removed = 0;
    for (let e = this.refHead[refId]; e !== NONE; e = this.refNext[e]) {
      this.refOf[e] = NONE;
      removed++;
    }
    this.live -= removed;
    this.dead += removed;
    this.refHead[refId] = NONE;
    this.refs[refId] = undefined;
    this.refIds.delete(ref);
    this.freeRefs.push(refId);
    if (this.dead >= Math.max(MIN_COMPACTION, this.live >>> 2)) this.compact();
    return removed;
  }

  /**
   * Every ref with a stored hash within `maxDistance` bits of `hash`, once
   * each at its nearest distance, nearest first. Exact: the same answers as
   * comparing with every stored hash. `strategy` forces probing or scanning
   * (tests and benches); `auto` picks the cheaper.
   */
  query(hash: string, maxDistance: number, strategy: ProbeStrategy = 'auto'): NearDuplicate<R>[] {
    checkHash(hash);
    if (!Number.isInteger(maxDistance) || maxDistance < 0) {
      throw new ThreatRelayError(
        'TR_INTERNAL',
        `PDQ index: maxDistance ${maxDistance} is not a whole number >= 0`,
      );
    }
    const q = new Uint32Array(WORDS);
    parseHash(hash, q);
    const r = Math.min(maxDistance, 256);
    const radius = Math.min(r >>> 4, SLICES);
    const best = new Map<number, number>();
    const probe = strategy === 'probe' || (strategy === 'auto' && this.probingIsCheaper(radius));
    if (probe) this.probe(q, r, radius, best);
    else this.scan(q, r, best);
    // Ties by ref id, so equal inputs give equal orders.
    return [...best]
      .sort((a, b) => a[1] - b[1] || a[0] - b[0])
      .map(([refId, distance]) => ({ ref: this.refs[refId] as R, distance }));
  }

  /** Every stored (hash, ref) pair: what a store keeps to rebuild the index. */
  *rows(): IterableIterator<PdqIndexRow<R>> {
    for (let e = 0; e < this.highWater; e++) {
      const refId = this.refOf[e];
      if (refId !== NONE) yield { hash: formatHash(this.words, e * WORDS), ref: this.refs[refId] as R };
    }
  }

  /**
   * Drops removed entries and moves every entry into the contiguous buckets.
   * Runs by itself as entries are added and removed; call it after a bulk
   * load to query at full speed at once.
   */
  compact(): void {
    const n = this.live;
    const capacity = Math.max(16, n + (n >>> 2));
    const words = new Uint32Array(capacity * WORDS);
    const refOf = new Int32Array(capacity);
    let j = 0;
    for (let e = 0; e < this.highWater; e++) {
      if (this.refOf[e] === NONE) continue;
      words.set(this.words.subarray(e * WORDS, e * WORDS + WORDS), j * WORDS);
      refOf[j++] = this.refOf[e];
    }
    this.words = words;
    this.refOf = refOf;
    this.refNext = new Int32Array(capacity);
    this.refHead.fill(NONE);
    for (let e = 0; e < n; e++) {
      this.refNext[e] = this.refHead[refOf[e]];
      this.refHead[refOf[e]] = e;
    }
    this.capacity = capacity;
    this.highWater = n;
    this.dead = 0;
    this.tables = buildSliceTables(words, n);
    this.heads.fill(NONE);
    this.links = new Int32Array(SLICES * 64);
  }

  /** A probe costs a bucket per mask per slice; a scan one distance per entry. */
  private probingIsCheaper(radius: number): boolean {
    const probes = SLICES * MASKS_WITHIN[radius];
    return probes * (1 + this.live / BUCKETS) * 2 < this.live;
  }

  private probe(q: Uint32Array, r: number, radius: number, best: Map<number, number>): void {
    const { count, offsets, ids } = this.tables;
    const masks = MASKS_WITHIN[radius];
    const anyRecent = this.highWater > count;
    for (let k = 0; k < SLICES; k++) {
      const own = (q[k >>> 1] >>> ((k & 1) << 4)) & 0xffff;
      const at = k * (BUCKETS + 1);
      const base = k * count;
      let found = 0;
      for (let m = 0; m < masks; m++) {
        const v = own ^ MASKS[m];
        const start = base + offsets[at + v];
        const end = base + offsets[at + v + 1];
        if (found + end - start > this.candidates.length) this.widenCandidates(found + end - start);
        const candidates = this.candidates;
        for (let i = start; i < end; i++) candidates[found++] = ids[i];
        if (anyRecent) found = this.gatherRecent(k, v, found);
      }
      this.verify(this.candidates, found, k, q, r, radius, best);
    }
  }

  /** Appends the entries added since the last compaction in bucket `v` of slice `k`. */
  private gatherRecent(k: number, v: number, found: number): number {
    const count = this.tables.count;
    let at = found;
    for (let e = this.heads[k * BUCKETS + v]; e !== NONE; e = this.links[(e - count) * SLICES + k]) {
      if (at === this.candidates.length) this.widenCandidates(at + 1);
      this.candidates[at++] = e;
    }
    return at;
  }

  private widenCandidates(atLeast: number): void {
    const grown = new Int32Array(Math.max(atLeast, this.candidates.length * 2));
    grown.set(this.candidates);
    this.candidates = grown;
  }

  private scan(q: Uint32Array, r: number, best: Map<number, number>): void {
    const all = new Int32Array(this.highWater);
    for (let e = 0; e < all.length; e++) all[e] = e;
    this.verify(all, all.length, -1, q, r, 0, best);
  }

  /**
   * Verifies the first `n` entries of `candidates`, found through slice `k`,
   * by full distance, four words first. The loop only reads: the candidates'
   * memory reads overlap, which is what a probe's time is spent on.
   */
  private verify(
    candidates: Int32Array,
    n: number,
    k: number,
    q: Uint32Array,
    r: number,
    radius: number,
    best: Map<number, number>,
  ): void {
    const w = this.words;
    const [q0, q1, q2, q3, q4, q5, q6, q7] = q;
    for (let i = 0; i < n; i++) {
      const o = candidates[i] * WORDS;
      let d = popcount32(w[o] ^ q0) + popcount32(w[o + 1] ^ q1);
      d += popcount32(w[o + 2] ^ q2) + popcount32(w[o + 3] ^ q3);
      if (d > r) continue;
      d += popcount32(w[o + 4] ^ q4) + popcount32(w[o + 5] ^ q5);
      d += popcount32(w[o + 6] ^ q6) + popcount32(w[o + 7] ^ q7);
      if (d <= r) this.record(candidates[i], d, k, q, radius, best);
    }
  }

  /**
   * Records a match. Found through slice `k`, it counts only if no earlier
   * slice is within `radius` too: every entry is then recorded through exactly
   * one slice, with no per-query marks on entries.
   */
  private record(
    e: number,
    d: number,
    k: number,
    q: Uint32Array,
    radius: number,
    best: Map<number, number>,
  ): void {
    const o = e * WORDS;
    for (let j = 0; j < k; j++) {
      const x = (this.words[o + (j >>> 1)] ^ q[j >>> 1]) >>> ((j & 1) << 4);
      if (popcount32(x & 0xffff) <= radius) return;
    }
    const refId = this.refOf[e];
    if (refId === NONE) return;
    const seen = best.get(refId);
    if (seen === undefined || d < seen) best.set(refId, d);
  }

  private holds(refId: number, words: Uint32Array): boolean {
    for (let e = this.refHead[refId]; e !== NONE; e = this.refNext[e]) {
      let same = true;
      for (let i = 0; i < WORDS && same; i++) same = this.words[e * WORDS + i] === words[i];
      if (same) return true;
    }
    return false;
  }

  private newRef(ref: R): number {
    const id = this.freeRefs.pop() ?? this.refs.length;
    if (id === this.refs.length) this.refs.push(ref);
    else this.refs[id] = ref;
    if (id >= this.refHead.length) {
      const grown = new Int32Array(this.refHead.length * 2).fill(NONE);
      grown.set(this.refHead);
      this.refHead = grown;
    }
    this.refHead[id] = NONE;
    this.refIds.set(ref, id);
    return id;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const words = new Uint32Array(capacity * WORDS);
    words.set(this.words);
    const refOf = new Int32Array(capacity);
    refOf.set(this.refOf);
    const refNext = new Int32Array(capacity);
    refNext.set(this.refNext);
    this.words = words;
    this.refOf = refOf;
    this.refNext = refNext;
    this.capacity = capacity;
  }
}
