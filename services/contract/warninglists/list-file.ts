import { z } from 'zod';

/**
 * One MISP warninglist file (`lists/<name>/list.json` in MISP/misp-warninglists,
 * CC0), as its `schema.json` describes it. Unknown fields are refused like the
 * upstream schema refuses them, so a format change is noticed at import, not
 * guessed at.
 */

export const LIST_TYPES = ['string', 'substring', 'hostname', 'cidr', 'regex'] as const;
export type ListType = (typeof LIST_TYPES)[number];

export const listFileSchema = z.strictObject({
  name: z.string().min(1),
  version: z.number().int().min(0),
  description: z.string(),
  type: z.enum(LIST_TYPES),
  matching_attributes: z.array(z.string().min(1)).default([]),
  list: z.array(z.string()),
  category: z.string().optional(),
});
export type ListFile = z.infer<typeof listFileSchema>;

/** A list as the bus knows it: `id` is the MISP folder name (`rfc1918`), stable across versions. */
export interface Warninglist {
  id: string;
  file: ListFile;
}

/** What a record and a receipt carry for one matching list. */
export interface Warning {
  list: string;
  version: number;
}

/** Why a list matched: which entry, of which list type, and whether it was the value or a URL's host. */
export interface WarninglistMatch extends Warning {
  title: string;
  type: ListType;
  entry: string;
  on: 'value' | 'host';
}
