import { createHash, timingSafeEqual } from 'node:crypto';
import { parseBasic } from '../platform/basic-auth';
import type { TaxiiReaderConfig } from '../platform/config/config';

/**
 * Reader credentials: HTTP Basic (`name:secret`) or Bearer (`secret`),
 * checked against the SHA-256 the config holds, as API keys are. The secret
 * alone identifies a reader; with Basic the name must be that reader's too.
 * Returns the reader, or undefined for anything else.
 */
export function authenticate(
  readers: readonly TaxiiReaderConfig[],
  authorization: string | undefined,
): TaxiiReaderConfig | undefined {
  if (!authorization) return undefined;
  const [scheme = '', credentials = ''] = authorization.trim().split(/\s+/, 2);
  let name: string | undefined;
  let secret: string;
  if (scheme.toLowerCase() === 'bearer') secret = credentials;
  else if (scheme.toLowerCase() === 'basic') {
    const basic = parseBasic(authorization);
    if (!basic) return undefined;
    name = basic.username;
    secret = basic.password;
  } else return undefined;
  if (secret === '') return undefined;
  const hash = createHash('sha256').update(secret).digest();
  // Every reader is compared, in constant time each, whatever matched first.
  let found: TaxiiReaderConfig | undefined;
  for (const r of readers) {
    if (timingSafeEqual(hash, Buffer.from(r.sha256, 'hex')) && (name === undefined || name === r.name))
      found = r;
  }
  return found;
}
