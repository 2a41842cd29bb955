import express, {
  Router,
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { TaxiiReaderConfig } from '../platform/config/config';
import type { Logger } from '../platform/logger';
import { AuthFailureThrottle, type AuthFailureBudget } from '../platform/rate-limit';
import { authenticate } from './auth';
import { collectionResource, STIX_MEDIA_TYPE, type Collection } from './collections';
import {
  acceptsTaxii,
  encodeNext,
  isTaxiiContentType,
  matches,
  parseObjectQuery,
  positionToTimestamp,
  TaxiiProblem,
  TAXII_MEDIA_TYPE,
  type ObjectQuery,
  type QueryOptions,
} from './query';
import type { StoredVersion, TaxiiStore } from './store';

/**
 * TAXII 2.1 (OASIS, 2021) over one org's store, read-only: discovery
 * (`/taxii2/`), one API root (`/api/`), its collections, objects (with
 * `added_after`, `limit`, `next`, `match[id|type|version|spec_version]`), one
 * object, its versions, and manifests. Every answer is
 * `application/taxii+json;version=2.1`; every error is a TAXII error message
 * with the status the spec gives.
 */

export const DISCOVERY_PATH = '/taxii2/';
export const API_ROOT_PATH = '/api/';

export interface TaxiiAppOptions {
  org: string;
  store: TaxiiStore;
  collections: Collection[];
  readers: readonly TaxiiReaderConfig[];
  /** Failed authentications one client address may make before it is answered 429. */
  authFailures: AuthFailureBudget;
  defaultPageSize: number;
  maxPageSize: number;
  /** The public base URL discovery names the API root under (config `taxii.publicUrl`); default the path alone. */
  publicUrl?: string;
  logger: Logger;
  /** Called with the number of objects each page served. */
  onServed?: (count: number) => void;
}

/** Written as is: express would rewrite the media type (`; version=2.1; charset=utf-8`). */
function write(res: Response, status: number, body: unknown, headers: Record<string, string>): void {
  res.status(status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', TAXII_MEDIA_TYPE);
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function send(res: Response, body: unknown, headers: Record<string, string> = {}): void {
  write(res, 200, body, headers);
}

function pageHeaders(versions: StoredVersion[]): Record<string, string> {
  if (versions.length === 0) return {};
  const positions = versions.map((v) => v.position);
  return {
    'X-TAXII-Date-Added-First': positionToTimestamp(Math.min(...positions)),
    'X-TAXII-Date-Added-Last': positionToTimestamp(Math.max(...positions)),
  };
}

/** An envelope built from the stored JSON as is: objects are serialized once, when added. */
function envelope(versions: StoredVersion[], more: boolean, next: number): string {
  if (versions.length === 0) return more ? `{"more":true,"next":"${encodeNext(next)}"}` : '{"more":false}';
  const head = more ? `{"more":true,"next":"${encodeNext(next)}","objects":[` : '{"more":false,"objects":[';
  return `${head}${versions.map((v) => v.json).join(',')}]}`;
}

function manifestRecord(v: StoredVersion): Record<string, unknown> {
  return {
    id: v.id,
    date_added: positionToTimestamp(v.position),
    version: v.version,
    media_type: STIX_MEDIA_TYPE,
  };
}

/** Reads a request body to its end, keeping none of it; at most 64 MiB, then the socket is closed. */
function drain(req: Request): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024 * 1024) req.destroy();
    });
    req.once('end', () => resolve());
    req.once('close', () => resolve());
    req.resume();
  });
}

const methods =
  (allowed: string[]): RequestHandler =>
  (req, _res, next) => {
    if (allowed.includes(req.method) || (req.method === 'HEAD' && allowed.includes('GET'))) return next();
    next(
      new TaxiiProblem(
        405,
        'Method not allowed',
        `${req.method} is not allowed here; use ${allowed.join(' or ')}`,
        {
          Allow: allowed.join(', '),
        },
      ),
    );
  };

export function taxiiRouter(options: TaxiiAppOptions): Router {
  const router = Router({ strict: false });
  headers(router, options);
  router.use(
    [DISCOVERY_PATH, API_ROOT_PATH],
    admission(options, new AuthFailureThrottle(options.authFailures)),
  );
  const lookup = lookupFor(options);
  serviceRoutes(router, options, lookup);
  objectRoutes(router, options, lookup);
  router.use([DISCOVERY_PATH, API_ROOT_PATH], (req, _res, next) => {
    next(new TaxiiProblem(404, 'Not found', `no TAXII resource at ${req.originalUrl.split('?')[0]}`));
  });
  router.use(problems(options.logger));
  return router;
}

/** Headers on every answer, errors included, set before anything else can answer. */
function headers(router: Router, options: TaxiiAppOptions): void {
  const byId = new Map(options.collections.map((c) => [c.id, c]));
  router.use([DISCOVERY_PATH, API_ROOT_PATH], (_req, res, next) => {
    // Every answer, errors included: a browser never guesses another type than the one sent.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.use(`${API_ROOT_PATH}collections/:collection/`, (req, res, next) => {
    // The direct collection holds every amber+strict and TLP:RED object: no cache, shared or
    // the browser's own, keeps a copy of any answer about it (errors and manifests included).
    if (byId.get(String(req.params.collection))?.name === 'direct')
      res.setHeader('Cache-Control', 'no-store');
    next();
  });
}

/** Every TAXII request: refused while its address failed too often, then authenticated, then its Accept checked. */
function admission(options: TaxiiAppOptions, throttle: AuthFailureThrottle): RequestHandler {
  return (req, _res, next) => {
    // An address that failed too often is refused before its credentials are looked at.
    const refused = throttle.refusal(req);
    if (refused) {
      next(
        new TaxiiProblem(429, 'Too many requests', refused.message, {
          'Retry-After': String(refused.retryAfterSeconds),
        }),
      );
      return;
    }
    const reader = authenticate(options.readers, req.headers.authorization);
    if (!reader) {
      throttle.failed(req);
      next(
        new TaxiiProblem(401, 'Unauthorized', 'missing or wrong credentials (HTTP Basic or Bearer)', {
          'WWW-Authenticate': `Basic realm="threatrelay-taxii-${options.org}", Bearer`,
        }),
      );
      return;
    }
    if (!acceptsTaxii(req.headers.accept)) {
      next(new TaxiiProblem(406, 'Not acceptable', `this server answers only ${TAXII_MEDIA_TYPE}`));
      return;
    }
    next();
  };
}

/** Finding what a request names: its collection (404 when not readable here), its query, a page, an object. */
function lookupFor(options: TaxiiAppOptions) {
  const { store } = options;
  const byId = new Map(options.collections.map((c) => [c.id, c]));
  const collection = (req: Request): Collection => {
    const c = byId.get(String(req.params.collection));
    // Another org's collection, or one this org is not entitled to, does not exist here: 404, as the
    // spec allows, so a reader learns nothing about collections it cannot read.
    if (!c) throw new TaxiiProblem(404, 'Collection not found', 'no such collection on this API root');
    return c;
  };
  const query = (req: Request, q: Omit<QueryOptions, 'defaultLimit' | 'maxLimit'>): ObjectQuery =>
    parseObjectQuery(req.query as Record<string, unknown>, {
      ...q,
      defaultLimit: options.defaultPageSize,
      maxLimit: options.maxPageSize,
    });
  const page = (c: Collection, q: ObjectQuery) =>
    store.page(c.name, q.after, q.limit, (v) => matches(q, v, store.head(c.name, v.id)));

  /** One object's versions that a query selects; 404 when the collection has none of it at all. */
  const ofObject = (req: Request, defaultVersions: 'last' | 'all') => {
    const c = collection(req);
    const id = String(req.params.object);
    const q = query(req, { defaultVersions, refuse: ['match[id]', 'match[type]'] });
    const all = store.versionsOf(c.name, id);
    if (all.length === 0)
      throw new TaxiiProblem(404, 'Object not found', 'no such object in this collection');
    const head = store.head(c.name, id);
    const selected = all
      .filter((v) => v.position > q.after && matches(q, v, head))
      .sort((a, b) => a.position - b.position);
    const shown = selected.slice(0, q.limit);
    const more = selected.length > shown.length;
    return { shown, more, next: shown.at(-1)?.position ?? q.after };
  };

  return { collection, query, page, ofObject };
}
type Lookup = ReturnType<typeof lookupFor>;

/** Discovery, the API root and the collections. */
function serviceRoutes(router: Router, options: TaxiiAppOptions, lookup: Lookup): void {
  const { collection } = lookup;
  // Never built from the request's Host header: a client (or anyone in front of the server) would
  // choose where the discovery answer sends readers next.
  const root = options.publicUrl ? new URL(API_ROOT_PATH, options.publicUrl).href : API_ROOT_PATH;
  router.all(DISCOVERY_PATH, methods(['GET']), (_req, res) => {
    send(res, {
      title: `ThreatRelay TAXII for ${options.org}`,
      description: `What ${options.org} is entitled to on the ThreatRelay bus, as STIX 2.1.`,
      default: root,
      api_roots: [root],
    });
  });

  router.all(API_ROOT_PATH, methods(['GET']), (_req, res) => {
    send(res, {
      title: `ThreatRelay: ${options.org}`,
      versions: [TAXII_MEDIA_TYPE],
      max_content_length: 0,
    });
  });

  router.all(`${API_ROOT_PATH}collections/`, methods(['GET']), (_req, res) => {
    send(res, { collections: options.collections.map(collectionResource) });
  });

  router.all(`${API_ROOT_PATH}collections/:collection/`, methods(['GET']), (req, res) => {
    send(res, collectionResource(collection(req)));
  });
}

/** A collection's objects, its manifest, one object and its versions; writes are refused (read-only). */
function objectRoutes(router: Router, options: TaxiiAppOptions, lookup: Lookup): void {
  const { collection, query, page, ofObject } = lookup;
  router.all(
    `${API_ROOT_PATH}collections/:collection/objects/`,
    methods(['GET', 'POST']),
    async (req, res) => {
      const c = collection(req);
      if (req.method === 'POST') {
        // Read (and drop) the body before answering: answering mid-upload resets the client's connection.
        await drain(req);
        if (!isTaxiiContentType(req.headers['content-type'])) {
          throw new TaxiiProblem(415, 'Unsupported media type', `objects are added as ${TAXII_MEDIA_TYPE}`);
        }
        throw new TaxiiProblem(
          403,
          'Forbidden',
          'collections here are read-only: publish through a producer',
        );
      }
      const p = page(c, query(req, { defaultVersions: 'last' }));
      options.onServed?.(p.versions.length);
      send(res, envelope(p.versions, p.more, p.scannedTo), pageHeaders(p.versions));
    },
  );

  router.all(`${API_ROOT_PATH}collections/:collection/manifest/`, methods(['GET']), (req, res) => {
    const c = collection(req);
    const p = page(c, query(req, { defaultVersions: 'last' }));
    send(
      res,
      {
        more: p.more,
        ...(p.more ? { next: encodeNext(p.scannedTo) } : {}),
        ...(p.versions.length ? { objects: p.versions.map(manifestRecord) } : {}),
      },
      pageHeaders(p.versions),
    );
  });

  router.all(
    `${API_ROOT_PATH}collections/:collection/objects/:object/`,
    methods(['GET', 'DELETE']),
    (req, res) => {
      if (req.method === 'DELETE') {
        collection(req);
        throw new TaxiiProblem(403, 'Forbidden', 'collections here are read-only: revoke through a producer');
      }
      const { shown, more, next } = ofObject(req, 'last');
      options.onServed?.(shown.length);
      send(res, envelope(shown, more, next), pageHeaders(shown));
    },
  );

  router.all(
    `${API_ROOT_PATH}collections/:collection/objects/:object/versions/`,
    methods(['GET']),
    (req, res) => {
      const { shown, more, next } = ofObject(req, 'all');
      send(
        res,
        {
          more,
          ...(more ? { next: encodeNext(next) } : {}),
          ...(shown.length ? { versions: shown.map((v) => v.version) } : {}),
        },
        pageHeaders(shown),
      );
    },
  );
}

/** Every error under the TAXII paths as a TAXII error message; an unexpected one is logged and a 500. */
function problems(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (!req.originalUrl.startsWith(DISCOVERY_PATH) && !req.originalUrl.startsWith(API_ROOT_PATH))
      return next(err);
    const problem =
      err instanceof TaxiiProblem
        ? err
        : new TaxiiProblem(500, 'Internal error', 'the server failed to answer');
    if (!(err instanceof TaxiiProblem)) logger.error({ err }, 'unhandled error in a TAXII request');
    write(
      res,
      problem.status,
      { title: problem.title, description: problem.message, http_status: String(problem.status) },
      problem.headers,
    );
  };
}

export function taxiiApp(options: TaxiiAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(taxiiRouter(options));
  return app;
}
