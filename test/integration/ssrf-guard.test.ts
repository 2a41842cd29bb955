import diagnostics from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { request } from 'undici';
import { isThreatRelayError } from '../../services/contract/errors';
import { postWebhook, type WebhookTarget } from '../../services/subscriber/delivery/webhook';
import {
  closeSharedGuards,
  createSsrfGuard,
  guardFor,
  type SsrfGuard,
} from '../../services/subscriber/delivery/ssrf-guard';

/**
 * The SSRF guard against a real HTTP receiver on 127.0.0.1. Only loopback is
 * ever dialled: other addresses appear only as injected DNS answers or as IP
 * literals the guard refuses before a socket exists, which the diagnostics
 * channels below prove.
 */

interface Receiver {
  url: string;
  /** TCP connections accepted: zero means nothing reached the server at all. */
  connections: number;
  paths: string[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const state = { connections: 0, paths: [] as string[] };
  const server: Server = createServer((req, res) => {
    state.paths.push(req.url ?? '/');
    req.resume();
    req.on('end', () => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/ok' }).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    paths: state.paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every dial undici starts and every client socket Node creates, whatever the host. */
function watchDials(): { hosts: string[]; sockets: number; stop(): void } {
  const seen = { hosts: [] as string[], sockets: 0 };
  const onConnect = (message: unknown): void => {
    seen.hosts.push((message as { connectParams: { hostname: string } }).connectParams.hostname);
  };
  const onSocket = (): void => {
    seen.sockets += 1;
  };
  diagnostics.subscribe('undici:client:beforeConnect', onConnect);
  diagnostics.subscribe('net.client.socket', onSocket);
  return {
    hosts: seen.hosts,
    get sockets() {
      return seen.sockets;
    },
    stop: () => {
      diagnostics.unsubscribe('undici:client:beforeConnect', onConnect);
      diagnostics.unsubscribe('net.client.socket', onSocket);
    },
  };
}

const SECRET = `whsec_${Buffer.from('ssrf guard test secret 32 bytes.').toString('base64')}`;

function target(url: string, allowPrivateNetworks: boolean): WebhookTarget {
  return { url, secrets: [SECRET], timeoutMs: 5000, allowPrivateNetworks };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code: string; canRetry: boolean }> {
  const err: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isThreatRelayError(err)) throw err;
  return err;
}

describe('SSRF guard at dial time', () => {
  let receiver: Receiver;
  let dials: ReturnType<typeof watchDials>;
  const guards: SsrfGuard[] = [];

  function guardWith(lookup: LookupFunction, allowPrivateNetworks = false): SsrfGuard {
    const guard = createSsrfGuard({ allowPrivateNetworks, lookup });
    guards.push(guard);
    return guard;
  }

  beforeEach(async () => {
    receiver = await startReceiver();
    dials = watchDials();
  });

  afterEach(async () => {
    dials.stop();
    await Promise.all(guards.splice(0).map((g) => g.close()));
    await receiver.close();
  });

  afterAll(async () => {
    await closeSharedGuards();
  });

  it('refuses a loopback target and the receiver sees no connection', async () => {
    const err = await rejection(postWebhook(target(`${receiver.url}/ok`, false), 'msg_1', '{}'));
    expect(err.code).toBe('TR_DELIVERY_REJECTED');
    expect(err.canRetry).toBe(false);
    expect(err.message).toBe(
      'webhook target 127.0.0.1 resolves to 127.0.0.1 (private network: loopback, 127.0.0.0/8); ' +
        'set allowPrivateNetworks to allow it',
    );
    expect(receiver.connections).toBe(0);
    expect(dials.sockets).toBe(0);
  });

  it('delivers to the same target when the subscription allows private networks', async () => {
    await expect(postWebhook(target(`${receiver.url}/ok`, true), 'msg_2', '{}')).resolves.toEqual({
      status: 200,
      webhookId: 'msg_2',
    });
    expect(receiver.paths).toEqual(['/ok']);
  });

  it('reuses the connection of the cached per-setting Agent', async () => {
    expect(guardFor(true)).toBe(guardFor(true));
    expect(guardFor(true)).not.toBe(guardFor(false));
    await postWebhook(target(`${receiver.url}/ok`, true), 'msg_3', '{}');
    // undici hands the socket back to the pool a tick after the body ends; without this the
    // second request finds it busy and opens another connection.
    await new Promise((resolve) => setImmediate(resolve));
    await postWebhook(target(`${receiver.url}/ok`, true), 'msg_4', '{}');
    expect(receiver.paths).toEqual(['/ok', '/ok']);
    expect(receiver.connections).toBe(1);
  });

  it('refuses the metadata address before any socket or DNS query exists', async () => {
    const lookup = jest.fn<void, Parameters<LookupFunction>>();
    const guard = guardWith(lookup);
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://[::ffff:169.254.169.254]/latest/meta-data',
      'http://[fd00:ec2::254]/latest/meta-data',
    ]) {
      const err = await rejection(postWebhook(target(url, false), 'msg_5', '{}', guard));
      expect(err.code).toBe('TR_DELIVERY_REJECTED');
      expect(err.message).toContain('(private network: cloud metadata service');
    }
    expect(lookup).not.toHaveBeenCalled();
    expect(dials.hosts).toEqual([]);
    expect(dials.sockets).toBe(0);
  });

  it('refuses decimal and IPv6 loopback literals', async () => {
    const port = new URL(receiver.url).port;
    for (const url of [`http://2130706433:${port}/ok`, `http://[::1]:${port}/ok`]) {
      const err = await rejection(postWebhook(target(url, false), 'msg_6', '{}'));
      expect(err.code).toBe('TR_DELIVERY_REJECTED');
    }
    expect(dials.sockets).toBe(0);
    expect(receiver.connections).toBe(0);
  });

  it('refuses an IP literal in the connector even when the URL check is skipped', async () => {
    const guard = guardWith(jest.fn());
    for (const url of [`${receiver.url}/ok`, `http://[::ffff:127.0.0.1]:${new URL(receiver.url).port}/ok`]) {
      const err = await rejection(request(url, { dispatcher: guard.dispatcher }));
      expect(err.code).toBe('TR_DELIVERY_REJECTED');
    }
    expect(dials.hosts).toEqual(['127.0.0.1', '::ffff:7f00:1']);
    expect(dials.sockets).toBe(0);
    expect(receiver.connections).toBe(0);
  });

  it('refuses a host name that resolves to loopback in the lookup hook', async () => {
    const url = `http://localhost:${new URL(receiver.url).port}/ok`;
    const err = await rejection(postWebhook(target(url, false), 'msg_7', '{}'));
    expect(err.code).toBe('TR_DELIVERY_REJECTED');
    expect(err.message).toMatch(
      /^webhook target localhost resolves to (127\.0\.0\.1|::1) \(private network: loopback/,
    );
    // The dial began (so the refusal came from DNS at connect time), yet nothing arrived.
    expect(dials.hosts).toEqual(['localhost']);
    expect(receiver.connections).toBe(0);
  });

  it('refuses at dial time when DNS rebinds to loopback after a public answer', async () => {
    const answers = ['93.184.215.14', '127.0.0.1'];
    const lookup = jest.fn<void, Parameters<LookupFunction>>((_hostname, options, callback) => {
      const address = answers[Math.min(lookup.mock.calls.length - 1, answers.length - 1)]!;
      if (options.all) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    });
    const guard = guardWith(lookup);
    const url = `http://rebind.example:${new URL(receiver.url).port}/ok`;

    await expect(guard.check(url)).resolves.toBeUndefined();
    const err = await rejection(postWebhook(target(url, false), 'msg_8', '{}', guard));

    expect(err.code).toBe('TR_DELIVERY_REJECTED');
    expect(err.message).toContain('webhook target rebind.example resolves to 127.0.0.1');
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(dials.hosts).toEqual(['rebind.example']);
    expect(receiver.connections).toBe(0);
  });

  it('does not follow a redirect: a 3xx is a rejection', async () => {
    const err = await rejection(postWebhook(target(`${receiver.url}/redirect`, true), 'msg_9', '{}'));
    expect(err.code).toBe('TR_DELIVERY_REJECTED');
    expect(err.canRetry).toBe(false);
    expect(err.message).toBe('webhook endpoint answered 302 to /ok; redirects are not followed');
    expect(receiver.paths).toEqual(['/redirect']);
  });
});
