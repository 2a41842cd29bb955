import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { ThreatRelayError, isThreatRelayError } from '../contract/errors';
import type { Logger } from './logger';

/**
 * HTTP pieces both services' express apps share: one error shape everywhere
 * (`{ error: { code, message, details } }`) and one middleware that maps
 * error codes to statuses.
 */

export interface ErrorBody {
  error: { code: string; message: string; details: { path: string; message: string }[] };
}

export function errorBody(err: ThreatRelayError): ErrorBody {
  return { error: { code: err.code, message: err.message, details: err.details } };
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Turns body-parser failures into the bus's own errors, so clients see one shape. */
function fromBodyParser(err: BodyParserError): ThreatRelayError | undefined {
  if (err.type === 'entity.parse.failed') {
    return new ThreatRelayError(
      'TR_MALFORMED_JSON',
      `the request body is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (err.type === 'entity.too.large') {
    return new ThreatRelayError('TR_PAYLOAD_TOO_LARGE', `the request body is larger than ${err.limit} bytes`);
  }
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return new ThreatRelayError('TR_UNSUPPORTED_MEDIA_TYPE', (err as Error).message);
  }
  return undefined;
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const known = isThreatRelayError(err) ? err : fromBodyParser(err as BodyParserError);
    const error = known ?? new ThreatRelayError('TR_INTERNAL', 'internal error', { cause: err });
    if (!known) logger.error({ err }, 'unhandled error in request');
    if (error.retryAfterSeconds !== undefined) res.set('Retry-After', String(error.retryAfterSeconds));
    res.status(error.httpStatus).json(errorBody(error));
  };
}

/** A request that has a body must say it is JSON. */
export function requireJson(): RequestHandler {
  return (req, _res, next) => {
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      next(
        new ThreatRelayError(
          'TR_UNSUPPORTED_MEDIA_TYPE',
          `Content-Type must be application/json, not ${req.headers['content-type'] ?? '(none)'}`,
        ),
      );
      return;
    }
    next();
  };
}

/**
 * 405 for a known path with another method, 404 for the rest. `routes` maps
 * each path to the methods it takes.
 */
export function notFound(routes: Record<string, string[]>): RequestHandler {
  return (req, res, next) => {
    const allowed = routes[req.path];
    if (allowed) {
      res.set('Allow', allowed.join(', '));
      next(
        new ThreatRelayError(
          'TR_METHOD_NOT_ALLOWED',
          `${req.method} is not allowed on ${req.path}; use ${allowed.join(' or ')}`,
        ),
      );
      return;
    }
    next(new ThreatRelayError('TR_NOT_FOUND', `no route ${req.method} ${req.path}`));
  };
}

export interface OpsRoutes {
  /** Resolves when the service can do its work (a real broker round trip); rejects with why not. */
  ready(): Promise<unknown>;
  metrics: Registry;
  logger: Logger;
}

/** Paths the ops router serves, for `notFound`'s 405s. */
export const OPS_ROUTES: Record<string, string[]> = {
  '/healthz': ['GET'],
  '/readyz': ['GET'],
  '/metrics': ['GET'],
};

/**
 * `/healthz` (the process answers), `/readyz` (it can do its work) and
 * `/metrics` (Prometheus), the same in every service. `/readyz` says only
 * ready or not: why not goes to the log, since broker errors name hosts and
 * principals that are nobody else's business.
 */
export function opsRouter(ops: OpsRoutes): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    try {
      await ops.ready();
      res.json({ status: 'ready' });
    } catch (err) {
      ops.logger.warn({ err }, 'not ready');
      res.status(503).json({ status: 'not ready' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.set('content-type', ops.metrics.contentType).send(await ops.metrics.metrics());
  });
  return router;
}

/**
 * A `Retry-After` value (delay-seconds or an HTTP-date) in whole seconds,
 * rounded up; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | null | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === null) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
