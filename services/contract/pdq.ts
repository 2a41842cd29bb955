/**
 * PDQ (Meta's 256-bit perceptual image hash) on the bus: the rules a report's
 * hash, `quality` and `variants` follow, checked the same way by the producer
 * API and by every reader, and the Hamming distance the matcher compares by.
 * The thresholds are Meta's reference ones (facebook/ThreatExchange,
 * `pdq/README.md`): two hashes within 31 bits of 256 match; a hash of quality
 * below 50 is not worth matching.
 */
import type { ErrorDetail } from './errors';

/** Hashes within this many bits of 256 are the same picture (Meta's reference threshold). */
export const PDQ_MATCH_DISTANCE = 31;
/** An org's default floor: a report of lower quality is refused. */
export const PDQ_DEFAULT_MIN_QUALITY = 50;
/** The dihedral transforms of an image besides itself: 3 rotations and 4 flips. */
export const MAX_PDQ_VARIANTS = 7;
/** 64 hex characters; the bus carries them lowercase. */
export const PDQ_HEX_LENGTH = 64;

const CANONICAL_PDQ = /^[0-9a-f]{64}$/;
const ALL_ZERO = '0'.repeat(PDQ_HEX_LENGTH);
const ALL_ONE = 'f'.repeat(PDQ_HEX_LENGTH);

/**
 * Why `hex` is not a usable canonical PDQ hash, or null. All-zero and
 * all-one hashes are what a hasher gives a blank or flat image: they would
 * match every other degenerate picture, so they are refused, not matched.
 */
export function pdqHashProblem(hex: string): string | null {
  if (!CANONICAL_PDQ.test(hex)) {
    return /^[0-9a-fA-F]*$/.test(hex)
      ? hex.length === PDQ_HEX_LENGTH
        ? 'must be lowercase hex'
        : `must be ${PDQ_HEX_LENGTH} hex characters; got ${hex.length}`
      : `must be ${PDQ_HEX_LENGTH} hex characters; found a non-hex character`;
  }
  if (hex === ALL_ZERO) return 'is degenerate: every bit is 0';
  if (hex === ALL_ONE) return 'is degenerate: every bit is 1';
  return null;
}

/** The PDQ fields of an indicator, as the API and the record both hold them. */
export interface PdqFields {
  type: string;
  /** The canonical value (the hash itself for `pdq`). */
  value: string;
  quality: number | null;
  variants: readonly string[];
}

/**
 * Every way `fields` breaks the PDQ rules, by path under `at` (empty for the
 * API's own paths): what readers check. The org's quality floor is not here:
 * it depends on who publishes, so the producer and the readers apply it
 * where they know the org.
 */
export function pdqProblems(fields: PdqFields, at: string): ErrorDetail[] {
  return [...pdqShapeProblems(fields, at), ...pdqRuleProblems(fields, at)];
}

const under = (at: string, field: string): string => (at ? `${at}.${field}` : field);

/** Shapes: hex hashes of the right length, quality 0-100, at most 7 variants (the API's schema checks these itself). */
export function pdqShapeProblems(fields: PdqFields, at: string): ErrorDetail[] {
  if (fields.type !== 'pdq') return [];
  const out: ErrorDetail[] = [];
  const q = fields.quality;
  if (q !== null && !(Number.isInteger(q) && q >= 0 && q <= 100)) {
    out.push({ path: under(at, 'quality'), message: 'must be an integer from 0 to 100' });
  }
  if (fields.variants.length > MAX_PDQ_VARIANTS) {
    out.push({
      path: under(at, 'variants'),
      message: `must be at most ${MAX_PDQ_VARIANTS} (the dihedral transforms); got ${fields.variants.length}`,
    });
  }
  const hashes = [
    ['value', fields.value] as const,
    ...fields.variants.map((v, i) => [`variants.${i}`, v] as const),
  ];
  for (const [path, hash] of hashes) {
    if (!CANONICAL_PDQ.test(hash)) out.push({ path: under(at, path), message: pdqHashProblem(hash)! });
  }
  return out;
}

/**
 * Rules past the shapes: quality and variants only on pdq, no degenerate
 * hash, no variant equal to the hash or repeated. Hashes of a bad shape are
 * left to `pdqShapeProblems`.
 */
export function pdqRuleProblems(fields: PdqFields, at: string): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (fields.type !== 'pdq') {
    if (fields.quality !== null) {
      out.push({ path: under(at, 'quality'), message: `is only allowed for type pdq, not ${fields.type}` });
    }
    if (fields.variants.length > 0) {
      out.push({ path: under(at, 'variants'), message: `are only allowed for type pdq, not ${fields.type}` });
    }
    return out;
  }
  const degenerate = (hash: string): string | null =>
    CANONICAL_PDQ.test(hash) ? pdqHashProblem(hash) : null;
  const valueProblem = degenerate(fields.value);
  if (valueProblem) out.push({ path: under(at, 'value'), message: valueProblem });
  const seen = new Map<string, number>();
  fields.variants.forEach((variant, i) => {
    if (!CANONICAL_PDQ.test(variant)) return;
    const where = under(at, `variants.${i}`);
    const problem = degenerate(variant);
    if (problem) out.push({ path: where, message: problem });
    else if (variant === fields.value) out.push({ path: where, message: 'equals the hash itself' });
    const twin = seen.get(variant);
    if (twin !== undefined) out.push({ path: where, message: `repeats variants.${twin}` });
    else seen.set(variant, i);
  });
  return out;
}

/** Why `quality` is below `org`'s `floor`, or null: refused at the API and by readers. */
export function pdqQualityProblem(quality: number | null, floor: number, org: string): string | null {
  if (quality === null || quality >= floor) return null;
  return `is ${quality}, below ${org}'s floor of ${floor} (pdq.minQuality)`;
}

/** Population count of a 32-bit word (SWAR; V8 keeps every step in int32). */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Hamming distance of two canonical PDQ hashes, 0 to 256 (what `PDQ_MATCH_DISTANCE` bounds). */
export function pdqDistance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < PDQ_HEX_LENGTH; i += 8) {
    d += popcount32(parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16));
  }
  return d;
}
