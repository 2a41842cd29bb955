import { z } from 'zod';
import type { ProducerSettings } from '../../platform/config/config';
import { ERROR_DOCS, type ErrorCode } from '../../contract/errors';
import { indicatorInputSchema, revocationInputSchema, sightingInputSchema } from '../../contract/indicator';
import { INDICATOR_TYPES, NAMED_RECIPIENT_TLPS, PLATFORM_TYPES, TLP_LEVELS } from '../../contract/model';
import { IDEMPOTENCY_KEY_MAX_LENGTH } from './headers';
import { STIX_DESCRIPTION, STIX_EXAMPLE, stixBundleSchemaFor, stixReceiptsSchema } from './openapi-stix';
import { MISP_DESCRIPTION, MISP_REQUEST_BODY, MISP_SCHEMAS, mispParameters } from './openapi-misp';

/**
 * The OpenAPI 3.1 document of the producer API, built from the same zod
 * schemas that validate requests, so the two cannot drift apart. OpenAPI 3.1
 * uses JSON Schema 2020-12, which is what zod emits.
 */

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  // "input": the shape a client sends (defaults make fields optional there).
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_DOCS) },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: {
            type: 'object',
            required: ['path', 'message'],
            properties: { path: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
};

const receiptSchema = {
  type: 'object',
  required: ['accepted', 'receipts'],
  properties: {
    accepted: { type: 'integer' },
    receipts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'eventId', 'key', 'records'],
        properties: {
          index: { type: 'integer' },
          eventId: { type: 'string', format: 'uuid' },
          key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          records: {
            type: 'array',
            items: {
              type: 'object',
              required: ['topic', 'partition', 'offset'],
              properties: {
                topic: { type: 'string' },
                partition: { type: 'integer' },
                offset: { type: 'string' },
              },
            },
          },
          warnings: {
            type: 'array',
            description:
              "The MISP warninglists (ids and versions of the producer's snapshot) the indicator is on; empty when none. Absent for revocations.",
            items: {
              type: 'object',
              required: ['list', 'version'],
              properties: { list: { type: 'string' }, version: { type: 'integer' } },
            },
          },
        },
      },
    },
  },
};

function errorResponse(code: ErrorCode): { description: string; content: Record<string, unknown> } {
  return {
    description: ERROR_DOCS[code].summary,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
}

/** What every publishing route shares: auth, Idempotency-Key, and the error answers. */
function publishingOperation(
  summary: string,
  requestBody: Record<string, unknown>,
  accepted: { description: string; schemaRef: string },
  description?: string,
): Record<string, unknown> {
  return {
    summary,
    ...(description ? { description } : {}),
    security: [{ bearer: [] }, { apiKey: [] }],
    parameters: [
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'A retried request with the same key produces the same eventIds.',
        schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH },
      },
    ],
    requestBody: { required: true, ...requestBody },
    responses: {
      '202': {
        description: accepted.description,
        content: { 'application/json': { schema: { $ref: accepted.schemaRef } } },
      },
      '400': errorResponse('TR_VALIDATION'),
      '401': errorResponse('TR_UNAUTHENTICATED'),
      '403': errorResponse('TR_FORBIDDEN'),
      '413': errorResponse('TR_PAYLOAD_TOO_LARGE'),
      '415': errorResponse('TR_UNSUPPORTED_MEDIA_TYPE'),
      '422': errorResponse('TR_IDEMPOTENCY_CONFLICT'),
      '429': errorResponse('TR_RATE_LIMITED'),
      '503': errorResponse('TR_KAFKA_UNAVAILABLE'),
    },
  };
}

function publishOperation(
  summary: string,
  itemRef: string,
  settings: ProducerSettings,
  example: Record<string, unknown>,
): Record<string, unknown> {
  return publishingOperation(
    summary,
    {
      content: {
        'application/json': {
          example,
          schema: {
            oneOf: [
              { $ref: itemRef },
              { type: 'array', minItems: 1, maxItems: settings.maxBatchItems, items: { $ref: itemRef } },
            ],
          },
        },
      },
    },
    { description: 'Every record was acknowledged by Kafka.', schemaRef: '#/components/schemas/Receipts' },
  );
}

type JsonSchema = Record<string, unknown> & { properties: Record<string, unknown>; required?: string[] };

/**
 * The rules between fields, as JSON Schema can say them: one complete
 * object schema per combination (a `oneOf` whose branches exclude each
 * other), each naming its allowed types and TLPs, which fields it requires,
 * and leaving out the ones it forbids (`additionalProperties: false`).
 */
function variant(
  base: JsonSchema,
  options: { types?: readonly string[]; tlps: readonly string[]; require: string[]; drop: string[] },
): JsonSchema {
  const properties = { ...base.properties };
  for (const name of options.drop) delete properties[name];
  if (options.types) properties.type = { type: 'string', enum: options.types };
  properties.tlp = { type: 'string', enum: options.tlps };
  return {
    ...base,
    properties,
    required: [...new Set([...(base.required ?? []), ...options.require])],
  };
}

function recipientsOf(orgIds: string[]): Record<string, unknown> {
  return {
    type: 'array',
    minItems: 1,
    maxItems: 100,
    items: { type: 'string', enum: orgIds },
    description: 'Org ids of this network.',
  };
}

const NAMED = NAMED_RECIPIENT_TLPS as readonly string[];
const SHARED = TLP_LEVELS.filter((t) => !NAMED.includes(t));
const PLATFORMED = PLATFORM_TYPES as readonly string[];
const PLAIN = INDICATOR_TYPES.filter((t) => !PLATFORMED.includes(t));

/** `platform` only (and always) for social_account and hashtag; `recipients` only (and always) for amber+strict and red. */
function indicatorSchema(orgIds: string[]): Record<string, unknown> {
  const base = jsonSchema(indicatorInputSchema) as JsonSchema;
  base.properties = { ...base.properties, recipients: recipientsOf(orgIds) };
  const variants = [true, false].flatMap((platformed) =>
    [true, false].map((named) =>
      variant(base, {
        types: platformed ? PLATFORMED : PLAIN,
        tlps: named ? NAMED : SHARED,
        require: [...(platformed ? ['platform'] : []), ...(named ? ['recipients'] : [])],
        drop: [...(platformed ? [] : ['platform']), ...(named ? [] : ['recipients'])],
      }),
    ),
  );
  return {
    description:
      '`value` must be valid for its `type` (it is canonicalized; a value that is not is a 400 TR_INVALID_VALUE ' +
      'naming it). `validUntil` must be after `validFrom`, or after now when `validFrom` is absent: JSON Schema ' +
      'cannot compare two fields, so this rule is stated here only.',
    oneOf: variants,
  };
}

/**
 * The ways a revocation or a sighting names its indicator (by `key`, or by `type` + `value` with
 * `platform` for the types that need it), each with shared or named-recipient TLPs; `namedRequire`
 * is what a named-recipient variant must also give.
 */
function namingVariants(base: JsonSchema, namedRequire: string[]): Record<string, unknown>[] {
  const ways = [
    { require: ['key'], drop: ['type', 'value', 'platform'] },
    { types: PLAIN, require: ['type', 'value'], drop: ['key', 'platform'] },
    { types: PLATFORMED, require: ['type', 'value', 'platform'], drop: ['key'] },
  ];
  return ways.flatMap((way) =>
    [true, false].map((named) =>
      variant(base, {
        ...way,
        tlps: named ? NAMED : SHARED,
        require: [...way.require, ...(named ? namedRequire : [])],
        drop: [...way.drop, ...(named ? [] : ['recipients'])],
      }),
    ),
  );
}

/** By `key`, or by `type` + `value` (+ `platform` for the types that need it); `recipients` as for an indicator. */
function revocationSchema(orgIds: string[]): Record<string, unknown> {
  const base = jsonSchema(revocationInputSchema) as JsonSchema;
  base.properties = { ...base.properties, recipients: recipientsOf(orgIds) };
  const variants = namingVariants(base, ['recipients']);
  return {
    description: 'A `value` must be valid for its `type`, as when it was published.',
    oneOf: variants,
  };
}

/** As a revocation names its indicator; `tlp` defaults to green, so the named variants require it. */
function sightingSchema(orgIds: string[]): Record<string, unknown> {
  const base = jsonSchema(sightingInputSchema) as JsonSchema;
  const to = {
    ...recipientsOf(orgIds),
    minItems: 0,
    description: "Orgs that reported the key: a copy goes to each one's direct topic.",
  };
  base.properties = { ...base.properties, recipients: recipientsOf(orgIds), to };
  const variants = namingVariants(base, ['recipients', 'tlp']);
  return {
    description:
      'A `value` must be valid for its `type`; `lastSeen` must not be before `firstSeen` (JSON Schema cannot ' +
      'compare two fields, so this rule is stated here only). The answer is the same whether or not anyone ' +
      'reported the key.',
    oneOf: variants,
  };
}

const plain = (description: string): Record<string, unknown> => ({
  get: { summary: description, responses: { '200': { description } } },
});

/** Every route of the producer API: the publishing routes, then the document and the ops routes. */
function paths(settings: ProducerSettings, orgIds: string[]): Record<string, unknown> {
  return {
    '/v1/indicators': {
      post: publishOperation('Publish one indicator or a batch', '#/components/schemas/Indicator', settings, {
        type: 'domain',
        value: 'vote-by-text[.]com',
        category: 'disinformation',
        tlp: 'green',
        confidence: 80,
      }),
    },
    '/v1/indicators/revoke': {
      post: publishOperation(
        'Revoke indicators this org published',
        '#/components/schemas/Revocation',
        settings,
        { type: 'domain', value: 'vote-by-text[.]com', tlp: 'green', reason: 'false positive' },
      ),
    },
    '/v1/sightings': {
      post: publishOperation(
        'Say what this org saw of an indicator (API key scope `sight`)',
        '#/components/schemas/Sighting',
        settings,
        {
          type: 'domain',
          value: 'vote-by-text[.]com',
          kind: 'true_positive',
          count: 3,
          to: [orgIds[0] ?? 'facebook'],
        },
      ),
    },
    '/v1/stix': {
      post: publishingOperation(
        'Publish the indicators of a STIX 2.1 bundle',
        {
          content: {
            'application/json': {
              schema: { $ref: '#/components/schemas/StixBundle' },
              example: STIX_EXAMPLE,
            },
            'application/stix+json': {
              schema: { $ref: '#/components/schemas/StixBundle' },
              example: STIX_EXAMPLE,
            },
          },
        },
        {
          description: 'The mapped indicators were acknowledged by Kafka; the others are listed.',
          schemaRef: '#/components/schemas/StixReceipts',
        },
        STIX_DESCRIPTION,
      ),
    },
    '/v1/misp/events': {
      post: ((op) => ({ ...op, parameters: [...(op.parameters as unknown[]), ...mispParameters(orgIds)] }))(
        publishingOperation(
          'Publish the attributes of a MISP event',
          MISP_REQUEST_BODY,
          {
            description: 'The mapped attributes were acknowledged by Kafka; the others are listed.',
            schemaRef: '#/components/schemas/MispReceipts',
          },
          MISP_DESCRIPTION,
        ),
      ),
    },
    '/openapi.json': plain('This document.'),
    '/healthz': plain('The process is alive.'),
    '/readyz': {
      get: {
        summary: 'Kafka answers a round trip.',
        responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
      },
    },
    '/metrics': plain('Prometheus metrics.'),
  };
}

/** The document for a producer with these settings in a network of these orgs (the only valid recipients). */
export function openApiDocument(settings: ProducerSettings, orgIds: string[]): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ThreatRelay producer API',
      version: '1.0.0',
      description: "Publish threat indicators to the bus for the API key's organization.",
    },
    paths: paths(settings, orgIds),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        Indicator: indicatorSchema(orgIds),
        Revocation: revocationSchema(orgIds),
        Sighting: sightingSchema(orgIds),
        Receipts: receiptSchema,
        StixBundle: stixBundleSchemaFor(settings.maxBatchItems),
        StixReceipts: stixReceiptsSchema,
        ...MISP_SCHEMAS,
        Error: errorSchema,
      },
    },
  };
}
