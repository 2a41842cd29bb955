import { pdqQualityProblem } from '../../contract/pdq';
import type { z } from 'zod';
import { zodDetails } from '../../platform/config/config';
import { ThreatRelayError, type ErrorDetail } from '../../contract/errors';
import { typeLabel } from '../metrics';

/** What the JSON routes check of a body before any event is built: item count, shape, recipients. */

/** A request carries at least one item and at most `maxItems`; `path` names where they are. */
export function checkItemCount(count: number, maxItems: number, path: string): void {
  if (count === 0) {
    throw new ThreatRelayError('TR_VALIDATION', 'the batch is empty', {
      details: [{ path, message: 'must hold at least one item' }],
    });
  }
  if (count > maxItems) {
    throw new ThreatRelayError('TR_VALIDATION', `a batch holds at most ${maxItems} items`, {
      details: [{ path, message: `has ${count} items, the limit is ${maxItems}` }],
    });
  }
}

/** Validates one item or an array of them; all or nothing, every failing path listed. */
export function parseItems<S extends z.ZodType>(
  schema: S,
  body: unknown,
  maxItems: number,
): { items: z.infer<S>[]; batch: boolean } {
  const batch = Array.isArray(body);
  const raw: unknown[] = batch ? body : [body];
  checkItemCount(raw.length, maxItems, '(root)');
  const items: z.infer<S>[] = [];
  const problems = raw.flatMap((item, index) => {
    const parsed = schema.safeParse(item);
    if (parsed.success) {
      items.push(parsed.data);
      return [];
    }
    return zodDetails(parsed.error, batch ? [index] : []);
  });
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_VALIDATION',
      `the request body is invalid: ${problems.length} problem(s)`,
      {
        details: problems,
      },
    );
  }
  return { items, batch };
}

/** Named recipients must be orgs of the network: a typo would otherwise send a TLP:RED record nowhere. */
export function recipientProblems(
  items: { recipients?: string[] | undefined; to?: string[] | undefined }[],
  orgIds: Set<string>,
  batch: boolean,
): ErrorDetail[] {
  return items.flatMap((item, index) =>
    (['recipients', 'to'] as const).flatMap((field) =>
      (item[field] ?? []).flatMap((r, j) =>
        orgIds.has(r)
          ? []
          : [{ path: `${batch ? `${index}.` : ''}${field}.${j}`, message: `unknown org "${r}"` }],
      ),
    ),
  );
}

export function checkRecipients(
  items: { recipients?: string[] | undefined; to?: string[] | undefined }[],
  orgIds: Set<string>,
  batch: boolean,
): void {
  const problems = recipientProblems(items, orgIds, batch);
  if (problems.length > 0) {
    throw new ThreatRelayError('TR_VALIDATION', 'recipients must be orgs of this network', {
      details: problems,
    });
  }
}

/**
 * The `type` label of each item of a refused body, items past the batch limit
 * included: a known indicator type, else `other`, so no body can add series.
 */
export function bodyTypeLabels(body: unknown): string[] {
  return (Array.isArray(body) ? body : [body]).map((item) =>
    typeLabel(item !== null && typeof item === 'object' ? (item as { type?: unknown }).type : undefined),
  );
}

/** `3.value` in a batch, `value` for a lone item. */
export const itemValuePath =
  (batch: boolean) =>
  (index: number): string =>
    batch ? `${index}.value` : 'value';

/** A pdq item below the publishing org's quality floor: the same 400 as any invalid field. */
export function checkPdqQuality(
  items: { quality?: number | undefined }[],
  floor: number,
  org: string,
  batch: boolean,
): void {
  const problems = items.flatMap((item, index) => {
    const problem = pdqQualityProblem(item.quality ?? null, floor, org);
    return problem ? [{ path: `${batch ? `${index}.` : ''}quality`, message: problem }] : [];
  });
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_VALIDATION',
      `the request body is invalid: ${problems.length} problem(s)`,
      {
        details: problems,
      },
    );
  }
}
