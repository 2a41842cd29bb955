import type { Request } from 'express';
import { ThreatRelayError, type ErrorDetail } from '../../contract/errors';
import type { Category, ThreatEvent } from '../../contract/model';
import { mapMispEvent, type MispSkipped } from '../../misp/import';
import type { PublishContext } from '../ingest/build-events';
import { buildMispEvents } from '../ingest/misp-events';
import type { Receipt } from '../publish/publisher';

/**
 * POST /v1/misp/events: one MISP event, its options in the query string so
 * the body stays exactly what MISP or PyMISP wrote. Every attribute that
 * maps is published in one transaction; the answer lists, per attribute
 * uuid, its receipt or why it was skipped.
 */

export const MISP_QUERY = ['recipients', 'includeNonIds'] as const;

export interface MispOptions {
  recipients: string[] | undefined;
  includeNonIds: boolean;
}

const values = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',') : []));

/** The query's options; every problem (an unknown parameter, an unknown org) at once. */
export function mispOptions(query: Request['query'], orgIds: Set<string>): MispOptions {
  const problems: ErrorDetail[] = [];
  for (const name of Object.keys(query)) {
    if (!(MISP_QUERY as readonly string[]).includes(name)) {
      problems.push({
        path: `query.${name}`,
        message: `unknown parameter; this route takes ${MISP_QUERY.join(', ')}`,
      });
    }
  }
  let recipients: string[] | undefined;
  if (query.recipients !== undefined) {
    recipients = [...new Set(values(query.recipients).map((r) => r.trim()))];
    recipients.forEach((r, i) => {
      if (!orgIds.has(r)) problems.push({ path: `query.recipients.${i}`, message: `unknown org "${r}"` });
    });
  }
  const flag = query.includeNonIds;
  if (flag !== undefined && flag !== 'true' && flag !== 'false') {
    problems.push({ path: 'query.includeNonIds', message: 'must be true or false' });
  }
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_VALIDATION', 'the query is invalid', { details: problems });
  }
  return { recipients, includeNonIds: flag === 'true' };
}

interface BuiltMisp {
  events: ThreatEvent[];
  /** Where the value of event `index` came from in the MISP event: warninglist refusals name it. */
  valuePath: (index: number) => string;
  answer: (receipts: Receipt[]) => Record<string, unknown>;
}

export function buildMispRoute(
  orgIds: Set<string>,
  maxItems: number,
  defaultCategory: Category,
  onRefused: (s: MispSkipped) => void,
): (body: unknown, ctx: PublishContext, query: Request['query']) => BuiltMisp {
  return (body, ctx, query) => {
    const options = mispOptions(query, orgIds);
    const mapped = mapMispEvent(body, { ...options, defaultCategory });
    for (const s of mapped.skipped) if (s.why === 'refused') onRefused(s);
    if (mapped.indicators.length === 0) {
      throw new ThreatRelayError(
        'TR_VALIDATION',
        `no attribute of the MISP event can be published: ${mapped.attributes} attribute(s) read`,
        {
          details:
            mapped.skipped.length > 0
              ? mapped.skipped.map((s) => ({
                  path: s.path,
                  message: `${s.uuid} (${s.mispType}): ${s.reason}`,
                }))
              : [{ path: 'Event.Attribute', message: 'the event has no attributes' }],
        },
      );
    }
    if (mapped.indicators.length > maxItems) {
      throw new ThreatRelayError('TR_VALIDATION', `a request holds at most ${maxItems} indicators`, {
        details: [
          {
            path: 'Event',
            message: `maps to ${mapped.indicators.length} indicators, the limit is ${maxItems}`,
          },
        ],
      });
    }
    const events = buildMispEvents(mapped.indicators, ctx);
    return {
      events,
      valuePath: (index) => `${mapped.indicators[index]!.path}.value`,
      answer: (receipts) => ({
        accepted: receipts.length,
        event: mapped.eventUuid ?? null,
        receipts: receipts.map(({ index, ...r }) => {
          const m = mapped.indicators[index]!;
          return { uuid: m.uuid, part: m.part, path: m.path, mispType: m.mispType, ...r };
        }),
        skipped: mapped.skipped,
      }),
    };
  };
}
