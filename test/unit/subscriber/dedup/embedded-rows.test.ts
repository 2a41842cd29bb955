import { randomUUID } from 'node:crypto';
import {
  batchTag,
  decodeBatch,
  decodeEvent,
  decodeKey,
  encodeBatch,
  encodeEvent,
  encodeKey,
  eventRowKey,
  keyExpiresAt,
  positionDigest,
} from '../../../../services/subscriber/dedup/embedded-rows';
import type { Report } from '../../../../services/subscriber/dedup/rules';

/** The embedded store's binary rows give back exactly what was written, at the limits of their fields. */
describe('embedded dedup rows', () => {
  const longest = `a${'b'.repeat(62)}`;
  const far = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
  const labels = {
    category: 8,
    severity: 3,
    confidence: 100,
    validUntil: far,
    description: 0xffffffff,
    tags: 1,
  };

  it('round-trips every decision, with and without a batch tag, to the millisecond', () => {
    const position = positionDigest('tr.community.green/2/123456789');
    for (const decision of [
      { kind: 'new' as const },
      { kind: 'republished' as const },
      { kind: 'revocation-unknown' as const },
      {
        kind: 'corroborated' as const,
        sources: ['facebook', longest],
        reports: [
          { org: 'facebook', tlp: 1, labels: null },
          { org: longest, tlp: 4, labels: { ...labels, validUntil: null } },
        ],
        escalates: true,
      },
      { kind: 'updated' as const, changed: ['severity' as const, 'tags' as const], previous: labels },
      { kind: 'revoked' as const, remainingSources: [] },
      { kind: 'revoked' as const, remainingSources: [longest] },
    ]) {
      for (const batch of [undefined, batchTag('msg_abc')]) {
        const row = { expiresAt: far, position, decision, ...(batch ? { batch } : {}) };
        const back = decodeEvent(encodeEvent(row));
        expect(back.expiresAt).toBe(far);
        expect(back.position.equals(position)).toBe(true);
        expect(back.decision).toEqual(decision);
        expect(back.batch?.equals(batch!)).toBe(batch ? true : undefined);
      }
    }
  });

  it('round-trips a key row and expires it with its latest source', () => {
    const sources = new Map<string, Report>([
      ['facebook', { expiresAt: 1_800_000_000_001, tlp: 0, labels }],
      ['twitter', { expiresAt: 1_800_000_000_001, tlp: 1, labels: { ...labels, validUntil: null } }],
      [longest, { expiresAt: far, tlp: 4 }],
      ['google', { expiresAt: 1_700_000_000_000, tlp: 3 }],
    ]);
    const row = encodeKey(sources);
    expect(decodeKey(row)).toEqual([...sources]);
    expect(keyExpiresAt(row)).toBe(far);
  });

  it('reads a key row written before reports kept their TLP, each source as red', () => {
    // The earlier layout, written out by hand: 6-byte expiresAt, the org id's length, the org id.
    const entry = (org: string, expiresAt: number): Buffer => {
      const head = Buffer.alloc(7);
      head.writeUIntBE(expiresAt, 0, 6);
      head[6] = org.length;
      return Buffer.concat([head, Buffer.from(org, 'latin1')]);
    };
    const row = Buffer.concat([entry('facebook', 1_800_000_000_001), entry(longest, far)]);
    expect(decodeKey(row)).toEqual([
      ['facebook', { expiresAt: 1_800_000_000_001, tlp: 4 }],
      [longest, { expiresAt: far, tlp: 4 }],
    ]);
    expect(keyExpiresAt(row)).toBe(far);
  });

  it('round-trips a batch row', () => {
    expect(decodeBatch(encodeBatch(far, 'msg_Zm9vYmFy-_', 100))).toEqual({
      webhookId: 'msg_Zm9vYmFy-_',
      size: 100,
    });
  });

  it('scopes event rows by org: the same eventId of two orgs is two rows', () => {
    const id = randomUUID();
    expect(eventRowKey('facebook', id).equals(eventRowKey('google', id))).toBe(false);
    expect(eventRowKey('facebook', id)).toHaveLength(16 + 'facebook'.length);
  });
});
