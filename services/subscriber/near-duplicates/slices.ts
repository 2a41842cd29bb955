/**
 * The slice tables of the PDQ index: a 256-bit hash as 16 slices of 16 bits,
 * every 16-bit mask by popcount (the probes within a radius), and the
 * compact bucket layout (CSR: one offsets table per slice, ids contiguous per
 * bucket) that lets a probe read its candidates sequentially.
 */
import { popcount32 } from '../../contract/pdq';

export const WORDS = 8;
export const SLICES = 16;
export const BUCKETS = 1 << 16;
export const NONE = -1;

/** Every 16-bit mask, ordered by popcount; the first `MASKS_WITHIN[s]` have at most s bits set. */
export const { MASKS, MASKS_WITHIN } = (() => {
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

/** Slice `k` (0..15) of the hash whose 8 words start at `o`. */
export function sliceOf(words: Uint32Array, o: number, k: number): number {
  return (words[o + (k >>> 1)] >>> ((k & 1) << 4)) & 0xffff;
}

/** Parses 64 lowercase hex characters into 8 words at `out[at..at+8)`. */
export function parseHash(hex: string, out: Uint32Array, at = 0): void {
  for (let i = 0; i < WORDS; i++) out[at + i] = parseInt(hex.slice(i * 8, i * 8 + 8), 16) >>> 0;
}

export function formatHash(words: Uint32Array, at: number): string {
  let hex = '';
  for (let i = 0; i < WORDS; i++) hex += words[at + i].toString(16).padStart(8, '0');
  return hex;
}

/** Per slice: bucket `v` of slice `k` holds `ids[k * count + offsets[k * (BUCKETS + 1) + v] ...]`. */
export interface SliceTables {
  count: number;
  offsets: Int32Array;
  ids: Int32Array;
}

/** Counting sort of entries 0..count-1 into each slice's buckets, in entry order. */
export function buildSliceTables(words: Uint32Array, count: number): SliceTables {
  const stride = BUCKETS + 1;
  const offsets = new Int32Array(SLICES * stride);
  for (let e = 0; e < count; e++) {
    for (let k = 0; k < SLICES; k++) offsets[k * stride + sliceOf(words, e * WORDS, k) + 1]++;
  }
  for (let k = 0; k < SLICES; k++) {
    for (let v = 0; v < BUCKETS; v++) offsets[k * stride + v + 1] += offsets[k * stride + v];
  }
  const cursor = offsets.slice();
  const ids = new Int32Array(SLICES * count);
  for (let e = 0; e < count; e++) {
    for (let k = 0; k < SLICES; k++) ids[k * count + cursor[k * stride + sliceOf(words, e * WORDS, k)]++] = e;
  }
  return { count, offsets, ids };
}
