import { createHash } from 'node:crypto';
import { PLATFORM_TYPES, type IndicatorType, type Platform } from './model';

/**
 * An indicator's identity, and so its key: `type:canonicalValue`, and from
 * canonicalization version 2 on, `type:platform:canonicalValue` for the types
 * whose value only means something on one platform (an account handle, a
 * hashtag): `badactor2020` on twitter and on facebook are two indicators.
 * Readers check each record's key with the rule of the record's own version.
 */
export function identityKey(
  version: number,
  type: IndicatorType,
  platform: Platform | null,
  canonicalValue: string,
): string {
  const name =
    version >= 2 && PLATFORM_TYPES.includes(type)
      ? `${type}:${platform}:${canonicalValue}`
      : `${type}:${canonicalValue}`;
  return createHash('sha256').update(name).digest('hex');
}
