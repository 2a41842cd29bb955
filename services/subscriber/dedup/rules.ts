import type { DedupDecision, DedupInput } from './types';

/**
 * The dedup rules as a pure function of one key's live sources, so the
 * embedded store is a thin transaction around it. The redis store's Lua script
 * (redis.ts) implements the same rules; the contract suite holds the two
 * together.
 */

/** Org → epoch ms until which its report of the key counts. A Map, so no org id can collide with `__proto__`. */
export type Sources = Map<string, number>;

/** The reports that have not expired by `now`. */
export function liveSources(sources: Iterable<readonly [string, number]>, now: number): Sources {
  const live: Sources = new Map();
  for (const [org, expiresAt] of sources) if (expiresAt > now) live.set(org, expiresAt);
  return live;
}

/** When a report made at `now` stops counting: `validUntil`, but never later than the window. */
export function reportExpiresAt(
  validUntil: number | null | undefined,
  now: number,
  windowMs: number,
): number {
  return Math.min(validUntil ?? Number.POSITIVE_INFINITY, now + windowMs);
}

const sortedOrgs = (sources: Sources): string[] => [...sources.keys()].sort();

export function decideReport(
  input: Pick<DedupInput, 'kind' | 'org'>,
  live: Sources,
  expiresAt: number,
): { decision: DedupDecision; sources: Sources } {
  const { kind, org } = input;
  const sources = new Map(live);
  if (kind === 'revoked') {
    if (!sources.delete(org)) return { decision: { kind: 'revocation-unknown' }, sources };
    return { decision: { kind: 'revoked', remainingSources: sortedOrgs(sources) }, sources };
  }
  // A re-publication replaces the org's expiry rather than extending it: the latest report wins.
  sources.set(org, expiresAt);
  if (live.size === 0) return { decision: { kind: 'new' }, sources };
  if (live.has(org)) return { decision: { kind: 'republished' }, sources };
  return { decision: { kind: 'corroborated', sources: sortedOrgs(sources) }, sources };
}
