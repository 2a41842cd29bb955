import type { Request, RequestHandler } from 'express';
import { isThreatRelayError } from '../../contract/errors';
import { identityOf, type ThreatEvent } from '../../contract/model';
import type { Warning } from '../../contract/warninglists';
import { reasonLabel, typeLabel } from '../metrics';
import type { IdempotencyCache } from '../publish/idempotency';
import { jsonDigest } from '../ingest/json-digest';
import type { PublishContext } from '../ingest/build-events';
import type { Receipt } from '../publish/publisher';
import { attachRecordWarnings, refuseRejected, warningsOf, type WarninglistPolicy } from '../ingest/warnings';
import type { ProducerAppDeps } from './app';
import type { AuthedRequest } from './auth';
import { bodyTypeLabels } from './items';

/** What a route made of a request body. */
export interface Built {
  events: ThreatEvent[];
  /** Where event `index`'s value is in the body, for a refusal that names the item. */
  valuePath: (index: number) => string;
  /** The 202 body for the receipts; `{ accepted, receipts }` when not given. */
  answer?: (receipts: WarnedReceipt[]) => Record<string, unknown>;
}

/** A receipt with its item's warninglist matches (absent for revocations). */
export type WarnedReceipt = Receipt & { warnings?: Warning[] };

/**
 * The route handler that publishes what `build` made of the body; counts
 * accepted and rejected indicators (`rejectedTypes` says which a refused
 * body held), and refuses or annotates items on the org's warninglists. A
 * request with an Idempotency-Key is answered from the cache when it was
 * seen before.
 */
export function publishing(
  deps: Pick<ProducerAppDeps, 'org' | 'publisher' | 'metrics'>,
  idempotency: IdempotencyCache<Receipt[]>,
  policy: WarninglistPolicy,
) {
  const { org, publisher, metrics } = deps;
  return (
      build: (body: unknown, ctx: PublishContext, query: Request['query']) => Built,
      rejectedTypes: (body: unknown) => string[] = bodyTypeLabels,
    ): RequestHandler =>
    async (req: AuthedRequest, res) => {
      const ctx: PublishContext = {
        org,
        submitter: req.apiKey!.name,
        idempotencyKey: req.get('Idempotency-Key') ?? undefined,
      };
      let built: Built;
      let warnings: (Warning[] | undefined)[];
      try {
        built = build(req.body, ctx, req.query);
        warnings = warningsOf(policy, built.events);
        refuseRejected(policy, warnings, built.valuePath);
        attachRecordWarnings(
          built.events.map((e) => e.payload),
          warnings,
        );
      } catch (err) {
        const reason = reasonLabel(isThreatRelayError(err) ? err.code : 'TR_INTERNAL');
        for (const type of rejectedTypes(req.body)) metrics.rejected.inc({ org, type, reason });
        throw err;
      }
      const { events } = built;
      const publish = (): Promise<Receipt[]> => publisher.publish(events);
      const committed = await (
        ctx.idempotencyKey === undefined
          ? publish()
          : // Scoped by org and route, as eventIds are (build-events.ts): another key of the org
            // sending the same Idempotency-Key and body is a retry of the same request, whose
            // eventIds are already on the bus; published again, every subscriber would drop them.
            idempotency.run(
              `${req.path}\n${org}`,
              ctx.idempotencyKey,
              // The query is part of the request: the same body with other options is another request.
              jsonDigest(Object.keys(req.query).length > 0 ? { body: req.body, query: req.query } : req.body),
              publish,
            )
      ).catch((err: unknown) => {
        const reason = reasonLabel(isThreatRelayError(err) ? err.code : 'TR_INTERNAL');
        for (const e of events) metrics.rejected.inc({ org, type: eventType(e), reason });
        throw err;
      });
      const receipts: WarnedReceipt[] = committed.map((r) => {
        const found = warnings[r.index];
        return found ? { ...r, warnings: found } : r;
      });
      for (const e of events) metrics.accepted.inc({ org, type: eventType(e) });
      req.log.info({ accepted: receipts.length, idempotencyKey: ctx.idempotencyKey }, 'accepted');
      res.status(202).json(built.answer?.(receipts) ?? { accepted: receipts.length, receipts });
    };
}

function eventType(e: ThreatEvent): string {
  return typeLabel(identityOf(e.payload).type);
}
