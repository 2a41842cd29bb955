import { z } from 'zod';
import type { ProducerSettings } from '../../platform/config/config';
import { ERROR_DOCS, type ErrorCode } from '../../contract/errors';
import { indicatorInputSchema, revocationInputSchema } from '../../contract/indicator';

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
        schema: { type: 'string', maxLength: 200 },
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
): Record<string, unknown> {
  return publishingOperation(
    summary,
    {
      content: {
        'application/json': {
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

/** Only the envelope: the objects are STIX 2.1's, described by OASIS, not here. */
const stixBundleSchema = {
  type: 'object',
  required: ['type', 'id'],
  properties: {
    type: { const: 'bundle' },
    id: { type: 'string', pattern: '^bundle--[0-9a-fA-F-]{36}$' },
    objects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'id'],
        properties: { type: { type: 'string' }, id: { type: 'string' } },
      },
    },
  },
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

const stixReceiptsSchema = {
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

const STIX_DESCRIPTION = `Each indicator whose pattern is one equality comparison
(\`[domain-name:value = '…']\`, url, ipv4-addr, ipv6-addr, email-addr, file hashes
MD5/SHA-1/SHA-256/PDQ, autonomous-system:number, or user-account:account_login with
user-account:account_type) is published; TLP comes from object_marking_refs (TLP 2.0 or 1.0
marking-definition ids). Custom properties: x_threatrelay_recipients (for amber+strict and
red), x_threatrelay_platform, x_threatrelay_category, x_threatrelay_severity. Indicators that
do not map are listed in \`rejected\` with their reason, other objects in \`ignored\`; a bundle
of which no indicator maps is a 400 listing every reason.`;

const plain = (description: string): Record<string, unknown> => ({
  get: { summary: description, responses: { '200': { description } } },
});

export function openApiDocument(settings: ProducerSettings): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ThreatRelay producer API',
      version: '1.0.0',
      description: "Publish threat indicators to the bus for the API key's organization.",
    },
    paths: {
      '/v1/indicators': {
        post: publishOperation(
          'Publish one indicator or a batch',
          '#/components/schemas/Indicator',
          settings,
        ),
      },
      '/v1/indicators/revoke': {
        post: publishOperation(
          'Revoke indicators this org published',
          '#/components/schemas/Revocation',
          settings,
        ),
      },
      '/v1/stix': {
        post: publishingOperation(
          'Publish the indicators of a STIX 2.1 bundle',
          {
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/StixBundle' } },
              'application/stix+json': { schema: { $ref: '#/components/schemas/StixBundle' } },
            },
          },
          {
            description: 'The mapped indicators were acknowledged by Kafka; the others are listed.',
            schemaRef: '#/components/schemas/StixReceipts',
          },
          STIX_DESCRIPTION,
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
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        Indicator: jsonSchema(indicatorInputSchema),
        Revocation: jsonSchema(revocationInputSchema),
        Receipts: receiptSchema,
        StixBundle: stixBundleSchema,
        StixReceipts: stixReceiptsSchema,
        Error: errorSchema,
      },
    },
  };
}
