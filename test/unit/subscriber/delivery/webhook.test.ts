import { Webhook } from 'standardwebhooks';
import { signatureHeader, webhookIdFor } from '../../../../services/subscriber/delivery/webhook';

/** The signature is made with node:crypto; the standardwebhooks library, an independent implementation, signs the same. */
function expectedSignature(secret: string, id: string, ts: number, body: string): string {
  return new Webhook(secret).sign(id, new Date(ts * 1000), body);
}

describe('Standard Webhooks signing', () => {
  const secretA = `whsec_${Buffer.from('first secret of 32 bytes........').toString('base64')}`;
  const secretB = `whsec_${Buffer.from('rotated secret of 32 bytes......').toString('base64')}`;
  const at = new Date('2026-11-03T12:00:00Z');

  it('signs id.timestamp.body with HMAC-SHA256 of the secret', () => {
    const header = signatureHeader([secretA], 'msg_1', at, '{"a":1}');
    expect(header).toBe(expectedSignature(secretA, 'msg_1', at.getTime() / 1000, '{"a":1}'));
  });

  it('carries one signature per secret during rotation', () => {
    const header = signatureHeader([secretA, secretB], 'msg_1', at, 'x');
    expect(header.split(' ')).toEqual([
      expectedSignature(secretA, 'msg_1', at.getTime() / 1000, 'x'),
      expectedSignature(secretB, 'msg_1', at.getTime() / 1000, 'x'),
    ]);
  });

  it('verifies with the standardwebhooks library, and fails it for another body or secret', () => {
    const now = new Date();
    const header = signatureHeader([secretA], 'msg_2', now, '{"b":2}');
    const headers = (signature: string) => ({
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    });
    expect(new Webhook(secretA).verify('{"b":2}', headers(header))).toEqual({ b: 2 });
    expect(() => new Webhook(secretA).verify('{"b":3}', headers(header))).toThrow();
    expect(() => new Webhook(secretB).verify('{"b":2}', headers(header))).toThrow();
  });

  it('derives a stable webhook-id from the subscription and the events', () => {
    expect(webhookIdFor('s', ['a', 'b'])).toBe(webhookIdFor('s', ['a', 'b']));
    expect(webhookIdFor('s', ['a', 'b'])).not.toBe(webhookIdFor('s', ['a', 'c']));
    expect(webhookIdFor('s', ['a'])).not.toBe(webhookIdFor('t', ['a']));
  });
});
