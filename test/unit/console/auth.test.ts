import { scryptSync } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import {
  hashOperatorPassword,
  requireOperator,
  storedHashFor,
  verifyOperatorPassword,
} from '../../../services/console/auth';
import { OPERATOR_PASSWORD_HASH } from '../../../services/platform/config/config';
import { errorMiddleware } from '../../../services/platform/http';
import { createLogger } from '../../../services/platform/logger';

describe('operator passwords', () => {
  it('stores scrypt of the password with its salt, recomputable with node:crypto directly', () => {
    const salt = Buffer.alloc(16, 7);
    const stored = hashOperatorPassword('correct horse', salt);
    expect(stored).toMatch(OPERATOR_PASSWORD_HASH);
    const [, n, r, p, saltB64, hashB64] = stored.split('$');
    expect([n, r, p, saltB64]).toEqual(['16384', '8', '1', salt.toString('base64')]);
    expect(hashB64).toBe(scryptSync('correct horse', salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64'));
  });

  it('accepts the password and refuses another, an empty one and an unreadable hash', async () => {
    const stored = hashOperatorPassword('correct horse');
    expect(await verifyOperatorPassword('correct horse', stored)).toBe(true);
    expect(await verifyOperatorPassword('correct horsf', stored)).toBe(false);
    expect(await verifyOperatorPassword('', stored)).toBe(false);
    expect(await verifyOperatorPassword('correct horse', 'sha256$abc')).toBe(false);
    expect(await verifyOperatorPassword('correct horse', stored.replace(/\$16384\$/, '$3$'))).toBe(false);
  });

  it('verifies off the event loop: a callback queued meanwhile runs before the answer', async () => {
    const stored = hashOperatorPassword('correct horse');
    const order: string[] = [];
    const verified = verifyOperatorPassword('correct horse', stored).then(() => order.push('verified'));
    setImmediate(() => order.push('event loop turned'));
    await verified;
    expect(order).toEqual(['event loop turned', 'verified']);
  });

  it('checks an unknown username against a dummy hash of the same scrypt cost, which no password matches', async () => {
    const operators = [{ username: 'op', passwordHash: hashOperatorPassword('s3cret') }];
    const dummy = storedHashFor(operators, 'nobody');
    const cost = (h: string) => {
      const [scheme, n, r, p, salt, hash] = h.split('$');
      return [scheme, n, r, p, Buffer.from(salt!, 'base64').length, Buffer.from(hash!, 'base64').length];
    };
    expect(cost(dummy)).toEqual(cost(operators[0]!.passwordHash));
    expect(storedHashFor(operators, 'op')).toBe(operators[0]!.passwordHash);
    for (const guess of ['', 's3cret', 'password'])
      expect(await verifyOperatorPassword(guess, dummy)).toBe(false);
  });
});

describe('requireOperator', () => {
  const passwordHash = hashOperatorPassword('s3cret');

  /** An app behind requireOperator, listening; `as` sends Basic credentials, `close` stops it. */
  async function serve(authFailuresPerMinute: number) {
    const app = express();
    app.use(requireOperator({ operators: [{ username: 'op', passwordHash }], authFailuresPerMinute }));
    app.get('/', (_req, res) => void res.send('in'));
    app.use(errorMiddleware(createLogger('test', 'silent')));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return {
      url,
      as: (user: string, pw: string) =>
        fetch(url, {
          headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` },
        }),
      close: () => new Promise((r) => server.close(r)),
    };
  }

  it('answers 401 with a Basic challenge unless an operator signs in', async () => {
    const { url, as, close } = await serve(30);
    try {
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Basic realm="ThreatRelay console", charset="UTF-8"');
      expect((await as('op', 'wrong')).status).toBe(401);
      expect((await as('other', 's3cret')).status).toBe(401);
      const ok = await as('op', 's3cret');
      expect([ok.status, await ok.text()]).toEqual([200, 'in']);
    } finally {
      await close();
    }
  });

  it('answers 429 with Retry-After once an address failed too often, even to credentials that verified before', async () => {
    const { url, as, close } = await serve(3);
    try {
      expect((await as('op', 's3cret')).status).toBe(200);
      const failures = [await fetch(url), await as('op', 'wrong'), await as('nobody', 'x')];
      expect(failures.map((r) => r.status)).toEqual([401, 401, 401]);
      const throttled = await as('op', 's3cret');
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBe(20);
      expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe('TR_RATE_LIMITED');
    } finally {
      await close();
    }
  });
});
