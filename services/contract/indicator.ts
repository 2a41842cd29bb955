import { z } from 'zod';
import {
  CATEGORIES,
  INDICATOR_TYPES,
  NAMED_RECIPIENT_TLPS,
  PLATFORMS,
  PLATFORM_TYPES,
  SEVERITIES,
  SIGHTING_KINDS,
  TLP_LEVELS,
} from './model';
import { BOUNDS, referenceSchema } from './bounds';
import { MAX_PDQ_VARIANTS, pdqRuleProblems } from './pdq';

/**
 * The API shape of an indicator, as a company's security team posts it. Built
 * once at module scope; strict, so a misspelt field is an error, not silently
 * ignored. `value` is checked against its type later, by canonicalization.
 */

const orgId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be an org id (a-z, 0-9, _ or -)');
const isoDate = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time with a timezone' });
/**
 * Not only whitespace. Spelled out rather than `\S`, whose meaning differs
 * between regex engines: these are exactly the characters String#trim removes,
 * so the pattern the OpenAPI document shows agrees with the check.
 */
export const NOT_BLANK = /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const shortText = (max: number) => z.string().regex(NOT_BLANK, 'must not be blank').trim().min(1).max(max);

export const indicatorInputSchema = z
  .strictObject({
    type: z.enum(INDICATOR_TYPES),
    value: z.string().min(1).max(BOUNDS.value),
    platform: z.enum(PLATFORMS).optional(),
    category: z.enum(CATEGORIES),
    tlp: z.enum(TLP_LEVELS),
    recipients: z.array(orgId).min(1).max(BOUNDS.recipients).optional(),
    confidence: z.number().int().min(0).max(100).default(50),
    severity: z.enum(SEVERITIES).default('medium'),
    validFrom: isoDate.optional(),
    validUntil: isoDate.optional(),
    firstSeen: isoDate.optional(),
    threatActor: shortText(BOUNDS.name).optional(),
    campaign: shortText(BOUNDS.name).optional(),
    tags: z.array(shortText(BOUNDS.tag)).max(BOUNDS.tags).default([]),
    description: shortText(BOUNDS.description).optional(),
    references: z.array(referenceSchema).max(BOUNDS.references).default([]),
    /** For `pdq`: the hasher's quality score; below the org's `pdq.minQuality` (default 50) it is refused. */
    quality: z.number().int().min(0).max(100).optional(),
    /** For `pdq`: up to 7 PDQ hashes of the same image rotated and flipped (the dihedral hashes). */
    variants: z
      .array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a PDQ hash: 64 hex characters'))
      .max(MAX_PDQ_VARIANTS, `must be at most ${MAX_PDQ_VARIANTS} (the dihedral transforms of an image)`)
      .optional(),
  })
  .superRefine((ind, ctx) => {
    for (const problem of inputPdqProblems(ind)) {
      ctx.addIssue({
        code: 'custom',
        path: problem.path.split('.').map(pathSegment),
        message: problem.message,
      });
    }
    const needsRecipients = NAMED_RECIPIENT_TLPS.includes(ind.tlp);
    if (needsRecipients && !ind.recipients) {
      ctx.addIssue({ code: 'custom', path: ['recipients'], message: `required for tlp ${ind.tlp}` });
    }
    if (!needsRecipients && ind.recipients) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipients'],
        message: `only allowed for tlp amber+strict and red, not ${ind.tlp}`,
      });
    }
    const needsPlatform = PLATFORM_TYPES.includes(ind.type);
    if (needsPlatform && !ind.platform) {
      ctx.addIssue({ code: 'custom', path: ['platform'], message: `required for type ${ind.type}` });
    }
    if (!needsPlatform && ind.platform) {
      ctx.addIssue({
        code: 'custom',
        path: ['platform'],
        message: `only allowed for types ${PLATFORM_TYPES.join(', ')}`,
      });
    }
    if (
      ind.validUntil &&
      Date.parse(ind.validUntil) <= Date.parse(ind.validFrom ?? new Date().toISOString())
    ) {
      ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be after validFrom' });
    }
  });

export type IndicatorInput = z.infer<typeof indicatorInputSchema>;

const pathSegment = (s: string): string | number => (/^\d+$/.test(s) ? Number(s) : s);

/**
 * The PDQ rules the schema's shapes leave, on an API item, hashes compared
 * canonical (lowercase): the value's own shape is the canonicalizer's to
 * judge (TR_INVALID_VALUE), the variants' and quality's the schema's.
 */
function inputPdqProblems(ind: {
  type: string;
  value: string;
  quality?: number | undefined;
  variants?: string[] | undefined;
}): { path: string; message: string }[] {
  return pdqRuleProblems(
    {
      type: ind.type,
      value: ind.value.toLowerCase(),
      quality: ind.quality ?? null,
      variants: (ind.variants ?? []).map((v) => v.toLowerCase()),
    },
    '',
  );
}

/** How a revocation or a sighting names its indicator: `key`, or `type` + `value` (+ `platform`). */
const NAMING_FIELDS = {
  key: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the 64 lowercase hex chars of an indicator key')
    .optional(),
  type: z.enum(INDICATOR_TYPES).optional(),
  value: z.string().min(1).max(BOUNDS.value).optional(),
  platform: z.enum(PLATFORMS).optional(),
};

/** A revocation or a sighting names its indicator by `key`, or by `type` and `value`: one of the two, whole. */
function namingIssues(
  r: { key?: string | undefined; type?: string | undefined; value?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  const byValue = r.type !== undefined || r.value !== undefined;
  if (r.key === undefined && !byValue) {
    ctx.addIssue({ code: 'custom', path: ['key'], message: 'give the indicator key, or type and value' });
  }
  if (r.key !== undefined && byValue) {
    ctx.addIssue({
      code: 'custom',
      path: ['key'],
      message: 'give either key, or type and value, not both',
    });
  }
  if (byValue && r.type === undefined)
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'required with value' });
  if (byValue && r.value === undefined)
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'required with type' });
}

/**
 * `POST /v1/indicators/revoke`: withdraw an indicator this org published,
 * named by its `key` (from the publish receipt) or by `type` + `value` (and
 * `platform` where the type needs one). The revocation is shared exactly as
 * widely as the original, so its `tlp` (and `recipients`) are required.
 */
export const revocationInputSchema = z
  .strictObject({
    ...NAMING_FIELDS,
    tlp: z.enum(TLP_LEVELS),
    recipients: z.array(orgId).min(1).max(BOUNDS.recipients).optional(),
    reason: shortText(BOUNDS.reason),
  })
  .superRefine((r, ctx) => {
    namingIssues(r, ctx);
    // As for an indicator: platform with the types that need it, and only by value (a key already holds it).
    const needsPlatform = r.type !== undefined && PLATFORM_TYPES.includes(r.type);
    if (needsPlatform && r.platform === undefined) {
      ctx.addIssue({ code: 'custom', path: ['platform'], message: `required for type ${r.type}` });
    }
    if (!needsPlatform && r.platform !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['platform'],
        message: `only allowed with type ${PLATFORM_TYPES.join(' or ')} and a value`,
      });
    }
    const needsRecipients = NAMED_RECIPIENT_TLPS.includes(r.tlp);
    if (needsRecipients !== (r.recipients !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipients'],
        message: needsRecipients ? `required for tlp ${r.tlp}` : `only allowed for tlp amber+strict and red`,
      });
    }
  });

export type RevocationInput = z.infer<typeof revocationInputSchema>;

/**
 * `POST /v1/sightings`: what an org's security team saw of an indicator,
 * named by `key` or by `type` + `value` (+ `platform`), canonicalized like a
 * report. Travels at its own `tlp` (default green), and to the direct topic
 * of each org in `to` (those the sighter received the indicator from).
 */
export const sightingInputSchema = z
  .strictObject({
    ...NAMING_FIELDS,
    kind: z.enum(SIGHTING_KINDS),
    count: z.number().int().min(1).max(BOUNDS.sightingCount).default(1),
    firstSeen: isoDate.optional(),
    lastSeen: isoDate.optional(),
    where: shortText(BOUNDS.where).optional(),
    note: shortText(BOUNDS.note).optional(),
    tlp: z.enum(TLP_LEVELS).default('green'),
    recipients: z.array(orgId).min(1).max(BOUNDS.recipients).optional(),
    to: z.array(orgId).max(BOUNDS.recipients).default([]),
  })
  .superRefine((s, ctx) => {
    namingIssues(s, ctx);
    const needsPlatform = s.type !== undefined && PLATFORM_TYPES.includes(s.type);
    if (needsPlatform !== (s.platform !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['platform'],
        message: needsPlatform
          ? `required for type ${s.type}`
          : `only allowed with type ${PLATFORM_TYPES.join(' or ')}`,
      });
    }
    const needsRecipients = NAMED_RECIPIENT_TLPS.includes(s.tlp);
    if (needsRecipients !== (s.recipients !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipients'],
        message: needsRecipients ? `required for tlp ${s.tlp}` : 'only allowed for tlp amber+strict and red',
      });
    }
    if (s.firstSeen && s.lastSeen && Date.parse(s.lastSeen) < Date.parse(s.firstSeen)) {
      ctx.addIssue({ code: 'custom', path: ['lastSeen'], message: 'must not be before firstSeen' });
    }
  });

export type SightingInput = z.infer<typeof sightingInputSchema>;
