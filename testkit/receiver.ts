import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP webhook receiver for tests (and by hand:
 * `npx tsx testkit/receiver.ts 9000`). It records every request and
 * answers by route:
 *   /ok              200
 *   /fail            500
 *   /status/<code>   that status
 *   /slow/<ms>       200 after <ms>
 *   /retry-after/<s> 429 with Retry-After: <s>
 *   /gone            410
 *   /flaky/<n>       503 for the first <n> requests, then 200
 * `down()` makes every route answer 503 until `up()`. `hold()` keeps every
 * request unanswered until `release(status)` answers them all with `status`.
 */

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
  /** Whether one `v1,` signature matched a secret given to the receiver (undefined: no secrets given). */
  verified: boolean | undefined;
}

/**
 * Standard Webhooks verification written from the specification with
 * node:crypto, independent of the `standardwebhooks` library the subscriber
 * signs with: HMAC-SHA256 over `id.timestamp.body` with the base64 secret
 * after `whsec_`, compared against every space-separated `v1,` signature.
 */
export function verifyStandardWebhook(
  secrets: string[],
  headers: IncomingHttpHeaders,
  body: string,
): boolean {
  const id = String(headers['webhook-id'] ?? '');
  const timestamp = String(headers['webhook-timestamp'] ?? '');
  const signatures = String(headers['webhook-signature'] ?? '').split(' ');
  if (!id || !/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  return secrets.some((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
    return signatures.some((sig) => {
      const [version, value] = sig.split(',');
      const got = Buffer.from(value ?? '', 'base64');
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
  });
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Parsed JSON bodies of the requests answered 2xx. */
  accepted(): unknown[];
  down(): void;
  up(): void;
  /** Every route answers `status` (with `headers`, e.g. Retry-After) until called again with undefined. */
  answerAll(status: number | undefined, headers?: Record<string, string>): void;
  /** Requests from now on are received but not answered, until `release`. */
  hold(): void;
  /** Answers every held request with `status`; requests after it are answered by route again. */
  release(status: number): void;
  /** Requests received in full and not answered yet (e.g. held by `/slow/<ms>`). */
  inFlight(): number;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Keep every request in `requests` (default true); a long run turns it off and uses `onRequest`. */
  keepRequests?: boolean;
  /** Called with every request as it is answered. */
  onRequest?: (request: ReceivedRequest) => void;
}

export async function startReceiver(
  port = 0,
  secrets: string[] = [],
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const keep = options.keepRequests ?? true;
  let isDown = false;
  let forced: { status: number; headers: Record<string, string> } | undefined;
  let flakyCount = 0;
  let held = 0;
  let holding = false;
  const heldAnswers: ((status: number) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      held += 1;
      const answer = (status: number, headers: Record<string, string> = {}): void => {
        held -= 1;
        const verified = secrets.length > 0 ? verifyStandardWebhook(secrets, req.headers, body) : undefined;
        const received = { path, headers: req.headers, body, status, at: Date.now(), verified };
        if (keep) requests.push(received);
        options.onRequest?.(received);
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ status }));
      };
      if (holding) {
        heldAnswers.push((status) => answer(status));
        return;
      }
      if (isDown) return answer(503);
      if (forced !== undefined) return answer(forced.status, forced.headers);
      const [, route, arg] = path.split('/');
      switch (route) {
        case 'ok':
          return answer(200);
        case 'fail':
          return answer(500);
        case 'status':
          return answer(Number(arg));
        case 'slow':
          setTimeout(() => answer(200), Number(arg));
          return;
        case 'retry-after':
          return answer(429, { 'retry-after': String(arg) });
        case 'gone':
          return answer(410);
        case 'flaky':
          flakyCount += 1;
          return answer(flakyCount <= Number(arg) ? 503 : 200);
        default:
          return answer(404);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body)),
    down: () => {
      isDown = true;
    },
    up: () => {
      isDown = false;
    },
    answerAll: (status, headers = {}) => {
      forced = status === undefined ? undefined : { status, headers };
    },
    hold: () => {
      holding = true;
    },
    release: (status) => {
      holding = false;
      for (const answerHeld of heldAnswers.splice(0)) answerHeld(status);
    },
    inFlight: () => held,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  void startReceiver(Number(process.argv[2] ?? 9000)).then((r) => {
    console.log(`receiver listening on ${r.url}`);
    setInterval(() => {
      const last = r.requests.shift();
      if (last) console.log(last.status, last.path, last.headers['webhook-id'], last.body);
    }, 200);
  });
}
