import { NAMED_RECIPIENT_TLPS, TLP_LEVELS, type Tlp } from './model';
import type { CommunityTlp } from './names';

/** What entitlement needs to know of the reading org (an `OrgConfig` is one). */
export interface Reader {
  id: string;
  maxTlp: CommunityTlp;
}

/**
 * Defense in depth behind the broker's ACLs: even a record that reached this
 * subscriber's topics is delivered only if the org is entitled to its TLP,
 * and, for amber+strict and red, only if the org is a named recipient.
 * Returns the reason a record is refused, or undefined when it is entitled.
 */
export function entitlementProblem(org: Reader, tlp: Tlp, recipients: readonly string[]): string | undefined {
  // The decoder refuses unknown levels already; here too, an unknown level is never entitled.
  if (!TLP_LEVELS.includes(tlp)) return `tlp ${JSON.stringify(tlp)} is not a TLP 2.0 level`;
  if (NAMED_RECIPIENT_TLPS.includes(tlp)) {
    return recipients.includes(org.id)
      ? undefined
      : `${org.id} is not a named recipient of this tlp ${tlp} record`;
  }
  if (TLP_LEVELS.indexOf(tlp) > TLP_LEVELS.indexOf(org.maxTlp)) {
    return `${org.id} is entitled to community records up to tlp ${org.maxTlp}, not ${tlp}`;
  }
  return undefined;
}
