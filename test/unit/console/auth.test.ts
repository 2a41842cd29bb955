import { scryptSync } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import {
  hashOperatorPassword,
  requireOperator,
  verifyOperatorPassword,
} from '../../../services/console/auth';
import { OPERATOR_PASSWORD_HASH } from '../../../services/platform/config/config';

describe('operator passwords', () => {
  it('stores scrypt of the password with its salt, recomputable with node:crypto directly', () => {
    const salt = Buffer.alloc(16, 7);
    const stored = hashOperatorPassword('correct horse', salt);
    expect(stored).toMatch(OPERATOR_PASSWORD_HASH);
    const [, n, r, p, saltB64, hashB64] = stored.split('$');
    expect([n, r, p, saltB64]).toEqual(['16384', '8', '1', salt.toString('base64')]);
    expect(hashB64).toBe(scryptSync('correct horse', salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64'));
  });

  it('accepts the password and refuses another, an empty one and an unreadable hash', () => {
    const stored = hashOperatorPassword('correct horse');
    expect(verifyOperatorPassword('correct horse', stored)).toBe(true);
    expect(verifyOperatorPassword('correct horsf', stored)).toBe(false);
    expect(verifyOperatorPassword('', stored)).toBe(false);
    expect(verifyOperatorPassword('correct horse', 'sha256$abc')).toBe(false);
    expect(verifyOperatorPassword('correct horse', stored.replace(/\$16384\$/, '$3$'))).toBe(false);
  });
});

describe('requireOperator', () => {
  it('answers 401 with a Basic challenge unless an operator signs in', async () => {
    const app = express();
    app.use(
      requireOperator({ operators: [{ username: 'op', passwordHash: hashOperatorPassword('s3cret') }] }),
    );
    app.get('/', (_req, res) => void res.send('in'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const as = (user: string, pw: string) =>
      fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` } });
    try {
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Basic realm="ThreatRelay console", charset="UTF-8"');
      expect((await as('op', 'wrong')).status).toBe(401);
      expect((await as('other', 's3cret')).status).toBe(401);
      const ok = await as('op', 's3cret');
      expect([ok.status, await ok.text()]).toEqual([200, 'in']);
    } finally {
      server.close();
    }
  });
});
