import { NAMED_RECIPIENT_TLPS, type Tlp } from './model';

/**
 * Topic names of the bus. Community topics carry the TLP levels shared with
 * everyone entitled to the level; records with named recipients go to each
 * recipient's direct topic, never to a community topic.
 */
export interface TopicNames {
  community(tlp: 'clear' | 'green' | 'amber'): string;
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
  const community = (tlp: 'clear' | 'green' | 'amber'): string => `${prefix}.community.${tlp}`;
  const direct = (org: string): string => `${prefix}.direct.${org}`;
  return {
    community,
    direct,
    dlq: (subscriptionId) => `${prefix}.dlq.${subscriptionId}`,
    control: (org) => `${prefix}.control.${org}`,
    route(tlp, recipients) {
      if (NAMED_RECIPIENT_TLPS.includes(tlp)) return [...new Set(recipients)].map(direct);
      return [community(tlp as 'clear' | 'green' | 'amber')];
    },
  };
}
