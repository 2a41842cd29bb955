import { ATTRIBUTE_TYPES } from '../../misp/table';
import { MISP_QUERY } from './misp';

/**
 * The OpenAPI parts of POST /v1/misp/events. The body is MISP's own event
 * format, described by MISP (misp-rfc), not here: the document names the
 * fields the importer reads, with the spellings it takes, and lets every
 * other field through, as the importer does.
 */

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Up to 2^53 - 1 as a number, up to 15 digits as a string: what reads as an exact integer. */
const looseInteger = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    { type: 'string', pattern: '^[0-9]{1,15}$' },
  ],
};
const looseBoolean = { anyOf: [{ type: 'boolean' }, { enum: [0, 1, '0', '1'] }, { type: 'null' }] };
const tags = {
  type: 'array',
  items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
};
const dateTime = { type: 'string', format: 'date-time' };

const attributeSchema = {
  type: 'object',
  required: ['uuid', 'type', 'value'],
  properties: {
    uuid: { type: 'string', pattern: UUID },
    type: { type: 'string', minLength: 1 },
    value: { anyOf: [{ type: 'string' }, { type: 'number' }] },
    category: { type: 'string' },
    to_ids: looseBoolean,
    timestamp: looseInteger,
    first_seen: dateTime,
    last_seen: dateTime,
    comment: { type: 'string' },
    object_relation: { type: 'string' },
    Tag: tags,
  },
};

const eventSchema = {
  type: 'object',
  required: ['Attribute'],
  properties: {
    uuid: { type: 'string' },
    info: { type: 'string' },
    threat_level_id: looseInteger,
    timestamp: looseInteger,
    Tag: tags,
    Attribute: { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/MispAttribute' } },
    Object: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          Attribute: { type: 'array', items: { $ref: '#/components/schemas/MispAttribute' } },
        },
      },
    },
  },
};

const EXAMPLE = {
  Event: {
    uuid: '5d2e1a3c-8f4b-4c7d-9e0f-1a2b3c4d5e6f',
    info: 'Lookalike county results sites',
    threat_level_id: '2',
    Tag: [{ name: 'tlp:green' }],
    Attribute: [
      {
        uuid: '8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
        type: 'domain',
        category: 'Network activity',
        value: 'countyelections-results.example.net',
        to_ids: true,
        timestamp: '1793023200',
      },
    ],
  },
};

export const MISP_DESCRIPTION = `One MISP event as MISP or PyMISP writes it ({"Event": {...}}). Attributes
and the attributes of objects map by the table in docs/misp.md (${Object.keys(ATTRIBUTE_TYPES).join(', ')},
and accounts and hashtags of social-media objects). TLP comes from the event's and the attribute's
tlp: tags (the most restrictive wins); amber+strict and red need \`recipients\`. Attributes whose
to_ids is false are skipped unless \`includeNonIds=true\`. Every attribute that maps is published in
one transaction; the others are listed in \`skipped\` with why. An event of which nothing maps is a 400
listing every reason. eventIds derive from the attribute's uuid and timestamp: importing the same
event again publishes the same eventIds, which readers drop as duplicates.`;

export function mispParameters(orgIds: string[]): Record<string, unknown>[] {
  const [recipients, includeNonIds] = MISP_QUERY;
  return [
    {
      name: recipients,
      in: 'query',
      required: false,
      description: 'Org ids, comma-separated: the recipients of attributes whose TLP is amber+strict or red.',
      style: 'form',
      explode: false,
      schema: { type: 'array', minItems: 1, items: { type: 'string', enum: orgIds } },
    },
    {
      name: includeNonIds,
      in: 'query',
      required: false,
      description: 'Publish attributes whose to_ids is false too, with their confidence halved.',
      schema: { type: 'string', enum: ['true', 'false'] },
    },
  ];
}

const receipt = {
  type: 'object',
  required: ['uuid', 'part', 'path', 'mispType', 'eventId', 'key', 'records'],
  properties: {
    uuid: { type: 'string' },
    part: { type: 'integer', description: 'Position of the |-part in a composite value; 0 otherwise.' },
    path: { type: 'string' },
    mispType: { type: 'string' },
    eventId: { type: 'string', format: 'uuid' },
    key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    records: { $ref: '#/components/schemas/Receipts/properties/receipts/items/properties/records' },
  },
};

const skipped = {
  type: 'object',
  required: ['uuid', 'path', 'mispType', 'why', 'reason'],
  properties: {
    uuid: { type: 'string' },
    path: { type: 'string' },
    part: { type: 'integer' },
    mispType: { type: 'string' },
    why: { type: 'string', enum: ['unmapped', 'not-to-ids', 'reference', 'refused'] },
    code: { type: 'string', enum: ['TR_VALIDATION', 'TR_INVALID_VALUE'] },
    reason: { type: 'string' },
  },
};

export const MISP_SCHEMAS = {
  MispEvent: {
    description: 'The event in an "Event" wrapper, as MISP feeds and PyMISP write it.',
    type: 'object',
    required: ['Event'],
    properties: { Event: eventSchema },
  },
  MispAttribute: attributeSchema,
  MispReceipts: {
    type: 'object',
    required: ['accepted', 'event', 'receipts', 'skipped'],
    properties: {
      accepted: { type: 'integer' },
      event: { type: ['string', 'null'] },
      receipts: { type: 'array', items: receipt },
      skipped: { type: 'array', items: skipped },
    },
  },
};

export const MISP_REQUEST_BODY = {
  content: {
    'application/json': { schema: { $ref: '#/components/schemas/MispEvent' }, example: EXAMPLE },
  },
};
