import { NAMED_RECIPIENT_TLPS, type Tlp } from './model';

/** The TLP levels with a community topic, least restrictive first. */
export const COMMUNITY_TLPS = ['clear', 'green', 'amber'] as const;
export type CommunityTlp = (typeof COMMUNITY_TLPS)[number];

/**
 * The community levels an org reads: up to its `maxTlp`. The subscriber
 * consumes exactly these topics and the ACL model grants exactly these.
 */
export function communityLevels(org: { maxTlp: CommunityTlp }): CommunityTlp[] {
  return COMMUNITY_TLPS.slice(0, COMMUNITY_TLPS.indexOf(org.maxTlp) + 1);
}

/**
 * Topic names of the bus. Community topics carry the TLP levels shared with
 * everyone entitled to the level; records with named recipients go to each
 * recipient's direct topic, never to a community topic.
 */
export interface TopicNames {
  community(tlp: CommunityTlp): string;
  direct(org: string): string;
  dlq(subscriptionId: string): string;
  /**
   * Compacted, one per org: the switches of the org's subscriptions (disabled after a 410, re-enabled
   * by the operator), keyed by subscription. Per org, so the broker lets a subscriber touch only its own.
   */
  control(org: string): string;
  /** Every topic a record of this TLP (and recipients) is written to. */
  route(tlp: Tlp, recipients: readonly string[]): string[];
}

export function topicNames(prefix: string): TopicNames {
  const community = (tlp: CommunityTlp): string => `${prefix}.community.${tlp}`;
  const direct = (org: string): string => `${prefix}.direct.${org}`;
  return {
    community,
    direct,
    dlq: (subscriptionId) => `${prefix}.dlq.${subscriptionId}`,
    control: (org) => `${prefix}.control.${org}`,
    route(tlp, recipients) {
      if (NAMED_RECIPIENT_TLPS.includes(tlp)) return [...new Set(recipients)].map(direct);
      return [community(tlp as CommunityTlp)];
    },
  };
}
