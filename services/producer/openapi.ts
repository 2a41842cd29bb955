import { z } from 'zod';
import type { ProducerSettings } from '../shared/config';
import { ERROR_DOCS, type ErrorCode } from '../shared/errors';
import { indicatorInputSchema, revocationInputSchema } from '../shared/indicator-schema';

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

function publishOperation(
  summary: string,
  itemRef: string,
  settings: ProducerSettings,
): Record<string, unknown> {
  return {
    summary,
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
    requestBody: {
      required: true,
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
    responses: {
      '202': {
        description: 'Every record was acknowledged by Kafka.',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipts' } } },
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
        Error: errorSchema,
      },
    },
  };
}
