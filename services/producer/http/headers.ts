import type { RequestHandler } from 'express';
import { ThreatRelayError } from '../../contract/errors';

/** The longest Idempotency-Key taken, as the OpenAPI document says. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 200;

/** The `Idempotency-Key` header, when sent: 1 to 200 characters, else a 400 naming the header. */
export function checkIdempotencyKey(): RequestHandler {
  return (req, _res, next) => {
    const key = req.get('Idempotency-Key');
    if (key !== undefined && (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH)) {
      next(
        new ThreatRelayError('TR_VALIDATION', 'the Idempotency-Key header is invalid', {
          details: [
            {
              path: '(header) Idempotency-Key',
              message: `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters, not ${key.length}`,
            },
          ],
        }),
      );
      return;
    }
    next();
  };
}
