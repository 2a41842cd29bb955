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
 * Names on the brokers, all under one prefix, so two networks can share a
 * cluster. Community topics carry the TLP levels shared with everyone
 * entitled to the level; records with named recipients go to each
 * recipient's direct topic, never to a community topic. The ACL model grants
 * exactly these names, so services and provision cannot drift apart.
 */
export interface KafkaNames {
  community(tlp: CommunityTlp): string;
  direct(org: string): string;
  dlq(subscriptionId: string): string;
  /**
   * Compacted, one per org: the switches of the org's subscriptions (disabled after a 410, re-enabled
   * by the operator), keyed by subscription. Per org, so the broker lets a subscriber touch only its own.
   */
  control(org: string): string;
  /**
   * The topics an org reads: the community levels it is entitled to, and its own direct topic. Its
   * subscriptions, its TAXII feed and the console's view of both read exactly these.
   */
  readBy(org: { id: string; maxTlp: CommunityTlp }): string[];
  /** Every topic a record of this TLP (and recipients) is written to. */
  route(tlp: Tlp, recipients: readonly string[]): string[];
  /** The consumer group of a subscription. */
  subscriptionGroup(subscriptionId: string): string;
  /** The consumer group of `org`'s TAXII server: it reads what the org is entitled to into its store. */
  taxiiGroup(org: string): string;
  /** The prefix of the per-process groups a subscriber of `org` reads its control topic with. */
  controlGroupPrefix(org: string): string;
  /**
   * The prefix of the operator console's per-process groups (control, events): it reads as the
   * operator, commits nothing it depends on, and every console instance reads everything itself.
   */
  consoleGroupPrefix(): string;
  /** The transactional ids a producer of `org` uses: `<prefix>.producer.<org>.<instance>.<slot>`. */
  transactionalIdPrefix(org: string): string;
  /**
   * The transactional ids a subscriber of `org` writes dead letters with (together with its source
   * offsets): `<prefix>.subscriber.<org>.<subscription>.<instance>`.
   */
  subscriberTransactionalIdPrefix(org: string): string;
}

export function kafkaNames(prefix: string): KafkaNames {
  const community = (tlp: CommunityTlp): string => `${prefix}.community.${tlp}`;
  const direct = (org: string): string => `${prefix}.direct.${org}`;
  return {
    community,
    direct,
    dlq: (subscriptionId) => `${prefix}.dlq.${subscriptionId}`,
    control: (org) => `${prefix}.control.${org}`,
    readBy: (org) => [...communityLevels(org).map(community), direct(org.id)],
    route(tlp, recipients) {
      if (NAMED_RECIPIENT_TLPS.includes(tlp)) return [...new Set(recipients)].map(direct);
      return [community(tlp as CommunityTlp)];
    },
    subscriptionGroup: (subscriptionId) => `${prefix}.sub.${subscriptionId}`,
    taxiiGroup: (org) => `${prefix}.taxii.${org}`,
    controlGroupPrefix: (org) => `${prefix}.control.${org}.`,
    consoleGroupPrefix: () => `${prefix}.console.`,
    transactionalIdPrefix: (org) => `${prefix}.producer.${org}.`,
    subscriberTransactionalIdPrefix: (org) => `${prefix}.subscriber.${org}.`,
  };
}
