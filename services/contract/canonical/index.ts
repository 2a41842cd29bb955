import type { IndicatorType, Platform } from '../model';
import { refangValue } from './defang';
import { canonicalPhone, canonicalHashtag, canonicalSocialAccount } from './handles';
import { canonicalTmk, hexDigest } from './hashes';
import { codePoint, invalid, type Canonicalizer } from './invalid';
import { canonicalAsn, canonicalCidr, canonicalIpv4, canonicalIpv6 } from './network';
import { canonicalDomain, canonicalEmail, canonicalUrl } from './web';

/**
 * Canonicalization: the one place where an indicator value becomes the form
 * that is hashed into its key, so that every org's spelling of the same
 * indicator lands on the same key. Anything that is not clearly valid for its
 * type is rejected with the reason instead of being repaired by guesswork: a
 * wrong canonical form would silently merge or split indicators across orgs.
 *
 * Changing any output here changes keys: bump CANONICALIZATION_VERSION, and
 * keep the older version's key rule in identity.ts, since readers check each
 * record by the rules of its own version. Version 2: the key of an account or
 * a hashtag includes its platform, and a URL is refanged in its scheme and
 * host only (a v1-canonical value is still canonical under v2: v2 changes
 * less).
 */

export { refang } from './defang';

export const CANONICALIZATION_VERSION = 2;

const CANONICALIZERS: Record<IndicatorType, Canonicalizer> = {
  ipv4: canonicalIpv4,
  ipv6: canonicalIpv6,
  cidr: canonicalCidr,
  domain: canonicalDomain,
  url: canonicalUrl,
  email: canonicalEmail,
  md5: hexDigest('an MD5 hash', 32),
  sha1: hexDigest('a SHA-1 hash', 40),
  sha256: hexDigest('a SHA-256 hash', 64),
  pdq: hexDigest('a PDQ hash (256 bits)', 64),
  tmk: canonicalTmk,
  social_account: canonicalSocialAccount,
  hashtag: canonicalHashtag,
  asn: canonicalAsn,
  phone: canonicalPhone,
};

export function canonicalize(type: IndicatorType, value: string, platform?: Platform | null): string {
  let text = value.trim();
  if (text === '') invalid('the value is empty');
  if (/\p{Cs}/u.test(text)) invalid('the value is not well-formed Unicode (it has a lone surrogate)');
  const control = /\p{Cc}/u.exec(text);
  if (control) invalid(`the value contains the control character U+${codePoint(control[0])}`);
  // URL paths and queries are sent as the exact bytes written, so composing
  // characters there would change which resource is named.
  if (type !== 'url') text = text.normalize('NFC');
  return CANONICALIZERS[type](refangValue(type, text), platform ?? null);
}
