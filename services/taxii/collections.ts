import { uuidV5 } from '../contract/ids';
import { communityLevels, COMMUNITY_TLPS } from '../contract/names';
import type { OrgConfig } from '../platform/config/config';

/**
 * The collections of one org's TAXII server: one per community level the org
 * may read (up to its `maxTlp`), and its direct collection (TLP:AMBER+STRICT
 * and TLP:RED records naming it). A collection's id is derived from the
 * topic prefix, the org and the collection, so it is stable across restarts
 * and rebuilds and never the same on two orgs' servers.
 */

export const COLLECTION_NAMES = [...COMMUNITY_TLPS, 'direct'] as const;
export type CollectionName = (typeof COLLECTION_NAMES)[number];

export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1';

export interface Collection {
  name: CollectionName;
  id: string;
  title: string;
  description: string;
}

const NAMESPACE = Buffer.from('5d0c9a1e7b3f4c2a8e6d1f0b9a7c3e25', 'hex');

export function collectionsOf(org: OrgConfig, topicPrefix: string): Collection[] {
  const names: CollectionName[] = [...communityLevels(org), 'direct'];
  return names.map((name) => ({
    name,
    id: uuidV5(NAMESPACE, `${topicPrefix}\n${org.id}\n${name}`),
    title:
      name === 'direct'
        ? `Addressed to ${org.id} (TLP:AMBER+STRICT, TLP:RED)`
        : `Community TLP:${name.toUpperCase()}`,
    description:
      name === 'direct'
        ? `Indicators whose publishers named ${org.id} as a recipient.`
        : `Indicators every member entitled to TLP:${name.toUpperCase()} receives.`,
  }));
}

/** The collection resource of TAXII 2.1 §5.2.1: read-only, STIX 2.1. */
export function collectionResource(c: Collection): Record<string, unknown> {
  return {
    id: c.id,
    title: c.title,
    description: c.description,
    alias: c.name,
    can_read: true,
    can_write: false,
    media_types: [STIX_MEDIA_TYPE],
  };
}
