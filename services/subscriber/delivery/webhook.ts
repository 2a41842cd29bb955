import { createHash, createHmac } from 'node:crypto';
import { request } from 'undici';
import { isThreatRelayError, ThreatRelayError } from '../../contract/errors';
import { parseRetryAfter } from '../../platform/http';
import { guardFor, type SsrfGuard } from './ssrf-guard';

/**
 * One webhook POST per Standard Webhooks: `webhook-id` (stable across retries
 * of the same batch, so receivers can dedup), `webhook-timestamp`, and
 * `webhook-signature` with one `v1,` entry per configured secret (several
 * during rotation). The outcome is an error code that says what to do next:
 * retry, dead-letter, or disable the subscription. Redirects are never
 * followed (undici's `request` does not, and no redirect interceptor is
 * installed): a 3xx is a rejection, so a receiver cannot bounce us to an
 * address the SSRF guard would have refused.
 */

export interface WebhookTarget {
  url: string;
  secrets: string[];
  timeoutMs: number;
  /** Deliver to loopback/private/link-local addresses too (local dev, tests). */
  allowPrivateNetworks: boolean;
}

export interface DeliveryResult {
  status: number;
  webhookId: string;
}

/** Reads at most this much of a response body: receivers do not get to make us buffer megabytes. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export function webhookIdFor(subscriptionId: string, eventIds: readonly string[]): string {
  const digest = createHash('sha256')
    .update(subscriptionId)
    .update('\n')
    .update(eventIds.join('\n'))
    .digest('base64url');
  return `msg_${digest.slice(0, 32)}`;
}

/** Secret → HMAC key bytes (the base64 after `whsec_`), decoded once per secret. */
const HMAC_KEYS = new Map<string, Buffer>();

function hmacKey(secret: string): Buffer {
  let key = HMAC_KEYS.get(secret);
  if (!key) {
    key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
    HMAC_KEYS.set(secret, key);
  }
  return key;
}

/**
 * `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` per secret, as Standard
 * Webhooks specifies, with node:crypto's native HMAC (the `standardwebhooks`
 * package hashes in JavaScript, ~10× slower on a 60 KB body). The package's
 * own `verify` checks these in the tests.
 */
export function signatureHeader(
  secrets: readonly string[],
  webhookId: string,
  timestamp: Date,
  body: string,
): string {
  const signed = `${webhookId}.${Math.floor(timestamp.getTime() / 1000)}.`;
  return secrets
    .map(
      (secret) => `v1,${createHmac('sha256', hmacKey(secret)).update(signed).update(body).digest('base64')}`,
    )
    .join(' ');
}

const RETRYABLE_STATUSES = new Set([408, 425, 429]);

export async function postWebhook(
  target: WebhookTarget,
  webhookId: string,
  body: string,
  guard: SsrfGuard = guardFor(target.allowPrivateNetworks),
): Promise<DeliveryResult> {
  guard.assertUrlAllowed(target.url);
  const timestamp = new Date();
  let response;
  try {
    response = await request(target.url, {
      dispatcher: guard.dispatcher,
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ThreatRelay-Webhooks/1',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signatureHeader(target.secrets, webhookId, timestamp, body),
      },
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (cause) {
    // The guard refuses at connect time with its own non-retryable error.
    if (isThreatRelayError(cause)) throw cause;
    throw new ThreatRelayError(
      'TR_DELIVERY_RETRYABLE',
      `webhook request failed: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const { statusCode, headers } = response;
  let read = 0;
  try {
    for await (const chunk of response.body) {
      read += (chunk as Buffer).length;
      if (read > MAX_RESPONSE_BYTES) break;
    }
  } catch {
    // The status decides the outcome; a broken response body changes nothing.
  } finally {
    if (read > MAX_RESPONSE_BYTES) response.body.destroy();
  }
  if (statusCode >= 200 && statusCode < 300) return { status: statusCode, webhookId };
  const retryAfterSeconds = parseRetryAfter(headers['retry-after']);
  if (statusCode === 410) {
    throw new ThreatRelayError('TR_DELIVERY_GONE', `webhook endpoint answered 410 Gone`);
  }
  if (statusCode >= 500 || RETRYABLE_STATUSES.has(statusCode)) {
    throw new ThreatRelayError('TR_DELIVERY_RETRYABLE', `webhook endpoint answered ${statusCode}`, {
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }
  if (statusCode >= 300 && statusCode < 400) {
    const location = Array.isArray(headers.location) ? headers.location[0] : headers.location;
    throw new ThreatRelayError(
      'TR_DELIVERY_REJECTED',
      `webhook endpoint answered ${statusCode}${location ? ` to ${location}` : ''}; redirects are not followed`,
    );
  }
  throw new ThreatRelayError('TR_DELIVERY_REJECTED', `webhook endpoint answered ${statusCode}`);
}
