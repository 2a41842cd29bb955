import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { WebhookBody } from '../contract/webhook-body';

/**
 * The demo webhook receiver: stands in for an agency's SIEM. It verifies
 * every request's Standard Webhooks signature with the subscription's secret
 * and hands each verified body to `onDelivery`; unsigned or forged requests
 * get 401 and are reported, never accepted.
 */

/** A `format: stix21` body: a STIX 2.1 bundle. */
export interface StixBundleBody {
  type: 'bundle';
  id: string;
  objects: Record<string, unknown>[];
}

export interface DemoDelivery {
  /** The path segment after /hooks/, by convention the subscription id. */
  subscription: string;
  webhookId: string;
  /** A `format: native` body, or a `format: stix21` bundle. */
  body: WebhookBody | StixBundleBody;
}

export function isStixBundle(body: DemoDelivery['body']): body is StixBundleBody {
  return !('events' in body);
}

export interface DemoReceiverOptions {
  port: number;
  host?: string;
  /** Standard Webhooks secret per subscription id (`whsec_…`). */
  secrets: Record<string, string>;
  onDelivery(delivery: DemoDelivery): void;
  onRejected?(subscription: string, reason: string): void;
}

export interface RunningReceiver {
  url: string;
  close(): Promise<void>;
}

export async function startDemoReceiver(options: DemoReceiverOptions): Promise<RunningReceiver> {
  const verifiers = new Map(Object.entries(options.secrets).map(([id, secret]) => [id, new Webhook(secret)]));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/hooks\/([^/?]+)/.exec(req.url ?? '');
      const subscription = match?.[1] ?? '';
      const verifier = verifiers.get(subscription);
      if (req.method !== 'POST' || !verifier) {
        res.writeHead(404).end();
        return;
      }
      const payload = Buffer.concat(chunks).toString('utf8');
      try {
        const body = verifier.verify(payload, {
          'webhook-id': String(req.headers['webhook-id'] ?? ''),
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        }) as DemoDelivery['body'];
        options.onDelivery({ subscription, webhookId: String(req.headers['webhook-id']), body });
        res.writeHead(204).end();
      } catch (err) {
        const reason = err instanceof WebhookVerificationError ? err.message : String(err);
        options.onRejected?.(subscription, reason);
        res.writeHead(401).end();
      }
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
