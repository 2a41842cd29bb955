import { createHash } from 'node:crypto';
import { PLATFORM_TYPES, type IndicatorType, type Platform } from './model';

/**
 * An indicator's identity, and so its key: `type:canonicalValue`, and from
 * canonicalization version 2 on, `type:platform:canonicalValue` for the types
 * whose value only means something on one platform (an account handle, a
 * hashtag): `badactor2020` on twitter and on facebook are two indicators.
 * Readers check each record's key with the rule of the record's own version.
 */
export function identityKey(
  version: number,
  type: IndicatorType,
  platform: Platform | null,
  canonicalValue: string,
): string {
  const name =
    version >= 2 && PLATFORM_TYPES.includes(type)
      ? `${type}:${platform}:${canonicalValue}`
      : `${type}:${canonicalValue}`;
  return createHash('sha256').update(name).digest('hex');
}

/**
 * An event's identity across the network: eventIds are chosen by their
 * publisher, so two orgs may pick the same one, and an event is known by its
 * source org and eventId together. Dedup stores keep an event's outcome
 * under it; the console finds copies of an event by it.
 */
export function eventScope(event: { org: string; eventId: string }): string {
  return `${event.org}/${event.eventId}`;
}
