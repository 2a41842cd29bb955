/**
 * Errors are data: every error the bus raises on purpose is a ThreatRelayError
 * with a code from ERROR_CODES. The code alone tells the caller what to do
 * (answer the HTTP client with `httpStatus`, retry when `canRetry`, or
 * dead-letter). Every code is documented in ERROR_DOCS; a test keeps the two
 * lists equal.
 */

export const ERROR_CODES = [
  'TR_VALIDATION',
  'TR_INVALID_VALUE',
  'TR_MALFORMED_JSON',
  'TR_UNSUPPORTED_MEDIA_TYPE',
  'TR_PAYLOAD_TOO_LARGE',
  'TR_NOT_FOUND',
  'TR_METHOD_NOT_ALLOWED',
  'TR_UNAUTHENTICATED',
  'TR_FORBIDDEN',
  'TR_RATE_LIMITED',
  'TR_IDEMPOTENCY_CONFLICT',
  'TR_KAFKA_UNAVAILABLE',
  'TR_CONFIG',
  'TR_CODEC_UNKNOWN_FINGERPRINT',
  'TR_CODEC_MALFORMED',
  'TR_CODEC_UNKNOWN_BRANCH',
  'TR_SIGNATURE_INVALID',
  'TR_RECORD_INVALID',
  'TR_RECORD_OUT_OF_BOUNDS',
  'TR_PDQ_INVALID',
  'TR_VALUE_NOT_CANONICAL',
  'TR_KEY_MISMATCH',
  'TR_STALE',
  'TR_DEDUP_UNAVAILABLE',
  'TR_DEDUP_REJECTED',
  'TR_DELIVERY_RETRYABLE',
  'TR_DELIVERY_REJECTED',
  'TR_DELIVERY_GONE',
  'TR_USAGE',
  'TR_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDoc {
  /** HTTP status when the error answers an API request; absent for codes no API answers with. */
  httpStatus?: number;
  /** Whether doing the same thing again later can succeed. */
  canRetry: boolean;
  summary: string;
}

export const ERROR_DOCS: Record<ErrorCode, ErrorDoc> = {
  TR_VALIDATION: {
    httpStatus: 400,
    canRetry: false,
    summary: 'The body does not match the schema; `details` lists every failing path.',
  },
  TR_INVALID_VALUE: {
    httpStatus: 400,
    canRetry: false,
    summary: 'A value is not valid for its indicator type (for example a domain without a public suffix).',
  },
  TR_MALFORMED_JSON: {
    httpStatus: 400,
    canRetry: false,
    summary:
      'The request body is not well-formed JSON, or not UTF-8 (then `details` names each field holding bad bytes).',
  },
  TR_UNSUPPORTED_MEDIA_TYPE: {
    httpStatus: 415,
    canRetry: false,
    summary: 'The request has a body that is not `application/json`.',
  },
  TR_PAYLOAD_TOO_LARGE: {
    httpStatus: 413,
    canRetry: false,
    summary: 'The request body is larger than the configured limit.',
  },
  TR_NOT_FOUND: { httpStatus: 404, canRetry: false, summary: 'No such route.' },
  TR_METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    canRetry: false,
    summary: 'The route exists but not for this HTTP method; `Allow` lists the ones it takes.',
  },
  TR_UNAUTHENTICATED: { httpStatus: 401, canRetry: false, summary: 'The API key is missing or unknown.' },
  TR_FORBIDDEN: {
    httpStatus: 403,
    canRetry: false,
    summary: 'The API key lacks the scope this route needs.',
  },
  TR_RATE_LIMITED: {
    httpStatus: 429,
    canRetry: true,
    summary:
      'Too many requests for this API key, or too many failed authentications from this address; wait for `Retry-After` seconds.',
  },
  TR_IDEMPOTENCY_CONFLICT: {
    httpStatus: 422,
    canRetry: false,
    summary: 'The Idempotency-Key was already used for a request with a different body.',
  },
  TR_KAFKA_UNAVAILABLE: {
    httpStatus: 503,
    canRetry: true,
    summary: 'Kafka did not acknowledge in time; nothing is confirmed, retry with the same Idempotency-Key.',
  },
  TR_CONFIG: {
    canRetry: false,
    summary: 'The configuration is invalid; the service refuses to start.',
  },
  TR_CODEC_UNKNOWN_FINGERPRINT: {
    canRetry: false,
    summary: 'An Avro record names a writer schema that no file in `schemas/` has.',
  },
  TR_CODEC_MALFORMED: {
    canRetry: false,
    summary: 'An Avro record is not single-object encoded, is truncated or has trailing bytes.',
  },
  TR_CODEC_UNKNOWN_BRANCH: {
    canRetry: false,
    summary:
      'An Avro record carries a payload branch (for example a `Sighting`, schema v4) that this reader does not know. Dead-lettered; upgrade the reader to read it.',
  },
  TR_SIGNATURE_INVALID: {
    canRetry: false,
    summary:
      "A record's Ed25519 signature is missing or does not verify against its source org's keys, or the key that signed it was not valid at the record's producedAt (before notBefore, at or after notAfter or revokedAt).",
  },
  TR_PDQ_INVALID: {
    canRetry: false,
    summary:
      "A pdq record breaks the PDQ rules: a degenerate hash, more than 7 variants, a variant that is not a hash, equals the hash or repeats, quality outside 0-100 or below its source org's floor, or quality/variants on another type (dead-lettered).",
  },
  TR_RECORD_INVALID: {
    canRetry: false,
    summary:
      'A record decodes but is not well-formed: a value outside its closed set (type, platform, category, TLP, severity), an eventId that is not a UUID, a key that is not 64 hex characters. Dead-lettered.',
  },
  TR_RECORD_OUT_OF_BOUNDS: {
    canRetry: false,
    summary:
      "A record is larger than the API allows: a value of more bytes than the record bound, or a count, a length or a reference URL scheme outside the indicator schema's bounds (`services/contract/bounds.ts`). Dead-lettered.",
  },
  TR_VALUE_NOT_CANONICAL: {
    canRetry: false,
    summary:
      "A record's value is not in the canonical form its canonicalization version gives it; the reader re-derives it instead of trusting the source. Dead-lettered.",
  },
  TR_KEY_MISMATCH: {
    canRetry: false,
    summary:
      "A record's key is not the one its own type, platform and value give under its canonicalization version. Dead-lettered.",
  },
  TR_STALE: {
    canRetry: false,
    summary:
      "A record produced longer ago than the subscription's dedup window, or further in the future than the allowed clock skew. Dead-lettered.",
  },
  TR_DEDUP_UNAVAILABLE: {
    canRetry: true,
    summary:
      "The subscription's dedup store (disk or Redis) failed; the batch is read again, nothing is committed.",
  },
  TR_DEDUP_REJECTED: {
    canRetry: false,
    summary:
      'The dedup store answers other records but failed this one repeatedly; it is dead-lettered instead of stalling its partition.',
  },
  TR_DELIVERY_RETRYABLE: {
    canRetry: true,
    summary:
      'A webhook attempt failed in a way that may pass later (connection error, timeout, 408, 425, 429, 5xx).',
  },
  TR_DELIVERY_REJECTED: {
    canRetry: false,
    summary:
      'The webhook endpoint refused the delivery for good (other 4xx, or a redirect); it is dead-lettered.',
  },
  TR_DELIVERY_GONE: {
    canRetry: false,
    summary: 'The webhook endpoint answered 410 Gone; the subscription is disabled.',
  },
  TR_USAGE: {
    canRetry: false,
    summary:
      'A command-line usage mistake (a missing argument, a bad flag, an unreadable file); the CLI exits 2.',
  },
  TR_INTERNAL: { httpStatus: 500, canRetry: false, summary: 'A bug: something the code did not expect.' },
};

export interface ErrorDetail {
  /** Where the problem is, as a path into the input (`items.3.value`). */
  path: string;
  message: string;
}

export class ThreatRelayError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  readonly canRetry: boolean;
  readonly httpStatus: number;
  /** Seconds the caller should wait before retrying, when known. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: ErrorDetail[]; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ThreatRelayError';
    this.code = code;
    this.details = options.details ?? [];
    this.canRetry = ERROR_DOCS[code].canRetry;
    // A code no API answers with reaching one anyway is a bug: 500.
    this.httpStatus = ERROR_DOCS[code].httpStatus ?? 500;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isThreatRelayError(err: unknown, code?: ErrorCode): err is ThreatRelayError {
  return err instanceof ThreatRelayError && (code === undefined || err.code === code);
}
