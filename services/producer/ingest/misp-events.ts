import type { ThreatEvent } from '../../contract/model';
import type { MispMappedIndicator } from '../../misp/import';
import { buildPublishedEvents, namedEventId, type PublishContext } from './build-events';
import { jsonDigest } from './json-digest';

/**
 * The eventId of one part of a MISP attribute: from the org, the attribute's
 * uuid, its MISP timestamp, the part and the indicator made of it. The same
 * event imported again gives the same eventIds, which every reader drops as
 * duplicates; an edited attribute (MISP moves its timestamp), or the same
 * attribute under other tags or request options, gives new ones, so a
 * changed report is never dropped as a copy of the old one.
 */
export function mispEventId(org: string, m: MispMappedIndicator): string {
  return namedEventId(`misp\n${org}\n${m.uuid}\n${m.timestamp ?? ''}\n${m.part}\n${jsonDigest(m.input)}`);
}

/** One IndicatorPublished event per mapped part, with its derived eventId. */
export function buildMispEvents(mapped: MispMappedIndicator[], ctx: PublishContext): ThreatEvent[] {
  const events = buildPublishedEvents(
    mapped.map((m) => m.input),
    { ...ctx, idempotencyKey: undefined },
    true,
  );
  return events.map((e, i) => ({ ...e, eventId: mispEventId(ctx.org, mapped[i]!) }));
}
