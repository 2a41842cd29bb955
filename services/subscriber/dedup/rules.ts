import { TLP_LEVELS, type Tlp } from '../../contract/model';
import type { DedupDecision, DedupInput } from './types';

/**
 * The dedup rules as a pure function of one key's live sources, so the
 * embedded store is a thin transaction around it. The redis store's Lua script
 * (redis.ts) implements the same rules; the contract suite holds the two
 * together.
 */

/** One org's live report of a key: when it stops counting, and how restricted it was (`tlpRank`). */
export interface Report {
  expiresAt: number;
  tlp: number;
}

/** Org → its report. A Map, so no org id can collide with `__proto__`. */
export type Sources = Map<string, Report>;

/**
 * A TLP's place from least (0, clear) to most restrictive (4, red). A report
 * a store remembers without its TLP (written before reports kept one) ranks
 * as red: it is then never revealed under a weaker marking.
 */
export function tlpRank(tlp: Tlp | undefined): number {
  const rank = tlp === undefined ? -1 : TLP_LEVELS.indexOf(tlp);
  return rank < 0 ? TLP_LEVELS.length - 1 : rank;
}

/** The reports that have not expired by `now`. */
export function liveSources(sources: Iterable<readonly [string, Report]>, now: number): Sources {
  const live: Sources = new Map();
  for (const [org, report] of sources) if (report.expiresAt > now) live.set(org, report);
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

/**
 * The orgs an event of TLP rank `rank` may name. Markings never understate:
 * a receiver re-shares an event as widely as its marking allows, so an event
 * marked `clear` that named the org of an `amber+strict` report would tell
 * the world "org X reports this". A report is revealed only under a marking
 * at least as restrictive as its own.
 */
export function revealedOrgs(sources: Sources, rank: number): string[] {
  return [...sources]
    .filter(([, report]) => report.tlp <= rank)
    .map(([org]) => org)
    .sort();
}

export function decideReport(
  input: Pick<DedupInput, 'kind' | 'org' | 'tlp'>,
  live: Sources,
  expiresAt: number,
): { decision: DedupDecision; sources: Sources } {
  const { kind, org } = input;
  const rank = tlpRank(input.tlp);
  const sources = new Map(live);
  if (kind === 'revoked') {
    if (!sources.delete(org)) return { decision: { kind: 'revocation-unknown' }, sources };
    return { decision: { kind: 'revoked', remainingSources: revealedOrgs(sources, rank) }, sources };
  }
  // A re-publication replaces the org's report rather than extending it: the latest report wins.
  sources.set(org, { expiresAt, tlp: rank });
  if (live.size === 0) return { decision: { kind: 'new' }, sources };
  if (live.has(org)) return { decision: { kind: 'republished' }, sources };
  const revealed = revealedOrgs(sources, rank);
  // Only more restricted reports came before: even "corroborated" would say one exists.
  if (revealed.length === 1) return { decision: { kind: 'new' }, sources };
  return { decision: { kind: 'corroborated', sources: revealed }, sources };
}
