import { TLP_LEVELS, type Tlp } from '../../contract/model';
import {
  CONFIDENCE_STEP,
  type DedupDecision,
  type DedupInput,
  type Labels,
  type MaterialField,
  type OpinionEntry,
  type SourceReport,
  SIGHTING_HOUR_MS,
} from './types';

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
  /** Absent for a report kept before stores kept labels. */
  labels?: Labels;
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

/** The material changes from `before` to `after`, in MATERIAL_FIELDS order. */
export function materialChanges(before: Labels, after: Labels): MaterialField[] {
  const changed: MaterialField[] = [];
  if (before.category !== after.category) changed.push('category');
  if (before.severity !== after.severity) changed.push('severity');
  if (Math.abs(before.confidence - after.confidence) >= CONFIDENCE_STEP) changed.push('confidence');
  if (before.validUntil !== after.validUntil) changed.push('validUntil');
  if (before.description !== after.description) changed.push('description');
  if (before.tags !== after.tags) changed.push('tags');
  return changed;
}

/**
 * Whether `labels` say something no other live report of the key says: a
 * category none of them has, or a severity above all of theirs. Reports
 * without labels say nothing either way; with none left, nothing escalates.
 */
export function escalates(labels: Labels | undefined, others: Iterable<Report>): boolean {
  if (!labels) return false;
  let known = false;
  let highest = -1;
  const categories = new Set<number>();
  for (const report of others) {
    if (!report.labels) continue;
    known = true;
    categories.add(report.labels.category);
    highest = Math.max(highest, report.labels.severity);
  }
  return known && (!categories.has(labels.category) || labels.severity > highest);
}

function reportsOf(sources: Sources, orgs: readonly string[]): SourceReport[] {
  return orgs.map((org) => {
    const report = sources.get(org)!;
    return { org, tlp: report.tlp, labels: report.labels ?? null };
  });
}

/** A re-publication by an org with a live report: an update when it changed materially. */
function decideRepublish(
  input: Pick<DedupInput, 'org' | 'labels'>,
  previous: Report,
  next: Report,
  sources: Sources,
): { decision: DedupDecision; sources: Sources } {
  const changed = previous.labels && input.labels ? materialChanges(previous.labels, input.labels) : [];
  if (changed.length > 0 && previous.labels) {
    return { decision: { kind: 'updated', changed, previous: previous.labels }, sources };
  }
  // Below the bar, the labels last reported stay the ones changes are measured against, so small
  // steps cannot add up unseen; the expiry and TLP are the new report's.
  const labels = previous.labels ?? input.labels;
  sources.set(input.org, { ...next, ...(labels ? { labels } : {}) });
  return { decision: { kind: 'republished' }, sources };
}

export function decideReport(
  input: Pick<DedupInput, 'kind' | 'org' | 'tlp' | 'labels'>,
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
  const next: Report = { expiresAt, tlp: rank, ...(input.labels ? { labels: input.labels } : {}) };
  sources.set(org, next);
  if (live.size === 0) return { decision: { kind: 'new' }, sources };
  const previous = live.get(org);
  if (previous) return decideRepublish(input, previous, next, sources);
  const revealed = revealedOrgs(sources, rank);
  // Only more restricted reports came before: even "corroborated" would say one exists.
  if (revealed.length === 1) return { decision: { kind: 'new' }, sources };
  return {
    decision: {
      kind: 'corroborated',
      sources: revealed,
      reports: reportsOf(sources, revealed),
      escalates: escalates(input.labels, live.values()),
    },
    sources,
  };
}

/**
 * A sighting of a key: unknown when the subscription holds no live report of
 * it; else it joins the key's opinion, counted when its org's last counted
 * sighting of that kind is an hour old or more. Entries sorted by org, then kind.
 */
export function decideSighting(
  input: Pick<DedupInput, 'org' | 'sightingKind'>,
  live: Sources,
  opinion: readonly OpinionEntry[],
  now: number,
): { decision: DedupDecision; opinion: OpinionEntry[] } {
  if (live.size === 0) return { decision: { kind: 'sighting-unknown' }, opinion: [...opinion] };
  const kind = input.sightingKind!;
  const next = opinion.map((e) => ({ ...e }));
  const mine = next.find((e) => e.org === input.org && e.kind === kind);
  if (!mine) next.push({ org: input.org, kind, counted: 1, countedAt: now });
  else if (now - mine.countedAt >= SIGHTING_HOUR_MS) {
    mine.counted += 1;
    mine.countedAt = now;
  }
  next.sort((a, b) => (a.org === b.org ? a.kind.localeCompare(b.kind) : a.org < b.org ? -1 : 1));
  return { decision: { kind: 'sighted', opinion: next }, opinion: next };
}
