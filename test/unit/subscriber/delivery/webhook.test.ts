import { createHmac } from 'node:crypto';
import { signatureHeader, webhookIdFor } from '../../../../services/subscriber/delivery/webhook';

/** The signature is recomputed here with node:crypto, independently of the standardwebhooks library. */
function expectedSignature(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
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

  it('derives a stable webhook-id from the subscription and the events', () => {
    expect(webhookIdFor('s', ['a', 'b'])).toBe(webhookIdFor('s', ['a', 'b']));
    expect(webhookIdFor('s', ['a', 'b'])).not.toBe(webhookIdFor('s', ['a', 'c']));
    expect(webhookIdFor('s', ['a'])).not.toBe(webhookIdFor('t', ['a']));
  });
});
