import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { z } from 'zod';
import type { Config } from '../../platform/config/config';
import { zodDetails } from '../../platform/config/config';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter, requireJson } from '../../platform/http';
import { indicatorInputSchema, revocationInputSchema } from '../../contract/indicator';
import type { Logger } from '../../platform/logger';
import { identityOf, type ThreatEvent } from '../../contract/model';
import { mapStixBundle, type StixRejection } from '../../stix/import';
import { reasonLabel, typeLabel, type ProducerMetrics } from '../metrics';
import { openApiDocument } from './openapi';
import { IdempotencyCache } from '../publish/idempotency';
import { jsonDigest } from '../ingest/json-digest';
import { buildPublishedEvents, buildRevokedEvents, type PublishContext } from '../ingest/build-events';
import type { Publisher, Receipt } from '../publish/publisher';
import { AuthFailureThrottle, RateLimiter } from '../../platform/rate-limit';
import { authenticate, type AuthedRequest } from './auth';
import { checkIdempotencyKey } from './headers';
import { jsonBody } from '../../platform/json-body';

/**
 * The publishing API a company's security team talks to. `createApp` only
 * wires routes to their dependencies; `service.ts` builds the dependencies.
 */

export interface ProducerAppDeps {
  config: Config;
  /** The org this producer deployment publishes for; keys of other orgs are refused. */
  org: string;
  publisher: Publisher;
  logger: Logger;
  metrics: ProducerMetrics;
  /** A real broker round trip; rejects when Kafka is unreachable. */
  ready: () => Promise<void>;
  /** Set once shutdown began: /readyz answers 503 so load balancers stop sending. */
  isShuttingDown?: () => boolean;
}

/** Every route and its methods: 405 for a known path with another method, and the OpenAPI test. */
export const ROUTES: Record<string, string[]> = {
  '/v1/indicators': ['POST'],
  '/v1/indicators/revoke': ['POST'],
  '/v1/stix': ['POST'],
  '/openapi.json': ['GET'],
  ...OPS_ROUTES,
};

/** A request carries at least one item and at most `maxItems`; `path` names where they are. */
function checkItemCount(count: number, maxItems: number, path: string): void {
  if (count === 0) {
    throw new ThreatRelayError('TR_VALIDATION', 'the batch is empty', {
      details: [{ path, message: 'must hold at least one item' }],
    });
  }
  if (count > maxItems) {
    throw new ThreatRelayError('TR_VALIDATION', `a batch holds at most ${maxItems} items`, {
      details: [{ path, message: `has ${count} items, the limit is ${maxItems}` }],
    });
  }
}

/** Validates one item or an array of them; all or nothing, every failing path listed. */
export function parseItems<S extends z.ZodType>(
  schema: S,
  body: unknown,
  maxItems: number,
): { items: z.infer<S>[]; batch: boolean } {
  const batch = Array.isArray(body);
  const raw: unknown[] = batch ? body : [body];
  checkItemCount(raw.length, maxItems, '(root)');
  const items: z.infer<S>[] = [];
  const problems = raw.flatMap((item, index) => {
    const parsed = schema.safeParse(item);
    if (parsed.success) {
      items.push(parsed.data);
      return [];
    }
    return zodDetails(parsed.error, batch ? [index] : []);
  });
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_VALIDATION',
      `the request body is invalid: ${problems.length} problem(s)`,
      {
        details: problems,
      },
    );
  }
  return { items, batch };
}

/** Named recipients must be orgs of the network: a typo would otherwise send a TLP:RED record nowhere. */
function recipientProblems(
  items: { recipients?: string[] | undefined }[],
  orgIds: Set<string>,
  batch: boolean,
): ErrorDetail[] {
  return items.flatMap((item, index) =>
    (item.recipients ?? []).flatMap((r, j) =>
      orgIds.has(r)
        ? []
        : [{ path: `${batch ? `${index}.` : ''}recipients.${j}`, message: `unknown org "${r}"` }],
    ),
  );
}

function checkRecipients(
  items: { recipients?: string[] | undefined }[],
  orgIds: Set<string>,
  batch: boolean,
): void {
  const problems = recipientProblems(items, orgIds, batch);
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_VALIDATION', 'recipients must be orgs of this network', {
      details: problems,
    });
  }
}

/**
 * The `type` label of each item of a refused body, items past the batch limit
 * included: a known indicator type, else `other`, so no body can add series.
 */
function bodyTypeLabels(body: unknown): string[] {
  return (Array.isArray(body) ? body : [body]).map((item) =>
    typeLabel(item !== null && typeof item === 'object' ? (item as { type?: unknown }).type : undefined),
  );
}

/** What a route made of a request body. */
interface Built {
  events: ThreatEvent[];
  /** The 202 body for the receipts; `{ accepted, receipts }` when not given. */
  answer?: (receipts: Receipt[]) => Record<string, unknown>;
}

/**
 * The events of a STIX bundle's indicators that map and name only orgs of
 * the network. `onRejected` is called once per refused object.
 */
function buildStixEvents(
  orgIds: Set<string>,
  maxItems: number,
  onRejected: (r: StixRejection) => void,
): (body: unknown, ctx: PublishContext) => Built {
  return (body, ctx) => {
    // Counted before mapping, so an oversized bundle is refused without mapping it.
    const mapped = mapStixBundle(body, (count) => {
      if (count > 0) checkItemCount(count, maxItems, 'objects');
    });
    const rejected: StixRejection[] = [...mapped.rejected];
    const accepted = mapped.indicators.filter((m) => {
      const unknown = recipientProblems([m.input], orgIds, false);
      for (const d of unknown) {
        rejected.push({
          index: m.index,
          id: m.id,
          path: `objects.${m.index}.x_threatrelay_${d.path}`,
          code: 'TR_VALIDATION',
          reason: d.message,
          indicatorType: m.input.type,
        });
      }
      return unknown.length === 0;
    });
    rejected.sort((a, b) => a.index - b.index);
    for (const r of new Map(rejected.map((r) => [r.index, r])).values()) onRejected(r);
    if (accepted.length === 0) {
      throw new ThreatRelayError(
        'TR_VALIDATION',
        `no indicator in the bundle can be published: ${rejected.length} problem(s)`,
        {
          details:
            rejected.length > 0
              ? rejected.map((r) => ({ path: r.path, message: `${r.id ?? '(no id)'}: ${r.reason}` }))
              : [{ path: 'objects', message: 'holds no indicator objects' }],
        },
      );
    }
    // Its own eventId name space, so one Idempotency-Key used on both routes
    // cannot give two different indicators the same eventId.
    const stixCtx: PublishContext = {
      ...ctx,
      idempotencyKey: ctx.idempotencyKey === undefined ? undefined : `stix\n${ctx.idempotencyKey}`,
    };
    return {
      events: buildPublishedEvents(
        accepted.map((m) => m.input),
        stixCtx,
        true,
      ),
      answer: (receipts) => ({
        accepted: receipts.length,
        receipts: receipts.map((r) => ({ ...r, index: accepted[r.index]!.index, id: accepted[r.index]!.id })),
        rejected: rejected.map(({ index, id, path, code, reason }) => ({ index, id, path, code, reason })),
        ignored: mapped.ignored,
      }),
    };
  };
}

export function createApp(deps: ProducerAppDeps): Express {
  const { config, org, logger, metrics } = deps;
  const settings = config.producer;
  const limits = {
    perKey: new RateLimiter(settings.rateLimitPerMinute),
    failures: new AuthFailureThrottle(settings),
  };
  const orgIds = new Set(config.orgs.map((o) => o.id));
  const idempotency = new IdempotencyCache<Receipt[]>({
    maxBytes: settings.idempotencyCacheBytes,
    sizeOf: (receipts) => Buffer.byteLength(JSON.stringify(receipts)),
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(logger, org));

  opsRoutes(app, deps, [...orgIds]);

  // `application/*+json` also takes STIX bundles sent as application/stix+json;version=2.1.
  const json = jsonBody({ limit: settings.bodyLimitBytes, type: ['application/json', 'application/*+json'] });

  const publishRoute = publishing(deps, idempotency);
  /** What every publishing request passes first: its key and scope, its Idempotency-Key, a JSON body. */
  const admitted = (scope: 'publish' | 'revoke'): RequestHandler[] => [
    authenticate(config, org, scope, limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
  ];

  app.post(
    '/v1/indicators',
    ...admitted('publish'),
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(indicatorInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildPublishedEvents(items, ctx, batch) };
    }),
  );

  app.post(
    '/v1/indicators/revoke',
    ...admitted('revoke'),
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(revocationInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildRevokedEvents(items, ctx, batch) };
    }),
  );

  /**
   * A STIX 2.1 bundle. Unlike /v1/indicators it is not all or nothing: a
   * bundle exported from a TIP holds things the bus cannot carry, and the
   * publisher needs the rest shared. Every indicator that maps is published;
   * each one that does not is listed with its reason, each other object as
   * ignored. Only a bundle of which nothing maps is a 400.
   */
  app.post(
    '/v1/stix',
    ...admitted('publish'),
    publishRoute(
      buildStixEvents(orgIds, settings.maxBatchItems, (r) =>
        metrics.rejected.inc({ org, type: typeLabel(r.indicatorType), reason: reasonLabel(r.code) }),
      ),
      // The builder counts each refused object itself.
      () => [],
    ),
  );

  app.use(notFound(ROUTES));
  app.use(errorMiddleware(logger));
  return app;
}

/** /healthz, /readyz (503 once shutdown began), /metrics, and the OpenAPI document. */
function opsRoutes(app: Express, deps: ProducerAppDeps, orgIds: string[]): void {
  app.use(
    opsRouter({
      ready: async () => {
        if (deps.isShuttingDown?.()) throw new Error('shutting down');
        await deps.ready();
      },
      metrics: deps.metrics.registry,
      logger: deps.logger,
    }),
  );
  const openapi = openApiDocument(deps.config.producer, orgIds);
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
}

/**
 * The route handler that publishes what `build` made of the body; counts
 * accepted and rejected indicators (`rejectedTypes` says which a refused
 * body held). A request with an Idempotency-Key is answered from the cache
 * when it was seen before.
 */
function publishing(deps: ProducerAppDeps, idempotency: IdempotencyCache<Receipt[]>) {
  const { org, publisher, metrics } = deps;
  return (
      build: (body: unknown, ctx: PublishContext) => Built,
      rejectedTypes: (body: unknown) => string[] = bodyTypeLabels,
    ): RequestHandler =>
    async (req: AuthedRequest, res) => {
      const ctx: PublishContext = {
        org,
        submitter: req.apiKey!.name,
        idempotencyKey: req.get('Idempotency-Key') ?? undefined,
      };
      let built: Built;
      try {
        built = build(req.body, ctx);
      } catch (err) {
        const reason = reasonLabel(isThreatRelayError(err) ? err.code : 'TR_INTERNAL');
        for (const type of rejectedTypes(req.body)) metrics.rejected.inc({ org, type, reason });
        throw err;
      }
      const { events } = built;
      const publish = (): Promise<Receipt[]> => publisher.publish(events);
      const receipts = await (
        ctx.idempotencyKey === undefined
          ? publish()
          : // Scoped by API key: another key of the org with the same Idempotency-Key is another request.
            idempotency.run(
              `${req.path}\n${req.apiKey!.sha256}`,
              ctx.idempotencyKey,
              jsonDigest(req.body),
              publish,
            )
      ).catch((err: unknown) => {
        const reason = reasonLabel(isThreatRelayError(err) ? err.code : 'TR_INTERNAL');
        for (const e of events) metrics.rejected.inc({ org, type: eventType(e), reason });
        throw err;
      });
      for (const e of events) metrics.accepted.inc({ org, type: eventType(e) });
      req.log.info({ accepted: receipts.length, idempotencyKey: ctx.idempotencyKey }, 'accepted');
      res.status(202).json(built.answer?.(receipts) ?? { accepted: receipts.length, receipts });
    };
}

/** One log line per request, with the org and a request id (the caller's `x-request-id`, or a new one). */
function requestLog(logger: Logger, org: string): RequestHandler {
  return pinoHttp({
    logger,
    customProps: () => ({ org }),
    genReqId: (req, res) => {
      const id = (req.headers['x-request-id'] as string | undefined) ?? crypto.randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
  });
}

function eventType(e: ThreatEvent): string {
  return typeLabel(identityOf(e.payload).type);
}
