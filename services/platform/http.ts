import type { ErrorRequestHandler, RequestHandler } from 'express';
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
