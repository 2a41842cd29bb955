import { Agent, fetch as undiciFetch } from 'undici';
import { hashOperatorPassword } from '../../services/console/auth';
import { startConsole, type RunningConsole } from '../../services/console/service';
import type { Config } from '../../services/platform/config/config';
import { startTaxiiServer, type RunningTaxiiServer } from '../../services/taxii/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

/**
 * Failed authentication on the console and a TAXII server, over real HTTP:
 * an address that failed `authFailureBurst` times is answered 429 with
 * Retry-After whatever it sends, another address still signs in, and the
 * first may try again once a failure is regained. 4 at once and 30 a minute:
 * one comes back every 2 s, which the test waits, not a minute, and 4
 * failures take far less than 2 s, so none is regained while they are made.
 */

const BUDGET = { authFailuresPerMinute: 30, authFailureBurst: 4 };
const TAXII = 'application/taxii+json;version=2.1';
const OPERATOR = { username: 'ops', password: 'correct horse battery staple' };

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Target {
  /** GET of a page that needs credentials, from 127.0.0.1 unless `from` says otherwise. */
  get(authorization: string | undefined, from?: Agent): Promise<Response>;
  /** A right credential, and wrong ones to cycle through. */
  right: string;
  wrong: (string | undefined)[];
  /** What a 401 and a 429 look like on this server, beyond the status. */
  expectUnauthorized(res: Response): Promise<void>;
  expectThrottled(res: Response): Promise<void>;
}

describe('failed authentication is throttled per client address', () => {
  let net: TestNetwork;
  let taxii: RunningTaxiiServer;
  let operatorConsole: RunningConsole;
  // Connections from another loopback address: a second client on another machine.
  const elsewhere = new Agent({ localAddress: '127.0.0.2' });

  beforeAll(async () => {
    net = await createTestNetwork([{ id: 'facebook' }, { id: 'fbi', kind: 'government' }], [], {
      taxiiReaders: ['fbi'],
    });
    const config: Config = {
      ...net.config,
      taxii: { ...net.config.taxii, ...BUDGET },
      console: {
        ...net.config.console,
        operators: [{ username: OPERATOR.username, passwordHash: hashOperatorPassword(OPERATOR.password) }],
        ...BUDGET,
      },
    };
    taxii = await startTaxiiServer({ config, org: 'fbi', logger: net.logger, port: 0, dataDir: net.dataDir });
    operatorConsole = await startConsole({ config, logger: net.logger, port: 0 });
  }, 120_000);

  afterAll(async () => {
    await elsewhere.close();
    await Promise.all([taxii?.close(), operatorConsole?.close()]);
    await net?.close();
  });

  const request = (url: string, headers: Record<string, string>, from?: Agent): Promise<Response> =>
    (from ? undiciFetch(url, { headers, dispatcher: from }) : fetch(url, { headers })) as Promise<Response>;

  async function throttles(target: Target): Promise<void> {
    expect((await target.get(target.right)).status).toBe(200);
    for (let i = 0; i < BUDGET.authFailureBurst; i++) {
      const res = await target.get(target.wrong[i % target.wrong.length]);
      expect([i, res.status]).toEqual([i, 401]);
      await target.expectUnauthorized(res);
    }
    // Over the budget: refused before the credentials are looked at, a right one included.
    const throttled = await target.get(target.right);
    expect(throttled.status).toBe(429);
    await target.expectThrottled(throttled);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60 / BUDGET.authFailuresPerMinute);

    // Another address is not affected, and its success gives the first nothing back.
    expect((await target.get(target.right, elsewhere)).status).toBe(200);
    expect((await target.get(target.right)).status).toBe(429);

    // Once a failure is regained the address may try again: a right credential passes, and one
    // more failure uses up what came back.
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    expect((await target.get(target.right)).status).toBe(200);
    expect((await target.get(target.wrong[0])).status).toBe(401);
    expect((await target.get(target.right)).status).toBe(429);
  }

  it('on the TAXII server: 429 as a TAXII error with Retry-After', async () => {
    const reader = net.taxiiReaders.fbi!;
    await throttles({
      get: (authorization, from) =>
        request(
          `${taxii.url}/api/collections/`,
          { accept: TAXII, ...(authorization ? { authorization } : {}) },
          from,
        ),
      right: basic(reader.username, reader.password),
      wrong: [
        undefined,
        basic(reader.username, `${reader.password}x`),
        'Bearer trt_fbi_guess',
        'Basic not-base64!',
      ],
      expectUnauthorized: async (res) => {
        expect(res.headers.get('content-type')).toBe(TAXII);
        expect(await res.json()).toMatchObject({ title: 'Unauthorized', http_status: '401' });
      },
      expectThrottled: async (res) => {
        expect(res.headers.get('content-type')).toBe(TAXII);
        expect(await res.json()).toMatchObject({ title: 'Too many requests', http_status: '429' });
      },
    });
  });

  it('on the console: 429 with Retry-After and TR_RATE_LIMITED', async () => {
    await throttles({
      get: (authorization, from) =>
        request(`${operatorConsole.url}/`, authorization ? { authorization } : {}, from),
      right: basic(OPERATOR.username, OPERATOR.password),
      wrong: [undefined, basic(OPERATOR.username, 'wrong'), basic('nobody', 'x'), 'Basic not-base64!'],
      expectUnauthorized: async (res) => {
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
        await res.arrayBuffer();
      },
      expectThrottled: async (res) => {
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TR_RATE_LIMITED');
      },
    });
  });
});
