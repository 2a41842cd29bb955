import type { Request, RequestHandler } from 'express';
import type { ApiKeyConfig, ApiScope, Config } from '../../platform/config/config';
import { apiKeyHash } from '../../platform/config/config';
import { ThreatRelayError } from '../../contract/errors';
import type { AuthFailureThrottle, RateLimiter } from '../../platform/rate-limit';

/** A request whose API key was accepted: the key's config. */
export interface AuthedRequest extends Request {
  apiKey?: ApiKeyConfig;
}

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
export function authenticate(
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
