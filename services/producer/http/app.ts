import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { ApiScope, Config } from '../../platform/config/config';
import { orgById } from '../../platform/config/config';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter, requireJson } from '../../platform/http';
import { indicatorInputSchema, revocationInputSchema, sightingInputSchema } from '../../contract/indicator';
import type { Logger } from '../../platform/logger';
import { reasonLabel, typeLabel, type ProducerMetrics } from '../metrics';
import { openApiDocument } from './openapi';
import { IdempotencyCache } from '../publish/idempotency';
import { buildPublishedEvents, buildRevokedEvents, buildSightingEvents } from '../ingest/build-events';
import type { Publisher, Receipt } from '../publish/publisher';
import { AuthFailureThrottle, RateLimiter } from '../../platform/rate-limit';
import { authenticate } from './auth';
import { checkIdempotencyKey } from './headers';
import { jsonBody } from '../../platform/json-body';
import { PDQ_DEFAULT_MIN_QUALITY } from '../../contract/pdq';
import { buildMispRoute } from './misp';
import type { WarninglistIndex } from '../../contract/warninglists';
import { openWarninglists } from '../../platform/warninglists';
import { warninglistPolicy } from '../ingest/warnings';
import { checkPdqQuality, checkRecipients, itemValuePath, parseItems } from './items';
import { publishing } from './publishing';
import { buildStixEvents } from './stix';

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
  /** The warninglists items are checked against; default the config's snapshot. */
  warninglists?: WarninglistIndex;
}

/** Every route and its methods: 405 for a known path with another method, and the OpenAPI test. */
export const ROUTES: Record<string, string[]> = {
  '/v1/indicators': ['POST'],
  '/v1/indicators/revoke': ['POST'],
  '/v1/stix': ['POST'],
  '/v1/sightings': ['POST'],
  '/v1/misp/events': ['POST'],
  '/openapi.json': ['GET'],
  ...OPS_ROUTES,
};

export function createApp(deps: ProducerAppDeps): Express {
  const { config, org, logger } = deps;
  const settings = config.producer;
  const limits = {
    perKey: new RateLimiter(settings.rateLimitPerMinute),
    failures: new AuthFailureThrottle(settings),
  };
  const orgIds = new Set(config.orgs.map((o) => o.id));
  const pdqFloor = orgById(config, org)?.pdq.minQuality ?? PDQ_DEFAULT_MIN_QUALITY;
  const policy = warninglistPolicy(
    deps.warninglists ?? openWarninglists(config.warninglists.dir),
    orgById(config, org) ?? {
      id: org,
      name: org,
      kind: 'company',
      maxTlp: 'amber',
      keys: [],
      pdq: { minQuality: PDQ_DEFAULT_MIN_QUALITY },
    },
  );
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

  const publishRoute = publishing(deps, idempotency, policy);
  /** What every publishing request passes first: its key and scope, its Idempotency-Key, a JSON body. */
  const admitted = (scope: ApiScope): RequestHandler[] => [
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
      checkPdqQuality(items, pdqFloor, org, batch);
      return { events: buildPublishedEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
    }),
  );

  app.post(
    '/v1/indicators/revoke',
    ...admitted('revoke'),
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(revocationInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildRevokedEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
    }),
  );

  // The answer is the receipt of what was written, whether or not anyone reported the key.
  app.post(
    '/v1/sightings',
    ...admitted('sight'),
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(sightingInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildSightingEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
    }),
  );

  importRoutes(app, deps, { admitted, publishRoute, orgIds });

  app.use(notFound(ROUTES));
  app.use(errorMiddleware(logger));
  return app;
}

/** The routes that take another tool's format: a STIX 2.1 bundle, a MISP event. */
function importRoutes(
  app: Express,
  deps: ProducerAppDeps,
  routes: {
    admitted: (scope: 'publish') => RequestHandler[];
    publishRoute: ReturnType<typeof publishing>;
    orgIds: Set<string>;
  },
): void {
  const { config, org, metrics } = deps;
  const settings = config.producer;
  const { admitted, publishRoute, orgIds } = routes;

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

  /** One MISP event (docs/misp.md): what maps in one transaction, the rest listed; nothing maps: 400. */
  app.post(
    '/v1/misp/events',
    ...admitted('publish'),
    publishRoute(
      buildMispRoute(
        orgIds,
        settings.maxBatchItems,
        orgById(config, org)?.mispDefaultCategory ?? 'other',
        // A refused attribute has no indicator type to count under.
        (s) =>
          metrics.rejected.inc({
            org,
            type: typeLabel(undefined),
            reason: reasonLabel(s.code ?? 'TR_VALIDATION'),
          }),
      ),
      () => [],
    ),
  );
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
