import { orgById, type Config } from '../platform/config/config';
import { COMMUNITY_TLPS, kafkaNames } from '../contract/names';

/**
 * Who may do what on the brokers: the ACLs `threatrelay provision` keeps for
 * every user in `kafka.users`. Only ALLOW bindings; with the standard
 * authorizer and `allow.everyone.if.no.acl.found=false` everything else is
 * refused by the broker itself.
 *
 * - a producer principal writes the community topics and every direct topic
 *   (named recipients of any org), with transactional ids under its org's
 *   own prefix only;
 * - a subscriber principal reads the community topics up to its org's
 *   `maxTlp` and its org's direct topic, writes the DLQs of its org's
 *   subscriptions (reading them back is the operator's: `threatrelay dlq`),
 *   with transactional ids under its org's own subscriber prefix (dead
 *   letters are written in one transaction with the source offsets, see
 *   dlq/write.ts), and joins only its subscriptions' consumer groups and its own
 *   control-listener groups. It reads and writes its org's control topic,
 *   where a 410 from its webhook disables its subscription;
 * - a TAXII principal (the org's TAXII server) reads the same topics as the
 *   org's subscriber and joins the org's TAXII group only: it writes nothing,
 *   and no subscription's group, DLQ or switch is its;
 * - a console principal reads what the operator console shows (`consoleGrants`).
 */

export type AclResourceType = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID';
export type AclOperation = 'READ' | 'WRITE' | 'DESCRIBE';
export type AclPatternType = 'LITERAL' | 'PREFIXED';

export interface AclBinding {
  principal: string;
  resourceType: AclResourceType;
  resourceName: string;
  patternType: AclPatternType;
  operation: AclOperation;
}

export function principalOf(username: string): string {
  return `User:${username}`;
}

/** Every ACL binding the config implies, in a stable order. */
export function aclsOf(config: Config): AclBinding[] {
  const topics = kafkaNames(config.kafka.topicPrefix);
  const out: AclBinding[] = [];
  for (const user of config.kafka.users) {
    const principal = principalOf(user.username);
    const add = (
      resourceType: AclResourceType,
      resourceName: string,
      operation: AclOperation,
      patternType: AclPatternType = 'LITERAL',
    ): void => {
      out.push({ principal, resourceType, resourceName, patternType, operation });
    };
    if (user.role === 'producer') {
      for (const tlp of COMMUNITY_TLPS) add('TOPIC', topics.community(tlp), 'WRITE');
      add('TOPIC', topics.direct(''), 'WRITE', 'PREFIXED');
      add('TRANSACTIONAL_ID', topics.transactionalIdPrefix(user.org), 'WRITE', 'PREFIXED');
      continue;
    }
    if (user.role === 'console') {
      consoleGrants(topics, add);
      continue;
    }
    const org = orgById(config, user.org)!;
    for (const topic of topics.readBy(org)) add('TOPIC', topic, 'READ');
    if (user.role === 'taxii') {
      add('GROUP', topics.taxiiGroup(org.id), 'READ');
      continue;
    }
    add('TRANSACTIONAL_ID', topics.subscriberTransactionalIdPrefix(org.id), 'WRITE', 'PREFIXED');
    for (const s of config.subscriptions.filter((sub) => sub.org === org.id)) {
      add('TOPIC', topics.dlq(s.id), 'WRITE');
      add('GROUP', topics.subscriptionGroup(s.id), 'READ');
    }
    add('TOPIC', topics.control(org.id), 'READ');
    add('TOPIC', topics.control(org.id), 'WRITE');
    add('GROUP', topics.controlGroupPrefix(org.id), 'READ', 'PREFIXED');
  }
  return out;
}

/**
 * The operator console reads what it shows and nothing else: every community
 * and direct topic (recent events: type, source, TLP, never a value), the
 * DLQs (dead letters by code) and control topics (which subscription is
 * switched off), the subscriptions' groups described but never joined (lag),
 * and its own per-process groups. It writes nothing and holds no
 * transactional id: it cannot publish, dead-letter, switch or commit for
 * anyone.
 */
function consoleGrants(
  topics: ReturnType<typeof kafkaNames>,
  add: (type: AclResourceType, name: string, op: AclOperation, pattern?: AclPatternType) => void,
): void {
  for (const tlp of COMMUNITY_TLPS) add('TOPIC', topics.community(tlp), 'READ');
  add('TOPIC', topics.direct(''), 'READ', 'PREFIXED');
  add('TOPIC', topics.dlq(''), 'READ', 'PREFIXED');
  add('TOPIC', topics.control(''), 'READ', 'PREFIXED');
  add('GROUP', topics.subscriptionGroup(''), 'DESCRIBE', 'PREFIXED');
  add('GROUP', topics.consoleGroupPrefix(), 'READ', 'PREFIXED');
}

/** One line per binding, for reports and set comparison. */
export function aclKey(b: AclBinding): string {
  return `${b.principal} ${b.operation} ${b.resourceType}:${b.patternType === 'PREFIXED' ? `${b.resourceName}*` : b.resourceName}`;
}
