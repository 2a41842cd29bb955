/**
 * An exact near-duplicate index of PDQ hashes: multi-index hashing (Norouzi,
 * Punjani and Fleet; Meta's `pdq/README-MIH.md`) over 16 slices of 16 bits.
 * If two hashes are within r bits, their 16 slices differ by r bits in all,
 * so at least one slice differs by at most floor(r / 16) bits (pigeonhole).
 * A query therefore probes, in each slice's table, every 16-bit value within
 * that radius of its own slice, and verifies each candidate by its full
 * Hamming distance: the answers are exactly a linear scan's. Where the
 * radius makes probing dearer than scanning (r >= 32 on small indexes, or
 * large r anywhere) it scans.
 *
 * Memory is typed arrays, not objects per hash: 8 words of hash, 16 chain
 * links, the ref id, the ref chain link and a query stamp per entry
 * (108 bytes), plus one 4 MiB table of bucket heads.
 */
import { ThreatRelayError } from '../../contract/errors';
import { popcount32 } from '../../contract/pdq';

const WORDS = 8;
const SLICES = 16;
const BUCKETS = 1 << 16;
const NONE = -1;
const CANONICAL = /^[0-9a-f]{64}$/;

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

/** Every 16-bit mask, ordered by popcount; `MASKS_WITHIN[s]` of them have at most s bits set. */
const { MASKS, MASKS_WITHIN } = (() => {
  const byBits: number[][] = Array.from({ length: 17 }, () => []);
  for (let m = 0; m < BUCKETS; m++) byBits[popcount32(m)].push(m);
  const masks = new Uint16Array(BUCKETS);
  const within = new Int32Array(17);
  let at = 0;
  byBits.forEach((list, bits) => {
    masks.set(list, at);
    at += list.length;
    within[bits] = at;
  });
  return { MASKS: masks, MASKS_WITHIN: within };
})();

/** Slice `k` (0..15) of the hash whose words start at `o`. */
function sliceOf(words: Uint32Array, o: number, k: number): number {
  return (words[o + (k >>> 1)] >>> ((k & 1) << 4)) & 0xffff;
}

export class PdqIndex<R> {
  private capacity: number;
  private words: Uint32Array;
  /** Ref id of each entry, or NONE for a free slot. */
  private refOf: Int32Array;
  /** Per entry and slice: the next entry in the same bucket. */
  private next: Int32Array;
  /** Per entry: the next entry of the same ref. */
  private refNext: Int32Array;
  /** Per entry: the last query that verified it, so a hash found in two slices is verified once. */
  private stamp: Int32Array;
  private readonly heads = new Int32Array(SLICES * BUCKETS).fill(NONE);
  private highWater = 0;
  private live = 0;
  private epoch = 0;
  private freeEntries: number[] = [];
  private readonly refs: (R | undefined)[] = [];
  private readonly refIds = new Map<R, number>();
  private refHead = new Int32Array(16).fill(NONE);
  private freeRefs: number[] = [];
  private readonly query8 = new Uint32Array(WORDS);

  constructor(initialCapacity = 1024) {
    this.capacity = Math.max(16, initialCapacity);
    this.words = new Uint32Array(this.capacity * WORDS);
    this.refOf = new Int32Array(this.capacity).fill(NONE);
    this.next = new Int32Array(this.capacity * SLICES);
    this.refNext = new Int32Array(this.capacity);
    this.stamp = new Int32Array(this.capacity);
  }

  /** Rebuilds an index from stored rows (the dedup store's), in their order. */
  static fromRows<R>(rows: Iterable<PdqIndexRow<R>>, initialCapacity?: number): PdqIndex<R> {
    const index = new PdqIndex<R>(initialCapacity);
    for (const row of rows) index.add(row.hash, row.ref);
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

  /** Bytes held in typed arrays (the per-hash arrays at their current capacity, and the bucket heads). */
  get typedBytes(): number {
    const perEntry = this.words.byteLength + this.refOf.byteLength + this.next.byteLength;
    return perEntry + this.refNext.byteLength + this.stamp.byteLength + this.heads.byteLength;
  }

  /**
   * Stores `hash` (canonical lowercase hex) for `ref`. A ref's variants are
   * more calls with the same ref; a query reports the ref once, at its
   * nearest hash. Adding a pair already stored changes nothing.
   */
  add(hash: string, ref: R): void {
    if (!CANONICAL.test(hash)) {
      throw new ThreatRelayError('TR_INTERNAL', `PDQ index: ${JSON.stringify(hash)} is not 64 lowercase hex`);
    }
    let refId = this.refIds.get(ref);
    const words = this.query8;
    for (let i = 0; i < WORDS; i++) words[i] = parseInt(hash.slice(i * 8, i * 8 + 8), 16) >>> 0;
    if (refId !== undefined && this.holds(refId, words)) return;
    if (refId === undefined) refId = this.newRef(ref);
    const e = this.newEntry();
    this.words.set(words, e * WORDS);
    this.refOf[e] = refId;
    this.refNext[e] = this.refHead[refId];
    this.refHead[refId] = e;
    for (let k = 0; k < SLICES; k++) {
      const b = k * BUCKETS + sliceOf(this.words, e * WORDS, k);
      this.next[e * SLICES + k] = this.heads[b];
      this.heads[b] = e;
    }
    this.live++;
  }

  /** Forgets every hash of `ref` (its anchor and its variants); returns how many. */
  remove(ref: R): number {
    const refId = this.refIds.get(ref);
    if (refId === undefined) return 0;
    let removed = 0;
    for (let e = this.refHead[refId]; e !== NONE;) {
      const following = this.refNext[e];
      this.unlink(e);
      this.refOf[e] = NONE;
      this.freeEntries.push(e);
      removed++;
      e = following;
    }
    this.live -= removed;
    this.refHead[refId] = NONE;
    this.refs[refId] = undefined;
    this.refIds.delete(ref);
    this.freeRefs.push(refId);
    return removed;
  }

  /**
   * Every ref with a stored hash within `maxDistance` bits of `hash`, once
   * each at its nearest distance, nearest first. Exact: the same answers as
   * comparing with every stored hash. `strategy` forces probing or scanning
   * (tests and benches); `auto` picks the cheaper.
   */
  query(hash: string, maxDistance: number, strategy: ProbeStrategy = 'auto'): NearDuplicate<R>[] {
    if (!CANONICAL.test(hash)) {
      throw new ThreatRelayError('TR_INTERNAL', `PDQ index: ${JSON.stringify(hash)} is not 64 lowercase hex`);
    }
    if (!Number.isInteger(maxDistance) || maxDistance < 0) {
      throw new ThreatRelayError(
        'TR_INTERNAL',
        `PDQ index: maxDistance ${maxDistance} is not a whole number >= 0`,
      );
    }
    const q = this.query8;
    for (let i = 0; i < WORDS; i++) q[i] = parseInt(hash.slice(i * 8, i * 8 + 8), 16) >>> 0;
    const r = Math.min(maxDistance, 256);
    const best = new Map<number, number>();
    const radius = Math.min(r >>> 4, SLICES);
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
      if (refId === NONE) continue;
      let hash = '';
      for (let i = 0; i < WORDS; i++) hash += this.words[e * WORDS + i].toString(16).padStart(8, '0');
      yield { hash, ref: this.refs[refId] as R };
    }
  }

  /** Probes cost ~16 buckets per mask; scanning costs one distance per entry. */
  private probingIsCheaper(radius: number): boolean {
    const probes = SLICES * MASKS_WITHIN[radius];
    const perBucket = 1 + this.live / BUCKETS;
    return probes * perBucket * 2 < this.live;
  }

  private probe(q: Uint32Array, r: number, radius: number, best: Map<number, number>): void {
    const stamp = this.nextEpoch();
    const masks = MASKS_WITHIN[radius];
    for (let k = 0; k < SLICES; k++) {
      const own = (q[k >>> 1] >>> ((k & 1) << 4)) & 0xffff;
      const base = k * BUCKETS;
      for (let m = 0; m < masks; m++) {
        for (let e = this.heads[base + (own ^ MASKS[m])]; e !== NONE; e = this.next[e * SLICES + k]) {
          if (this.stamp[e] === stamp) continue;
          this.stamp[e] = stamp;
          this.consider(e, q, r, best);
        }
      }
    }
  }

  private scan(q: Uint32Array, r: number, best: Map<number, number>): void {
    for (let e = 0; e < this.highWater; e++) if (this.refOf[e] !== NONE) this.consider(e, q, r, best);
  }

  private consider(e: number, q: Uint32Array, r: number, best: Map<number, number>): void {
    const w = this.words;
    const o = e * WORDS;
    let d = popcount32(w[o] ^ q[0]) + popcount32(w[o + 1] ^ q[1]);
    d += popcount32(w[o + 2] ^ q[2]) + popcount32(w[o + 3] ^ q[3]);
    if (d > r) return;
    d += popcount32(w[o + 4] ^ q[4]) + popcount32(w[o + 5] ^ q[5]);
    d += popcount32(w[o + 6] ^ q[6]) + popcount32(w[o + 7] ^ q[7]);
    if (d > r) return;
    const refId = this.refOf[e];
    const seen = best.get(refId);
    if (seen === undefined || d < seen) best.set(refId, d);
  }

  private nextEpoch(): number {
    if (this.epoch === 0x7fffffff) {
      this.stamp.fill(0);
      this.epoch = 0;
    }
    return ++this.epoch;
  }

  private holds(refId: number, words: Uint32Array): boolean {
    for (let e = this.refHead[refId]; e !== NONE; e = this.refNext[e]) {
      let same = true;
      for (let i = 0; i < WORDS && same; i++) same = this.words[e * WORDS + i] === words[i];
      if (same) return true;
    }
    return false;
  }

  private unlink(e: number): void {
    for (let k = 0; k < SLICES; k++) {
      const b = k * BUCKETS + sliceOf(this.words, e * WORDS, k);
      if (this.heads[b] === e) {
        this.heads[b] = this.next[e * SLICES + k];
        continue;
      }
      let prev = this.heads[b];
      while (this.next[prev * SLICES + k] !== e) prev = this.next[prev * SLICES + k];
      this.next[prev * SLICES + k] = this.next[e * SLICES + k];
    }
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

  private newEntry(): number {
    const reused = this.freeEntries.pop();
    if (reused !== undefined) return reused;
    if (this.highWater === this.capacity) this.grow();
    return this.highWater++;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const widen = <T extends Int32Array | Uint32Array>(old: T, make: (n: number) => T, per: number): T => {
      const grown = make(capacity * per);
      grown.set(old);
      return grown;
    };
    this.words = widen(this.words, (n) => new Uint32Array(n), WORDS);
    this.next = widen(this.next, (n) => new Int32Array(n), SLICES);
    this.refNext = widen(this.refNext, (n) => new Int32Array(n), 1);
    this.stamp = widen(this.stamp, (n) => new Int32Array(n), 1);
    const refOf = new Int32Array(capacity).fill(NONE);
    refOf.set(this.refOf);
    this.refOf = refOf;
    this.capacity = capacity;
  }
}
