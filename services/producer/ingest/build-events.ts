import { createHash, randomUUID } from 'node:crypto';
import { CANONICALIZATION_VERSION, canonicalize } from '../../contract/canonical';
import { identityKey } from '../../contract/identity';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { uuidV5 } from '../../contract/ids';
import type { IndicatorInput, RevocationInput } from '../../contract/indicator';
import type { Indicator, ThreatEvent } from '../../contract/model';

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
  const contentHash = createHash('sha256').update(JSON.stringify(content)).digest('hex');
  return uuidV5(EVENT_ID_NAMESPACE, `${org}\n${idempotencyKey}\n${index}\n${contentHash}`);
}

/** Publications and revocations derive from separate name spaces, so one key may serve both routes. */
function eventIdFor(
  ctx: PublishContext,
  index: number,
  kind: 'publish' | 'revoke',
  content: unknown,
): string {
  if (ctx.idempotencyKey === undefined) return randomUUID();
  const scoped = kind === 'publish' ? ctx.idempotencyKey : `revoke\n${ctx.idempotencyKey}`;
  return deterministicEventId(ctx.org, scoped, index, content);
}

function isoOrNull(value: string | undefined): string | null {
  return value === undefined ? null : new Date(value).toISOString();
}

/**
 * Canonicalizes every input and builds its event. All or nothing: every
 * invalid value is reported (path `<index>.value`), and none is built.
 */
export function buildPublishedEvents(
  inputs: IndicatorInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  const problems: ErrorDetail[] = [];
  const now = new Date().toISOString();
  const events = inputs.map((input, index): ThreatEvent | undefined => {
    let value: string;
    try {
      value = canonicalize(input.type, input.value, input.platform ?? null);
    } catch (err) {
      if (!isThreatRelayError(err)) throw err;
      const at = batch ? `${index}.` : '';
      const details = err.details.length > 0 ? err.details : [{ path: 'value', message: err.message }];
      problems.push(...details.map((d) => ({ path: `${at}${d.path}`, message: d.message })));
      return undefined;
    }
    const indicator: Indicator = {
      type: input.type,
      value,
      platform: input.platform ?? null,
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
    };
    return {
      eventId: eventIdFor(ctx, index, 'publish', input),
      schemaVersion: 0,
      producedAt: now,
      source: { org: ctx.org, submitter: ctx.submitter },
      canonicalizationVersion: CANONICALIZATION_VERSION,
      payload: {
        kind: 'IndicatorPublished',
        key: identityKey(CANONICALIZATION_VERSION, input.type, indicator.platform, value),
        indicator,
      },
    };
  });
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_INVALID_VALUE', 'one or more values are not valid for their type', {
      details: problems,
    });
  }
  return events as ThreatEvent[];
}

/** Builds revocation events; a value given by type + value is canonicalized to find its key. */
export function buildRevokedEvents(
  inputs: RevocationInput[],
  ctx: PublishContext,
  batch: boolean,
): ThreatEvent[] {
  const problems: ErrorDetail[] = [];
  const now = new Date().toISOString();
  const events = inputs.map((input, index): ThreatEvent | undefined => {
    let key = input.key;
    let value: string | null = null;
    if (input.type !== undefined && input.value !== undefined) {
      try {
        value = canonicalize(input.type, input.value, input.platform ?? null);
      } catch (err) {
        if (!isThreatRelayError(err)) throw err;
        const at = batch ? `${index}.` : '';
        problems.push(...err.details.map((d) => ({ path: `${at}${d.path}`, message: d.message })));
        return undefined;
      }
      key = identityKey(CANONICALIZATION_VERSION, input.type, input.platform ?? null, value);
    }
    return {
      eventId: eventIdFor(ctx, index, 'revoke', input),
      schemaVersion: 0,
      producedAt: now,
      source: { org: ctx.org, submitter: ctx.submitter },
      canonicalizationVersion: CANONICALIZATION_VERSION,
      payload: {
        kind: 'IndicatorRevoked',
        key: key!,
        type: input.type ?? null,
        value,
        platform: input.platform ?? null,
        tlp: input.tlp,
        recipients: [...new Set(input.recipients ?? [])],
        reason: input.reason,
      },
    };
  });
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_INVALID_VALUE', 'one or more values are not valid for their type', {
      details: problems,
    });
  }
  return events as ThreatEvent[];
}
