/** The OpenAPI document's parts for /v1/stix: the bundle it takes, and the receipts it answers. */

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/**
 * Only the envelope: the objects are STIX 2.1's, described by OASIS, not
 * here. A bundle of which no indicator maps is refused, so the document asks
 * for one to `maxBatchItems` indicator objects; whether a pattern maps is
 * said in prose (STIX_DESCRIPTION), JSON Schema cannot.
 */
const stixBundleSchema = {
  type: 'object',
  required: ['type', 'id', 'objects'],
  properties: {
    type: { const: 'bundle' },
    id: { type: 'string', pattern: `^bundle--${UUID}$` },
    objects: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type', 'id'],
        properties: { type: { type: 'string', minLength: 1 }, id: { type: 'string' } },
      },
      contains: { type: 'object', required: ['type'], properties: { type: { const: 'indicator' } } },
    },
  },
};

/** The bundle schema with the item limit: at most `maxItems` indicator objects. */
export function stixBundleSchemaFor(maxItems: number): Record<string, unknown> {
  const objects = stixBundleSchema.properties.objects;
  return {
    ...stixBundleSchema,
    properties: {
      ...stixBundleSchema.properties,
      objects: {
        ...objects,
        description: `At least one indicator object, at most ${maxItems}.`,
        minContains: 1,
        maxContains: maxItems,
      },
    },
  };
}

export const STIX_EXAMPLE = {
  type: 'bundle',
  id: 'bundle--6d1675c1-7671-47fd-9814-26123733ef91',
  objects: [
    {
      type: 'indicator',
      spec_version: '2.1',
      id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
      created: '2026-10-27T14:05:00.000Z',
      modified: '2026-10-27T14:05:00.000Z',
      pattern: "[domain-name:value = 'vote-by-text.com']",
      pattern_type: 'stix',
      valid_from: '2026-10-27T14:05:00.000Z',
      object_marking_refs: ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb'],
    },
  ],
};

const objectRef = (extra: Record<string, unknown>, required: string[]): Record<string, unknown> => ({
  type: 'object',
  required: ['index', 'id', ...required],
  properties: {
    index: { type: 'integer', description: "Position in the bundle's objects." },
    id: { type: ['string', 'null'] },
    ...extra,
  },
});

export const stixReceiptsSchema = {
  type: 'object',
  required: ['accepted', 'receipts', 'rejected', 'ignored'],
  properties: {
    accepted: { type: 'integer' },
    receipts: {
      type: 'array',
      items: {
        allOf: [{ $ref: '#/components/schemas/Receipts/properties/receipts/items' }, objectRef({}, [])],
      },
    },
    rejected: {
      type: 'array',
      description: 'One entry per problem: an object with two problems appears twice.',
      items: objectRef(
        {
          path: { type: 'string', description: 'objects.<index>.<property>' },
          code: { type: 'string', enum: ['TR_VALIDATION', 'TR_INVALID_VALUE'] },
          reason: { type: 'string' },
        },
        ['path', 'code', 'reason'],
      ),
    },
    ignored: {
      type: 'array',
      description: 'Objects that are not indicators (identities, markings, relationships, …).',
      items: objectRef({ type: { type: 'string' } }, ['type']),
    },
  },
};

export const STIX_DESCRIPTION = `Each indicator whose pattern is one equality comparison
(\`[domain-name:value = '…']\`, url, ipv4-addr, ipv6-addr, email-addr, file hashes
MD5/SHA-1/SHA-256/PDQ, autonomous-system:number, or user-account:account_login with
user-account:account_type) is published; TLP comes from object_marking_refs (TLP 2.0 or 1.0
marking-definition ids). Custom properties: x_threatrelay_recipients (for amber+strict and
red), x_threatrelay_platform, x_threatrelay_category, x_threatrelay_severity. Indicators that
do not map are listed in \`rejected\` with their reason, other objects in \`ignored\`; a bundle
of which no indicator maps is a 400 listing every reason.`;
