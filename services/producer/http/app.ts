import express, { type Express, type Request, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { z } from 'zod';
import type { ApiKeyConfig, ApiScope, Config } from '../../platform/config/config';
import { apiKeyHash, orgById, zodDetails } from '../../platform/config/config';
import { ThreatRelayError, isThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { errorMiddleware, notFound, OPS_ROUTES, opsRouter, requireJson } from '../../platform/http';
import { indicatorInputSchema, revocationInputSchema, sightingInputSchema } from '../../contract/indicator';
import type { Logger } from '../../platform/logger';
import { identityOf, type ThreatEvent } from '../../contract/model';
import { mapStixBundle, type StixRejection } from '../../stix/import';
import { reasonLabel, typeLabel, type ProducerMetrics } from '../metrics';
import { openApiDocument } from './openapi';
import { IdempotencyCache } from '../publish/idempotency';
import { jsonDigest } from '../ingest/json-digest';
import {
  buildPublishedEvents,
  buildRevokedEvents,
  buildSightingEvents,
  type PublishContext,
} from '../ingest/build-events';
import type { Publisher, Receipt } from '../publish/publisher';
import { AuthFailureThrottle, RateLimiter } from '../../platform/rate-limit';
import { checkIdempotencyKey } from './headers';
import { jsonBody } from '../../platform/json-body';
import { PDQ_DEFAULT_MIN_QUALITY, pdqQualityProblem } from '../../contract/pdq';
import { buildMispRoute } from './misp';
import type { Warning, WarninglistIndex } from '../../contract/warninglists';
import { openWarninglists } from '../../platform/warninglists';
import { attachRecordWarnings, refuseRejected, warninglistPolicy, warningsOf } from '../ingest/warnings';

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

interface AuthedRequest extends Request {
  apiKey?: ApiKeyConfig;
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

/** API keys come as `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const header = req.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/**
 * The API key and its scope, then the key's rate. Failed authentications are
 * counted per client address (`failures`): an address over its budget gets
 * 429 for every request until it refills, so keys cannot be guessed at speed.
 */
function authenticate(
  config: Config,
  org: string,
  scope: ApiScope,
  limits: { perKey: RateLimiter; failures: AuthFailureThrottle },
): RequestHandler {
  // Only hashes are in memory; a lookup by hash needs no constant-time compare of the key.
  const byHash = new Map(config.apiKeys.filter((k) => k.org === org).map((k) => [k.sha256, k]));
  return (req: AuthedRequest, _res, next) => {
    const refused = limits.failures.refusal(req);
    if (refused) {
      next(refused);
      return;
    }
    const key = presentedKey(req);
    const found = key ? byHash.get(apiKeyHash(key)) : undefined;
    if (!found) {
      limits.failures.failed(req);
      next(
        new ThreatRelayError(
          'TR_UNAUTHENTICATED',
          key
            ? `unknown API key for this ${org} producer`
            : 'missing API key: send Authorization: Bearer <key>',
        ),
      );
      return;
    }
    if (!found.scopes.includes(scope)) {
      next(new ThreatRelayError('TR_FORBIDDEN', `API key "${found.name}" lacks the "${scope}" scope`));
      return;
    }
    const wait = limits.perKey.take(found.name);
    if (wait > 0) {
      next(
        new ThreatRelayError(
          'TR_RATE_LIMITED',
          `too many requests for API key "${found.name}"; retry in ${wait} s`,
          {
            retryAfterSeconds: wait,
          },
        ),
      );
      return;
    }
    req.apiKey = found;
    next();
  };
}

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
  items: { recipients?: string[] | undefined; to?: string[] | undefined }[],
  orgIds: Set<string>,
  batch: boolean,
): ErrorDetail[] {
  return items.flatMap((item, index) =>
    (['recipients', 'to'] as const).flatMap((field) =>
      (item[field] ?? []).flatMap((r, j) =>
        orgIds.has(r)
          ? []
          : [{ path: `${batch ? `${index}.` : ''}${field}.${j}`, message: `unknown org "${r}"` }],
      ),
    ),
  );
}

/** A pdq item below the publishing org's quality floor: the same 400 as any invalid field. */
function checkPdqQuality(
  items: { quality?: number | undefined }[],
  floor: number,
  org: string,
  batch: boolean,
): void {
  const problems = items.flatMap((item, index) => {
    const problem = pdqQualityProblem(item.quality ?? null, floor, org);
    return problem ? [{ path: `${batch ? `${index}.` : ''}quality`, message: problem }] : [];
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
}

function checkRecipients(
  items: { recipients?: string[] | undefined; to?: string[] | undefined }[],
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
  /** Where event `index`'s value is in the body, for a refusal that names the item. */
  valuePath: (index: number) => string;
  /** The 202 body for the receipts; `{ accepted, receipts }` when not given. */
  answer?: (receipts: WarnedReceipt[]) => Record<string, unknown>;
}

/** A receipt with its item's warninglist matches (absent for revocations). */
type WarnedReceipt = Receipt & { warnings?: Warning[] };

/** `3.value` in a batch, `value` for a lone item. */
const itemValuePath =
  (batch: boolean) =>
  (index: number): string =>
    batch ? `${index}.value` : 'value';

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
      valuePath: (index) => `objects.${accepted[index]!.index}.pattern`,
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
  const { config, org, publisher, logger, metrics } = deps;
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
  app.use(
    pinoHttp({
      logger,
      customProps: () => ({ org }),
      genReqId: (req, res) => {
        const id = (req.headers['x-request-id'] as string | undefined) ?? crypto.randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
    }),
  );

  app.use(
    opsRouter({
      ready: async () => {
        if (deps.isShuttingDown?.()) throw new Error('shutting down');
        await deps.ready();
      },
      metrics: metrics.registry,
      logger,
    }),
  );
  const openapi = openApiDocument(settings, [...orgIds]);
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  // `application/*+json` also takes STIX bundles sent as application/stix+json;version=2.1.
  const json = jsonBody({ limit: settings.bodyLimitBytes, type: ['application/json', 'application/*+json'] });

  /**
   * Publishes what `build` made of the body; counts accepted and rejected
   * indicators (`rejectedTypes` says which a refused body held).
   */
  const publishRoute =
    (
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

  app.post(
    '/v1/indicators',
    authenticate(config, org, 'publish', limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(indicatorInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      checkPdqQuality(items, pdqFloor, org, batch);
      return { events: buildPublishedEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
    }),
  );

  app.post(
    '/v1/indicators/revoke',
    authenticate(config, org, 'revoke', limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(revocationInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildRevokedEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
    }),
  );

  // The answer is the receipt of what was written, whether or not anyone reported the key.
  app.post(
    '/v1/sightings',
    authenticate(config, org, 'sight', limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
    publishRoute((body, ctx) => {
      const { items, batch } = parseItems(sightingInputSchema, body, settings.maxBatchItems);
      checkRecipients(items, orgIds, batch);
      return { events: buildSightingEvents(items, ctx, batch), valuePath: itemValuePath(batch) };
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
    authenticate(config, org, 'publish', limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
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
    authenticate(config, org, 'publish', limits),
    checkIdempotencyKey(),
    requireJson(),
    json,
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

  app.use(notFound(ROUTES));
  app.use(errorMiddleware(logger));
  return app;
}

function eventType(e: ThreatEvent): string {
  return typeLabel(identityOf(e.payload).type);
}
