import { randomUUID } from 'node:crypto';
import { CANONICALIZATION_VERSION, canonicalize } from '../../contract/canonical';
import { identityKey } from '../../contract/identity';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { uuidV5 } from '../../contract/ids';
import type { IndicatorInput, RevocationInput, SightingInput } from '../../contract/indicator';
import type { EventPayload, Indicator, ThreatEvent } from '../../contract/model';
import { jsonDigest } from './json-digest';

/** Who publishes: the org and submitter come from the authenticated API key, never from the body. */
export interface PublishContext {
  org: string;
  submitter: string;
  /** The client's Idempotency-Key header, when given. */
  idempotencyKey: string | undefined;
}

/** The bus's own UUIDv5 namespace for eventIds. */
const EVENT_ID_NAMESPACE = Buffer.from('6f1d2c4e8a9b4c7d9e0f1a2b3c4d5e6f', 'hex');

/**
 * The eventId of item `index` of a request sent with an Idempotency-Key. The
 * item's content is part of the name: a retry of the same request gets the
 * same eventIds, while a key reused for other content gets new ones, so
 * subscribers never drop new indicators as duplicates of old ones.
 */
export function deterministicEventId(
  org: string,
  idempotencyKey: string,
  index: number,
  content: unknown,
): string {
  const contentHash = jsonDigest(content);
  return uuidV5(EVENT_ID_NAMESPACE, `${org}\n${idempotencyKey}\n${index}\n${contentHash}`);
}

/** Publications and revocations derive from separate name spaces, so one key may serve both routes. */
function eventIdFor(
  ctx: PublishContext,
  index: number,
  kind: 'publish' | 'revoke' | 'sight',
  content: unknown,
): string {
  if (ctx.idempotencyKey === undefined) return randomUUID();
  const scoped = kind === 'publish' ? ctx.idempotencyKey : `${kind}\n${ctx.idempotencyKey}`;
  return deterministicEventId(ctx.org, scoped, index, content);
}

/**
 * An eventId named by `name` in the bus's namespace, for sources that carry
 * their own stable ids (a MISP attribute's uuid): the caller prefixes the
 * name with its source kind, so no two kinds share names.
 */
export function namedEventId(name: string): string {
  return uuidV5(EVENT_ID_NAMESPACE, name);
}

function isoOrNull(value: string | undefined): string | null {
  return value === undefined ? null : new Date(value).toISOString();
}

/**
 * One event per input, all or nothing: every value that is not valid for its
 * type is reported with its path (`<index>.value` in a batch), and no event
 * is built. `build` canonicalizes with what it is given.
 */
function buildAll<I>(
  inputs: I[],
  batch: boolean,
  build: (input: I, index: number, now: string) => ThreatEvent,
): ThreatEvent[] {
  // One time for the whole request: its events share their producedAt.
  const now = new Date().toISOString();
  const problems: ErrorDetail[] = [];
  const events: ThreatEvent[] = [];
  for (const [index, input] of inputs.entries()) {
    try {
      events.push(build(input, index, now));
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      const at = batch ? `${index}.` : '';
      const details = err.details.length > 0 ? err.details : [{ path: 'value', message: err.message }];
      problems.push(...details.map((d) => ({ path: `${at}${d.path}`, message: d.message })));
    }
  }
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_INVALID_VALUE', 'one or more values are not valid for their type', {
      details: problems,
    });
  }
  return events;
}

/** Canonicalizes every input and builds its `IndicatorPublished` event (all or nothing). */
export function buildPublishedEvents(
  inputs: IndicatorInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  return buildAll(inputs, batch, (input, index, now) => {
    const platform = input.platform ?? null;
    const value = canonicalize(input.type, input.value, platform);
    const indicator: Indicator = {
      type: input.type,
      value,
      platform,
      category: input.category,
      tlp: input.tlp,
      recipients: [...new Set(input.recipients ?? [])],
      confidence: input.confidence,
      severity: input.severity,
      validFrom: isoOrNull(input.validFrom) ?? now,
      validUntil: isoOrNull(input.validUntil),
      threatActor: input.threatActor ?? null,
      campaign: input.campaign ?? null,
      tags: input.tags,
      description: input.description ?? null,
      references: input.references,
      firstSeen: isoOrNull(input.firstSeen),
      quality: input.quality ?? null,
      // Canonical like the value: the API takes either case.
      variants: (input.variants ?? []).map((v) => v.toLowerCase()),
      warnings: [],
    };
    const key = identityKey(CANONICALIZATION_VERSION, input.type, platform, value);
    return envelope(ctx, now, eventIdFor(ctx, index, 'publish', input), {
      kind: 'IndicatorPublished',
      key,
      indicator,
    });
  });
}

/** Builds revocation events; a value given by type + value is canonicalized to find its key (all or nothing). */
export function buildRevokedEvents(
  inputs: RevocationInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  return buildAll(inputs, batch, (input, index, now) => {
    const platform = input.platform ?? null;
    const byValue = input.type !== undefined && input.value !== undefined;
    const value = byValue ? canonicalize(input.type!, input.value!, platform) : null;
    const key = byValue ? identityKey(CANONICALIZATION_VERSION, input.type!, platform, value!) : input.key!;
    return envelope(ctx, now, eventIdFor(ctx, index, 'revoke', input), {
      kind: 'IndicatorRevoked',
      key,
      type: input.type ?? null,
      value,
      platform,
      tlp: input.tlp,
      recipients: [...new Set(input.recipients ?? [])],
      reason: input.reason,
    });
  });
}

/**
 * Builds sighting events; a value given by type + value is canonicalized to
 * its key (all or nothing). Whether anyone reported the key is not looked up
 * and changes nothing in the answer: a sighting reveals no indicator.
 */
export function buildSightingEvents(
  inputs: SightingInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  const now = new Date().toISOString();
  return buildAll(inputs, batch, (input, index) => {
    const platform = input.platform ?? null;
    const byValue = input.type !== undefined && input.value !== undefined;
    const key = byValue
      ? identityKey(
          CANONICALIZATION_VERSION,
          input.type!,
          platform,
          canonicalize(input.type!, input.value!, platform),
        )
      : input.key!;
    return envelope(ctx, now, eventIdFor(ctx, index, 'sight', input), {
      kind: 'Sighting',
      key,
      sightingKind: input.kind,
      count: input.count,
      firstSeen: isoOrNull(input.firstSeen),
      lastSeen: isoOrNull(input.lastSeen),
      where: input.where ?? null,
      note: input.note ?? null,
      tlp: input.tlp,
      recipients: [...new Set(input.recipients ?? [])],
      // The sighter's own direct topic would only echo it back.
      to: [...new Set(input.to)].filter((org) => org !== ctx.org),
    });
  });
}

function envelope(ctx: PublishContext, now: string, eventId: string, payload: EventPayload): ThreatEvent {
  return {
    eventId,
    schemaVersion: 0,
    producedAt: now,
    source: { org: ctx.org, submitter: ctx.submitter },
    canonicalizationVersion: CANONICALIZATION_VERSION,
    payload,
  };
}
