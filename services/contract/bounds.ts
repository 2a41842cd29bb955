import { z } from 'zod';

/**
 * The bounds of an indicator, defined once: the producer's API schema
 * (`indicator.ts`) refuses a request outside them with a 400, and every
 * reader (`well-formed.ts`) dead-letters a record outside them with
 * TR_RECORD_OUT_OF_BOUNDS. A member writing straight to Kafka skips the API,
 * so a reader that allowed more than the API would deliver, render and serve
 * whatever a hostile member made up; holding both to one table makes a
 * record on the bus never larger than a request could have made it.
 */
export const BOUNDS = {
  /** Characters of an indicator value, as submitted and as stored canonical. */
  value: 8192,
  /** Named recipients of an amber+strict or red indicator. */
  recipients: 100,
  /** Characters of `threatActor` and of `campaign`. */
  name: 200,
  /** Tags per indicator, and characters per tag. */
  tags: 50,
  tag: 64,
  /** Characters of `description`. */
  description: 4000,
  /** References per indicator, and characters per reference URL. */
  references: 20,
  reference: 2048,
  /** Characters of a revocation's `reason`. */
  reason: 1000,
  /** Characters of a sighting's `where` and of its `note`. */
  where: 500,
  note: 1000,
  /** A sighting's `count`: what an Avro int holds. */
  sightingCount: 2_147_483_647,
  /** Characters of `source.submitter` (an API key's name). */
  submitter: 200,
  /**
   * Bytes of one record value (the Avro single-object encoding). Every field
   * at its bound, in three-byte UTF-8 characters, encodes to about 180 KiB,
   * so no request the API accepts comes near it; a record above it is
   * refused before it is decoded.
   */
  recordBytes: 256 * 1024,
} as const;

/**
 * The URL schemes a reference may use. Anything else (`javascript:`,
 * `data:`, `file:`) would land in STIX `external_references` and in the
 * console, where a receiver's tools may follow it.
 */
export const REFERENCE_SCHEMES = ['http', 'https'] as const;

/** A reference: a parseable URL of an allowed scheme, within its length. The API and readers use this one schema. */
export const referenceSchema = z
  .url({ protocol: new RegExp(`^(${REFERENCE_SCHEMES.join('|')})$`) })
  .max(BOUNDS.reference);

/** Why a reference read from a record is out of bounds, if it is. Never quotes the reference. */
export function referenceProblem(reference: string): string | undefined {
  if (reference.length > BOUNDS.reference) return `must be at most ${BOUNDS.reference} characters`;
  return referenceSchema.safeParse(reference).success
    ? undefined
    : `must be a URL with scheme ${REFERENCE_SCHEMES.join(' or ')}`;
}
