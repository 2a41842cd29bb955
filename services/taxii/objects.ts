import { routeOf, type ThreatEvent } from '../contract/model';
import { toStixBundle } from '../stix/export';
import type { Warning } from '../contract/warninglists';
import type { CollectionName } from './collections';
import type { Addition } from './store';
import { ThreatRelayError } from '../contract/errors';

/**
 * What one verified event adds to the TAXII store: the same STIX as the
 * `stix21` webhook format (the indicator, its source's identity and its TLP
 * marking definition), in the collection its TLP belongs to. The collection
 * follows the record's own TLP, not the topic it was read from, so a record
 * written to the wrong topic still cannot put TLP:RED in a community
 * collection.
 */
export function collectionOf(event: ThreatEvent): CollectionName {
  const tlp = routeOf(event.payload).tlp;
  return tlp === 'clear' || tlp === 'green' || tlp === 'amber' ? tlp : 'direct';
}

/** `warnings`: the lists this reader found a published indicator on, labelled as in webhooks. */
export function additionsOf(event: ThreatEvent, warnings?: Warning[]): Addition[] {
  const collection = collectionOf(event);
  return toStixBundle([event], event.eventId, [warnings]).objects.map((object) => ({ collection, object }));
}

/** Scopes eventIds by source org, as dedup does: one org cannot pre-empt another's eventId. */
export function eventKeyOf(event: ThreatEvent): string {
  return `${event.source.org}\n${event.eventId}`;
}

/**
 * A new version of an indicator the collection already holds keeps the
 * first version's `created` (STIX 2.1 §3.6: versions share `id` and
 * `created`). A revocation names only the key; as a version it is the
 * previous version with `revoked: true`, so a client that had the
 * indicator sees the same pattern revoked, not a pattern of a bare key.
 */
export function nextVersion(
  object: Record<string, unknown>,
  previous: Record<string, unknown> | undefined,
): Record<string, unknown> {
  if (!previous || object.type !== 'indicator') return object;
  const created = previous.created;
  if (object.revoked === true && previous.revoked !== true) {
    return {
      ...previous,
      revoked: true,
      modified: object.modified,
      x_threatrelay_event_id: object.x_threatrelay_event_id,
      description: object.description,
    };
  }
  return { ...object, created };
}

/** A STIX object's version: its `modified`, or `created` for an object never modified. */
export function versionOf(object: Record<string, unknown>): string {
  const v = object.modified ?? object.created;
  if (typeof v !== 'string') {
    throw new ThreatRelayError(
      'TR_INTERNAL',
      `STIX object ${String(object.id)} has neither modified nor created`,
    );
  }
  return v;
}
