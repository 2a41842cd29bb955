import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { parseBasic } from '../platform/basic-auth';
import type { ConsoleSettings } from '../platform/config/config';
import { AuthFailureThrottle, type AuthFailureBudget } from '../platform/rate-limit';

/**
 * Operator sign-in: HTTP Basic against `console.operators` in the config,
 * where each password is stored as an scrypt hash (a password is typed by a
 * person, so unlike an API key it gets a slow, salted hash). The browser
 * keeps the credentials for the page, its script and its event stream.
 */

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** `scrypt$N$r$p$<salt base64>$<hash base64>` of `password`: what `console.operators[].passwordHash` holds. */
export function hashOperatorPassword(password: string, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(password, salt, KEY_LENGTH, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Whether `password` matches `stored` (constant time in the hash; false for
 * anything unreadable). scrypt runs on libuv's thread pool: a guess costs the
 * guesser its 40 ms, not every other request the event loop is serving.
 */
export async function verifyOperatorPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  if (expected.length === 0) return false;
  const options = { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 };
  try {
    const got = await new Promise<Buffer>((resolve, reject) =>
      scrypt(password, Buffer.from(salt, 'base64'), expected.length, options, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
    return timingSafeEqual(got, expected);
  } catch {
    // Parameters scrypt refuses (a hand-edited hash) verify nothing; the config check should have caught them.
    return false;
  }
}

/**
 * The hash a sign-in is checked against: the operator's, or for a username
 * no operator has, a dummy of the same cost that no password matches. Both
 * cost one scrypt, so how long a refusal takes does not tell whether the
 * username exists.
 */
export function storedHashFor(operators: readonly Operator[], username: string): string {
  return operators.find((o) => o.username === username)?.passwordHash ?? DUMMY_HASH;
}

type Operator = ConsoleSettings['operators'][number];

const DUMMY_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${randomBytes(16).toString('base64')}$${randomBytes(KEY_LENGTH).toString('base64')}`;

/** A new operator password: base64url of 18 random bytes. */
export function newOperatorPassword(): string {
  return randomBytes(18).toString('base64url');
}

export const REALM = 'ThreatRelay console';

/**
 * 401 with a Basic challenge unless the request carries an operator's
 * credentials. A header that verified once is remembered in this process's
 * memory, so the event stream and every page load do not each pay for scrypt.
 * Failures are counted per client address (`authFailuresPerMinute`, `authFailureBurst`): an
 * address over its budget is handed `TR_RATE_LIMITED` (429 with Retry-After)
 * before its credentials are looked at.
 */
export function requireOperator(
  settings: Pick<ConsoleSettings, 'operators'> & AuthFailureBudget,
): RequestHandler {
  const verified = new Set<string>();
  const throttle = new AuthFailureThrottle(settings);
  return (req, res, next) => {
    const refused = throttle.refusal(req);
    if (refused) return next(refused);
    const header = req.headers.authorization;
    if (header && verified.has(header)) return next();
    const given = parseBasic(header);
    const check = given
      ? verifyOperatorPassword(given.password, storedHashFor(settings.operators, given.username))
      : Promise.resolve(false);
    check.then(
      (ok) => {
        if (ok) {
          if (verified.size < 1000) verified.add(header!);
          return next();
        }
        throttle.failed(req);
        res
          .status(401)
          .set('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`)
          .type('text/plain')
          .send('401: operator credentials required\n');
      },
      (err: unknown) => next(err),
    );
  };
}
