import { createHash } from 'node:crypto';

/** RFC 4122 name-based UUID, version 5 (SHA-1 of namespace and name). */
export function uuidV5(namespace: Buffer, name: string): string {
  const b = Buffer.from(createHash('sha1').update(namespace).update(name).digest().subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
